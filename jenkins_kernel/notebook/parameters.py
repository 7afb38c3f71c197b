"""Where parameter values come from, and how they enter a notebook.

:func:`parameterize` is a pure transform: after the cell tagged ``parameters`` it puts a
cell tagged ``injected-parameters`` (replacing an older one), or at the top when the
notebook has no parameters cell, exactly as papermill does.
"""

from __future__ import annotations

import copy
import os
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import nbformat
import yaml
from nbformat import NotebookNode

from ..exceptions import InvalidParameterError
from .cells import cell_tags
from .translators import parameter_cell_source

__all__ = [
    "collect_parameters",
    "declared_parameter_names",
    "merge_parameters",
    "parameterize",
    "parameters_from_env",
    "parameters_from_file",
    "parameters_from_pairs",
    "parse_scalar",
]

PARAMETERS_TAG = "parameters"
INJECTED_TAG = "injected-parameters"

_INT = re.compile(r"^[-+]?(0|[1-9][0-9_]*)$")
_FLOAT = re.compile(r"^[-+]?(\.[0-9]+|[0-9][0-9_]*(\.[0-9]*)?)([eE][-+]?[0-9]+)?$")
_SPECIAL_FLOATS = {".inf": "inf", "+.inf": "inf", "-.inf": "-inf", ".nan": "nan"}


def parse_scalar(text: str) -> Any:
    """Type a command-line value like a YAML 1.2 core scalar: 3, 0.5, true, null, else text.

    Unlike PyYAML's YAML 1.1 rules, ``no``, ``on`` and ``y`` stay strings.
    """
    low = text.strip().lower()
    if low in ("null", "~"):
        return None
    if low in ("true", "false"):
        return low == "true"
    if _INT.match(text.strip()):
        return int(text.strip().replace("_", ""))
    if _FLOAT.match(text.strip()):
        return float(text.strip().replace("_", ""))
    if low in _SPECIAL_FLOATS:
        return float(_SPECIAL_FLOATS[low])
    return text


def parameters_from_pairs(pairs: Iterable[tuple[str, str]]) -> dict[str, Any]:
    return {name: parse_scalar(value) for name, value in pairs}


def parameters_from_file(path: str | Path) -> dict[str, Any]:
    """A YAML (or JSON) mapping of parameter names to values."""
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InvalidParameterError(f"parameters file not found: {path}") from None
    except yaml.YAMLError as exc:
        raise InvalidParameterError(f"{path} is not valid YAML: {exc}") from exc
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise InvalidParameterError(
            f"{path} must hold a mapping of parameter names to values, not a {type(data).__name__}"
        )
    return {str(k): v for k, v in data.items()}


def parameters_from_env(
    prefix: str, environ: Mapping[str, str] | None = None, known: Iterable[str] = ()
) -> dict[str, Any]:
    """Environment variables named PREFIX<name> (Jenkins build parameters, say) as parameters.

    A name that matches a name of the notebook's parameters cell except for case takes
    that spelling, so ``NB_ALPHA`` feeds ``alpha``.
    """
    environ = os.environ if environ is None else environ
    by_lower = {name.lower(): name for name in known}
    found: dict[str, Any] = {}
    for key, value in environ.items():
        if key.startswith(prefix) and len(key) > len(prefix):
            name = key[len(prefix) :]
            found[by_lower.get(name.lower(), name)] = parse_scalar(value)
    return found


def collect_parameters(
    nb: NotebookNode,
    parameters: Mapping[str, Any] | None = None,
    parameters_file: str | Path | None = None,
    param_env: str | None = None,
) -> dict[str, Any]:
    """A notebook's parameters from a YAML file, then environment variables named
    ``param_env`` + name, then ``parameters``: a later source wins."""
    from_file = parameters_from_file(parameters_file) if parameters_file else {}
    from_env = parameters_from_env(param_env, known=declared_parameter_names(nb)) if param_env else {}
    return merge_parameters(from_file, from_env, parameters or {})


def merge_parameters(*sources: Mapping[str, Any]) -> dict[str, Any]:
    """Later sources win: file, then environment, then -p pairs."""
    merged: dict[str, Any] = {}
    for source in sources:
        merged.update(source)
    return merged


_ASSIGNED = re.compile(r"^\s*(?:declare\s+-\w+\s+|let\s+|const\s+|var\s+)?([A-Za-z_]\w*)\s*(?:=|<-)")


def declared_parameter_names(nb: NotebookNode) -> list[str]:
    """Names assigned in the cell tagged ``parameters`` (any language, one per line)."""
    for cell in nb.cells:
        if PARAMETERS_TAG in cell_tags(cell):
            return [m.group(1) for m in map(_ASSIGNED.match, cell.source.splitlines()) if m]
    return []


def parameterize(nb: NotebookNode, parameters: Mapping[str, Any], language: str) -> NotebookNode:
    """A copy of ``nb`` with an injected-parameters cell; ``nb`` is not changed."""
    nb = copy.deepcopy(nb)
    if not parameters:
        return nb
    source = parameter_cell_source(dict(parameters), language)
    injected = nbformat.v4.new_code_cell(source=source, metadata={"tags": [INJECTED_TAG]})
    old = [i for i, c in enumerate(nb.cells) if INJECTED_TAG in cell_tags(c)]
    marked = [i for i, c in enumerate(nb.cells) if PARAMETERS_TAG in cell_tags(c)]
    if old:
        position = old[0]
    elif marked:
        position = marked[0] + 1
    else:
        position = 0
    nb.cells = [c for i, c in enumerate(nb.cells) if i not in old]
    position -= sum(1 for i in old if i < position)
    nb.cells.insert(position, injected)
    nb.metadata.setdefault("jenkins_kernel", {})["parameters"] = dict(parameters)
    return nb
