"""Runs: what one execution request did, and the events that open and close it."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any

from ..status import RunStatus
from .events import EventStream
from .executor import Deadline, execute_cell
from .kernel import KernelInfo, KernelSession

__all__ = ["CellResult", "RunResult", "finish_run", "run_code", "run_deadline"]


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
        return out


@dataclass
class RunResult:
    """How a run ended: status, exit code, per-cell results, the kernel it ran on."""

    status: RunStatus = RunStatus.RUNNING
    message: str = ""
    started: float = field(default_factory=time.time)
    ended: float = 0.0
    kernel: KernelInfo | None = None
    parameters: dict[str, Any] = field(default_factory=dict)
    cells: list[CellResult] = field(default_factory=list)

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
        }


def run_deadline(timeout: float | None) -> Deadline | None:
    return Deadline.after(timeout, f"the run timeout of {timeout:g} s") if timeout else None


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
    if not error:
        return ""
    return f"{error.get('ename', 'Error')}: {error.get('evalue', '')}".rstrip(": ")


async def run_code(
    session: KernelSession,
    code: str,
    stream: EventStream,
    *,
    timeout: float | None = None,
    cancel: asyncio.Event | None = None,
    interrupt_grace: float = 3.0,
    restart_when_stuck: bool = True,
) -> RunResult:
    """One cell as a whole run: status running, the outputs, the final status."""
    result = RunResult(kernel=session.info)
    stream.emit("status", status=RunStatus.RUNNING.value, kernel=session.kernel_name)
    deadline = run_deadline(timeout)
    outcome = await execute_cell(
        session,
        code,
        stream.emit,
        deadlines=[deadline] if deadline else [],
        cancel=cancel,
        interrupt_grace=interrupt_grace,
        restart_when_stuck=restart_when_stuck,
    )
    result.cells.append(
        CellResult(
            number=1,
            index=0,
            status=outcome.status.value,
            source=code,
            duration=outcome.duration,
            execution_count=outcome.execution_count,
            error=outcome.error,
        )
    )
    return finish_run(stream, result, outcome.status, describe_error(outcome.error))
