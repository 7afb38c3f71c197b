"""Run a whole notebook: a straight line from load to reports.

pick the kernel -> parameterize -> start (or reuse) a kernel -> run the code cells in
order -> write the reports, also when the run failed, timed out or was cancelled -> the
final status event.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nbformat import NotebookNode

from ..engine.backends.base import Kernel
from ..engine.events import EventStream, Listener
from ..engine.executor import Deadline, execute_cell
from ..engine.kernel import KernelSession
from ..engine.kernelspecs import require_kernel
from ..engine.results import CellResult, RunResult, describe_error, finish_run
from ..engine.runs import run_deadline
from ..exceptions import InvalidNotebookError, JenkinsKernelError
from ..status import RunStatus
from .cells import RAISES_TAG, SKIP_TAG, cell_tags, cell_title
from .images import ImageSaver
from .loader import notebook_kernel_name
from .outputs import DEFAULT_MAX_OUTPUT_BYTES, OutputCollector
from .parameters import parameterize
from .reports import prepare_html_exporter, write_reports

__all__ = ["NotebookOptions", "resolve_kernel_name", "run_notebook_async"]

_STOPPING = (RunStatus.TIMED_OUT, RunStatus.KERNEL_DIED, RunStatus.CANCELLED)


@dataclass
class NotebookOptions:
    """How to run a notebook; the names are the CLI's and the HTTP API's."""

    parameters: dict[str, Any] = field(default_factory=dict)
    kernel: str | None = None
    timeout: float | None = None
    cell_timeout: float | None = None
    allow_errors: bool = False
    cwd: str | None = None
    env: dict[str, str] = field(default_factory=dict)
    max_output_bytes: int = DEFAULT_MAX_OUTPUT_BYTES
    interrupt_grace: float = 3.0
    shutdown_grace: float = 0.5
    #: Leave report.html to the caller (see reports.write_html_report).
    defer_html: bool = False


def resolve_kernel_name(nb: NotebookNode, requested: str | None) -> str:
    name = requested or notebook_kernel_name(nb)
    if not name:
        raise InvalidNotebookError(
            "the notebook does not say which kernel it needs (no metadata.kernelspec.name)",
            hint="pass the kernel with -k, e.g. -k python3",
        )
    return name


async def run_notebook_async(
    nb: NotebookNode,
    options: NotebookOptions,
    *,
    name: str = "notebook.ipynb",
    output_dir: Path | None = None,
    listeners: Iterable[Listener] = (),
    cancel: asyncio.Event | None = None,
    session: Kernel | None = None,
    stream: EventStream | None = None,
) -> tuple[RunResult, NotebookNode]:
    """Run ``nb``; return how it went and the executed notebook (outputs filled in).

    With ``session`` the notebook runs on that live kernel (the service's case); without,
    a kernel is started for it and stopped at the end. With ``output_dir`` the reports and
    images are written there before the final status event. With ``stream`` the events
    continue that stream (the service numbers a run's events from its queued event on).
    """
    kernel_name = session.kernel_name if session else resolve_kernel_name(nb, options.kernel)
    spec = session.spec if session else require_kernel(kernel_name)
    nb = parameterize(nb, options.parameters, spec.language or kernel_name)
    if output_dir is not None:
        if not options.defer_html:
            prepare_html_exporter()
        listeners = [ImageSaver(output_dir), *listeners]
    collector = OutputCollector(nb, options.max_output_bytes)
    if stream is None:
        stream = EventStream()
    stream.listeners[:0] = [collector, *listeners]
    result = RunResult(parameters=dict(options.parameters))
    owns_session = session is None
    stream.emit("status", status=RunStatus.RUNNING.value, kernel=kernel_name, notebook=name)
    try:
        if session is None:
            session = KernelSession(kernel_name, cwd=options.cwd, env=options.env)
            await session.start()
        result.kernel = session.info
        _record_kernel(nb, session)
        deadline = run_deadline(options.timeout)
        result.status, result.message = await _run_cells(
            nb, session, stream, result, options, deadline, cancel, owns_session
        )
    except JenkinsKernelError as exc:
        result.status, result.message = exc.status, exc.message
        stream.emit("error", source="engine", ename=type(exc).__name__, evalue=str(exc), traceback=[])
    finally:
        if owns_session and session is not None:
            session.request_shutdown()  # the kernel exits while the reports are written
    result.ended = time.time()
    nb.metadata.setdefault("jenkins_kernel", {}).update(
        {"status": result.status.value, "exit_code": result.exit_code, "duration": round(result.duration, 4)}
    )
    try:
        if output_dir is not None:  # in a thread: nbconvert must not stall other kernels' output
            await asyncio.to_thread(write_reports, nb, result, output_dir, name, html=not options.defer_html)
    finally:
        if owns_session and session is not None:
            await session.close(options.shutdown_grace)
        finish_run(stream, result)
    return result, nb


async def _run_cells(
    nb: NotebookNode,
    session: Kernel,
    stream: EventStream,
    result: RunResult,
    options: NotebookOptions,
    deadline: Deadline | None,
    cancel: asyncio.Event | None,
    owns_session: bool,
) -> tuple[RunStatus, str]:
    """Run the code cells in order; the status and message of the whole run."""
    code_cells = [(i, c) for i, c in enumerate(nb.cells) if c.cell_type == "code"]
    total = len(code_cells)
    failure: tuple[RunStatus, str] | None = None
    for number, (index, cell) in enumerate(code_cells, start=1):
        entry = CellResult(number=number, index=index, status="not_run", source=cell.source)
        result.cells.append(entry)
        where = f"cell {number}/{total}"
        if failure and (failure[0] in _STOPPING or not options.allow_errors):
            continue
        if cancel is not None and cancel.is_set():
            failure = (RunStatus.CANCELLED, f"cancelled before {where}")
            continue
        tags = cell_tags(cell)
        if not cell.source.strip():
            entry.status = RunStatus.SUCCEEDED.value  # nothing to run, as in nbclient
            continue
        if SKIP_TAG in tags:
            entry.status = "skipped"
            stream.emit("cell", phase="skipped", number=number, total=total, index=index, reason=f"tagged {SKIP_TAG}")
            continue
        deadlines = [deadline] if deadline else []
        if options.cell_timeout:
            deadlines.append(Deadline.after(options.cell_timeout, f"the cell timeout of {options.cell_timeout:g} s"))
        stream.emit("cell", phase="start", number=number, total=total, index=index, title=cell_title(cell.source))

        def emit(type: str, _number: int = number, **data: Any) -> Any:
            return stream.emit(type, cell=_number, **data)

        outcome = await execute_cell(
            session,
            cell.source,
            emit,
            deadlines=deadlines,
            cancel=cancel,
            interrupt_grace=options.interrupt_grace,
            restart_when_stuck=not owns_session,
        )
        expected = outcome.status is RunStatus.FAILED and RAISES_TAG in tags
        entry.status = RunStatus.SUCCEEDED.value if expected else outcome.status.value
        entry.duration, entry.execution_count = outcome.duration, outcome.execution_count
        entry.error, entry.expected_error = outcome.error, expected
        cell.execution_count = outcome.execution_count
        _record_timing(cell, outcome.started, outcome.ended, entry.status)
        stream.emit(
            "cell",
            phase="end",
            number=number,
            total=total,
            index=index,
            status=entry.status,
            duration=round(outcome.duration, 4),
            expected_error=(outcome.error or {}).get("ename") if expected else None,
        )
        if entry.status != RunStatus.SUCCEEDED.value and failure is None:
            failure = (outcome.status, f"{where}: {describe_error(outcome.error)}")
    return failure or (RunStatus.SUCCEEDED, "")


def _record_kernel(nb: NotebookNode, session: Kernel) -> None:
    info = session.info
    nb.metadata["kernelspec"] = {
        "name": session.kernel_name,
        "display_name": session.spec.display_name,
        "language": session.spec.language,
    }
    if info and info.language:
        lang = dict(nb.metadata.get("language_info") or {})
        lang.update({"name": info.language, "version": info.language_version})
        if info.file_extension:
            lang["file_extension"] = info.file_extension
        nb.metadata["language_info"] = lang


def _iso(t: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + f".{int(t % 1 * 1e6):06d}Z"


def _record_timing(cell: NotebookNode, started: float, ended: float, status: str) -> None:
    """JupyterLab's ``execution`` timing fields, plus our own status and duration."""
    meta = cell.setdefault("metadata", {})
    meta["execution"] = {"iopub.execute_input": _iso(started), "shell.execute_reply": _iso(ended)}
    meta["jenkins_kernel"] = {"status": status, "duration": round(ended - started, 4)}
