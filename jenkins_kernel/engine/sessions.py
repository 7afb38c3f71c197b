"""Sessions: live kernels that keep state across runs, found by id or by name.

Every method runs on the engine loop. Creating a session never waits for its kernel: the
kernel starts in the background (or is taken warm from the pool) and runs wait for it.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..exceptions import JenkinsKernelError, KernelStartError
from .backends.base import Kernel, KernelBackend
from .backends.local import LocalBackend
from .pool import WarmPool
from .relocate import relocate
from .run_as import KernelUser, give

__all__ = ["ManagedSession", "SessionError", "SessionManager"]

log = logging.getLogger(__name__)


class SessionError(JenkinsKernelError):
    """A session request that cannot be met as asked."""


@dataclass(eq=False)
class ManagedSession:
    id: str
    kernel: str
    cwd: str
    name: str | None
    token_name: str | None
    kernel_session: Kernel
    ready: asyncio.Future[None]
    scratch: bool
    ephemeral: bool
    created: float = field(default_factory=time.time)
    last_used: float = field(default_factory=time.time)
    status: str = "starting"
    message: str = ""
    active_runs: int = 0
    warm: bool = False

    def to_dict(self) -> dict[str, Any]:
        info = self.kernel_session.info
        return {
            "id": self.id,
            "name": self.name,
            "kernel": self.kernel,
            "status": self.status,
            "cwd": self.cwd,
            "created": self.created,
            "last_used": self.last_used,
            "active_runs": self.active_runs,
            "warm_start": self.warm,
            "language": info.language if info else None,
            "language_version": info.language_version if info else None,
            "message": self.message,
        }

    def record(self) -> dict[str, Any]:
        """The row the store keeps."""
        return {
            "id": self.id,
            "name": self.name,
            "kernel": self.kernel,
            "cwd": self.cwd,
            "status": self.status,
            "token_name": self.token_name,
            "created": self.created,
            "last_used": self.last_used,
            "closed": time.time() if self.status == "closed" else None,
            "message": self.message,
        }


class SessionManager:
    def __init__(
        self,
        work_root: Path,
        *,
        pool: WarmPool | None = None,
        max_sessions: int = 32,
        idle_timeout: float = 3600.0,
        on_change: Callable[[ManagedSession], None] | None = None,
        kernel_env: dict[str, str] | None = None,
        run_as: KernelUser | None = None,
        backend: KernelBackend | None = None,
    ) -> None:
        """``on_change`` is told when a session is created, starts, dies, restarts or closes;
        kernels get a clean environment plus ``kernel_env`` (see :mod:`.environment`)."""
        self.kernel_env = dict(kernel_env or {})
        self.run_as = run_as
        self.work_root = work_root
        self.backend = backend or LocalBackend()
        self.pool = pool
        self.max_sessions = max_sessions
        self.idle_timeout = idle_timeout
        self.on_change = on_change or (lambda s: None)
        self._sessions: dict[str, ManagedSession] = {}
        self._starting: set[asyncio.Task[None]] = set()

    # -- finding -----------------------------------------------------------------------

    def get(self, session_id: str) -> ManagedSession | None:
        return self._sessions.get(session_id)

    def by_name(self, name: str) -> ManagedSession | None:
        return next((s for s in self._sessions.values() if s.name == name), None)

    def all(self) -> list[ManagedSession]:
        return sorted(self._sessions.values(), key=lambda s: s.created)

    def counts_by_kernel(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for s in self._sessions.values():
            counts[s.kernel] = counts.get(s.kernel, 0) + 1
        return counts

    # -- opening -----------------------------------------------------------------------

    async def open(
        self,
        kernel: str,
        *,
        name: str | None = None,
        cwd: str | None = None,
        env: dict[str, str] | None = None,
        token_name: str | None = None,
        ephemeral: bool = False,
    ) -> ManagedSession:
        """The named session if it exists, else a new one (warm if the pool has one)."""
        if name:
            existing = self.by_name(name)
            if existing is not None:
                if existing.kernel != kernel:
                    error = SessionError(
                        f"session {name!r} runs the {existing.kernel} kernel, not {kernel}",
                        code="session_kernel_mismatch",
                        hint="use another session name, or the session's own kernel",
                    )
                    error.http_status = 409
                    raise error
                return existing
        if len(self._sessions) >= self.max_sessions:
            error = SessionError(
                f"the service already runs its maximum of {self.max_sessions} sessions",
                code="too_many_sessions",
                hint="close sessions you no longer need (DELETE /api/v1/sessions/ID), or raise max_sessions",
            )
            error.http_status = 429
            raise error
        warm = await self._take_warm(kernel, cwd, env or {})
        if warm is not None:
            session_id, kernel_session = warm
            scratch = kernel_session.cwd == str(self.work_root / session_id)
            managed = self._new(
                session_id, kernel, kernel_session, name, token_name, scratch=scratch, ephemeral=ephemeral
            )
            managed.warm = True
            managed.ready.set_result(None)
            managed.status = "idle"
        else:
            session_id = uuid.uuid4().hex
            scratch = not cwd
            if scratch:
                cwd = self._make_scratch(session_id)
            kernel_session = self.backend.new_kernel(
                kernel, cwd=cwd, env=env, inherit_env=False, kernel_env=self.kernel_env, run_as=self.run_as
            )
            managed = self._new(
                session_id, kernel, kernel_session, name, token_name, scratch=scratch, ephemeral=ephemeral
            )
            task = asyncio.get_running_loop().create_task(self._start(managed))
            self._starting.add(task)  # the loop keeps only weak references to tasks
            task.add_done_callback(self._starting.discard)
        self._sessions[session_id] = managed
        self.on_change(managed)
        return managed

    async def _take_warm(self, kernel: str, cwd: str | None, env: dict[str, str]) -> tuple[str, Kernel] | None:
        """A warm kernel from the pool, moved to ``cwd`` with ``env`` if asked (see relocate)."""
        if self.pool is None:
            return None
        warm = await self.pool.take(kernel)
        if warm is None or not (cwd or env):
            return warm
        session_id, kernel_session = warm
        if await relocate(kernel_session, cwd, env):
            if cwd:  # its own folder is no longer used
                shutil.rmtree(self.work_root / session_id, ignore_errors=True)
            return warm
        await kernel_session.kill()
        shutil.rmtree(self.work_root / session_id, ignore_errors=True)
        return None

    def _make_scratch(self, session_id: str) -> str:
        """The session's own folder under ``work_root`` (made if missing), the kernel user's."""
        folder = self.work_root / session_id
        folder.mkdir(parents=True, exist_ok=True)
        give(folder, self.run_as)
        return str(folder)

    @staticmethod
    def _new(
        session_id: str,
        kernel: str,
        kernel_session: Kernel,
        name: str | None,
        token_name: str | None,
        *,
        scratch: bool,
        ephemeral: bool,
    ) -> ManagedSession:
        return ManagedSession(
            id=session_id,
            kernel=kernel,
            cwd=kernel_session.cwd,
            name=name,
            token_name=token_name,
            kernel_session=kernel_session,
            ready=asyncio.get_running_loop().create_future(),
            scratch=scratch,
            ephemeral=ephemeral,
        )

    async def _start(self, managed: ManagedSession) -> None:
        try:
            await managed.kernel_session.start()
        except Exception as exc:  # a kernel that cannot start, or a bug: either way, say so
            if not isinstance(exc, JenkinsKernelError):
                log.exception("session %s: starting its kernel failed", managed.id)
                exc = KernelStartError(f"the {managed.kernel} kernel could not be started: {exc}")
            managed.status, managed.message = "dead", exc.message
            managed.ready.set_exception(exc)
            managed.ready.exception()  # retrieved: runs report it, nobody else must
            self.on_change(managed)
            return
        managed.status = "busy" if managed.active_runs else "idle"
        managed.ready.set_result(None)
        self.on_change(managed)

    # -- using -------------------------------------------------------------------------

    def touch(self, managed: ManagedSession, *, busy: bool) -> None:
        """A run begins or ends on the session (not recorded: it changes with every run)."""
        managed.active_runs += 1 if busy else -1
        managed.last_used = time.time()
        if managed.status in ("idle", "busy"):
            managed.status = "busy" if managed.active_runs else "idle"

    async def interrupt(self, managed: ManagedSession) -> None:
        await managed.kernel_session.interrupt()

    async def restart(self, managed: ManagedSession) -> None:
        """A fresh kernel for the session (its variables are lost; its id and name stay)."""
        managed.status = "starting"
        self.on_change(managed)
        if managed.scratch:  # its own folder may have been removed meanwhile
            self._make_scratch(managed.id)
        try:
            await managed.kernel_session.restart()
        except JenkinsKernelError as exc:
            managed.status, managed.message = "dead", exc.message
            self.on_change(managed)
            raise
        managed.status, managed.message = ("busy" if managed.active_runs else "idle"), ""
        if not managed.ready.done():
            managed.ready.set_result(None)
        elif managed.ready.exception() is not None:
            managed.ready = asyncio.get_running_loop().create_future()
            managed.ready.set_result(None)
        self.on_change(managed)

    async def close(self, managed: ManagedSession, grace: float = 1.0) -> None:
        """Shut the kernel down and forget the session; its scratch folder goes too."""
        if self._sessions.pop(managed.id, None) is None:
            return
        managed.status = "closed"
        session = managed.kernel_session
        session.request_shutdown()
        await session.close(grace)
        if managed.scratch:
            shutil.rmtree(managed.cwd, ignore_errors=True)
        self.on_change(managed)

    async def cull(self) -> list[str]:
        """Close sessions idle for longer than ``idle_timeout``; their ids."""
        now = time.time()
        idle = [s for s in self._sessions.values() if not s.active_runs and now - s.last_used > self.idle_timeout]
        for managed in idle:
            await self.close(managed)
        return [s.id for s in idle]

    async def close_all(self) -> None:
        for managed in list(self._sessions.values()):
            await self.close(managed, grace=0.2)
