"""Small facts about notebook cells: their tags and a one-line title."""

from __future__ import annotations

from nbformat import NotebookNode

__all__ = ["RAISES_TAG", "SKIP_TAG", "cell_tags", "cell_title"]

SKIP_TAG = "skip-execution"
RAISES_TAG = "raises-exception"


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
