"""Run a whole notebook: a straight line from load to reports.

pick the kernel -> check and inject the parameters -> clear what the last run left -> start
(or reuse) a kernel -> run the code cells in order, saving executed.ipynb as they finish ->
write the reports, also when the run failed, timed out or was cancelled -> the final
status event.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nbformat import NotebookNode

from ..engine.backends.base import Kernel
from ..engine.events import EventStream, Listener
from ..engine.executor import CellOutcome, Deadline, execute_cell
from ..engine.kernel import KernelSession
from ..engine.kernelspecs import require_kernel
from ..engine.results import CellResult, RunResult, describe_error, finish_run
from ..engine.runs import run_deadline
from ..exceptions import JenkinsKernelError
from ..lineage.recorder import RunLineage
from ..status import RunStatus
from .cells import RAISES_TAG, SKIP_TAG, cell_tags, cell_title, prepare_for_run
from .checkpoint import NotebookCheckpoint
from .images import ImageSaver
from .loader import NATIVE_KERNEL, notebook_kernel_name
from .outputs import DEFAULT_MAX_OUTPUT_BYTES, OutputCollector
from .parameters import check_parameters, parameterize
from .reports import clean_output_dir, prepare_html_exporter, record_outcome, write_reports

__all__ = ["NotebookOptions", "is_clean_exit", "resolve_kernel_name", "run_notebook_async"]

#: IPython's evalue for ``sys.exit()``, ``sys.exit(0)``, ``sys.exit(None)``, ``raise SystemExit``.
_CLEAN_EXIT_VALUES = {"", "0", "None"}


@dataclass
class NotebookOptions:
    """How to run a notebook; the names are the CLI's and the HTTP API's."""

    parameters: dict[str, Any] = field(default_factory=dict)
    allow_unknown_parameters: bool = False
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
    #: The notebook's path relative to the working directory (JUnit classname).
    path: str | None = None
    #: Where the run came from: job_name, build_number, build_url, git_commit (report header).
    origin: dict[str, Any] = field(default_factory=dict)
    #: Seconds between two saves of executed.ipynb while cells finish (always at the end).
    save_every: float = 0.5


def resolve_kernel_name(nb: NotebookNode, requested: str | None, default: str = NATIVE_KERNEL) -> str:
    """``-k`` first, then the notebook's kernel (see :func:`notebook_kernel_name`), then
    ``default`` (python3, as nbclient and papermill do; the service's default_kernel)."""
    return requested or notebook_kernel_name(nb) or default


def is_clean_exit(error: dict[str, Any] | None) -> bool:
    """``sys.exit()``/``sys.exit(0)``/``raise SystemExit``: stop here, successfully (papermill)."""
    return bool(error) and error.get("ename") == "SystemExit" and str(error.get("evalue", "")) in _CLEAN_EXIT_VALUES


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
    starting: Awaitable[Any] | None = None,
) -> tuple[RunResult, NotebookNode]:
    """Run ``nb``; return how it went and the executed notebook (outputs filled in).

    With ``session`` the notebook runs on that live kernel (the service's case); without,
    a kernel is started for it and stopped at the end. With ``output_dir`` the previous
    run's files there are removed first, executed.ipynb is saved as cells finish, and the
    reports and images are written before the final status event. With ``stream`` the
    events continue that stream (the service numbers a run's events from its queued event on).
    With ``starting`` (the start of ``session``, begun by the caller while it loaded the
    notebook) the session is the run's own, as when none is given: it is awaited here, so a
    kernel that does not start fails the run like any other, and is stopped at the end.
    """
    kernel_name = session.kernel_name if session else resolve_kernel_name(nb, options.kernel)
    spec = session.spec if session else require_kernel(kernel_name)
    warnings = check_parameters(nb, options.parameters, options.allow_unknown_parameters)
    if not options.kernel and not notebook_kernel_name(nb):
        warnings.append(f"the notebook names no kernel (metadata.kernelspec); it runs on {kernel_name} (-k to choose)")
    nb = prepare_for_run(parameterize(nb, options.parameters, spec.language or kernel_name))
    checkpoint = None
    if output_dir is not None:
        clean_output_dir(output_dir)
        if not options.defer_html:
            prepare_html_exporter()
        listeners = [ImageSaver(output_dir), *listeners]
        checkpoint = NotebookCheckpoint(nb, output_dir / "executed.ipynb", options.save_every)
    collector = OutputCollector(nb, options.max_output_bytes)
    lineage = RunLineage(notebook_name=name, output_dir=output_dir)
    if stream is None:
        stream = EventStream()
    stream.listeners[:0] = [collector, lineage.metrics, *listeners]
    result = RunResult(parameters=dict(options.parameters))
    owns_session = session is None or starting is not None
    stream.emit("status", status=RunStatus.RUNNING.value, kernel=kernel_name, notebook=name, warnings=warnings)
    try:
        if session is None:
            session = KernelSession(kernel_name, cwd=options.cwd, env=options.env)
            await session.start()
        elif starting is not None:
            await starting
        result.kernel = session.info
        _record_kernel(nb, session)
        await lineage.begin(session)
        deadline = run_deadline(options.timeout)
        result.status, result.message = await _run_cells(
            nb, session, stream, result, options, deadline, cancel, owns_session, checkpoint
        )
        await lineage.finish()
    except JenkinsKernelError as exc:
        result.status, result.message = exc.status, exc.message
        stream.emit("error", source="engine", ename=type(exc).__name__, evalue=str(exc), traceback=[])
    finally:
        if owns_session and session is not None:
            session.request_shutdown()  # the kernel exits while the reports are written
    result.ended = time.time()
    result.metrics, result.lineage = lineage.metrics.metrics, lineage.to_dict()
    record_outcome(nb, result, name=name, path=options.path, origin=options.origin, warnings=warnings)
    try:
        if output_dir is not None:  # in a thread: rendering must not stall other kernels' output
            if checkpoint is not None:
                await checkpoint.close()
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
    checkpoint: NotebookCheckpoint | None,
) -> tuple[RunStatus, str]:
    """Run the code cells in order; the status and message of the whole run.

    After an error the rest is not run, unless ``allow_errors`` (then a cell timeout does
    not stop the run either, as in nbclient); a dead kernel, a cancel or the run's own
    timeout always stop it. ``sys.exit(0)`` stops it successfully (papermill's rule).
    """
    code_cells = [(i, c) for i, c in enumerate(nb.cells) if c.cell_type == "code"]
    total = len(code_cells)
    failure: tuple[RunStatus, str] | None = None
    stop_note = ""
    for number, (index, cell) in enumerate(code_cells, start=1):
        entry = CellResult(number=number, index=index, status="not_run", source=cell.source)
        result.cells.append(entry)
        where = f"cell {number}/{total}"
        if not stop_note and failure and _stops(failure[0], options, deadline):
            stop_note = f"not run: cell {_failed_number(result)} ended the run {failure[0].value}"
        if stop_note:
            entry.note = stop_note
            continue
        if cancel is not None and cancel.is_set():
            failure = (RunStatus.CANCELLED, f"cancelled before {where}")
            entry.note = "not run: the run was cancelled"
            continue
        tags = cell_tags(cell)
        if not cell.source.strip():
            entry.status = RunStatus.SUCCEEDED.value  # nothing to run, as in nbclient
            continue
        if SKIP_TAG in tags:
            entry.status = "skipped"
            entry.note = f"tagged {SKIP_TAG}"
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
            # a stuck kernel is restarted, not killed, when the run goes on after a timeout
            restart_when_stuck=not owns_session or options.allow_errors,
        )
        _record_cell(cell, entry, outcome, tags)
        if is_clean_exit(outcome.error):
            entry.status, entry.error = RunStatus.SUCCEEDED.value, None
            entry.note = f"stopped the notebook: {describe_error(outcome.error)} (a clean exit, as in papermill)"
            cell.metadata["jenkins_kernel"]["status"] = entry.status
            stop_note = f"not run: cell {number} stopped the notebook with SystemExit"
        stream.emit(
            "cell",
            phase="end",
            number=number,
            total=total,
            index=index,
            status=entry.status,
            duration=round(outcome.duration, 4),
            expected_error=(outcome.error or {}).get("ename") if entry.expected_error else None,
        )
        failed = entry.status != RunStatus.SUCCEEDED.value
        if failed and failure is None:
            failure = (outcome.status, f"{where}: {describe_error(outcome.error)}")
        if checkpoint is not None:
            await checkpoint.cell_done(urgent=failed)
    return failure or (RunStatus.SUCCEEDED, "")


def _stops(status: RunStatus, options: NotebookOptions, deadline: Deadline | None) -> bool:
    if status in (RunStatus.KERNEL_DIED, RunStatus.CANCELLED):
        return True
    if not options.allow_errors:
        return True
    return status is RunStatus.TIMED_OUT and deadline is not None and time.monotonic() >= deadline.at


def _failed_number(result: RunResult) -> int:
    return next((c.number for c in result.cells if c.error and not c.expected_error), 0)


def _record_cell(cell: NotebookNode, entry: CellResult, outcome: CellOutcome, tags: set[str]) -> None:
    expected = outcome.status is RunStatus.FAILED and RAISES_TAG in tags
    entry.status = RunStatus.SUCCEEDED.value if expected else outcome.status.value
    entry.duration, entry.execution_count = outcome.duration, outcome.execution_count
    entry.error, entry.expected_error = outcome.error, expected
    cell.execution_count = outcome.execution_count
    meta = cell.setdefault("metadata", {})
    meta["execution"] = {key: _iso(t) for key, t in sorted(outcome.times.items())}
    meta["jenkins_kernel"] = {"status": entry.status, "duration": round(outcome.duration, 4)}


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
