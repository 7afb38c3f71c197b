"""The warm pool learns bursts, stays within its budget, shrinks when idle, and serves
sessions that ask for their own folder and variables."""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path

import pytest

from jenkins_kernel.engine import pool as pool_module
from jenkins_kernel.engine.pool import DemandTracker, WarmPool

from service import ServiceProcess


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _pool(sizes: dict[str, int], clock: Clock, **kwargs) -> WarmPool:
    pool = WarmPool(sizes, Path("/nonexistent"), idle_timeout=600, **kwargs)
    for tracker in pool._demand.values():
        tracker.clock = clock
    return pool


def test_demand_is_the_largest_burst_of_recent_session_starts():
    clock = Clock()
    demand = DemandTracker(memory=600, clock=clock)
    for _ in range(3):
        demand.record()
    clock.now += 60  # a later, bigger burst
    for _ in range(8):
        demand.record()
        clock.now += 0.1
    clock.now += 60
    demand.record()
    assert demand.peak() == 8
    clock.now += 601  # nothing new for longer than the memory: back to nothing
    assert demand.peak() == 0


def test_pool_target_grows_to_the_burst_within_budget_and_room_and_shrinks_back():
    clock = Clock()
    pool = _pool({"python3": 2, "bash": 1}, clock, memory_budget=10 * 64 * 1024 * 1024)
    assert pool.targets() == {"python3": 2, "bash": 1}
    for _ in range(8):
        pool._demand["python3"].record()
    assert pool.targets() == {"python3": 8, "bash": 1}
    for _ in range(5):
        pool._demand["bash"].record()
    assert sum(pool.targets().values()) == 10, "the memory budget holds 10 kernels"
    assert pool.targets()["bash"] >= 1 and pool.targets()["python3"] >= 2, "floors are kept"
    pool.room = lambda: 2
    assert sum(pool.targets().values()) == 5, "no more than the service may still open"
    clock.now += 601
    assert pool.targets() == {"python3": 2, "bash": 1}


@pytest.fixture(scope="module")
def pooled(tmp_path_factory):
    root = tmp_path_factory.mktemp("pool")
    svc = ServiceProcess(root / "data", "--warm", "python3=1", "--max-sessions", "12").start()
    yield svc
    svc.stop()


def _warm(svc: ServiceProcess, kernel: str) -> int:
    specs = svc.request("GET", "/api/v1/kernelspecs")[2]["kernelspecs"]
    return next(k["warm"] for k in specs if k["name"] == kernel)


def _until(predicate, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def _open_at_once(svc: ServiceProcess, count: int) -> list[dict]:
    sessions: list[dict] = []
    barrier = threading.Barrier(count)

    def one() -> None:
        barrier.wait()
        sessions.append(svc.request("POST", "/api/v1/sessions", {"kernel": "python3"})[2])

    threads = [threading.Thread(target=one) for _ in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sessions


def test_a_burst_of_new_sessions_teaches_the_pool_to_warm_as_many_for_the_next(pooled):
    _until(lambda: _warm(pooled, "python3") >= 1)
    first = _open_at_once(pooled, 4)
    assert sum(s["warm_start"] for s in first) == 1, "only the floor was warm the first time"
    for s in first:
        pooled.request("DELETE", f"/api/v1/sessions/{s['id']}")
    _until(lambda: _warm(pooled, "python3") == 4)
    second = _open_at_once(pooled, 4)
    assert all(s["warm_start"] for s in second), second
    for s in second:
        pooled.request("DELETE", f"/api/v1/sessions/{s['id']}")


class _InstantKernel:
    """A kernel that is ready at once: the pool's decisions without kernel boots."""

    async def start(self) -> _InstantKernel:
        return self

    def execute(self, code: str, **_: object) -> str:
        return "msg"

    async def wait_reply(self, msg_id: str, timeout: float | None) -> dict:
        return {}

    async def exit_code(self) -> None:
        return None

    def resident_bytes(self) -> int:
        return 1

    async def kill(self) -> None:
        return None


class _InstantBackend:
    def new_kernel(self, name: str, **_: object) -> _InstantKernel:
        return _InstantKernel()


def test_the_pool_grows_past_its_floor_only_once_no_run_is_executing(tmp_path, monkeypatch):
    """Boots cost a core each: while runs execute the pool only keeps its floor, and grows
    to the burst it learnt once they are done."""
    monkeypatch.setattr(pool_module, "QUIET_DELAY", 0.05)
    busy = [True]

    async def until(predicate) -> None:
        deadline = time.monotonic() + 10
        while not predicate():
            assert time.monotonic() < deadline, "timed out"
            await asyncio.sleep(0.01)

    async def scenario() -> None:
        pool = WarmPool({"python3": 1}, tmp_path, busy=lambda: busy[0], backend=_InstantBackend())
        for _ in range(4):  # four sessions opened at once
            pool._demand["python3"].record()
        pool.fill()
        await until(lambda: pool.counts()["python3"] == 1)
        assert not any(pool._starting.values()), "no growth while runs execute"
        busy[0] = False
        pool.fill_when_idle()
        await until(lambda: pool.counts()["python3"] == 4)
        await pool.close()

    asyncio.run(scenario())
