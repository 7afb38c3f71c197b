"""Storage faults: a full disk and a data dir that is briefly unwritable, on a real service.

The disk is a real 40 MB tmpfs; the permission flip runs the service as ``nobody`` (no
CAP_DAC_OVERRIDE), so that taking the data dir's permissions away really stops its writes.
"""

from __future__ import annotations

import json
import os
import pwd
import shutil
import subprocess
import sys
import sysconfig
import tempfile
from pathlib import Path

import pytest

from conftest import ROOT
from service import ServiceProcess

FLOOD = "import sys\nline = 'x' * 1023 + '\\n'\nfor _ in range(60 * 1024):\n    sys.stdout.write(line)\n"


def _status(svc: ServiceProcess, run_id: str) -> dict:
    return svc.request("GET", f"/api/v1/runs/{run_id}")[2]


def _finished(svc: ServiceProcess, run_id: str) -> dict | None:
    run = _status(svc, run_id)
    return run if run.get("exit_code") is not None else None


def _health(svc: ServiceProcess) -> tuple[int, dict]:
    status, _, body = svc.request("GET", "/api/v1/health", token=None)
    return status, body


def _fill(path: Path) -> None:
    """Write zeros to ``path`` until the file system has no space left."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        for size in (1 << 20, 4096, 1):
            try:
                while os.write(fd, b"\0" * size):
                    pass
            except OSError:
                pass
    finally:
        os.close(fd)


@pytest.fixture
def small_disk(tmp_path):
    mount = tmp_path / "disk"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=40m", "tmpfs", str(mount)], capture_output=True)
    if done.returncode != 0:
        pytest.skip(f"this machine forbids mounting a tmpfs: {done.stderr.decode().strip()}")
    yield mount
    subprocess.run(["umount", "-l", str(mount)], check=False)


def test_a_full_disk_fails_the_run_answers_503_and_recovers_without_a_restart(small_disk):
    ballast = small_disk / "ballast"
    ballast.write_bytes(b"\0" * (6 << 20))  # freed later: the space that "returns"
    svc = ServiceProcess(small_disk / "data").start()
    try:
        assert svc.run({"code": "print('before')", "session_name": "s"})["exit_code"] == 0
        _, _, flood = svc.request("POST", "/api/v1/runs", {"code": FLOOD, "session_name": "s"})
        svc.wait_for(lambda: _finished(svc, flood["id"]) or _health(svc)[0] == 503, what="the disk to fill")
        _fill(small_disk / "filler")  # what a rolled-back write gave back is taken again: the disk stays full
        svc.request("POST", "/api/v1/runs", {"code": "print(1)"})  # a write that meets the full disk
        status, body = svc.wait_for(lambda: (h := _health(svc))[0] == 503 and h, what="/health to answer 503")
        assert body["status"] == "failing" and ("full" in body["reason"] or "space" in body["reason"])
        status, _, refused = svc.request("POST", "/api/v1/runs", {"code": "print(1)"})
        assert status == 503 and refused["error"]["code"] == "storage_unavailable", refused
        # small database writes still fit in the WAL's old pages: they must not make it look healthy
        assert [_health(svc)[0] for _ in range(20)] == [503] * 20
        ballast.unlink()
        (small_disk / "filler").unlink()
        svc.wait_for(lambda: _health(svc)[0] == 200, what="/health to answer 200 again")
        ended = svc.wait_for(lambda: _finished(svc, flood["id"]), what="the flooded run to end")
        assert ended["status"] == "failed" and ended["exit_code"] == 1
        assert "storage failed" in ended["message"] and "full" in ended["message"], ended["message"]
        events = svc.request("GET", f"/api/v1/runs/{flood['id']}/events?limit=5000")[2]["events"]
        assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
        assert events[-1]["data"]["status"] == "failed"
        log = svc.request("GET", f"/api/v1/runs/{flood['id']}/log")[2].decode()
        assert "storage failed" in log.splitlines()[-1]
        again = svc.run({"code": "print('after')", "session_name": "s"})
        assert again["exit_code"] == 0 and again["log"].startswith("after\n")
        assert svc.proc is not None and svc.proc.poll() is None
    finally:
        svc.stop()


@pytest.fixture
def nobody_home():
    """A folder that ``nobody`` owns (pytest's own tmp folder is private to root)."""
    if os.geteuid() != 0 or not shutil.which("setpriv"):
        pytest.skip("needs root and setpriv to run the service as another user")
    root = Path(tempfile.mkdtemp(prefix="jk-nobody-"))
    root.chmod(0o755)
    user = pwd.getpwnam("nobody")
    os.chown(root, user.pw_uid, user.pw_gid)
    yield root
    shutil.rmtree(root, ignore_errors=True)


AS_NOBODY = ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", "--inh-caps=-all"]


def python_for_nobody() -> tuple[str, dict[str, str]]:
    """An interpreter ``nobody`` may run, with this venv's packages (a venv made by root's
    pyenv points into /root, which only root may enter)."""
    paths = {"PYTHONPATH": os.pathsep.join([str(ROOT), sysconfig.get_paths()["purelib"]])}
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    for python in (sys.executable, f"/usr/bin/{version}", f"/usr/local/bin/{version}"):
        check = "import jenkins_kernel, ipykernel, subprocess, sys; subprocess.run([sys.executable, '-V'], check=True)"
        works = subprocess.run([*AS_NOBODY, python, "-c", check], env={**os.environ, **paths}, capture_output=True)
        if works.returncode == 0:
            return python, paths
    pytest.skip(f"no {version} interpreter here that the user nobody may run with this venv's packages")


def test_an_unwritable_data_dir_fails_the_run_and_recovers_once_permissions_return(nobody_home):
    data = nobody_home / "data"
    python, env = python_for_nobody()
    env.update(HOME=str(nobody_home), JUPYTER_RUNTIME_DIR=str(nobody_home / "runtime"))
    config = nobody_home / "config.yaml"  # kernels get an allowlisted environment: hand them the packages
    config.write_text(json.dumps({"kernel_env": {"PYTHONPATH": env["PYTHONPATH"]}}))
    svc = ServiceProcess(data, "--config", str(config), prefix=AS_NOBODY, env=env, python=python).start()
    try:
        ticking = "import time\nfor i in range(600):\n    print(i, flush=True)\n    time.sleep(0.05)\n"
        _, _, running = svc.request("POST", "/api/v1/runs", {"code": ticking, "session_name": "s"})
        _, _, queued = svc.request("POST", "/api/v1/runs", {"code": "print('queued')", "session_name": "s"})
        svc.request("GET", f"/api/v1/runs/{running['id']}/events?after=3&wait=30")  # it runs
        data.chmod(0)
        try:
            status, body = svc.wait_for(lambda: (h := _health(svc))[0] == 503 and h, what="/health to answer 503")
            assert "Permission denied" in body["reason"]
            status, _, refused = svc.request("POST", "/api/v1/runs", {"code": "print(1)"})
            assert status == 503 and refused["error"]["code"] == "storage_unavailable"
        except AssertionError:
            print("".join(svc.lines))
            raise
        finally:
            data.chmod(0o700)
        svc.wait_for(lambda: _health(svc)[0] == 200, what="/health to answer 200 again")
        ended = svc.wait_for(lambda: _finished(svc, running["id"]), what="the running run to end")
        assert ended["status"] == "failed" and "Permission denied" in ended["message"]
        after = svc.wait_for(lambda: _finished(svc, queued["id"]), what="the queued run to end")
        assert after["status"] in ("failed", "succeeded")
        assert svc.run({"code": "print('after')", "session_name": "s"})["exit_code"] == 0
    finally:
        svc.stop()
