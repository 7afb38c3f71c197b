"""What a run produced: per-cell results, the run's result, and the event that closes it.

Plain data (no kernel, no Jupyter imports), so reports, the service and the public API can
use it without loading the engine.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from ..status import RunStatus
from .events import EventStream

__all__ = ["CellResult", "RunResult", "describe_error", "finish_run"]


@dataclass
class CellResult:
    """How one code cell of a run went."""

    number: int
    index: int
    status: str  # a RunStatus value, or "skipped" / "not_run"
    source: str = ""
    duration: float = 0.0
    execution_count: int | None = None
    error: dict[str, Any] | None = None
    expected_error: bool = False
    note: str = ""  # why a cell did not run, or ended the notebook early (sys.exit)

    def to_dict(self) -> dict[str, Any]:
        out = {
            "number": self.number,
            "index": self.index,
            "status": self.status,
            "duration": round(self.duration, 4),
            "execution_count": self.execution_count,
        }
        if self.error:
            out["error"] = {k: self.error[k] for k in ("ename", "evalue") if k in self.error}
            out["expected_error"] = self.expected_error
        if self.note:
            out["note"] = self.note
        return out


@dataclass
class RunResult:
    """How a run ended: status, exit code, per-cell results, the kernel it ran on."""

    status: RunStatus = RunStatus.RUNNING
    message: str = ""
    started: float = field(default_factory=time.time)
    ended: float = 0.0
    kernel: Any = None  # engine.kernel.KernelInfo
    parameters: dict[str, Any] = field(default_factory=dict)
    cells: list[CellResult] = field(default_factory=list)
    #: Numbers the run recorded (lineage.metrics), and what produced it (lineage.recorder).
    metrics: dict[str, float] = field(default_factory=dict)
    lineage: dict[str, Any] = field(default_factory=dict)

    @property
    def exit_code(self) -> int:
        return self.status.exit_code if self.status.exit_code is not None else 1

    @property
    def duration(self) -> float:
        return max(0.0, (self.ended or time.time()) - self.started)

    def to_dict(self) -> dict[str, Any]:
        return {
            "status": self.status.value,
            "exit_code": self.exit_code,
            "message": self.message,
            "started": self.started,
            "ended": self.ended,
            "duration": round(self.duration, 4),
            "kernel": self.kernel.to_dict() if self.kernel else None,
            "parameters": self.parameters,
            "cells": [c.to_dict() for c in self.cells],
            "metrics": self.metrics,
        }


def finish_run(stream: EventStream, result: RunResult, status: RunStatus | None = None, message: str = "") -> RunResult:
    """Close a run: set its end (unless set), emit the final status event (the last line)."""
    if status is not None:
        result.status, result.message = status, message
    result.ended = result.ended or time.time()
    stream.emit(
        "status",
        status=result.status.value,
        exit_code=result.exit_code,
        duration=round(result.duration, 4),
        message=result.message,
    )
    return result


def describe_error(error: dict[str, Any] | None) -> str:
    """``ename: evalue`` on one line (R's evalue ends with a newline; some span several)."""
    if not error:
        return ""
    evalue = " ".join(str(error.get("evalue", "")).split())
    return f"{error.get('ename', 'Error')}: {evalue}".rstrip(": ")
