"""The agent service's core: sessions, runs, their record and their progress.

No Flask here (the FlaskBB "core" idea): the HTTP layer parses requests and calls these
methods. Kernels live on the engine loop; HTTP threads only hand work to it, read the
store, and wait on a run's progress (never on a kernel).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import hashlib
import json
import logging
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import __version__
from ..console import ConsoleRenderer
from ..engine.events import Event, EventStream, OutputBudget
from ..engine.kernelspecs import installed_kernels, require_kernel
from ..engine.loop import EngineLoop
from ..engine.pool import WarmPool
from ..engine.results import RunResult, finish_run
from ..engine.runs import run_code
from ..engine.sessions import ManagedSession, SessionManager
from ..exceptions import JenkinsKernelError, RejectedError
from ..notebook.images import ImageSaver
from ..notebook.reports import prepare_html_exporter, write_html_report
from ..notebook.runner import NotebookOptions, run_notebook_async
from ..status import RunStatus
from .config import Settings
from .metrics import ServiceMetrics
from .requests import RunRequest, check_cwd

__all__ = ["AgentService", "Conflict", "NotFound"]

log = logging.getLogger(__name__)
LOST_MESSAGE = "the service stopped while the run was in flight"
MAX_WAIT = 300.0


class NotFound(RejectedError):
    http_status = 404


class Conflict(RejectedError):
    http_status = 409


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
    and text to the store, coalesced once per loop turn."""

    def __init__(self, service: AgentService, live: LiveRun) -> None:
        self.service, self.live = service, live
        self.renderer = ConsoleRenderer(images_saved=True)
        self.rows: list[tuple[int, str, float, str]] = []
        self.texts: list[str] = []
        self.last_seq = 0
        self.future: Any = None

    def __call__(self, event: Event) -> None:
        self.texts.extend(text for _, text in self.renderer.render(event))
        self.rows.append((event.seq, event.type, event.time, json.dumps(event.data, default=str)))
        self.last_seq = event.seq
        if len(self.rows) == 1:
            asyncio.get_running_loop().call_soon(self.flush)
        self.service.metrics.events_written.inc()

    def flush(self) -> None:
        if not self.rows:
            return
        rows, text, last_seq = self.rows, "".join(self.texts), self.last_seq
        self.rows, self.texts = [], []
        future = self.service.store.append_events(self.live.id, rows, text, last_seq)
        future.add_done_callback(lambda f: f.exception() or self.live.progressed(last_seq, f.result()))
        self.future = future


class AgentService:
    def __init__(self, settings: Settings) -> None:
        from ..store import Store

        self.settings = settings
        self.started = time.time()
        self.data_dir = Path(settings.data_dir)
        self.work_root = self.data_dir / "work"
        self.work_root.mkdir(parents=True, exist_ok=True)
        self.allowed_roots = [self.work_root, *(Path(r) for r in settings.allowed_roots)]
        self.store = Store(self.data_dir)
        self.metrics = ServiceMetrics(self)
        self._live: dict[str, LiveRun] = {}
        self._pending: dict[str, concurrent.futures.Future[Any]] = {}  # artifacts still being written
        self._tasks: set[asyncio.Task[None]] = set()
        self._idempotency = threading.Lock()
        self._close_lost_runs()
        self.engine = EngineLoop()
        self.pool = WarmPool(settings.warm, self.work_root) if settings.warm else None
        self.sessions = SessionManager(
            self.work_root,
            pool=self.pool,
            max_sessions=settings.max_sessions,
            idle_timeout=settings.session_idle_timeout,
            on_change=lambda s: self.store.save_session(s.record()),
        )
        self.engine.run(self._start_background())
        prepare_html_exporter()

    async def _start_background(self) -> None:
        if self.pool is not None:
            self.pool.fill()
        self._culler = asyncio.ensure_future(self._cull_forever())

    async def _cull_forever(self) -> None:
        every = max(1.0, min(60.0, self.settings.session_idle_timeout / 4))
        while True:
            await asyncio.sleep(every)
            with contextlib.suppress(Exception):
                await self.sessions.cull()

    def _close_lost_runs(self) -> None:
        """Runs in flight when the service last stopped end ``lost`` (exit 6), said in their log."""
        for run_id in self.store.mark_lost_runs(LOST_MESSAGE):
            run = self.store.get_run(run_id)
            assert run is not None
            data = {
                "status": "lost",
                "exit_code": 6,
                "duration": round(run["ended"] - run["created"], 4),
                "message": LOST_MESSAGE,
            }
            event = Event(run["last_seq"] + 1, "status", time.time(), data)
            text = "".join(t for _, t in ConsoleRenderer().render(event))
            self.store.append_events(
                run_id, [(event.seq, "status", event.time, json.dumps(data))], text, event.seq
            ).result(30)

    def close(self) -> None:
        async def shutdown() -> None:
            self._culler.cancel()
            for live in self._live.values():
                live.cancel.set()
            await self.sessions.close_all()
            if self.pool is not None:
                await self.pool.close()

        with contextlib.suppress(Exception):
            self.engine.run(shutdown(), timeout=30)
        self.engine.stop()
        self.store.close()

    # -- facts ---------------------------------------------------------------------------

    def health(self) -> dict[str, Any]:
        return {"status": "ok", "version": __version__, "uptime": round(time.time() - self.started, 3)}

    def kernelspecs(self) -> list[dict[str, Any]]:
        warm = self.pool.counts() if self.pool else {}
        return [{**k.to_dict(), "warm": warm.get(name, 0)} for name, k in installed_kernels().items()]

    # -- sessions ------------------------------------------------------------------------

    def _session(self, session_id: str) -> ManagedSession:
        """A live session by id, or by name (so a build can close the session of its BUILD_TAG)."""
        managed = self.sessions.get(session_id) or self.sessions.by_name(session_id)
        if managed is None:
            raise NotFound(
                f"no live session {session_id!r}", code="unknown_session", hint="list them: GET /api/v1/sessions"
            )
        return managed

    def create_session(self, body: dict[str, Any], token_name: str | None) -> dict[str, Any]:
        if not isinstance(body, dict):
            raise RejectedError("the request body must be a JSON object", hint='e.g. {"kernel": "python3"}')
        unknown = sorted(set(body) - {"kernel", "name", "cwd", "env"})
        if unknown:
            raise RejectedError(
                f"unknown field(s): {', '.join(unknown)}", code="unknown_field", hint="known: kernel, name, cwd, env"
            )
        kernel = body.get("kernel") or self.settings.default_kernel
        require_kernel(kernel)
        cwd = check_cwd(body["cwd"], self.allowed_roots) if body.get("cwd") else None
        env = body.get("env") or {}
        if not isinstance(env, dict) or any(not isinstance(v, str) for v in env.values()):
            raise RejectedError("env must be an object of strings")
        coro = self.sessions.open(kernel, name=body.get("name"), cwd=cwd, env=env, token_name=token_name)
        return self.engine.run(coro).to_dict()

    def list_sessions(self) -> list[dict[str, Any]]:
        return self.engine.run(self._session_dicts())

    async def _session_dicts(self) -> list[dict[str, Any]]:
        return [s.to_dict() for s in self.sessions.all()]

    def get_session(self, session_id: str) -> dict[str, Any]:
        async def one() -> dict[str, Any]:
            return self._session(session_id).to_dict()

        return self.engine.run(one())

    def delete_session(self, session_id: str) -> dict[str, Any]:
        async def delete() -> dict[str, Any]:
            managed = self._session(session_id)
            for live in self._live.values():
                if live.session_id == session_id:
                    live.cancel.set()
            await self.sessions.close(managed)
            return managed.to_dict()

        return self.engine.run(delete())

    def interrupt_session(self, session_id: str) -> dict[str, Any]:
        async def interrupt() -> dict[str, Any]:
            managed = self._session(session_id)
            await self.sessions.interrupt(managed)
            return managed.to_dict()

        return self.engine.run(interrupt())

    def restart_session(self, session_id: str) -> dict[str, Any]:
        async def restart() -> dict[str, Any]:
            managed = self._session(session_id)
            await self.sessions.restart(managed)
            return managed.to_dict()

        return self.engine.run(restart(), timeout=120)

    # -- runs ----------------------------------------------------------------------------

    def start_run(
        self, req: RunRequest, *, token_name: str | None, remote_addr: str | None, idempotency_key: str | None
    ) -> tuple[dict[str, Any], bool]:
        """Create and queue a run; ``(run, created)`` (False: the key's earlier run)."""
        lock = self._idempotency if idempotency_key else contextlib.nullcontext()
        with lock:
            if idempotency_key:
                earlier = self.store.run_for_key(idempotency_key, self.settings.idempotency_ttl)
                if earlier:
                    return self.get_run(earlier), False
            if req.cwd:
                req.cwd = check_cwd(req.cwd, self.allowed_roots)
            if req.session is None and req.wanted_kernel:
                require_kernel(req.wanted_kernel)
            run_id = uuid.uuid4().hex
            managed, live = self.engine.run(self._open_session(req, token_name, run_id))
            run = {
                "id": run_id,
                "kind": req.kind,
                "session_id": managed.id,
                "session_name": managed.name,
                "kernel": managed.kernel,
                "status": RunStatus.QUEUED.value,
                "created": time.time(),
                "token_name": token_name,
                "remote_addr": remote_addr,
                "idempotency_key": idempotency_key,
                "input_sha256": req.input_sha256,
                "notebook_name": req.notebook_name if req.kind == "notebook" else None,
                "parameters": req.parameters,
                "options": req.options(),
                "jenkins": req.jenkins,
            }
            self._save_input(run_id, req)
            inserted = self.store.insert_run(run, idempotency_key)  # queued before any write of the run
            self._live[run_id] = live
            self.engine.call(self._start_execution, live, managed, req)
            inserted.result(30)
        return self.get_run(run_id), True

    def _start_execution(self, live: LiveRun, managed: ManagedSession, req: RunRequest) -> None:
        task = asyncio.ensure_future(self._execute(live, managed, req))
        self._tasks.add(task)  # the loop keeps only weak references to tasks
        task.add_done_callback(self._tasks.discard)

    async def _open_session(
        self, req: RunRequest, token_name: str | None, run_id: str
    ) -> tuple[ManagedSession, LiveRun]:
        managed = await self._find_or_open_session(req, token_name)
        return managed, LiveRun(run_id, managed.id, asyncio.Event())

    async def _find_or_open_session(self, req: RunRequest, token_name: str | None) -> ManagedSession:
        if req.session:
            managed = self._session(req.session)
            if req.kernel and req.kernel != managed.kernel:
                raise Conflict(
                    f"session {req.session} runs the {managed.kernel} kernel, not {req.kernel}",
                    code="session_kernel_mismatch",
                )
            return managed
        if req.session_name:
            existing = self.sessions.by_name(req.session_name)
            kernel = (
                req.kernel
                or (existing.kernel if existing else None)
                or req.wanted_kernel
                or self.settings.default_kernel
            )
            require_kernel(kernel)
            return await self.sessions.open(
                kernel, name=req.session_name, cwd=req.cwd, env=req.env, token_name=token_name
            )
        kernel = req.wanted_kernel or self.settings.default_kernel
        require_kernel(kernel)
        return await self.sessions.open(kernel, cwd=req.cwd, env=req.env, token_name=token_name, ephemeral=True)

    def _save_input(self, run_id: str, req: RunRequest) -> None:
        """Keep what was asked, so a run can be repeated a year later."""
        artifacts = self.store.run_dir(run_id) / "artifacts"
        artifacts.mkdir(parents=True, exist_ok=True)
        if req.kind == "code":
            (artifacts / "input.txt").write_text(req.code or "", encoding="utf-8")
        else:
            (artifacts / "input.ipynb").write_text(json.dumps(req.notebook, indent=1), encoding="utf-8")

    async def _execute(self, live: LiveRun, managed: ManagedSession, req: RunRequest) -> None:
        recorder = RunRecorder(self, live)
        stream = EventStream([recorder], gate=OutputBudget(self.settings.max_run_output_bytes))
        artifacts = self.store.run_dir(live.id) / "artifacts"
        result = RunResult()
        self.sessions.touch(managed, busy=True)
        stream.emit("status", status=RunStatus.QUEUED.value, session=managed.id, kernel=managed.kernel)
        acquired = False
        try:
            if not managed.ready.done() and not await _first(managed.ready, live.cancel):
                finish_run(stream, result, RunStatus.CANCELLED, "cancelled while waiting for the kernel")
                return
            managed.ready.result()  # raises if the kernel did not start
            lock = managed.kernel_session.lock
            acquired = await lock.acquire() if not lock.locked() else await _first(lock.acquire(), live.cancel)
            if not acquired:
                finish_run(stream, result, RunStatus.CANCELLED, "cancelled while queued behind other runs")
                return
            self.store.update_run(live.id, status=RunStatus.RUNNING.value, started=time.time())
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
            await self._finish(live, result, artifacts, recorder)
            if managed.ephemeral:
                await self.sessions.close(managed, grace=0.2)

    async def _run(
        self, managed: ManagedSession, req: RunRequest, stream: EventStream, live: LiveRun, artifacts: Path
    ) -> RunResult:
        grace = self.settings.interrupt_grace
        if req.kind == "code":
            stream.listeners.insert(0, ImageSaver(artifacts))
            return await run_code(
                managed.kernel_session,
                req.code or "",
                stream,
                timeout=req.timeout,
                cancel=live.cancel,
                interrupt_grace=grace,
            )
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
        recorder.flush()  # the last events are queued before the outcome
        if live.executed is not None:
            report = self._render_and_index(live.id, live.executed, result, artifacts)
            pending = asyncio.run_coroutine_threadsafe(report, self.engine.loop)
            self._pending[live.id] = pending
            pending.add_done_callback(lambda _: self._pending.pop(live.id, None))
        else:
            self.store.add_artifacts(live.id, _index_files(artifacts))
        kernel_info = result.kernel.to_dict() if result.kernel else {}
        done = self.store.update_run(
            live.id,
            status=result.status.value,
            exit_code=result.exit_code,
            message=result.message,
            ended=result.ended or time.time(),
            kernel_info=kernel_info,
        )
        self.metrics.run_finished(result)

        def ended(_: Any) -> None:
            live.end()
            self._live.pop(live.id, None)

        done.add_done_callback(ended)

    async def _render_and_index(self, run_id: str, executed: Any, result: RunResult, artifacts: Path) -> None:
        try:
            await asyncio.to_thread(write_html_report, executed, result, artifacts)
        except Exception:
            log.exception("report.html of run %s could not be written", run_id)
        files = await asyncio.to_thread(_index_files, artifacts)
        await asyncio.wrap_future(self.store.add_artifacts(run_id, files))

    def get_run(self, run_id: str) -> dict[str, Any]:
        run = self.store.get_run(run_id)
        if run is None:
            raise NotFound(f"no run {run_id!r}", code="unknown_run", hint="list runs: GET /api/v1/runs")
        return run_view(run)

    def list_runs(self, **filters: Any) -> list[dict[str, Any]]:
        return [run_view(r) for r in self.store.list_runs(**filters)]

    def wait_run(self, run_id: str, timeout: float) -> dict[str, Any]:
        live = self._live.get(run_id)
        if live is not None:
            live.wait(lambda: False, min(timeout, MAX_WAIT))
        return self.get_run(run_id)

    def cancel_run(self, run_id: str) -> dict[str, Any]:
        run = self.get_run(run_id)
        live = self._live.get(run_id)
        if live is None or RunStatus(run["status"]).finished:
            raise Conflict(f"run {run_id} already ended {run['status']}", code="run_finished")
        self.engine.call(live.cancel.set)
        return run

    # -- following -------------------------------------------------------------------

    def events(self, run_id: str, after: int, wait: float, limit: int) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        run = self.get_run(run_id)
        live = self._live.get(run_id)
        if wait > 0 and live is not None and run["last_seq"] <= after:
            live.wait(lambda: live.last_seq > after, min(wait, MAX_WAIT))
            run = self.get_run(run_id)
        return self.store.events_after(run_id, after, limit), run

    def log(self, run_id: str, start: int, wait: float) -> tuple[bytes, int, bool]:
        """progressiveText: the log from byte ``start``, the next start, and whether more comes."""
        run = self.get_run(run_id)
        live = self._live.get(run_id)
        if wait > 0 and live is not None and run["log_size"] <= start:
            live.wait(lambda: live.log_size > start, min(wait, MAX_WAIT))
            run = self.get_run(run_id)
        size = run["log_size"]
        if start > size:
            start = 0  # as Jenkins does: a start past the end means start again
        return self.store.read_log(run_id, start, size), size, not RunStatus(run["status"]).finished

    def follow(self, run_id: str, after: int, keepalive: float = 15.0) -> Any:
        """Events for Server-Sent Events: yields batches, or None as a keep-alive."""
        self.get_run(run_id)
        while True:
            events, run = self.events(run_id, after, keepalive, 500)
            if events:
                after = events[-1]["seq"]
                yield events
            elif RunStatus(run["status"]).finished:
                return
            else:
                yield None

    # -- artifacts ---------------------------------------------------------------------

    def artifacts(self, run_id: str) -> list[dict[str, Any]]:
        self.get_run(run_id)
        pending = self._pending.get(run_id)
        if pending is not None:
            with contextlib.suppress(Exception):
                pending.result(timeout=120)
        return self.store.artifacts(run_id)

    def artifact_path(self, run_id: str, name: str) -> Path:
        if not any(a["name"] == name for a in self.artifacts(run_id)):
            raise NotFound(f"run {run_id} has no artifact {name!r}", code="unknown_artifact")
        return self.store.run_dir(run_id) / "artifacts" / name


async def _first(awaitable: Any, cancel: asyncio.Event) -> bool:
    """Wait for ``awaitable`` or ``cancel``; True if the awaitable finished first."""
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


def _index_files(folder: Path) -> list[tuple[str, int, str]]:
    found = []
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        digest = hashlib.sha256()
        with open(path, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                digest.update(block)
        found.append((path.relative_to(folder).as_posix(), path.stat().st_size, digest.hexdigest()))
    return found


def run_view(run: dict[str, Any]) -> dict[str, Any]:
    """A run as the API shows it."""
    status = RunStatus(run["status"])
    ended = run.get("ended")
    base = f"/api/v1/runs/{run['id']}"
    return {
        "id": run["id"],
        "kind": run["kind"],
        "status": status.value,
        "exit_code": run["exit_code"],
        "jenkins_result": status.jenkins_result,
        "message": run["message"],
        "session_id": run["session_id"],
        "session_name": run["session_name"],
        "kernel": run["kernel"],
        "kernel_info": run["kernel_info"],
        "created": run["created"],
        "started": run["started"],
        "ended": ended,
        "duration": round(ended - run["created"], 4) if ended else None,
        "token_name": run["token_name"],
        "notebook_name": run["notebook_name"],
        "input_sha256": run["input_sha256"],
        "parameters": run["parameters"],
        "options": run["options"],
        "jenkins": run["jenkins"],
        "last_seq": run["last_seq"],
        "log_size": run["log_size"],
        "links": {
            "self": base,
            "log": base + "/log",
            "events": base + "/events",
            "stream": base + "/stream",
            "artifacts": base + "/artifacts",
            "cancel": base + "/cancel",
        },
    }
