"""Where parameter values come from, and how they enter a notebook.

:func:`parameterize` is a pure transform: after the cell tagged ``parameters`` it puts a
cell tagged ``injected-parameters`` (replacing an older one), or at the top when the
notebook has no parameters cell, exactly as papermill does.
"""

from __future__ import annotations

import ast
import copy
import difflib
import os
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import nbformat
import yaml
from nbformat import NotebookNode

from ..exceptions import InvalidParameterError
from .cells import INJECTED_TAG, cell_tags, fit_cell_ids
from .translators import parameter_cell_source

__all__ = [
    "check_parameters",
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
#: The injected cell's id (nbformat >= 4.5): the same in every build, so reports that name
#: cells by id (junit.xml) keep their history.
INJECTED_ID = "injected-parameters"

# The YAML 1.2 core schema's resolution rules (yaml.org/spec/1.2.2, 10.3.2), and only those:
# no underscores, no sexagesimal, no 0-prefixed octal, no yes/no/on/off (all YAML 1.1).
_NULL = {"null", "Null", "NULL", "~"}
_BOOL = {"true": True, "True": True, "TRUE": True, "false": False, "False": False, "FALSE": False}
_INT = re.compile(r"[-+]?[0-9]+")
_OCT = re.compile(r"0o[0-7]+")
_HEX = re.compile(r"0x[0-9a-fA-F]+")
_FLOAT = re.compile(r"[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?")
_INF = re.compile(r"[-+]?\.(inf|Inf|INF)")
_NAN = {".nan", ".NaN", ".NAN"}


def parse_scalar(text: str) -> Any:
    """Type a command-line value as the YAML 1.2 core schema does: ``007`` is 7, ``0x1f`` 31,
    ``0o17`` 15, ``1e3`` 1000.0, ``true``/``True``/``TRUE``, ``null``/``~``; anything else,
    ``no``, ``on``, ``1_000``, ``1:30`` and ``0755``-style YAML 1.1 forms included, is text.

    One deliberate difference: an empty value stays the empty string (YAML reads it as
    null; write ``null`` or ``~`` for that), because ``-p suffix ''`` means "no suffix".
    """
    if text in _NULL:
        return None
    if text in _BOOL:
        return _BOOL[text]
    if _INT.fullmatch(text):
        return int(text, 10)
    if _OCT.fullmatch(text):
        return int(text[2:], 8)
    if _HEX.fullmatch(text):
        return int(text[2:], 16)
    if _FLOAT.fullmatch(text):
        return float(text)
    if _INF.fullmatch(text):
        return float("-inf") if text.startswith("-") else float("inf")
    if text in _NAN:
        return float("nan")
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
    prefix: str, environ: Mapping[str, str] | None = None, known: Iterable[str] | None = None
) -> dict[str, Any]:
    """Environment variables named PREFIX<name> (Jenkins build parameters, say) as parameters.

    The environment is shared by every step of a build, so when the notebook declares its
    parameters (``known``) only those are taken, matched regardless of case (``NB_ALPHA``
    feeds ``alpha``); a variable meant for another notebook is not an error here. With no
    parameters cell (``known`` None) every PREFIX variable is taken.
    """
    environ = os.environ if environ is None else environ
    by_lower = None if known is None else {name.lower(): name for name in known}
    found: dict[str, Any] = {}
    for key, value in environ.items():
        if key.startswith(prefix) and len(key) > len(prefix):
            name = key[len(prefix) :]
            if by_lower is None:
                found[name] = parse_scalar(value)
            elif name.lower() in by_lower:
                found[by_lower[name.lower()]] = parse_scalar(value)
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


def declared_parameter_names(nb: NotebookNode) -> list[str] | None:
    """Names assigned in the cell tagged ``parameters``; None when there is no such cell.

    Python is read with :mod:`ast` (tuple and annotated assignments, multi-line values);
    other languages (and Python with magics) line by line: ``name =``, ``name <-``,
    ``let``/``const``/``var name =``, ``declare -x name=``.
    """
    for cell in nb.cells:
        if PARAMETERS_TAG in cell_tags(cell):
            names = _python_assigned(cell.source)
            if not names:
                names = [m.group(1) for m in map(_ASSIGNED.match, cell.source.splitlines()) if m]
            return list(dict.fromkeys(names))
    return None


def _python_assigned(source: str) -> list[str]:
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return []
    names: list[str] = []
    for node in tree.body:
        targets = node.targets if isinstance(node, ast.Assign) else [getattr(node, "target", None)]
        if not isinstance(node, (ast.Assign, ast.AnnAssign)):
            continue
        for target in targets:
            elements = target.elts if isinstance(target, (ast.Tuple, ast.List)) else [target]
            names.extend(e.id for e in elements if isinstance(e, ast.Name))
    return names


def check_parameters(nb: NotebookNode, parameters: Mapping[str, Any], allow_unknown: bool = False) -> list[str]:
    """The one rule for every client (CLI, service, Jenkins step): a notebook with a
    ``parameters`` cell takes only the names it declares there.

    An unknown name is an :class:`InvalidParameterError` (exit 5, HTTP 400) that lists the
    declared names and the closest one; with ``allow_unknown`` it is injected anyway and a
    warning is returned instead. A notebook without a parameters cell takes anything.
    """
    declared = declared_parameter_names(nb)
    if declared is None:
        return []
    unknown = [name for name in parameters if name not in declared]
    if not unknown:
        return []
    listed = ", ".join(declared) or "none"
    described = []
    for name in unknown:
        close = difflib.get_close_matches(name, declared, n=1, cutoff=0.6)
        described.append(f"{name!r}" + (f" (did you mean {close[0]!r}?)" if close else ""))
    what = f"parameter{'s' if len(unknown) > 1 else ''} {', '.join(described)}"
    if allow_unknown:
        return [f"{what} not declared in the parameters cell (declared: {listed}); injected anyway"]
    raise InvalidParameterError(
        f"unknown {what}: the notebook's parameters cell declares {listed}",
        code="unknown_parameter",
        hint="fix the name, or pass --allow-unknown-parameters (allow_unknown_parameters in the API) "
        "to inject it anyway",
    )


def parameterize(nb: NotebookNode, parameters: Mapping[str, Any], language: str) -> NotebookNode:
    """A copy of ``nb`` with an injected-parameters cell; ``nb`` is not changed.

    The values are also recorded where papermill records them
    (``metadata.papermill.parameters``), so scrapbook and other papermill readers work.
    """
    nb = copy.deepcopy(nb)
    if not parameters:
        return nb
    source = parameter_cell_source(dict(parameters), language)
    injected = nbformat.v4.new_code_cell(source=source, metadata={"tags": [INJECTED_TAG]})
    injected["id"] = INJECTED_ID
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
    fit_cell_ids(nb)
    nb.metadata.setdefault("jenkins_kernel", {})["parameters"] = dict(parameters)
    nb.metadata.setdefault("papermill", {})["parameters"] = dict(parameters)
    return nb
