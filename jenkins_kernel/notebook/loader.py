"""Read a notebook and say precisely what is wrong with a bad one."""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import nbformat
from nbformat import NotebookNode
from nbformat.v4.nbbase import random_cell_id
from nbformat.validator import MissingIDFieldWarning

from ..exceptions import InvalidNotebookError, RejectedError

__all__ = ["load_notebook", "notebook_kernel_name", "parse_notebook"]


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
    if nb.nbformat_minor >= 5:
        for cell in nb.cells:
            cell.setdefault("id", random_cell_id())
    return nb


def notebook_kernel_name(nb: NotebookNode) -> str | None:
    """The kernel the notebook was saved with, if it says."""
    spec = nb.metadata.get("kernelspec") or {}
    return spec.get("name") or None
