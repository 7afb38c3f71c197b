"""Build the executed notebook's outputs from a run's events, within a size budget.

A flood of output must not become a flood of memory: each cell keeps at most
``max_output_bytes`` of output; past that a single marker says how much was left out (the
console and the service's log still have all of it).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import nbformat
from nbformat import NotebookNode

from ..engine.events import Event

__all__ = ["DEFAULT_MAX_OUTPUT_BYTES", "OutputCollector", "apply_carriage_returns"]

DEFAULT_MAX_OUTPUT_BYTES = 10 * 1024 * 1024


def apply_carriage_returns(text: str) -> str:
    """What a terminal would show: text after a ``\\r`` overwrites the start of its line."""
    if "\r" not in text:
        return text
    lines = []
    for line in text.replace("\r\n", "\n").split("\n"):
        shown = ""
        for part in line.split("\r"):
            shown = part + shown[len(part) :]
        lines.append(shown)
    return "\n".join(lines)


@dataclass
class _Stream:
    name: str
    chunks: list[str] = field(default_factory=list)


@dataclass
class _CellOutputs:
    items: list[Any] = field(default_factory=list)  # _Stream or NotebookNode
    kept: int = 0
    dropped: int = 0
    clear_pending: bool = False


class OutputCollector:
    """A listener that fills ``nb``'s code cells with outputs as the run's events arrive.

    Output events name their cell by number (1-based among code cells); ``cell`` events
    carry the notebook index, which is how the two are matched.
    """

    def __init__(self, nb: NotebookNode, max_output_bytes: int = DEFAULT_MAX_OUTPUT_BYTES) -> None:
        self.nb = nb
        self.max_output_bytes = max_output_bytes
        self._index_of: dict[int, int] = {}
        self._open: dict[int, _CellOutputs] = {}
        self._displays: dict[str, list[NotebookNode]] = {}

    def __call__(self, event: Event) -> None:
        data = event.data
        if event.type == "cell":
            if data["phase"] == "start":
                self._index_of[data["number"]] = data["index"]
                self._open[data["number"]] = _CellOutputs()
            else:
                self._close(data["number"])
            return
        outputs = self._open.get(data.get("cell"))  # type: ignore[arg-type]
        if outputs is None or (event.type == "error" and data.get("source") == "engine"):
            # only the kernel's own outputs go in a cell; our diagnostics (timeout, dead
            # kernel, stdin refused) go to the log, junit.xml and summary.json
            return
        if event.type == "clear_output":
            if data.get("wait"):
                outputs.clear_pending = True
            else:
                self._clear(outputs)
            return
        if event.type == "display" and data["output_type"] == "update_display_data":
            self._update_display(data)
            return
        if outputs.clear_pending:
            self._clear(outputs)
        if event.type == "stream":
            self._add_text(outputs, data["name"], data["text"])
        elif event.type == "display":
            self._add(outputs, self._display_output(data), _size(data.get("data")))
        elif event.type == "error":
            node = nbformat.v4.new_output(
                "error", ename=data["ename"], evalue=data["evalue"], traceback=data["traceback"]
            )
            outputs.items.append(node)  # errors are always kept: they explain the result

    # -- building ----------------------------------------------------------------------

    def _add_text(self, outputs: _CellOutputs, name: str, text: str) -> None:
        room = self.max_output_bytes - outputs.kept
        if len(text) > room:
            head = text[: text.rfind("\n", 0, room) + 1]  # whole lines only
            outputs.dropped += len(text) - len(head)
            text = head
            if not text:
                return
        outputs.kept += len(text)
        last = outputs.items[-1] if outputs.items else None
        if isinstance(last, _Stream) and last.name == name:
            last.chunks.append(text)
        else:
            outputs.items.append(_Stream(name, [text]))

    def _add(self, outputs: _CellOutputs, node: NotebookNode, size: int) -> None:
        if outputs.kept + size > self.max_output_bytes:
            outputs.dropped += size
            return
        outputs.kept += size
        outputs.items.append(node)

    def _display_output(self, data: dict[str, Any]) -> NotebookNode:
        if data["output_type"] == "execute_result":
            node = nbformat.v4.new_output(
                "execute_result",
                data=data["data"],
                metadata=data.get("metadata", {}),
                execution_count=data.get("execution_count"),
            )
        else:
            node = nbformat.v4.new_output("display_data", data=data["data"], metadata=data.get("metadata", {}))
        if data.get("display_id"):
            self._displays.setdefault(data["display_id"], []).append(node)
        return node

    def _update_display(self, data: dict[str, Any]) -> None:
        for node in self._displays.get(data.get("display_id", ""), []):
            node["data"] = data["data"]
            node["metadata"] = data.get("metadata", {})

    def _clear(self, outputs: _CellOutputs) -> None:
        outputs.items.clear()
        outputs.kept = 0
        outputs.clear_pending = False

    def _close(self, number: int) -> None:
        outputs = self._open.pop(number, None)
        if outputs is None:
            return
        cell = self.nb.cells[self._index_of[number]]
        nodes = []
        for item in outputs.items:
            if isinstance(item, _Stream):
                text = apply_carriage_returns("".join(item.chunks))
                nodes.append(nbformat.v4.new_output("stream", name=item.name, text=text))
            else:
                nodes.append(item)
        if outputs.dropped:
            nodes.append(
                nbformat.v4.new_output(
                    "stream",
                    name="stderr",
                    text=(
                        f"[jenkins-kernel] output truncated: this cell printed "
                        f"{_mb(outputs.kept + outputs.dropped)}; the notebook keeps the first "
                        f"{_mb(self.max_output_bytes)} (--max-output-bytes). "
                        "The console log has all of it.\n"
                    ),
                )
            )
        cell.outputs = nodes


def _size(bundle: Any) -> int:
    if not isinstance(bundle, dict):
        return 0
    return sum(len(v) if isinstance(v, str) else len(str(v)) for v in bundle.values())


def _mb(n: int) -> str:
    return f"{n / 1024 / 1024:.1f} MB" if n >= 1024 * 1024 else f"{n} bytes"
