"""The service as a process: crash and restart, tokens, settings, and the CLI as its client."""

from __future__ import annotations

import json
import stat
import time

import pytest

from jenkins_kernel.exceptions import RejectedError
from jenkins_kernel.server.config import load_settings

from conftest import backend_settings, jk, make_notebook
from conftest import until as _until
from service import TOKEN, ServiceProcess

#: Tests about executing code run on both kernel backends: local processes and a Kernel Gateway.
on_every_backend = pytest.mark.backends("local", "gateway")
#: The exit-code cases run on an Enterprise Gateway as well.
on_every_gateway = pytest.mark.backends("local", "gateway", "enterprise-gateway")
BACKENDS = ["local", "gateway"]


def pytest_generate_tests(metafunc):
    if "remote" in metafunc.fixturenames:
        marker = metafunc.definition.get_closest_marker("backends")
        metafunc.parametrize("remote", marker.args if marker else ["local"], indirect=True, scope="module")


def test_kill_9_during_a_run_then_restart_marks_it_lost_and_keeps_the_rest(tmp_path):
    svc = ServiceProcess(tmp_path / "data").start()
    try:
        done = svc.run({"code": "print('before the crash')"})
        _, _, running = svc.request(
            "POST", "/api/v1/runs", {"code": "import time\nprint('going', flush=True)\ntime.sleep(600)"}
        )
        svc.request("GET", f"/api/v1/runs/{running['id']}/events?after=2&wait=30")  # it printed
        svc.kill()
    finally:
        svc.stop()
    again = ServiceProcess(tmp_path / "data").start()
    try:
        lost = again.request("GET", f"/api/v1/runs/{running['id']}")[2]
        assert lost["status"] == "lost" and lost["exit_code"] == 6 and "service stopped" in lost["message"]
        log = again.request("GET", f"/api/v1/runs/{running['id']}/log")
        assert log[2].decode().startswith("going\n") and "lost" in log[2].decode().splitlines()[-1]
        assert "X-More-Data" not in log[1]
        kept = again.request("GET", f"/api/v1/runs/{done['id']}")[2]
        assert kept["status"] == "succeeded"
        assert again.request("GET", f"/api/v1/runs/{done['id']}/log")[2].startswith(b"before the crash\n")
        events = again.request("GET", f"/api/v1/runs/{running['id']}/events")[2]["events"]
        assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
        assert again.run({"code": "print('serving again')"})["exit_code"] == 0
    finally:
        again.stop()


def test_first_start_generates_a_private_token_and_never_logs_it(tmp_path):
    data = tmp_path / "data"
    svc = ServiceProcess(data, token="")
    svc.start()
    try:
        token_file = data / "token"
        token = token_file.read_text().strip()
        assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
        assert len(token) >= 32
        assert token not in "".join(svc.lines) and str(token_file) in "".join(svc.lines)
        svc.token = token
        assert svc.run({"code": "print(2)"})["token_name"] == "default"
        assert svc.request("GET", "/api/v1/runs", token="guess")[0] == 401
    finally:
        svc.stop()


def test_the_kernel_cannot_read_the_services_token(tmp_path):
    svc = ServiceProcess(tmp_path / "data").start()
    try:
        run = svc.run({"code": "import os; print(os.environ.get('JENKINS_KERNEL_TOKEN'))"})
        assert run["log"].startswith("None\n")
    finally:
        svc.stop()


def test_no_auth_is_refused_off_loopback(tmp_path):
    proc = jk("serve", "--no-auth", "--host", "0.0.0.0", "--data-dir", str(tmp_path), cwd=tmp_path, timeout=30)
    assert proc.returncode == 5 and "--no-auth is refused on 0.0.0.0" in proc.stderr


def test_settings_come_from_file_then_environment_then_flags(tmp_path):
    config = tmp_path / "c.yaml"
    config.write_text("port: 9000\nmax_sessions: 4\nwarm: python3=2\ntokens: {jenkins: abc}\n")
    settings = load_settings(config, {"JENKINS_KERNEL_PORT": "9100", "JENKINS_KERNEL_TOKEN": "t"}, max_sessions=8)
    assert (settings.port, settings.max_sessions, settings.warm) == (9100, 8, {"python3": 2})
    assert settings.tokens == {"jenkins": "abc", "env": "t"}
    config.write_text("prot: 1\n")
    with pytest.raises(RejectedError, match=r"unknown settings in .*: prot"):
        load_settings(config, {})


@pytest.fixture(scope="module")
def remote(request, tmp_path_factory):
    # the tests' folders are an allowed root: a client on this machine runs in them, as embedded
    root = str(tmp_path_factory.getbasetemp())
    data = tmp_path_factory.mktemp("remote")
    (data / "config.yaml").write_text(backend_settings(request, request.param) or "{}\n")
    svc = ServiceProcess(
        data, "--warm", "python3=1", "--config", str(data / "config.yaml"), "--allowed-root", root
    ).start()
    svc.backend = request.param
    yield svc
    svc.stop()


CASES = [
    ("print(1)", 0),
    ("1/0", 1),
    ("import time; time.sleep(600)", 2),
    ("import os; os._exit(9)", 3),
    ("input()", 1),
]


@on_every_gateway
@pytest.mark.parametrize(("code", "expected"), CASES)
def test_client_mode_gives_the_same_exit_codes_and_output_as_embedded(remote, tmp_path, code, expected):
    env = {"JENKINS_KERNEL_URL": remote.url, "JENKINS_KERNEL_TOKEN": TOKEN}
    embedded = jk("exec", "-c", code, "--timeout", "2", cwd=tmp_path)
    client = jk("exec", "-c", code, "--timeout", "2", cwd=tmp_path, env=env)
    assert embedded.returncode == client.returncode == expected, client.stderr
    assert client.stdout == embedded.stdout
    assert client.stderr.splitlines()[-1].startswith("[jenkins-kernel] dashboard: ")  # the run's page, last
    assert _console(client.stderr, remote.backend) == _console(
        embedded.stderr, "local" if remote.backend == "gateway" else remote.backend
    )


def _console(text: str, backend: str) -> list[str]:
    """Console lines without durations; a gateway cannot know a dead kernel's exit code or
    log, so the words for a death are made the same (the exit code is compared above)."""
    lines = [line.split(" in ")[0] for line in text.splitlines()]
    if backend != "local":
        lines = [line.replace("died (the gateway saw its process end)", "exited with code 9") for line in lines]
    noise = ("kernel log:", "the gateway's log", "] dashboard: ")  # the dashboard link exists in client mode only
    lines = [line for line in lines if not any(n in line for n in noise)]
    if backend == "enterprise-gateway":  # its kernels run its own ipykernel: frames inside ipykernel differ
        lines = [line for line in lines if line.startswith("[") or line.split(":")[0].endswith("Error")]
    return lines


@on_every_backend
def test_client_mode_runs_a_notebook_and_downloads_its_reports(remote, tmp_path):
    nb = make_notebook(tmp_path / "p.ipynb", [("n = 1", ["parameters"]), "print(n * 10)"])
    env = {"JENKINS_KERNEL_URL": remote.url, "JENKINS_KERNEL_TOKEN": TOKEN}
    proc = jk("run", str(nb), "-p", "n", "4", "-o", "out", cwd=tmp_path, env=env)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "40\n"
    assert {p.name for p in (tmp_path / "out").iterdir()} == {
        "executed.ipynb",
        "junit.xml",
        "report.html",
        "report.css",
        "summary.json",
        "metrics.json",
        "metrics.csv",
    }


def test_client_mode_says_clearly_when_the_service_is_unreachable_or_the_token_wrong(remote, tmp_path):
    unreachable = {"JENKINS_KERNEL_URL": "http://127.0.0.1:9", "JENKINS_KERNEL_TOKEN": "x"}
    proc = jk("exec", "-c", "1", "--retry-for", "0.5", cwd=tmp_path, env=unreachable)
    assert proc.returncode == 5 and "cannot reach the jenkins-kernel service at http://127.0.0.1:9" in proc.stderr
    proc = jk("exec", "-c", "1", cwd=tmp_path, env={"JENKINS_KERNEL_URL": remote.url, "JENKINS_KERNEL_TOKEN": "wrong"})
    assert proc.returncode == 5 and "the token is not valid" in proc.stderr


def test_client_follows_through_a_service_restart_printing_nothing_twice(tmp_path):
    from jenkins_kernel.client import Client

    svc = ServiceProcess(tmp_path / "data").start()
    port = svc.port
    client = Client(svc.url, TOKEN, retry_for=60)
    run = client.start_run({"code": "import time\nfor i in range(3):\n    print(i, flush=True)\ntime.sleep(600)"})
    seen = []
    for event in client.follow(run["id"]):
        seen.append(event)
        if event["type"] == "stream" and "2" in event["data"]["text"]:
            svc.kill()
            svc = ServiceProcess(tmp_path / "data", port=port)
            svc.start()
    svc.stop()
    seqs = [e["seq"] for e in seen]
    assert seqs == list(range(1, len(seqs) + 1))
    assert seen[-1]["data"]["status"] == "lost"
    assert "".join(e["data"]["text"] for e in seen if e["type"] == "stream") == "0\n1\n2\n"


@pytest.mark.parametrize("backend", BACKENDS)
def test_sessions_beyond_the_maximum_get_429_and_idle_ones_are_culled(request, tmp_path, backend):
    settings = "max_sessions: 2\nsession_idle_timeout: 1.5\n" + backend_settings(request, backend)
    (tmp_path / "c.yaml").write_text(settings)
    svc = ServiceProcess(tmp_path / "data", "--config", str(tmp_path / "c.yaml")).start()
    try:
        first = svc.request("POST", "/api/v1/sessions", {"kernel": "python3"})[2]
        assert svc.request("POST", "/api/v1/sessions", {"kernel": "python3"})[0] == 201
        status, _, body = svc.request("POST", "/api/v1/sessions", {"kernel": "python3"})
        assert (
            status == 429 and body["error"]["code"] == "too_many_sessions" and "max_sessions" in body["error"]["hint"]
        )
        status, _, body = svc.request("POST", "/api/v1/runs", {"code": "1"})
        assert status == 429
        assert svc.request("GET", f"/api/v1/sessions/{first['id']}")[0] == 200
        _until(lambda: svc.request("GET", "/api/v1/sessions")[2]["sessions"] == [])
    finally:
        svc.stop()


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_new_session_takes_a_warm_kernel_and_a_replacement_starts(request, tmp_path, backend):
    (tmp_path / "c.yaml").write_text(backend_settings(request, backend) or "{}\n")
    svc = ServiceProcess(tmp_path / "data", "--warm", "python3=1", "--config", str(tmp_path / "c.yaml")).start()

    def warm() -> int:
        specs = svc.request("GET", "/api/v1/kernelspecs")[2]["kernelspecs"]
        return next(k["warm"] for k in specs if k["name"] == "python3")

    try:
        _until(lambda: warm() == 1)
        session = svc.request("POST", "/api/v1/sessions", {"kernel": "python3", "name": "fast"})[2]
        assert session["warm_start"] is True and session["status"] == "idle"
        assert svc.run({"code": "print('ready')", "session": session["id"]})["log"].startswith("ready")
        _until(lambda: warm() == 1)  # the replacement
        metrics = svc.request("GET", "/metrics")[2].decode()
        assert 'jenkins_kernel_warm_kernels{kernel="python3"} 1.0' in metrics
        assert 'jenkins_kernel_sessions{kernel="python3"} 1.0' in metrics
    finally:
        svc.stop()


@on_every_backend
def test_sh_steps_share_a_kernel_through_a_named_session_then_close_it(remote, tmp_path):
    env = {"JENKINS_KERNEL_URL": remote.url, "JENKINS_KERNEL_TOKEN": TOKEN}
    assert jk("exec", "--session", "jenkins-job-7", "-c", "model = 'trained'", cwd=tmp_path, env=env).returncode == 0
    proc = jk("exec", "--session", "jenkins-job-7", "-c", "print(model)", cwd=tmp_path, env=env)
    assert proc.returncode == 0 and proc.stdout == "trained\n"
    status, _, session = remote.request("DELETE", "/api/v1/sessions/jenkins-job-7")  # by name, as a post step does
    assert status == 200 and session["name"] == "jenkins-job-7"
    assert remote.request("GET", "/api/v1/sessions/jenkins-job-7")[0] == 404
    proc = jk("exec", "--session", "x", "-c", "1", cwd=tmp_path)
    assert proc.returncode == 5 and "--session needs --server" in proc.stderr


def test_reports_wait_for_busy_runs_but_come_at_once_when_asked_for_and_at_stop(tmp_path):
    """report.html is rendered after the runs executing meanwhile (a burst must not pay for
    it), yet listing the artifacts gets it at once and stopping the service writes it."""
    svc = ServiceProcess(tmp_path / "data", "--warm", "python3=1").start()
    try:
        svc.request("POST", "/api/v1/runs", {"code": "import time; time.sleep(60)", "kernel": "python3"})
        nb = make_notebook(tmp_path / "n.ipynb", ["print(1)"])
        body = {"notebook": json.loads(nb.read_text()), "notebook_name": "n.ipynb"}
        first = svc.run(body)
        asked = time.monotonic()
        names = {a["name"] for a in svc.request("GET", f"/api/v1/runs/{first['id']}/artifacts")[2]["artifacts"]}
        assert "report.html" in names and time.monotonic() - asked < 1.5
        second = svc.run(body)
    finally:
        svc.stop()
    assert (tmp_path / "data" / "runs" / second["id"] / "artifacts" / "report.html").stat().st_size > 0
