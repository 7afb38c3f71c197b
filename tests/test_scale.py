"""Past 1,024 file descriptors: a service started with a low soft limit holds enough
sessions that select() would fail, and keeps answering (the 300-session run is
benchmarks/bench_scale.py)."""

from __future__ import annotations

import os
import resource
from concurrent.futures import ThreadPoolExecutor

import psutil
import pytest

from service import ServiceProcess

SESSIONS = 55  # ~21 descriptors each: past 1,024 in all


def _low_soft_limit() -> None:
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    resource.setrlimit(resource.RLIMIT_NOFILE, (256, hard))


@pytest.mark.timeout(300)  # 55 kernel starts: ~10 s on an idle 2-core machine, far more when it is busy
def test_sessions_past_1024_descriptors_all_work_and_leave_no_kernel_behind(tmp_path):
    svc = ServiceProcess(tmp_path / "data", "--max-sessions", str(SESSIONS), preexec_fn=_low_soft_limit).start()
    try:
        assert svc.proc is not None
        service = psutil.Process(svc.proc.pid)
        with ThreadPoolExecutor(10) as pool:  # opened 10 at a time
            opened = list(pool.map(lambda i: svc.request("POST", "/api/v1/sessions", {}), range(SESSIONS)))
        assert all(status == 201 for status, _, _ in opened), [b for s, _, b in opened if s != 201][:3]
        ids = [body["id"] for _, _, body in opened]
        svc.wait_for(
            lambda: all(s["status"] == "idle" for s in svc.request("GET", "/api/v1/sessions")[2]["sessions"]),
            timeout=110,
            what="every session to be ready",
        )
        assert service.num_fds() > 1024
        with ThreadPoolExecutor(10) as pool:
            runs = list(pool.map(lambda i: svc.run({"code": "print(6 * 7)", "session": i}), ids))
        assert all(r["exit_code"] == 0 and r["log"].startswith("42\n") for r in runs)
        status, _, health = svc.request("GET", "/api/v1/health", token=None)
        assert status == 200 and health["status"] == "ok"
        kernels = service.children(recursive=True)
        with ThreadPoolExecutor(10) as pool:
            closed = list(pool.map(lambda i: svc.request("DELETE", f"/api/v1/sessions/{i}")[0], ids))
        assert closed == [200] * SESSIONS
        alive = psutil.wait_procs(kernels, timeout=20)[1]
        assert not alive, [p.pid for p in alive]
        assert service.is_running() and os.getpgid(service.pid) > 0
    finally:
        svc.stop()
