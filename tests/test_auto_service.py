"""Zero-config: `--server auto` finds or starts this machine's service, `serve --detach`
outlives its parent, `service stop` ends it and its kernels. Each test has its own
XDG_DATA_HOME, so no real user's service is touched."""

from __future__ import annotations

import json
import os
import stat
import urllib.request
from pathlib import Path

import psutil
import pytest
from click.testing import CliRunner

from jenkins_kernel.cli import main
from jenkins_kernel.server.discovery import read_discovery, stop_service

from conftest import jk, make_notebook, read_notebook
from conftest import until as _until

CLEAN = {"JENKINS_KERNEL_URL": "", "JENKINS_KERNEL_TOKEN": "", "WORKSPACE": ""}


def _get(info, path: str):
    token = Path(info["token_file"]).read_text().strip()
    request = urllib.request.Request(info["url"] + path, headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


@pytest.fixture
def home(tmp_path):
    """A private XDG_DATA_HOME; whatever service a test started there is stopped after it."""
    data = tmp_path / "xdg"
    yield data
    stop_service(data / "jenkins-kernel")


def test_server_auto_starts_a_detached_service_once_reuses_it_warm_and_service_stop_ends_it_and_its_kernels(
    home, tmp_path
):
    folder = tmp_path / "ws"
    folder.mkdir()
    (folder / "data.csv").write_text("21\n")
    make_notebook(folder / "nb.ipynb", ["n = int(open('data.csv').read())\nopen('out.txt', 'w').write(str(2 * n))\nn"])
    env = {**CLEAN, "XDG_DATA_HOME": str(home), "JENKINS_KERNEL_URL": "auto"}
    first = jk("run", "nb.ipynb", "-o", "r1", cwd=folder, env=env)
    assert first.returncode == 0, first.stderr
    assert "started this machine's service" in first.stderr
    assert (folder / "out.txt").read_text() == "42"  # in place
    data_dir = home / "jenkins-kernel"
    assert stat.S_IMODE((data_dir / "service.json").stat().st_mode) == 0o600
    info = read_discovery(data_dir)
    assert info is not None
    service = psutil.Process(info["pid"])  # detached: its parent, the first CLI, has exited
    assert service.ppid() != os.getpid() and service.is_running()
    assert os.getsid(service.pid) != os.getsid(0)  # its own session: a build's process group kill misses it
    assert service.environ().get("JENKINS_NODE_COOKIE") == "dontKillMe"
    assert service.environ().get("BUILD_ID") == "dontKillMe"
    warm = lambda: next(k["warm"] for k in _get(info, "/api/v1/kernelspecs")["kernelspecs"] if k["name"] == "python3")  # noqa: E731
    _until(warm, 60)

    second = jk("run", "nb.ipynb", "--server", "auto", "-o", "r2", cwd=folder, env={**env, "JENKINS_KERNEL_URL": ""})
    assert second.returncode == 0, second.stderr
    assert "started" not in second.stderr and read_discovery(data_dir)["pid"] == info["pid"]
    run = _get(info, "/api/v1/runs?limit=1")["runs"][0]
    queued = _get(info, f"/api/v1/runs/{run['id']}/events")["events"][0]["data"]
    assert queued["warm"] is True
    assert run["started"] - run["created"] < 0.3  # no kernel start: it came from the warm pool
    assert run["cwd"] == str(folder)
    first_cells, second_cells = (read_notebook(folder / r / "executed.ipynb").cells for r in ("r1", "r2"))
    assert [(c.source, c.outputs) for c in first_cells] == [(c.source, c.outputs) for c in second_cells]

    status = CliRunner().invoke(main, ["service", "status"], env=env)
    assert status.exit_code == 0 and info["url"] in status.stdout
    _until(lambda: service.children(recursive=True), 60)  # the pool's replacement kernel
    kernels = service.children(recursive=True)
    stopped = jk("service", "stop", cwd=tmp_path, env=env)
    assert stopped.returncode == 0 and "stopped" in stopped.stdout
    assert not service.is_running() or service.status() == psutil.STATUS_ZOMBIE
    _until(lambda: not any(k.is_running() and k.status() != psutil.STATUS_ZOMBIE for k in kernels), 10)
    assert CliRunner().invoke(main, ["service", "status"], env=env).exit_code == 1


def test_serve_detach_returns_once_the_service_answers_and_names_its_log(home, tmp_path):
    env = {**CLEAN, "XDG_DATA_HOME": str(home)}
    proc = jk("serve", "--detach", "--port", "0", cwd=tmp_path, env=env, timeout=90)
    assert proc.returncode == 0, proc.stderr
    info = read_discovery(home / "jenkins-kernel")
    assert info is not None and f"serving {info['url']} in the background" in proc.stdout
    assert psutil.Process(info["pid"]).ppid() != os.getpid()
    assert "service.log" in proc.stdout and (home / "jenkins-kernel" / "service.log").exists()
