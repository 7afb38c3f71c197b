"""No orphan kernels: kill -9 the service, and no kernel process of any language survives.

Each kernel dies with the service (parent-death signal); what a kernel started itself
(ijavascript's second node process) is killed by the next service, which checks each
recorded start time, so that a PID the OS gave to another process is never hit.
"""

from __future__ import annotations

import sqlite3
import subprocess

import psutil
import pytest

from conftest import INSTALLED
from service import ServiceProcess

KERNELS = [k for k in ("python3", "bash", "ir", "javascript") if k in INSTALLED]


def _alive(procs: list[psutil.Process]) -> list[psutil.Process]:
    return [p for p in procs if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]


@pytest.mark.skipif(len(KERNELS) < 4, reason="needs python3, bash, ir and javascript (run `make kernels`)")
def test_kill_9_of_the_service_leaves_no_kernel_process_of_any_language(tmp_path):
    data = tmp_path / "data"
    svc = ServiceProcess(data).start()
    bystander = subprocess.Popen(["sleep", "120"], start_new_session=True)
    try:
        for kernel in KERNELS:
            assert svc.request("POST", "/api/v1/sessions", {"kernel": kernel, "name": kernel})[0] == 201
        svc.wait_for(
            lambda: all(s["status"] == "idle" for s in svc.request("GET", "/api/v1/sessions")[2]["sessions"]),
            what="every kernel to be ready",
        )
        assert svc.proc is not None
        kernels = psutil.Process(svc.proc.pid).children(recursive=True)
        leaders = [p for p in kernels if p.ppid() == svc.proc.pid]
        assert len(leaders) == len(KERNELS) and all(p.pid == psutil.os.getpgid(p.pid) for p in leaders)
        svc.kill()
        svc.wait_for(lambda: not _alive(leaders), timeout=10, what="the kernels to die with the service")
        # a recorded kernel whose PID now belongs to another process: it must not be hit
        with sqlite3.connect(data / "jenkins-kernel.sqlite3") as db:
            db.execute("INSERT INTO kernel_processes VALUES (?, ?, 'python3')", (bystander.pid, 1.0))
        again = ServiceProcess(data).start()
        try:
            assert not _alive(kernels), [(p.pid, p.cmdline()) for p in _alive(kernels)]
            assert bystander.poll() is None
        finally:
            again.stop()
    finally:
        svc.stop()
        bystander.kill()
        bystander.wait()
