"""Warm kernels: started ahead of time so that a new session costs nothing to start.

``WarmPool({"python3": 2, "bash": 1})`` keeps that many kernels started and ready; taking
one starts a replacement in the background. Each warm kernel has its own fresh working
directory, so the session that takes it gets a private scratch folder.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Callable
from pathlib import Path

from ..exceptions import JenkinsKernelError
from .backends.base import Kernel, KernelBackend
from .backends.local import LocalBackend

__all__ = ["WarmPool", "parse_warm_spec"]

log = logging.getLogger(__name__)
#: Seconds between taking a warm kernel and starting its replacement.
REFILL_DELAY = 1.0


def parse_warm_spec(text: str | dict[str, int] | None) -> dict[str, int]:
    """``"python3=2,bash=1"`` (or a mapping) as ``{"python3": 2, "bash": 1}``."""
    if not text:
        return {}
    if isinstance(text, dict):
        return {str(k): int(v) for k, v in text.items()}
    sizes: dict[str, int] = {}
    for part in text.split(","):
        name, _, count = part.strip().partition("=")
        if not name or not count.strip().isdigit():
            raise ValueError(f"bad warm pool entry {part!r}: write KERNEL=COUNT, e.g. python3=2,bash=1")
        sizes[name.strip()] = int(count)
    return sizes


async def _first_cell(session: Kernel) -> None:
    """Run an empty cell once: a kernel's first execution pays one-off costs (IPython opens
    its history database), which a warm kernel should have behind it."""
    msg_id = session.execute("pass", store_history=False)
    await session.wait_reply(msg_id, timeout=10)


class WarmPool:
    def __init__(
        self,
        sizes: dict[str, int],
        work_root: Path,
        on_change: Callable[[], None] | None = None,
        backend: KernelBackend | None = None,
    ) -> None:
        self.sizes = dict(sizes)
        self.backend = backend or LocalBackend()
        self.work_root = work_root
        self.on_change = on_change or (lambda: None)
        self._ready: dict[str, list[tuple[str, Kernel]]] = {k: [] for k in sizes}  # (id, kernel)
        self._starting: dict[str, int] = dict.fromkeys(sizes, 0)
        self._tasks: set[asyncio.Task[None]] = set()
        self._closed = False

    def counts(self) -> dict[str, int]:
        """Warm kernels ready now, by kernel name."""
        return {k: len(v) for k, v in self._ready.items()}

    def fill(self) -> None:
        """Start kernels until each kernel name has its size (ready or starting)."""
        for name, size in self.sizes.items():
            while not self._closed and len(self._ready[name]) + self._starting[name] < size:
                self._starting[name] += 1
                task = asyncio.ensure_future(self._start_one(name))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)

    async def _start_one(self, name: str) -> None:
        session_id = uuid.uuid4().hex
        cwd = self.work_root / session_id
        cwd.mkdir(parents=True, exist_ok=True)
        session = self.backend.new_kernel(name, cwd=str(cwd))
        try:
            await session.start()
            await _first_cell(session)
        except JenkinsKernelError as exc:
            log.warning("warm %s kernel failed to start: %s", name, exc)
            self._starting[name] -= 1
            await asyncio.sleep(5)  # do not spin on a kernel that cannot start
            self.fill()
            return
        self._starting[name] -= 1
        if self._closed:
            await session.kill()
            return
        self._ready[name].append((session_id, session))
        self.on_change()

    async def take(self, name: str) -> tuple[str, Kernel] | None:
        """A ready kernel of that name and the id of its folder, or None; its replacement
        starts ``REFILL_DELAY`` later.

        Starting a kernel costs a core for half a second (bash: 2.7 s): started at once,
        it would slow the very run that took the warm kernel.
        """
        ready = self._ready.get(name)
        while ready:
            session_id, session = ready.pop(0)
            asyncio.get_running_loop().call_later(REFILL_DELAY, self.fill)
            self.on_change()
            if await session.exit_code() is None:
                return session_id, session
            await session.kill()
        return None

    async def close(self) -> None:
        self._closed = True
        for task in list(self._tasks):
            task.cancel()
        for sessions in self._ready.values():
            for _, session in sessions:
                await session.kill()
            sessions.clear()
