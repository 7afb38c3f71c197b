"""Read a notebook and say precisely what is wrong with a bad one."""

from __future__ import annotations

import json
import threading
import warnings
from pathlib import Path
from typing import Any

import nbformat
from nbformat import NotebookNode
from nbformat.validator import MissingIDFieldWarning, get_validator

from ..engine.kernelspecs import installed_kernels
from ..exceptions import InvalidNotebookError, RejectedError
from .cells import fit_cell_ids

__all__ = ["NATIVE_KERNEL", "load_notebook", "notebook_kernel_name", "parse_notebook", "prepare_validator"]

#: The kernel a notebook that names none runs on (nbclient and papermill do the same).
NATIVE_KERNEL = "python3"


_compiling = threading.Lock()


def prepare_validator(minor: int | None = None) -> None:
    """Compile nbformat's validator for v4.``minor`` notebooks (the current minor if None).

    nbformat compiles it on first use, ~0.2 s of CPU; notebooks arriving at once would each
    compile it. Under this lock one does and the others wait; the service calls this at
    start so that its first notebook does not pay it at all.
    """
    with _compiling:
        get_validator(4, minor)


def load_notebook(path: str | Path) -> NotebookNode:
    """The notebook at ``path``, upgraded to nbformat v4 and validated."""
    path = Path(path)
    if not path.is_file():
        raise RejectedError(
            f"notebook not found: {path}",
            code="notebook_not_found",
            hint="check the path; relative paths start from the current directory",
        )
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidNotebookError(f"cannot read {path}: {exc}") from exc
    return parse_notebook(text, source=str(path))


def parse_notebook(raw: str | dict[str, Any], source: str = "the notebook") -> NotebookNode:
    """Parse notebook JSON (text or an already decoded object) into a valid v4 notebook."""
    text = raw if isinstance(raw, str) else json.dumps(raw)
    try:
        decoded = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidNotebookError(
            f"{source} is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}",
            hint="save the notebook again from Jupyter, or check the file is a .ipynb",
        ) from exc
    if not isinstance(decoded, dict) or "nbformat" not in decoded:
        raise InvalidNotebookError(
            f"{source} is not a notebook: expected a JSON object with an 'nbformat' field",
            hint="pass a Jupyter .ipynb file",
        )
    if _repair_kernelspec(decoded):
        text = json.dumps(decoded)
    minor = decoded.get("nbformat_minor") if decoded.get("nbformat") == 4 else None
    prepare_validator(minor if isinstance(minor, int) and minor >= 0 else None)
    captured: dict[str, Any] = {}
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", MissingIDFieldWarning)
            nb = nbformat.reads(text, as_version=4, capture_validation_error=captured)
    except Exception as exc:  # nbformat raises assorted errors for exotic input
        raise InvalidNotebookError(f"{source} is not a valid notebook: {exc}") from exc
    error = captured.get("ValidationError")
    if error is not None:
        where = "/".join(str(p) for p in error.absolute_path) or "the top level"
        raise InvalidNotebookError(
            f"{source} is not a valid notebook: {error.message} (at {where})",
            hint="open and save it in Jupyter to repair it, or fix the field named",
        )
    return fit_cell_ids(nb)


def _repair_kernelspec(decoded: dict[str, Any]) -> bool:
    """Make an incomplete ``metadata.kernelspec`` valid rather than reject the notebook:
    without ``name`` it says nothing usable (its language is kept in ``language_info``), and
    a missing ``display_name`` is the name. True when something changed."""
    metadata = decoded.get("metadata")
    if not isinstance(metadata, dict) or "kernelspec" not in metadata:
        return False
    spec = metadata["kernelspec"]
    if not isinstance(spec, dict) or not isinstance(spec.get("name"), str) or not spec["name"]:
        language = spec.get("language") if isinstance(spec, dict) else None
        del metadata["kernelspec"]
        if isinstance(language, str) and language and not isinstance(metadata.get("language_info"), dict):
            metadata["language_info"] = {"name": language}
        return True
    if not isinstance(spec.get("display_name"), str):
        spec["display_name"] = spec["name"]
        return True
    return False


def notebook_kernel_name(nb: NotebookNode) -> str | None:
    """The installed kernel the notebook asks for, the way Jupyter finds it; None when the
    notebook names no kernel and no installed kernel speaks its language.

    ``kernelspec.name`` matches regardless of case, and ``python`` means ``python3`` (as in
    jupyter_client). With no name, ``kernelspec.language`` or ``language_info.name`` picks
    an installed kernel of that language. A name that is not installed is returned as is,
    for the caller's "unknown kernel" error.
    """
    installed = installed_kernels()
    spec = nb.metadata.get("kernelspec") or {}
    name = spec.get("name")
    if name:
        if name in installed:
            return str(name)
        by_lower = {k.lower(): k for k in installed}
        if name.lower() in by_lower:
            return by_lower[name.lower()]
        if name.lower() == "python" and NATIVE_KERNEL in installed:
            return NATIVE_KERNEL
        return str(name)
    language = str(spec.get("language") or (nb.metadata.get("language_info") or {}).get("name") or "").lower()
    if not language:
        return None
    speakers = [k for k, info in installed.items() if info.language.lower() == language]
    if NATIVE_KERNEL in speakers:
        return NATIVE_KERNEL
    return speakers[0] if speakers else None
