"""Running one cell as a whole run, and the deadline of a run."""

from __future__ import annotations

import asyncio

from ..status import RunStatus
from .backends.base import Kernel
from .events import EventStream
from .executor import Deadline, execute_cell
from .results import CellResult, RunResult, describe_error, finish_run

__all__ = ["run_code", "run_deadline"]


def run_deadline(timeout: float | None) -> Deadline | None:
    return Deadline.after(timeout, f"the run timeout of {timeout:g} s") if timeout else None


async def run_code(
    session: Kernel,
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
