"""The agent service's core: sessions, runs, their record and their progress.

No Flask here (the FlaskBB "core" idea): the HTTP layer parses requests and calls these
methods. Kernels live on the engine loop; HTTP threads only hand work to it, read the
store, and wait on a run's progress (never on a kernel).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import threading
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, BinaryIO

from .. import __version__
from ..console import ConsoleRenderer
from ..engine import orphans
from ..engine.backends import make_backend
from ..engine.events import Event
from ..engine.loop import EngineLoop
from ..engine.pool import QUIET_DELAY, WarmPool
from ..engine.run_as import kernel_user
from ..engine.sessions import ManagedSession, SessionManager
from ..exceptions import RejectedError, StorageError
from ..notebook.reports import prepare_html_exporter
from ..status import RunStatus
from .artifact_files import open_artifact
from .config import Settings
from .execution import LiveRun, RunExecutor
from .metrics import ServiceMetrics
from .requests import SESSION_SPEC, RunRequest, check_cwd
from .validation import check_body

__all__ = ["AgentService", "Conflict", "NotFound"]

log = logging.getLogger(__name__)
LOST_MESSAGE = "the service stopped while the run was in flight"
MAX_WAIT = 300.0
#: Console text a ``?wait`` answer carries at most: the end of a longer log (where the
#: error is), so that a flood's answer stays small. The whole log is at ``links.log``.
WAIT_LOG_BYTES = 1 << 20


class NotFound(RejectedError):
    http_status = 404


class Conflict(RejectedError):
    http_status = 409


class Unprocessable(RejectedError):
    http_status = 422


class AgentService:
    def __init__(self, settings: Settings) -> None:
        from ..store import Store

        self.settings = settings
        self.started = time.time()
        self.data_dir = Path(settings.data_dir)
        self.kernel_user = kernel_user(settings.kernel_user)
        self.work_root = settings.sessions_dir
        self.work_root.mkdir(parents=True, exist_ok=True)
        # not work_root: a session's scratch folder is its own, never another request's cwd
        self.allowed_roots = [Path(r) for r in settings.allowed_roots]
        self.store = Store(self.data_dir)
        self.metrics = ServiceMetrics(self)
        self._idempotency = threading.Lock()
        self._close_lost_runs()
        self.backend = make_backend(
            settings.kernel_backend,
            gateway_url=settings.gateway_url,
            gateway_auth_token=settings.gateway_auth_token,
            gateway_headers=settings.gateway_headers,
            gateway_kernel_env=settings.gateway_kernel_env,
            gateway_request_timeout=settings.gateway_request_timeout,
            gateway_connect_timeout=settings.gateway_connect_timeout,
        )
        self._reap_orphans()
        self.engine = EngineLoop()
        self.pool = (
            WarmPool(
                settings.warm,
                self.work_root,
                memory_budget=settings.warm_memory_mb * 1024 * 1024,
                idle_timeout=settings.warm_idle_timeout,
                room=lambda: settings.max_sessions - len(self.sessions.all()),
                busy=lambda: self.runs.idle_for() < QUIET_DELAY,
                kernel_env=settings.kernel_env,
                run_as=self.kernel_user,
                backend=self.backend,
            )
            if settings.warm
            else None
        )
        self.sessions = SessionManager(
            self.work_root,
            backend=self.backend,
            pool=self.pool,
            max_sessions=settings.max_sessions,
            idle_timeout=settings.session_idle_timeout,
            on_change=lambda s: self.store.save_session(s.record()),
            kernel_env=settings.kernel_env,
            run_as=self.kernel_user,
        )
        self.runs = RunExecutor(self.store, self.sessions, settings, self.metrics)
        if self.pool is not None:
            self.runs.on_quiet.append(self.pool.fill_when_idle)
        self._live = self.runs.live_runs
        self.engine.run(self._start_background())
        self._stopping = threading.Event()
        self._pruner = threading.Thread(target=self._prune_forever, name="jk-retention", daemon=True)
        self._pruner.start()
        prepare_html_exporter()

    async def _start_background(self) -> None:
        if self.pool is not None:
            self.pool.fill()
            self._shrinker = asyncio.ensure_future(
                self.pool.shrink_when_idle(min(30.0, self.settings.warm_idle_timeout / 4))
            )
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
            row = (event.seq, "status", event.time, json.dumps(data))
            self.store.record(run_id, events=([row], text, event.seq)).result(30)

    def _prune_forever(self) -> None:
        """The retention pass: at start, then every ``prune_interval`` seconds."""
        from ..retention import prune

        while not self._stopping.is_set():
            try:
                report = prune(
                    self.store,
                    retention_days=self.settings.retention_days,
                    max_runs=self.settings.max_runs,
                    idempotency_ttl=self.settings.idempotency_ttl,
                )
                if report.runs or report.audit_rows:
                    log.info("retention: %s", report.describe(dry_run=False))
            except Exception:  # a failing disk, a locked database: try again next time
                log.exception("retention pass failed")
            self._stopping.wait(self.settings.prune_interval)

    def _reap_orphans(self) -> None:
        """Kill the kernels a crashed predecessor left; record this service's own from now on."""
        killed = orphans.reap(self.store.take_kernel_processes())
        if killed:
            log.warning("killed %d kernel process(es) left by the previous service: %s", len(killed), killed)
        orphans.set_ledger(self.store)

    def close(self) -> None:
        self._stopping.set()

        async def shutdown() -> None:
            self._culler.cancel()
            if self.pool is not None:
                self._shrinker.cancel()
            for live in self._live.values():
                live.cancel.set()
            await self.sessions.close_all()
            await self.runs.finish_reports()  # a report deferred behind other runs is written now
            if self.pool is not None:
                await self.pool.close()
            await self.backend.close()

        with contextlib.suppress(Exception):
            self.engine.run(shutdown(), timeout=30)
        self.engine.stop()
        orphans.set_ledger(None)
        self.store.close()

    # -- facts ---------------------------------------------------------------------------

    def health(self) -> dict[str, Any]:
        """``status`` is ok, or ``failing`` with the ``reason`` (the API answers 503 then)."""
        body: dict[str, Any] = {"status": "ok", "version": __version__, "uptime": round(time.time() - self.started, 3)}
        failure = self.store.check()
        if failure is not None:
            body.update(status="failing", reason=failure)
        return body

    def kernelspecs(self) -> list[dict[str, Any]]:
        warm = self.pool.counts() if self.pool else {}
        return [{**k.to_dict(), "warm": warm.get(name, 0)} for name, k in self.backend.kernelspecs().items()]

    # -- sessions ------------------------------------------------------------------------

    def _session(self, session_id: str) -> ManagedSession:
        """A live session by id, or by name (so a build can close the session of its BUILD_TAG)."""
        managed = self.sessions.get(session_id) or self.sessions.by_name(session_id)
        if managed is None:
            raise NotFound(
                f"no live session {session_id!r}", code="unknown_session", hint="list them: GET /api/v1/sessions"
            )
        return managed

    def create_session(self, body: Any, token_name: str | None) -> dict[str, Any]:
        values = check_body(body, SESSION_SPEC)
        kernel = values.get("kernel") or self.settings.default_kernel
        self.backend.require_kernel(kernel)
        cwd = check_cwd(values["cwd"], self.allowed_roots) if values.get("cwd") else None
        env = values.get("env") or {}

        async def open_session() -> ManagedSession:
            name = values.get("name")
            existing = self.sessions.by_name(name) if name else None
            if existing is not None:
                refuse_changes(existing, cwd, env)
            return await self.sessions.open(kernel, name=name, cwd=cwd, env=env, token_name=token_name)

        return self.engine.run(open_session()).to_dict()

    def list_sessions(self) -> list[dict[str, Any]]:
        return self.engine.run(self._session_dicts())

    async def _session_dicts(self) -> list[dict[str, Any]]:
        return [s.to_dict() for s in self.sessions.all()]

    def get_session(self, session_id: str) -> dict[str, Any]:
        return self._on_session(session_id, None)

    def delete_session(self, session_id: str) -> dict[str, Any]:
        """Cancel the session's runs and shut its kernel down."""

        async def close(managed: ManagedSession) -> None:
            for live in self._live.values():
                if live.session_id == managed.id:
                    live.cancel.set()
            await self.sessions.close(managed)

        return self._on_session(session_id, close)

    def interrupt_session(self, session_id: str) -> dict[str, Any]:
        return self._on_session(session_id, self.sessions.interrupt)

    def restart_session(self, session_id: str) -> dict[str, Any]:
        return self._on_session(session_id, self.sessions.restart, timeout=120)

    def _on_session(
        self, session_id: str, action: Callable[[ManagedSession], Awaitable[None]] | None, timeout: float = 30
    ) -> dict[str, Any]:
        """Do ``action`` to a session (by id or name) on the engine loop; the session after it."""

        async def call() -> dict[str, Any]:
            managed = self._session(session_id)
            if action is not None:
                await action(managed)
            return managed.to_dict()

        return self.engine.run(call(), timeout)

    # -- runs ----------------------------------------------------------------------------

    def start_run(
        self,
        req: RunRequest,
        *,
        token_name: str | None,
        remote_addr: str | None,
        idempotency_key: str | None,
        will_wait: bool = False,
    ) -> tuple[dict[str, Any], bool]:
        """Create and queue a run; ``(run, created)`` (False: the key's earlier run).

        The run's record is committed before this returns, so a GET right after finds it;
        a caller that will wait for the run's end anyway (``will_wait``) skips that wait.
        """
        if self.store.failure is not None:
            raise StorageError(self.store.failure, hint="the run was not started; retry once /api/v1/health says ok")
        lock = self._idempotency if idempotency_key else contextlib.nullcontext()
        with lock:
            if idempotency_key:
                earlier = self.store.run_for_key(idempotency_key, self.settings.idempotency_ttl)
                if earlier and earlier[1] != req.fingerprint:
                    raise Unprocessable(
                        f"the Idempotency-Key {idempotency_key!r} was used for a different request (run {earlier[0]})",
                        code="idempotency_key_reused",
                        hint="send a new key with a new request; a retry must repeat the request exactly",
                    )
                if earlier:
                    return self.get_run(earlier[0]), False
            if req.cwd:
                req.cwd = check_cwd(req.cwd, self.allowed_roots)
            if req.session is None and req.wanted_kernel:
                self.backend.require_kernel(req.wanted_kernel)
            run_id = uuid.uuid4().hex
            if req.session:  # an existing session: found without a hop to the engine loop
                managed = self._existing_session(req)
                live = LiveRun(run_id, managed.id, asyncio.Event())
            else:
                managed, live = self.engine.run(self._open_session(req, token_name, run_id))
            check_alive(managed)
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
                "cwd": managed.cwd,
                "env": req.env,
            }
            inserted = self.store.insert_run(  # queued before any other write of the run
                run, idempotency_key=idempotency_key, fingerprint=req.fingerprint, input_file=input_file(req)
            )
            if req.inputs:
                inserted = self.store.record_files(run_id, "input", [f.row() for f in req.inputs])
            live.inserted = inserted
            self._live[run_id] = live
            self.engine.call(self.runs.start, live, managed, req)
            if idempotency_key or not will_wait:
                inserted.result(30)
        files = [{"direction": "input", "path": f.path, "size": len(f.data), "sha256": f.sha256} for f in req.inputs]
        return {**run_view(new_run_row(run)), "files": files}, True

    async def _open_session(
        self, req: RunRequest, token_name: str | None, run_id: str
    ) -> tuple[ManagedSession, LiveRun]:
        managed = await self._find_or_open_session(req, token_name)
        return managed, LiveRun(run_id, managed.id, asyncio.Event())

    def _existing_session(self, req: RunRequest) -> ManagedSession:
        assert req.session is not None
        managed = self._session(req.session)
        if req.wanted_kernel and req.wanted_kernel != managed.kernel:
            raise Conflict(
                f"session {req.session} runs the {managed.kernel} kernel, not {req.wanted_kernel}",
                code="session_kernel_mismatch",
            )
        return managed

    async def _find_or_open_session(self, req: RunRequest, token_name: str | None) -> ManagedSession:
        if req.session_name:
            existing = self.sessions.by_name(req.session_name)
            if existing is not None:
                refuse_changes(existing, req.cwd, req.env)
            # the request's kernel (or its notebook's) first: a mismatch is an error, not a surprise
            kernel = req.wanted_kernel or (existing.kernel if existing else None) or self.settings.default_kernel
            self.backend.require_kernel(kernel)
            return await self.sessions.open(
                kernel, name=req.session_name, cwd=req.cwd, env=req.env, token_name=token_name
            )
        kernel = req.wanted_kernel or self.settings.default_kernel
        self.backend.require_kernel(kernel)
        return await self.sessions.open(kernel, cwd=req.cwd, env=req.env, token_name=token_name, ephemeral=True)

    def get_run(self, run_id: str) -> dict[str, Any]:
        run = self.store.get_run(run_id)
        if run is None:
            raise NotFound(f"no run {run_id!r}", code="unknown_run", hint="list runs: GET /api/v1/runs")
        return {**run_view(run), "files": self.store.run_files(run_id)}

    def list_runs(self, **filters: Any) -> list[dict[str, Any]]:
        return [run_view(r) for r in self.store.list_runs(**filters)]

    def wait_run(self, run_id: str, timeout: float) -> dict[str, Any]:
        live = self._live.get(run_id)
        if live is not None:
            live.wait(lambda: False, min(timeout, MAX_WAIT))
            if live.inserted is not None and live.inserted.done() and live.inserted.exception() is not None:
                raise live.inserted.exception()  # type: ignore[misc]
        return self.get_run(run_id)

    def log_tail(self, run: dict[str, Any]) -> tuple[str, int]:
        """The end of a run's console text (at most WAIT_LOG_BYTES, from a line start) and
        the byte offset it starts at."""
        size = run["log_size"]
        start = max(0, size - WAIT_LOG_BYTES)
        data = self.store.read_log(run["id"], start, size)
        if start > 0:
            newline = data.find(b"\n")
            if newline >= 0:
                data, start = data[newline + 1 :], start + newline + 1
        return data.decode("utf-8", "replace"), start

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

    # -- lineage -----------------------------------------------------------------------

    def lineage(self, run_id: str) -> dict[str, Any]:
        """Everything recorded about a run: code, parameters, kernel, environment, files, metrics."""
        from ..lineage.document import lineage_document

        run = self.get_run(run_id)
        self.runs.wait_for_artifacts(run_id)
        return lineage_document(self.store, run)

    def current_environment(self, kernel: str, cwd: str | None) -> dict[str, Any]:
        """The package set a new ``kernel`` session would have now (``rerun`` compares it)."""
        from ..engine.kernelspecs import installed_kernels, require_kernel  # a kernel on this machine
        from ..lineage.environment import current_environment

        if kernel not in installed_kernels():  # a path that names nothing: 404, as for a run or session
            raise NotFound(
                f"no kernel named {kernel!r} is installed", code="unknown_kernel", hint="GET /api/v1/kernelspecs"
            )
        spec = require_kernel(kernel)
        folder = check_cwd(cwd, self.allowed_roots) if cwd else str(self.work_root)
        return current_environment(kernel, spec.language, spec.resource_dir, folder).to_dict()

    # -- artifacts ---------------------------------------------------------------------

    def artifacts(self, run_id: str) -> list[dict[str, Any]]:
        self.get_run(run_id)
        self.runs.wait_for_artifacts(run_id)
        return self.store.artifacts(run_id)

    def open_artifact(self, run_id: str, name: str) -> BinaryIO:
        """An indexed artifact, opened without following any link (see :mod:`.artifact_files`)."""
        found = None
        if any(a["name"] == name for a in self.artifacts(run_id)):
            found = open_artifact(self.store.run_dir(run_id) / "artifacts", name)
        if found is None:
            raise NotFound(f"run {run_id} has no artifact {name!r}", code="unknown_artifact")
        return found


def refuse_changes(existing: ManagedSession, cwd: str | None, env: dict[str, str]) -> None:
    """A live kernel cannot change its folder or environment: asking for it is a 409, not ignored."""
    if cwd and cwd != existing.cwd:
        raise Conflict(
            f"session {existing.name!r} already runs in {existing.cwd}, not {cwd}",
            code="session_exists",
            hint="cwd applies when a session is created: use another session name, or leave cwd out",
        )
    if env and env != existing.kernel_session.extra_env:
        raise Conflict(
            f"session {existing.name!r} already runs with another environment",
            code="session_exists",
            hint="env applies when a session is created: use another session name, or send the same env",
        )


def check_alive(managed: ManagedSession) -> None:
    """A run on a session whose kernel died is refused: it would never run."""
    if managed.status == "dead":
        raise Conflict(
            f"session {managed.name or managed.id} is dead: {managed.message or 'its kernel died'}",
            code="session_dead",
            hint=f"restart it (POST /api/v1/sessions/{managed.id}/restart) or delete it and open a new one",
        )


def input_file(req: RunRequest) -> tuple[str, str]:
    """What was asked, kept as the run's first artifact so it can be repeated a year later."""
    if req.kind == "code":
        return "input.txt", req.code or ""
    return "input.ipynb", json.dumps(req.notebook, indent=1)


def new_run_row(run: dict[str, Any]) -> dict[str, Any]:
    """A run's record as the store will hold it once its insert is committed."""
    return {
        "exit_code": None,
        "message": "",
        "started": None,
        "ended": None,
        "kernel_info": {},
        "last_seq": 0,
        "log_size": 0,
        **run,
    }


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
        "cwd": run.get("cwd"),
        "env": run.get("env") or {},
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
