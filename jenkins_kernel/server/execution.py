"""Executing runs inside the service: from queued to recorded.

A run waits for its session's kernel and its turn on the session (FIFO), runs as a cell
or a notebook, and every event goes to the store as it happens (:class:`RunRecorder`);
HTTP threads follow it through its :class:`LiveRun`. Everything here runs on the engine
loop, except what waits on a LiveRun.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import hashlib
import json
import logging
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..console import ConsoleRenderer
from ..engine.events import Event, EventStream, OutputBudget
from ..engine.results import RunResult, finish_run
from ..engine.runs import run_code
from ..engine.sessions import ManagedSession, SessionManager
from ..exceptions import JenkinsKernelError
from ..lineage.metrics import MetricsCollector
from ..lineage.record import save_lineage
from ..notebook.images import ImageSaver
from ..notebook.reports import write_html_report
from ..notebook.runner import NotebookOptions, run_notebook_async
from ..status import RunStatus
from ..store import Store
from .config import Settings
from .metrics import ServiceMetrics
from .requests import RunRequest

__all__ = ["LiveRun", "RunExecutor", "RunRecorder"]

log = logging.getLogger(__name__)
#: Events wait this long to be written together: a short run is written once, at its end,
#: instead of keeping the store's writer busy while its kernel answers; a reader never
#: notices 20 ms.
FLUSH_DELAY = 0.02


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
    and text to the store, in batches (every ``FLUSH_DELAY`` seconds, and at the run's end)."""

    def __init__(self, store: Store, metrics: ServiceMetrics, live: LiveRun) -> None:
        self.store, self.metrics, self.live = store, metrics, live
        self.renderer = ConsoleRenderer(images_saved=True)
        self.rows: list[tuple[int, str, float, str]] = []
        self.texts: list[str] = []
        self.fields: dict[str, Any] = {}  # run fields to write with the next events
        self.last_seq = 0

    def __call__(self, event: Event) -> None:
        self.texts.extend(text for _, text in self.renderer.render(event))
        self.rows.append((event.seq, event.type, event.time, json.dumps(event.data, default=str)))
        self.last_seq = event.seq
        if len(self.rows) == 1:
            asyncio.get_running_loop().call_later(FLUSH_DELAY, self.flush)
        self.metrics.events_written.inc()

    def take(self) -> tuple[list[tuple[int, str, float, str]], str, int] | None:
        """The events not yet written, with their console text and last seq."""
        if not self.rows:
            return None
        taken = self.rows, "".join(self.texts), self.last_seq
        self.rows, self.texts = [], []
        return taken

    def flush(self) -> None:
        events = self.take()
        if events is not None:
            last_seq = events[2]
            fields, self.fields = self.fields, {}
            future = self.store.record(self.live.id, events=events, fields=fields)
            future.add_done_callback(lambda f: f.exception() or self.live.progressed(last_seq, f.result()))


class RunExecutor:
    """Runs requests on sessions and records what they do."""

    def __init__(self, store: Store, sessions: SessionManager, settings: Settings, metrics: ServiceMetrics) -> None:
        self.store, self.sessions, self.settings, self.metrics = store, sessions, settings, metrics
        self.live_runs: dict[str, LiveRun] = {}
        self.pending: dict[str, concurrent.futures.Future[Any]] = {}  # artifacts still being written
        self._tasks: set[asyncio.Task[None]] = set()

    def start(self, live: LiveRun, managed: ManagedSession, req: RunRequest) -> None:
        """Called on the engine loop: the run's task begins."""
        task = asyncio.ensure_future(self.execute(live, managed, req))
        self._tasks.add(task)  # the loop keeps only weak references to tasks
        task.add_done_callback(self._tasks.discard)

    def wait_for_artifacts(self, run_id: str, timeout: float = 120.0) -> None:
        pending = self.pending.get(run_id)
        if pending is not None:
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
        stream.emit("status", status=RunStatus.QUEUED.value, session=managed.id, kernel=managed.kernel)
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
            recorder.fields.update(status=RunStatus.RUNNING.value, started=time.time())  # with the next events
            result = await self._run(managed, req, stream, live, artifacts)
        except JenkinsKernelError as exc:
            stream.emit("error", source="engine", ename=type(exc).__name__, evalue=exc.message, traceback=[])
            finish_run(stream, result, exc.status, exc.message)
        except Exception as exc:  # a bug must still end the run, visibly
            log.exception("run %s failed inside the service", live.id)
            stream.emit("error", source="engine", ename="InternalError", evalue=str(exc), traceback=[])
            finish_run(stream, result, RunStatus.FAILED, f"internal error: {exc}")
        finally:
            if acquired:
                managed.kernel_session.lock.release()
            if await managed.kernel_session.exit_code() is not None and managed.status != "closed":
                managed.status, managed.message = "dead", "the kernel died; restart the session"
            self.sessions.touch(managed, busy=False)
            save_lineage(self.store, live.id, result, req.git)  # committed before the outcome
            await self._finish(live, result, artifacts, recorder)
            if managed.ephemeral:
                await self.sessions.close(managed, grace=0.2)

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
        files = None
        if live.images is not None and live.images.saved:  # the input was indexed with the run
            files = index_files(artifacts, live.images.saved)
        events = recorder.take()  # the last events, the artifacts and the outcome: one transaction
        outcome = {
            **recorder.fields,
            "status": result.status.value,
            "exit_code": result.exit_code,
            "message": result.message,
            "ended": result.ended or time.time(),
            "kernel_info": result.kernel.to_dict() if result.kernel else {},
        }
        done = self.store.record(live.id, events=events, artifacts=files, fields=outcome)
        self.metrics.run_finished(result)
        if live.executed is not None:  # rendered once the outcome is committed: it must not slow that
            report = self._render_and_index(live.id, live.executed, result, artifacts, after=done)
            pending = asyncio.run_coroutine_threadsafe(report, asyncio.get_running_loop())
            self.pending[live.id] = pending
            pending.add_done_callback(lambda _: self.pending.pop(live.id, None))

        def ended(future: concurrent.futures.Future[int]) -> None:
            if events is not None and future.exception() is None:
                live.progressed(events[2], future.result())
            live.end()
            self.live_runs.pop(live.id, None)

        done.add_done_callback(ended)

    async def _render_and_index(
        self, run_id: str, executed: Any, result: RunResult, artifacts: Path, after: concurrent.futures.Future[int]
    ) -> None:
        await asyncio.wrap_future(after)
        try:
            await asyncio.to_thread(write_html_report, executed, result, artifacts)
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


def index_files(folder: Path, paths: list[Path] | None = None) -> list[tuple[str, int, str]]:
    """(name relative to ``folder``, size, sha256) of every file in it, or of ``paths``."""
    found = []
    for path in sorted(paths if paths is not None else (p for p in folder.rglob("*") if p.is_file())):
        digest = hashlib.sha256()
        with open(path, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                digest.update(block)
        found.append((path.relative_to(folder).as_posix(), path.stat().st_size, digest.hexdigest()))
    return found
