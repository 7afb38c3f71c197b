"""Small facts about notebook cells: their tags, a one-line title, a stable name, and the
housekeeping that makes a notebook ready to run again (ids, old outputs, old markers)."""

from __future__ import annotations

import hashlib
import re

from nbformat import NotebookNode
from nbformat.v4.nbbase import random_cell_id

__all__ = [
    "FAILURE_TAG",
    "INJECTED_TAG",
    "PAPERMILL_ERROR_TAG",
    "RAISES_TAG",
    "SKIP_TAG",
    "cell_name",
    "cell_tags",
    "cell_title",
    "fit_cell_ids",
    "prepare_for_run",
]

SKIP_TAG = "skip-execution"
RAISES_TAG = "raises-exception"
#: The markdown banner this project puts before the cell that ended a run.
FAILURE_TAG = "jenkins-kernel-failure"
#: The cell papermill (and this project) inject the parameters in.
INJECTED_TAG = "injected-parameters"
#: papermill's own error markers (a heading and an anchor cell).
PAPERMILL_ERROR_TAG = "papermill-error-cell-tag"
_NAME_TAG = re.compile(r"^name[=:](.+)$")
_VALID_ID = re.compile(r"^[a-zA-Z0-9-_]{1,64}$")


def cell_tags(cell: NotebookNode) -> set[str]:
    return set(cell.get("metadata", {}).get("tags", []))


def cell_title(source: str, width: int = 72) -> str:
    """The first line of code of a cell (comments skipped, unless there is nothing else),
    shortened for a header."""
    lines = [line.strip() for line in source.splitlines() if line.strip()]
    if not lines:
        return "(empty cell)"
    code = [line for line in lines if not line.startswith(("#", "//"))]
    first = code[0] if code else lines[0]
    more = len(first) > width or len(lines) > 1
    return (first[: width - 3] if len(first) > width else first) + (" ..." if more else "")


def cell_name(cell: NotebookNode) -> str:
    """A name for the cell that stays the same from build to build (JUnit test names):
    a ``name=...`` tag, else ``metadata.name``, else the nbformat cell id, else a short
    hash of the source. Never its position: an injected cell would shift every name."""
    tags = cell_tags(cell)
    if INJECTED_TAG in tags:
        return INJECTED_TAG  # its source holds this build's values
    for tag in sorted(tags):
        match = _NAME_TAG.match(tag)
        if match:
            return match.group(1).strip()
    name = cell.get("metadata", {}).get("name")
    if isinstance(name, str) and name.strip():
        return name.strip()
    if cell.get("id"):
        return str(cell["id"])
    return "sha-" + hashlib.sha256(cell.get("source", "").encode()).hexdigest()[:10]


def fit_cell_ids(nb: NotebookNode) -> NotebookNode:
    """Cell ids exactly where the notebook's format allows them (nbformat 4.5 and later):
    present and unique there, absent before, so the notebook validates as its own version."""
    if (nb.nbformat, nb.nbformat_minor) < (4, 5):
        for cell in nb.cells:
            cell.pop("id", None)
        return nb
    seen: set[str] = set()
    for cell in nb.cells:
        cid = cell.get("id")
        if not isinstance(cid, str) or not _VALID_ID.match(cid) or cid in seen:
            cid = random_cell_id()
            cell["id"] = cid
        seen.add(cid)
    return nb


def prepare_for_run(nb: NotebookNode) -> NotebookNode:
    """What the last run left is removed, in place: failure banners (ours and papermill's),
    every code cell's outputs, execution count and timing, and saved widget state.

    A cell that does not run this time then shows nothing rather than a stale result, and
    a rerun of an executed notebook carries one banner at most (as papermill does).
    """
    nb.cells = [c for c in nb.cells if not cell_tags(c) & {FAILURE_TAG, PAPERMILL_ERROR_TAG}]
    for cell in nb.cells:
        meta = cell.setdefault("metadata", {})
        for key in ("execution", "jenkins_kernel", "papermill"):
            meta.pop(key, None)
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
    nb.metadata.pop("widgets", None)  # the input's widget state, not this run's
    return nb
