"""Executing runs inside the service: from queued to recorded.

A run waits for its session's kernel and its turn on the session (FIFO), runs as a cell
or a notebook, and every event goes to the store as it happens (:class:`RunRecorder`);
HTTP threads follow it through its :class:`LiveRun`. Everything here runs on the engine
loop, except what waits on a LiveRun.
"""

from __future__ import annotations

import asyncio
import collections
import concurrent.futures
import functools
import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..console import ConsoleRenderer
from ..engine.events import Event, EventStream, OutputBudget
from ..engine.results import RunResult, finish_run
from ..engine.run_as import give
from ..engine.runs import run_code
from ..engine.sessions import ManagedSession, SessionManager
from ..exceptions import JenkinsKernelError, StorageError
from ..lineage.metrics import MetricsCollector
from ..lineage.record import save_lineage
from ..notebook.images import ImageSaver
from ..notebook.reports import write_html_report
from ..notebook.runner import NotebookOptions, run_notebook_async
from ..status import RunStatus
from ..store import Store
from ..transfer import OUTPUT_PREFIX
from .artifact_files import index_files
from .config import Settings
from .files import collect_outputs, unpack_inputs
from .metrics import ServiceMetrics
from .requests import RunRequest

__all__ = ["LiveRun", "RunExecutor", "RunRecorder"]

log = logging.getLogger(__name__)
#: Events wait this long to be written together: a short run is written once, at its end,
#: instead of keeping the store's writer busy while its kernel answers; a reader never
#: notices 20 ms.
FLUSH_DELAY = 0.02
#: A batch this large is written at once rather than after FLUSH_DELAY (a flood of output).
FLUSH_BYTES = 1 << 20
#: Bytes handed to the store's writer and not yet written, at most: past this the engine
#: loop waits for the writer instead of holding a flood in memory.
BACKLOG_BYTES = 8 << 20
#: A notebook's report.html is rendered once no run is executing, or this many seconds
#: after its run ended: rendering costs a core ~15 ms that a burst of runs needs more.
#: Asking for the run's artifacts (or stopping the service) renders it at once.
REPORT_DEFER = 2.0


@dataclass(eq=False)
class LiveRun:
    """A run in flight: what HTTP threads wait on, and how to cancel it."""

    id: str
    session_id: str
    cancel: asyncio.Event
    cond: threading.Condition = field(default_factory=threading.Condition)
    last_seq: int = 0
    log_size: int = 0
    finished: bool = False
    executed: Any = None  # a notebook run's executed notebook, for its report.html
    images: ImageSaver | None = None  # a cell run's saved images
    inserted: concurrent.futures.Future[Any] | None = None  # the run's record, once committed
    output_files: list[tuple[str, int, str]] = field(default_factory=list)  # declared outputs brought back

    def progressed(self, last_seq: int, log_size: int) -> None:
        with self.cond:
            self.last_seq, self.log_size = last_seq, log_size
            self.cond.notify_all()

    def end(self) -> None:
        with self.cond:
            self.finished = True
            self.cond.notify_all()

    def wait(self, predicate: Any, timeout: float) -> None:
        with self.cond:
            self.cond.wait_for(lambda: self.finished or predicate(), timeout=timeout)


class RunRecorder:
    """A listener on the engine loop: renders each event's console text and hands events
    and text to the store, in batches (every ``FLUSH_DELAY`` seconds, and at the run's end).

    When the store cannot write (disk full, data dir unwritable), the run is stopped: its
    later output is not kept, and it ends ``failed`` with the cause once the store works.
    """

    def __init__(self, store: Store, metrics: ServiceMetrics, live: LiveRun) -> None:
        self.store, self.metrics, self.live = store, metrics, live
        self.loop = asyncio.get_running_loop()
        self.renderer = ConsoleRenderer(images_saved=True)
        self.rows: list[tuple[int, str, float, str]] = []
        self.texts: list[str] = []
        self.fields: dict[str, Any] = {}  # run fields to write with the next events
        self.last_seq = 0
        self.failed: StorageError | None = None
        self.batch_bytes = 0
        self.in_flight: collections.deque[tuple[concurrent.futures.Future[Any], int]] = collections.deque()
        self.in_flight_bytes = 0
        self.stalled: concurrent.futures.Future[Any] | None = None

    def __call__(self, event: Event) -> None:
        if self.failed is not None:
            return
        texts = [text for _, text in self.renderer.render(event)]
        row = (event.seq, event.type, event.time, json.dumps(event.data, default=str))
        self.texts.extend(texts)
        self.rows.append(row)
        self.last_seq = event.seq
        self.batch_bytes += len(row[3]) + sum(map(len, texts))
        if self.batch_bytes >= FLUSH_BYTES:
            self.flush()
        elif len(self.rows) == 1:
            self.loop.call_later(FLUSH_DELAY, self.flush)
        self.metrics.events_written.inc()

    def take(self) -> tuple[list[tuple[int, str, float, str]], str, int] | None:
        """The events not yet written, with their console text and last seq."""
        if not self.rows:
            return None
        taken = self.rows, "".join(self.texts), self.last_seq
        self.rows, self.texts, self.batch_bytes = [], [], 0
        return taken

    def flush(self) -> None:
        size = self.batch_bytes
        events = self.take()
        if events is not None:
            fields, self.fields = self.fields, {}
            future = self.store.record(self.live.id, events=events, fields=fields)
            future.add_done_callback(self._written)
            self._throttle(future, size)

    def _throttle(self, future: concurrent.futures.Future[Any], size: int) -> None:
        """Keep at most BACKLOG_BYTES queued for the writer: a flood waits for the disk
        (a few ms per MB) instead of piling up in the service's memory. A store that does
        not answer within a second is not waited for again (it reports its own failure)."""
        self.in_flight.append((future, size))
        self.in_flight_bytes += size
        while self.in_flight:
            oldest, oldest_size = self.in_flight[0]
            if not oldest.done():
                if self.in_flight_bytes <= BACKLOG_BYTES or oldest is self.stalled:
                    return
                if not concurrent.futures.wait([oldest], timeout=1.0).done:
                    self.stalled = oldest
                    return
            self.in_flight.popleft()
            self.in_flight_bytes -= oldest_size
            error = oldest.exception()
            if isinstance(error, StorageError):
                self.fail(error)  # on the loop already: the rest of a flood is dropped at once

    def _written(self, future: concurrent.futures.Future[tuple[int, int]]) -> None:
        error = future.exception()
        if error is None:
            size, last_seq = future.result()
            self.live.progressed(last_seq, size)
        elif isinstance(error, StorageError):
            self.loop.call_soon_threadsafe(self.fail, error)

    def fail(self, error: StorageError) -> None:
        """The store failed: keep nothing more, stop the run (it ends ``failed``)."""
        if self.failed is None:
            self.failed = error
            self.rows, self.texts, self.fields = [], [], {}
            self.live.cancel.set()

    def closing_event(self, result: RunResult) -> tuple[list[tuple[int, str, float, str]], str, int]:
        """The final status event of a run the store failed, with its console text."""
        data = {
            "status": result.status.value,
            "exit_code": result.exit_code,
            "duration": round(result.duration, 4),
            "message": result.message,
        }
        event = Event(self.last_seq + 1, "status", time.time(), data)
        text = "".join(t for _, t in self.renderer.render(event))
        return [(event.seq, "status", event.time, json.dumps(data))], text, event.seq


class RunExecutor:
    """Runs requests on sessions and records what they do."""

    def __init__(self, store: Store, sessions: SessionManager, settings: Settings, metrics: ServiceMetrics) -> None:
        self.store, self.sessions, self.settings, self.metrics = store, sessions, settings, metrics
        self.live_runs: dict[str, LiveRun] = {}
        self.pending: dict[str, concurrent.futures.Future[Any]] = {}  # artifacts still being written
        self._tasks: set[asyncio.Task[None]] = set()
        self.executing = 0  # runs between taking their session and ending
        self.quiet_since = time.monotonic()  # when the last executing run ended
        self._quiet = asyncio.Event()  # set while no run is executing
        self._quiet.set()
        self.on_quiet: list[Callable[[], None]] = []  # called when the last executing run ends
        self._urgent: dict[str, asyncio.Event] = {}  # reports someone waits for
        self._loop: asyncio.AbstractEventLoop | None = None
        # Reports are rendered one at a time: at most one competes with new runs.
        self._renderer = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="reports")

    def start(self, live: LiveRun, managed: ManagedSession, req: RunRequest) -> None:
        """Called on the engine loop: the run's task begins."""
        self._loop = asyncio.get_running_loop()
        task = asyncio.ensure_future(self.execute(live, managed, req))
        self._tasks.add(task)  # the loop keeps only weak references to tasks
        task.add_done_callback(self._tasks.discard)

    def wait_for_artifacts(self, run_id: str, timeout: float = 120.0) -> None:
        pending = self.pending.get(run_id)
        if pending is not None:
            urgent = self._urgent.get(run_id)
            if urgent is not None and self._loop is not None:
                self._loop.call_soon_threadsafe(urgent.set)
            try:
                pending.result(timeout=timeout)
            except Exception:
                log.exception("artifacts of run %s", run_id)

    async def execute(self, live: LiveRun, managed: ManagedSession, req: RunRequest) -> None:
        """Run ``req`` on the session once its kernel is ready and its earlier runs are done."""
        recorder = RunRecorder(self.store, self.metrics, live)
        stream = EventStream([recorder], gate=OutputBudget(self.settings.max_run_output_bytes))
        artifacts = self.store.run_dir(live.id) / "artifacts"
        result = RunResult()
        self.sessions.touch(managed, busy=True)
        stream.emit(
            "status", status=RunStatus.QUEUED.value, session=managed.id, kernel=managed.kernel, warm=managed.warm
        )
        acquired = False
        try:
            if not managed.ready.done() and not await _first(asyncio.shield(managed.ready), live.cancel):
                finish_run(stream, result, RunStatus.CANCELLED, "cancelled while waiting for the kernel")
                return
            managed.ready.result()  # raises if the kernel did not start
            lock = managed.kernel_session.lock
            acquired = await lock.acquire() if not lock.locked() else await _first(lock.acquire(), live.cancel)
            if not acquired:
                finish_run(stream, result, RunStatus.CANCELLED, "cancelled while queued behind other runs")
                return
            if live.inserted is not None and not live.inserted.done():
                await asyncio.wrap_future(live.inserted)  # never run code that is not on record
            recorder.fields.update(status=RunStatus.RUNNING.value, started=time.time())  # with the next events
            if req.inputs:
                owner = functools.partial(give, user=self.sessions.run_as)
                await asyncio.to_thread(unpack_inputs, Path(managed.cwd), req.inputs, owner)
            self._executing(+1)
            try:
                result = await self._run(managed, req, stream, live, artifacts)
            finally:
                self._executing(-1)
        except StorageError as exc:
            recorder.fail(exc)
        except JenkinsKernelError as exc:
            stream.emit("error", source="engine", ename=type(exc).__name__, evalue=exc.message, traceback=[])
            finish_run(stream, result, exc.status, exc.message)
        except Exception as exc:  # a bug must still end the run, visibly
            log.exception("run %s failed inside the service", live.id)
            stream.emit("error", source="engine", ename="InternalError", evalue=str(exc), traceback=[])
            finish_run(stream, result, RunStatus.FAILED, f"internal error: {exc}")
        finally:
            if req.outputs and acquired:
                await self._bring_back(live, managed, req.outputs, artifacts)
            if acquired:
                managed.kernel_session.lock.release()
            if await managed.kernel_session.exit_code() is not None and managed.status != "closed":
                managed.status, managed.message = "dead", "the kernel died; restart the session"
            self.sessions.touch(managed, busy=False)
            try:
                save_lineage(self.store, live.id, result, req.git)  # committed before the outcome
            except Exception:  # the run's outcome must be recorded all the same
                log.exception("the lineage of run %s could not be saved", live.id)
            await self._finish(live, result, artifacts, recorder)
            if managed.ephemeral:
                await self.sessions.close(managed, grace=0.2)

    def _executing(self, change: int) -> None:
        self.executing += change
        if self.executing:
            self._quiet.clear()
        else:
            self._quiet.set()
            self.quiet_since = time.monotonic()
            for callback in self.on_quiet:
                callback()

    def idle_for(self) -> float:
        """Seconds since the last run stopped executing (0 while one executes)."""
        return 0.0 if self.executing else time.monotonic() - self.quiet_since

    async def finish_reports(self, timeout: float = 30.0) -> None:
        """Render every deferred report now and wait for them (the service stops)."""
        for urgent in self._urgent.values():
            urgent.set()
        pending = [asyncio.wrap_future(f) for f in list(self.pending.values())]
        if pending:
            await asyncio.wait(pending, timeout=timeout)
        self._renderer.shutdown(wait=False)

    async def _bring_back(self, live: LiveRun, managed: ManagedSession, patterns: list[str], artifacts: Path) -> None:
        """Copy the run's declared output files into its artifacts and record their hashes."""
        try:
            live.output_files = await asyncio.to_thread(collect_outputs, Path(managed.cwd), patterns, artifacts)
        except OSError:
            log.exception("output files of run %s", live.id)
            return
        self.store.record_files(live.id, "output", live.output_files)

    async def _run(
        self, managed: ManagedSession, req: RunRequest, stream: EventStream, live: LiveRun, artifacts: Path
    ) -> RunResult:
        grace = self.settings.interrupt_grace
        if req.kind == "code":
            live.images = ImageSaver(artifacts)
            collector = MetricsCollector()
            stream.listeners[:0] = [live.images, collector]
            result = await run_code(
                managed.kernel_session,
                req.code or "",
                stream,
                timeout=req.timeout,
                cancel=live.cancel,
                interrupt_grace=grace,
            )
            result.metrics = collector.metrics
            return result
        options = NotebookOptions(
            parameters=req.parameters,
            allow_unknown_parameters=req.allow_unknown_parameters,
            kernel=req.kernel,
            path=req.notebook_path,
            origin=req.jenkins,
            timeout=req.timeout,
            cell_timeout=req.cell_timeout,
            allow_errors=req.allow_errors,
            max_output_bytes=self.settings.max_output_bytes,
            interrupt_grace=grace,
            defer_html=True,
        )
        assert req.notebook is not None
        result, executed = await run_notebook_async(
            req.notebook,
            options,
            name=req.notebook_name,
            output_dir=artifacts,
            cancel=live.cancel,
            session=managed.kernel_session,
            stream=stream,
        )
        live.executed = executed
        return result

    async def _finish(self, live: LiveRun, result: RunResult, artifacts: Path, recorder: RunRecorder) -> None:
        """Record the outcome (waiters wake once it is committed) and index the artifacts.

        A notebook's report.html is rendered after the run has ended, off the loop; until
        it is written and every artifact indexed, listing or fetching artifacts waits.
        """
        if live.inserted is not None and live.inserted.done() and live.inserted.exception() is not None:
            self._forget(live)  # the run was never on record: nothing to finish there
            return
        files = None
        if live.images is not None and live.images.saved:  # the input was indexed with the run
            files = index_files(artifacts, live.images.saved)
        if live.output_files:
            files = (files or []) + [(OUTPUT_PREFIX + name, size, digest) for name, size, digest in live.output_files]
        if recorder.failed is not None:
            result.status, result.message = RunStatus.FAILED, f"storage failed: {recorder.failed.message}"
            result.ended = time.time()
            events = recorder.closing_event(result)
        else:
            events = recorder.take()  # the last events, the artifacts and the outcome: one transaction
        outcome = {
            **recorder.fields,
            "status": result.status.value,
            "exit_code": result.exit_code,
            "message": result.message,
            "ended": result.ended or time.time(),
            "kernel_info": result.kernel.to_dict() if result.kernel else {},
        }
        done = asyncio.ensure_future(self._record_until_written(live.id, events, files, outcome))
        self.metrics.run_finished(result)
        if live.executed is not None:  # rendered once the outcome is committed: it must not slow that
            report = self._render_and_index(live.id, live.executed, result, artifacts, after=done)
            pending = asyncio.run_coroutine_threadsafe(report, asyncio.get_running_loop())
            self.pending[live.id] = pending
            pending.add_done_callback(lambda _: self.pending.pop(live.id, None))

        def ended(task: asyncio.Future[tuple[int, int]]) -> None:
            if not task.cancelled() and task.exception() is None:
                size, last_seq = task.result()
                live.progressed(last_seq, size)
            self._forget(live)

        done.add_done_callback(ended)

    def _forget(self, live: LiveRun) -> None:
        live.end()
        self.live_runs.pop(live.id, None)

    async def _record_until_written(
        self, run_id: str, events: Any, files: list[tuple[str, int, str]] | None, outcome: dict[str, Any]
    ) -> tuple[int, int]:
        """Write a run's outcome, retried while the store fails: a run always ends on record."""
        pause = 0.5
        while True:
            try:
                written = self.store.record(run_id, events=events, artifacts=files, fields=outcome)
                return await asyncio.wrap_future(written)
            except StorageError:
                await asyncio.sleep(pause)
                pause = min(pause * 2, 5.0)

    async def _render_and_index(
        self, run_id: str, executed: Any, result: RunResult, artifacts: Path, after: asyncio.Future[Any]
    ) -> None:
        await after
        urgent = self._urgent.setdefault(run_id, asyncio.Event())
        if not self._quiet.is_set():
            waiters = {asyncio.ensure_future(self._quiet.wait()), asyncio.ensure_future(urgent.wait())}
            _, waiting = await asyncio.wait(waiters, timeout=REPORT_DEFER, return_when=asyncio.FIRST_COMPLETED)
            for waiter in waiting:
                waiter.cancel()
        self._urgent.pop(run_id, None)
        loop = asyncio.get_running_loop()
        try:
            await loop.run_in_executor(self._renderer, write_html_report, executed, result, artifacts)
        except Exception:
            log.exception("report.html of run %s could not be written", run_id)
        if self.settings.mlflow_tracking_uri:
            await asyncio.to_thread(self._export_to_mlflow, run_id, artifacts)
        files = await asyncio.to_thread(index_files, artifacts)
        await asyncio.wrap_future(self.store.record(run_id, artifacts=files))

    def _export_to_mlflow(self, run_id: str, artifacts: Path) -> None:
        from ..lineage.mlflow_export import export_run

        run = self.store.get_run(run_id) or {}
        try:
            export_run(
                self.settings.mlflow_tracking_uri,
                artifacts,
                git=self.store.lineage_for(run_id)["git"],
                jenkins=run.get("jenkins"),
                run_id=run_id,
            )
        except Exception:
            log.exception("run %s could not be logged to MLflow", run_id)


async def _first(awaitable: Any, cancel: asyncio.Event) -> bool:
    """Wait for ``awaitable`` or ``cancel``; True if the awaitable finished first (if not,
    it is cancelled: shield what others wait on too)."""
    if cancel.is_set():
        if asyncio.iscoroutine(awaitable):
            awaitable.close()
        return False
    task = asyncio.ensure_future(awaitable)
    stop = asyncio.ensure_future(cancel.wait())
    await asyncio.wait({task, stop}, return_when=asyncio.FIRST_COMPLETED)
    stop.cancel()
    if task.done():
        return True
    task.cancel()
    return False
