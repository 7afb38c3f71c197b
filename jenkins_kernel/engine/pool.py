"""Warm kernels: started ahead of time so that a new session costs nothing to start.

``WarmPool({"python3": 2, "bash": 1})`` keeps at least that many kernels started and ready
(the floor). It also learns: when sessions of a kernel are asked for in a burst (a parallel
pipeline starting its stages), the pool grows toward that recent peak, so the next burst
finds a warm kernel for every stage; after ``idle_timeout`` seconds without demand it
shrinks back to the floor. Growth is bounded by a memory budget and by how many more
sessions the service may hold.

Kernels are started one at a time and only ``REFILL_DELAY`` after the last take: starting
a kernel costs a core for half a second (bash: 2.7 s), which must not slow the runs that
just took warm kernels. Growing past the floor waits, in addition, until no run is
executing for ``QUIET_DELAY`` (``busy()``; the service calls :meth:`WarmPool.fill_when_idle`
when its last run ends): twenty
sessions opened at once must not have twenty boots compete with their first cells. Each
warm kernel has its own fresh working directory.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections import deque
from collections.abc import Callable
from pathlib import Path

from ..exceptions import JenkinsKernelError
from .backends.base import Kernel, KernelBackend
from .backends.local import LocalBackend
from .run_as import KernelUser, give

__all__ = ["DemandTracker", "WarmPool", "parse_warm_spec"]

log = logging.getLogger(__name__)
#: Seconds between taking a warm kernel and starting its replacement.
REFILL_DELAY = 1.0
#: Growing past the floor waits until no run has executed for this long.
QUIET_DELAY = 1.0
#: Session starts this close together count as one burst.
BURST_WINDOW = 5.0
#: What a kernel is assumed to cost until one has been measured (python3 idles at ~52 MB).
DEFAULT_KERNEL_BYTES = 64 * 1024 * 1024


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


class DemandTracker:
    """The recent peak of session starts of one kernel, counted in bursts.

    ``peak()`` is the largest number of starts within ``BURST_WINDOW`` seconds among the
    starts of the last ``memory`` seconds: a pipeline that opened 8 sessions at once
    keeps asking for 8 until it has been quiet for ``memory`` seconds.
    """

    def __init__(self, memory: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.memory, self.clock = memory, clock
        self._starts: deque[float] = deque()

    def record(self) -> None:
        self._starts.append(self.clock())

    def peak(self) -> int:
        now = self.clock()
        while self._starts and now - self._starts[0] > self.memory:
            self._starts.popleft()
        best, first = 0, 0
        starts = self._starts
        for last in range(len(starts)):
            while starts[last] - starts[first] > BURST_WINDOW:
                first += 1
            best = max(best, last - first + 1)
        return best

    def quiet_for(self) -> float:
        return self.clock() - self._starts[-1] if self._starts else float("inf")


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
        *,
        memory_budget: int = 2048 * 1024 * 1024,
        idle_timeout: float = 600.0,
        room: Callable[[], int] | None = None,
        busy: Callable[[], bool] | None = None,
        kernel_env: dict[str, str] | None = None,
        run_as: KernelUser | None = None,
        backend: KernelBackend | None = None,
    ) -> None:
        """``sizes`` is the floor per kernel name (only these names are kept warm);
        ``memory_budget`` bounds all warm kernels together (bytes); ``room()`` says how many
        more sessions the service may open; ``busy()`` says whether runs are executing (the
        pool then keeps to its floor). Warm kernels are the service's: a clean environment
        plus ``kernel_env``."""
        self.kernel_env = dict(kernel_env or {})
        self.run_as = run_as
        self.sizes = dict(sizes)
        self.backend = backend or LocalBackend()
        self.work_root = work_root
        self.on_change = on_change or (lambda: None)
        self.memory_budget = memory_budget
        self.room = room or (lambda: 1 << 30)
        self.busy = busy or (lambda: False)
        self.kernel_bytes = DEFAULT_KERNEL_BYTES
        self._demand = {k: DemandTracker(idle_timeout) for k in sizes}
        self._ready: dict[str, list[tuple[str, Kernel]]] = {k: [] for k in sizes}  # (id, kernel)
        self._starting: dict[str, int] = dict.fromkeys(sizes, 0)
        self._tasks: set[asyncio.Task[None]] = set()
        self._refill: asyncio.TimerHandle | None = None
        self._closed = False

    def counts(self) -> dict[str, int]:
        """Warm kernels ready now, by kernel name."""
        return {k: len(v) for k, v in self._ready.items()}

    def targets(self) -> dict[str, int]:
        """How many warm kernels of each name the pool aims for now."""
        wanted = {name: max(floor, self._demand[name].peak()) for name, floor in self.sizes.items()}
        budget = max(sum(self.sizes.values()), self.memory_budget // max(1, self.kernel_bytes))
        extra_room = max(0, self.room())
        limit = min(budget, sum(self.sizes.values()) + extra_room)
        # Past the budget or the room, every name keeps its floor and the rest is shared in turn.
        targets = dict(self.sizes)
        spare = limit - sum(targets.values())
        while spare > 0 and any(targets[n] < wanted[n] for n in wanted):
            for name in wanted:
                if spare > 0 and targets[name] < wanted[name]:
                    targets[name] += 1
                    spare -= 1
        return targets

    def fill(self) -> None:
        """Start a kernel where a name is below its target (one start at a time: the next
        begins when this one is ready); close warm kernels above it."""
        self._refill = None
        if self._closed:
            return
        targets = self.targets()
        for name, target in targets.items():
            ready = self._ready[name]
            while len(ready) > target:
                _, session = ready.pop()
                self._spawn(session.kill())
                self.on_change()
        if any(self._starting.values()):
            return
        if self.busy():  # only the floor now; the rest once the runs are done
            targets = {name: min(target, self.sizes[name]) for name, target in targets.items()}
        for name, target in targets.items():
            if len(self._ready[name]) < target:
                self._starting[name] += 1
                self._spawn(self._start_one(name))
                return

    def _spawn(self, coro: object) -> None:
        task = asyncio.ensure_future(coro)  # type: ignore[arg-type]
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _schedule_fill(self, delay: float) -> None:
        if self._refill is not None:
            self._refill.cancel()
        self._refill = asyncio.get_running_loop().call_later(delay, self.fill)

    async def _start_one(self, name: str) -> None:
        session_id = uuid.uuid4().hex
        cwd = self.work_root / session_id
        cwd.mkdir(parents=True, exist_ok=True)
        give(cwd, self.run_as)
        session = self.backend.new_kernel(
            name, cwd=str(cwd), inherit_env=False, kernel_env=self.kernel_env, run_as=self.run_as
        )
        try:
            await session.start()
            await _first_cell(session)
        except asyncio.CancelledError:  # the pool closes: a kernel half started must not outlive it
            await asyncio.shield(session.kill())
            raise
        except JenkinsKernelError as exc:
            log.warning("warm %s kernel failed to start: %s", name, exc)
            self._starting[name] -= 1
            self._schedule_fill(5.0)  # do not spin on a kernel that cannot start
            return
        self._starting[name] -= 1
        if self._closed:
            await session.kill()
            return
        self.kernel_bytes = max(self.kernel_bytes, session.resident_bytes())
        self._ready[name].append((session_id, session))
        self.on_change()
        if self._refill is None:  # a take may have scheduled a later fill: leave it be
            self.fill()

    async def take(self, name: str) -> tuple[str, Kernel] | None:
        """A ready kernel of that name and the id of its folder, or None.

        Every call counts as demand, whether a kernel was ready or not; refilling starts
        ``REFILL_DELAY`` after the last take of a burst.
        """
        if name not in self._demand:
            return None
        self._demand[name].record()
        self._schedule_fill(REFILL_DELAY)
        ready = self._ready[name]
        while ready:
            session_id, session = ready.pop(0)
            self.on_change()
            if await session.exit_code() is None:
                return session_id, session
            await session.kill()
        return None

    def fill_when_idle(self) -> None:
        """The runs are done: grow toward the target once they have stayed done for
        QUIET_DELAY (a boot begun meanwhile fills again when it is ready)."""
        if not self._closed and not any(self._starting.values()):
            self._schedule_fill(max(QUIET_DELAY, self._refill_left()))

    def _refill_left(self) -> float:
        if self._refill is None:
            return 0.0
        return max(0.0, self._refill.when() - asyncio.get_running_loop().time())

    async def shrink_when_idle(self, every: float = 30.0) -> None:
        """Run forever: give back what a past burst taught once its demand has expired."""
        while not self._closed:
            await asyncio.sleep(every)
            if self._refill is None and not any(self._starting.values()):
                self.fill()

    async def close(self) -> None:
        self._closed = True
        if self._refill is not None:
            self._refill.cancel()
        for task in list(self._tasks):
            task.cancel()
        for sessions in self._ready.values():
            for _, session in sessions:
                await session.kill()
            sessions.clear()
