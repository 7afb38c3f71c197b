"""Operator mistakes and hostile traffic: a second serve, a taken port, an unknown warm
kernel, a dead session, a wrong server URL, a flood of bad tokens."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from jenkins_kernel.cli import main

from service import ServiceProcess


@pytest.fixture(scope="module")
def svc(tmp_path_factory):
    service = ServiceProcess(tmp_path_factory.mktemp("faults") / "data").start()
    yield service
    service.stop()


def serve(*args: str):
    """``jenkins-kernel serve ARGS`` in this process (it must refuse before it serves)."""
    return CliRunner().invoke(main, ["serve", *args])


def test_a_second_serve_on_the_same_data_dir_exits_5_in_one_line_and_leaves_the_first_alone(svc, tmp_path):
    _, _, running = svc.request("POST", "/api/v1/runs", {"code": "import time; time.sleep(3); print('done')"})
    proc = serve("--port", "0", "--data-dir", str(svc.data_dir))
    assert proc.exit_code == 5, proc.output
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and f"PID {svc.proc.pid}" in lines[0] and svc.url in lines[0], lines
    assert svc.request("GET", "/api/v1/health", token=None)[0] == 200
    run = svc.request("GET", f"/api/v1/runs/{running['id']}")[2]
    assert run["status"] in ("queued", "running", "succeeded"), run  # never marked lost by the second one


def test_a_serve_on_a_taken_port_exits_5_naming_the_process_that_holds_it(svc, tmp_path):
    proc = serve("--port", str(svc.port), "--data-dir", str(tmp_path / "other"))
    lines = proc.stderr.strip().splitlines()
    assert proc.exit_code == 5 and len(lines) == 1, proc.output
    assert f"port {svc.port}" in lines[0] and f"PID {svc.proc.pid}" in lines[0]
    assert not (tmp_path / "other" / "jenkins-kernel.sqlite3").exists()


def test_warm_with_an_unknown_kernel_exits_5_naming_the_installed_kernels(tmp_path):
    proc = serve("--port", "0", "--data-dir", str(tmp_path), "--warm", "python=2")
    assert proc.exit_code == 5 and "not installed: python " in proc.stderr and "python3" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_the_service_raises_its_open_files_limit_to_the_hard_limit(svc):
    limits = Path(f"/proc/{svc.proc.pid}/limits").read_text()
    soft, hard = next(line.split()[3:5] for line in limits.splitlines() if line.startswith("Max open files"))
    assert soft == hard


def test_a_run_on_a_dead_session_answers_409_session_dead_with_a_hint(svc):
    _, _, session = svc.request("POST", "/api/v1/sessions", {"name": "doomed"})
    died = svc.run({"code": "import os; os.kill(os.getpid(), 9)", "session": session["id"]})
    assert died["status"] == "kernel_died"
    for body in ({"code": "print(1)", "session": session["id"]}, {"code": "print(1)", "session_name": "doomed"}):
        status, _, error = svc.request("POST", "/api/v1/runs", body)
        assert status == 409 and error["error"]["code"] == "session_dead", error
        assert "restart" in error["error"]["hint"]
    assert svc.request("POST", f"/api/v1/sessions/{session['id']}/restart")[0] == 200
    assert svc.run({"code": "print('alive')", "session": session["id"]})["exit_code"] == 0


def test_requests_with_a_wrong_token_are_counted_not_written_to_the_audit_log(svc):
    db = sqlite3.connect(svc.data_dir / "jenkins-kernel.sqlite3")
    before = db.execute("SELECT count(*) FROM audit").fetchone()[0]
    for _ in range(200):
        assert svc.request("POST", "/api/v1/runs", {"code": "1"}, token="wrong")[0] == 401
    assert svc.run({"code": "print(1)"})["exit_code"] == 0  # an audited request, after them all
    svc.wait_for(lambda: db.execute("SELECT count(*) FROM audit").fetchone()[0] > before, what="the audit row")
    assert db.execute("SELECT count(*) FROM audit").fetchone()[0] == before + 1
    metrics = svc.request("GET", "/metrics")[2].decode()
    assert "jenkins_kernel_unauthorized_requests_total 200.0" in metrics


def test_an_unreachable_server_fails_after_the_connect_window_not_the_retry_window(tmp_path):
    began = time.monotonic()
    args = ["exec", "-c", "1", "--server", "http://127.0.0.1:9", "--connect-timeout", "1", "--retry-for", "120"]
    proc = CliRunner().invoke(main, args)
    assert proc.exit_code == 5 and "cannot reach the jenkins-kernel service" in proc.stderr
    assert time.monotonic() - began < 10
    help_text = CliRunner().invoke(main, ["exec", "--help"]).output.split("--connect-timeout")[1]
    assert "[default: 10.0" in " ".join(help_text.split()[:20])
