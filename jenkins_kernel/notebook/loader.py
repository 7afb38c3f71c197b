"""Read a notebook and say precisely what is wrong with a bad one."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import nbformat
from nbformat import NotebookNode

from ..exceptions import InvalidNotebookError, RejectedError

__all__ = ["load_notebook", "parse_notebook", "notebook_kernel_name"]


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
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise InvalidNotebookError(
                f"{source} is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}",
                hint="save the notebook again from Jupyter, or check the file is a .ipynb",
            ) from exc
    if not isinstance(raw, dict):
        raise InvalidNotebookError(f"{source} is not a notebook: expected a JSON object")
    if "nbformat" not in raw or "cells" not in raw and "worksheets" not in raw:
        raise InvalidNotebookError(
            f"{source} is not a notebook: it has no 'nbformat' and 'cells' fields",
            hint="pass a Jupyter .ipynb file",
        )
    try:
        nb = nbformat.reads(json.dumps(raw), as_version=4)
        nbformat.validate(nb)
    except nbformat.ValidationError as exc:
        where = "/".join(str(p) for p in exc.absolute_path) or "the top level"
        raise InvalidNotebookError(
            f"{source} is not a valid notebook: {exc.message} (at {where})",
            hint="open and save it in Jupyter to repair it, or fix the field named",
        ) from exc
    except Exception as exc:  # nbformat raises assorted errors for exotic input
        raise InvalidNotebookError(f"{source} is not a valid notebook: {exc}") from exc
    return nb


def notebook_kernel_name(nb: NotebookNode) -> str | None:
    """The kernel the notebook was saved with, if it says."""
    spec = nb.metadata.get("kernelspec") or {}
    return spec.get("name") or None
