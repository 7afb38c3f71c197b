"""Render a run's events as build-log text: the CLI's console and the service's /log.

One renderer for both, so a build log reads the same whether the notebook ran embedded or
on the service. It returns ``(stream, text)`` pieces; ``stream`` is ``stdout`` for the
kernel's standard output and ``stderr`` for everything else (the kernel's stderr, errors,
cell headers, the final line), so ``x=$(jenkins-kernel exec -c ...)`` captures only what
the code printed.

Carriage-return progress bars (tqdm) are not copied frame by frame: a line being redrawn
is shown when it ends, and at most every ``progress_interval`` seconds while it goes on.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from .engine.events import Event
from .notebook.images import image_mime, image_name

__all__ = ["PREFIX", "ConsoleRenderer", "strip_ansi"]

PREFIX = "[jenkins-kernel]"
_ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]")
_LINE_BREAKS = re.compile(r"(\r\n|\r|\n)")
_COLORS = {"bold": "1", "red": "31", "green": "32", "yellow": "33", "cyan": "36"}
_STATUS_COLOR = {"succeeded": "green", "cancelled": "yellow"}

Piece = tuple[str, str]


def strip_ansi(text: str) -> str:
    return _ANSI.sub("", text)


@dataclass
class _Line:
    """Where one output stream stands: at a line start, or redrawing a line with ``\\r``."""

    at_line_start: bool = True
    redrawing: bool = False
    pending: str = ""
    last_shown: float = float("-inf")


class ConsoleRenderer:
    def __init__(
        self,
        *,
        color: bool = False,
        quiet: bool = False,
        images_saved: bool = True,
        progress_interval: float = 5.0,
    ) -> None:
        self.color = color
        self.quiet = quiet
        self.images_saved = images_saved
        self.progress_interval = progress_interval
        self._lines: dict[str, _Line] = {}

    def render(self, event: Event) -> list[Piece]:
        handler = getattr(self, "_on_" + event.type, None)
        return handler(event) if handler else []

    # -- one method per event type -------------------------------------------------------

    def _on_stream(self, event: Event) -> list[Piece]:
        if self.quiet:
            return []
        name = "stdout" if event.data.get("name") == "stdout" else "stderr"
        text = event.data.get("text", "")
        if not self.color:
            text = strip_ansi(text)
        return [(name, t) for t in self._redraw(name, text, event.time) if t]

    def _on_display(self, event: Event) -> list[Piece]:
        if self.quiet or event.data.get("output_type") == "update_display_data":
            return []
        bundle: dict[str, Any] = event.data.get("data", {})
        mime = image_mime(bundle)
        if mime:
            where = image_name(event) if self.images_saved else "not saved: pass --output-dir"
            return self._end_lines() + [("stderr", self._note(f"[{mime} output: {where}]"))]
        if "text/plain" in bundle:
            text = _text(bundle["text/plain"])
            text = text if self.color else strip_ansi(text)
            return self._end_lines() + [("stdout", text + "\n")]
        kinds = ", ".join(sorted(bundle)) or "empty"
        return self._end_lines() + [("stderr", self._note(f"[{kinds} output: see report.html]"))]

    def _on_error(self, event: Event) -> list[Piece]:
        data = event.data
        pieces = self._end_lines()
        if data.get("source") == "engine":
            lines = [f"{PREFIX} {data.get('ename')}: {data.get('evalue')}"]
            if data.get("hint"):
                lines.append(f"{PREFIX}   {data['hint']}")
            return pieces + [("stderr", self._paint("\n".join(lines), "red") + "\n")]
        traceback = "\n".join(data.get("traceback") or []) or f"{data.get('ename')}: {data.get('evalue')}"
        if not self.color:
            traceback = strip_ansi(traceback)
        return pieces + [("stderr", traceback.rstrip("\n") + "\n")]

    def _on_cell(self, event: Event) -> list[Piece]:
        data = event.data
        where = f"[cell {data['number']}/{data['total']}]"
        if data["phase"] == "start":
            if self.quiet:
                return []
            return self._end_lines() + [("stderr", self._paint(f"{where} {data.get('title', '')}", "cyan") + "\n")]
        if data["phase"] == "skipped":
            return [] if self.quiet else [("stderr", self._note(f"{where} skipped ({data.get('reason')})"))]
        pieces = self._end_lines()
        if data.get("expected_error"):
            pieces.append(("stderr", self._note(f"{where} raised {data['expected_error']} as expected")))
        return pieces

    def _on_status(self, event: Event) -> list[Piece]:
        data = event.data
        status = data.get("status")
        warnings = [
            ("stderr", self._paint(f"{PREFIX} warning: {w}", "yellow") + "\n") for w in data.get("warnings") or []
        ]
        if status == "running" and data.get("notebook") and not self.quiet:
            line = f"{PREFIX} running {data['notebook']} on the {data.get('kernel')} kernel"
            return [("stderr", self._paint(line, "bold") + "\n"), *warnings]
        if warnings:
            return warnings
        if data.get("exit_code") is None:
            return []
        line = f"{PREFIX} {status} in {_seconds(data.get('duration', 0.0))} (exit code {data['exit_code']})"
        if data.get("message"):
            line += f": {data['message']}"
        color = _STATUS_COLOR.get(str(status), "red")
        return self._end_lines() + [("stderr", self._paint(line, color) + "\n")]

    # -- helpers -----------------------------------------------------------------------

    def _redraw(self, name: str, text: str, now: float) -> list[str]:
        line = self._lines.setdefault(name, _Line())
        if "\r" not in text and not line.redrawing:  # the common case, kept cheap for floods
            if text:
                line.at_line_start = text.endswith("\n")
            return [text]
        out: list[str] = []
        for piece in _LINE_BREAKS.split(text):
            if not piece:
                continue
            if piece in ("\n", "\r\n"):
                out.append((line.pending if line.redrawing else "") + "\n")
                line.pending, line.redrawing, line.at_line_start = "", False, True
            elif piece == "\r":
                if not line.redrawing and not line.at_line_start:
                    out.append("\n")  # a partial line was printed; the redraws start below it
                line.redrawing, line.at_line_start = True, True
            elif line.redrawing:
                line.pending = piece
                if now - line.last_shown >= self.progress_interval:
                    out.append(piece + "\n")
                    line.last_shown = now
                    line.pending = ""
            else:
                out.append(piece)
                line.at_line_start = False
        return out

    def _end_lines(self) -> list[Piece]:
        """Finish any unterminated line before something else is printed."""
        pieces: list[Piece] = []
        for name, line in self._lines.items():
            if line.redrawing and line.pending:
                pieces.append((name, line.pending + "\n"))
            elif not line.at_line_start:
                pieces.append((name, "\n"))
            self._lines[name] = _Line()
        return pieces

    def _note(self, text: str) -> str:
        return self._paint(text, "yellow") + "\n"

    def _paint(self, text: str, color: str) -> str:
        return f"\x1b[{_COLORS[color]}m{text}\x1b[0m" if self.color else text


def _text(value: Any) -> str:
    return "".join(value) if isinstance(value, list) else str(value)


def _seconds(value: float) -> str:
    if value < 60:
        return f"{value:.2f} s"
    minutes, seconds = divmod(int(value), 60)
    return f"{minutes} min {seconds} s"
