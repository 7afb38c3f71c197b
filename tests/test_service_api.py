"""The agent service over real HTTP: runs, sessions, errors, idempotency, cancel, following."""

from __future__ import annotations

import json
import shutil
import threading
import time

import pytest

from conftest import ASKS_AND_IGNORES_INTERRUPTS, INSTALLED, backend_settings, make_notebook, needs_kernel
from service import ServiceProcess

#: Tests about executing code run on both kernel backends: local processes and a Kernel Gateway.
on_every_backend = pytest.mark.backends("local", "gateway")


def pytest_generate_tests(metafunc):
    if "svc" in metafunc.fixturenames:
        marker = metafunc.definition.get_closest_marker("backends")
        metafunc.parametrize("svc", marker.args if marker else ["local"], indirect=True, scope="module")


@pytest.fixture(scope="module")
def svc(request, tmp_path_factory):
    data = tmp_path_factory.mktemp("svc")
    allowed = tmp_path_factory.mktemp("allowed")
    settings = f"max_body_bytes: 200000\nallowed_roots: [{allowed}]\n" + backend_settings(request, request.param)
    (data / "config.yaml").write_text(settings)
    service = ServiceProcess(data, "--config", str(data / "config.yaml"), "--warm", "python3=1").start()
    service.allowed = allowed
    yield service
    service.stop()


def runs_count(svc) -> int:
    return len(svc.request("GET", "/api/v1/runs?limit=1000")[2]["runs"])


@on_every_backend
def test_a_cell_runs_and_the_response_waits_for_its_result(svc):
    run = svc.run({"code": "print(1)", "kernel": "python3"})
    assert run["status"] == "succeeded" and run["exit_code"] == 0 and run["jenkins_result"] == "SUCCESS"
    assert run["log"].startswith("1\n")
    assert run["token_name"] == "env"


@on_every_backend
def test_two_runs_with_one_session_name_share_state(svc):
    first = svc.run({"code": "x = 41", "session_name": "build-tag-1"})
    second = svc.run({"code": "print(x + 1)", "session_name": "build-tag-1"})
    assert second["log"].startswith("42\n")
    assert first["session_id"] == second["session_id"]
    other = svc.run({"code": "print('x' in dir())", "session_name": "build-tag-2"})
    assert other["log"].startswith("False\n")


def test_health_needs_no_token_but_everything_else_does(svc):
    assert svc.request("GET", "/api/v1/health", token=None)[0] == 200
    status, headers, body = svc.request("GET", "/api/v1/runs", token=None)
    assert status == 401 and body["error"]["code"] == "missing_token" and "Bearer" in headers["WWW-Authenticate"]
    status, _, body = svc.request("GET", "/api/v1/runs", token="wrong")
    assert status == 401 and body["error"]["code"] == "bad_token"
    assert svc.request("GET", "/metrics", token=None)[0] == 401


@pytest.mark.parametrize(
    ("body", "status", "code", "words"),
    [
        (b"{not json", 400, "invalid_json", "not valid JSON"),
        ({}, 400, "code_or_notebook", "neither code nor notebook"),
        ({"code": "1", "notebook": {}}, 400, "code_or_notebook", "both code and notebook"),
        ({"code": "1", "kernel": "cobol"}, 400, "unknown_kernel", "python3"),
        ({"code": "1", "session": "nope"}, 404, "unknown_session", "no live session"),
        (
            {"notebook": {"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": [{"cell_type": "code"}]}},
            400,
            "invalid_notebook",
            "not a valid notebook",
        ),
        ({"code": "1", "timeout": -1}, 400, "bad_timeout", "timeout: must be above 0"),
        ({"code": "1", "timeout": "soon"}, 400, "bad_timeout", "timeout: must be a number"),
        ({"code": "1", "cwd": "/etc"}, 403, "path_forbidden", "outside the allowed roots"),
        ({"code": "1", "timout": 3}, 400, "unknown_field", "timout"),
        ({"code": "x" * 300_000}, 413, "body_too_large", "larger than"),
    ],
)
def test_bad_requests_get_a_json_error_and_leave_no_run_behind(svc, body, status, code, words):
    before = runs_count(svc)
    raw = body if isinstance(body, bytes) else None
    got, headers, answer = svc.request("POST", "/api/v1/runs", None if raw else body, raw=raw)
    assert (got, answer["error"]["code"]) == (status, code), answer
    assert words in answer["error"]["message"] + answer["error"].get("hint", "")
    assert headers["Content-Type"].startswith("application/json")
    assert runs_count(svc) == before


def test_unknown_runs_sessions_and_routes_are_json_404s(svc):
    for path in ("/api/v1/runs/nope", "/api/v1/runs/nope/log", "/api/v1/sessions/nope", "/api/v1/nowhere"):
        status, _, body = svc.request("GET", path)
        assert status == 404 and "error" in body, path
    status, _, body = svc.request("DELETE", "/api/v1/runs")
    assert status == 405 and body["error"]["code"] == "method_not_allowed"


def test_cwd_inside_an_allowed_root_is_used(svc):
    (svc.allowed / "data.txt").write_text("hello")
    run = svc.run({"code": "print(open('data.txt').read())", "cwd": str(svc.allowed)})
    assert run["exit_code"] == 0 and run["log"].startswith("hello")


def test_following_the_log_reassembles_it_exactly(svc):
    code = "import time, sys\nfor i in range(10):\n    print(f'line {i}', flush=True)\n    time.sleep(0.5)\n"
    _, _, run = svc.request("POST", "/api/v1/runs", {"code": code})
    start, pieces, answers = 0, [], 0
    while True:
        status, headers, text = svc.request("GET", f"/api/v1/runs/{run['id']}/log?start={start}&wait=10")
        assert status == 200
        answers += 1
        pieces.append(text)
        start = int(headers["X-Text-Size"])
        if headers.get("X-More-Data") != "true":
            break
    final = svc.request("GET", f"/api/v1/runs/{run['id']}/log")
    assert b"".join(pieces) == final[2] and answers > 3
    assert "X-More-Data" not in final[1]
    assert final[2].decode().splitlines()[:10] == [f"line {i}" for i in range(10)]
    past = svc.request("GET", f"/api/v1/runs/{run['id']}/log?start={start + 1000}")
    assert past[2] == final[2]  # a start past the end starts again from 0


@on_every_backend
def test_events_have_no_gaps_and_long_poll(svc):
    _, _, run = svc.request("POST", "/api/v1/runs", {"code": "import time; time.sleep(0.5); print('late')"})
    started = time.monotonic()
    _, _, page = svc.request("GET", f"/api/v1/runs/{run['id']}/events?after=100&wait=20")
    assert page["events"] == [] and not page["more"] and time.monotonic() - started < 15
    _, _, page = svc.request("GET", f"/api/v1/runs/{run['id']}/events")
    seqs = [e["seq"] for e in page["events"]]
    assert seqs == list(range(1, len(seqs) + 1))
    assert [e["type"] for e in page["events"]][:2] == ["status", "status"]
    assert page["events"][2]["data"] == {"name": "stdout", "text": "late\n"}


@on_every_backend
def test_server_sent_events_stream_every_event_then_end(svc):
    run = svc.run({"code": "print('a'); print('b')"})
    status, headers, body = svc.request("GET", f"/api/v1/runs/{run['id']}/stream")
    assert status == 200 and headers["Content-Type"].startswith("text/event-stream")
    blocks = [b for b in body.decode().split("\n\n") if b]
    ids = [int(line[4:]) for b in blocks for line in b.splitlines() if line.startswith("id: ")]
    assert ids == list(range(1, run["last_seq"] + 1))
    assert blocks[-1].startswith("event: end")


def test_the_same_post_with_one_idempotency_key_runs_once(svc, tmp_path):
    marker = svc.allowed / "lines.txt"
    body = {"code": f"open({str(marker)!r}, 'a').write('ran\\n')"}
    key = {"Idempotency-Key": "build-7-step-3"}
    first_status, _, first = svc.request("POST", "/api/v1/runs?wait=30", body, headers=key)
    second_status, second_headers, second = svc.request("POST", "/api/v1/runs?wait=30", body, headers=key)
    assert (first_status, second_status) == (201, 200)
    assert first["id"] == second["id"] and second_headers["Idempotent-Replayed"] == "true"
    assert marker.read_text() == "ran\n"


@on_every_backend
def test_cancel_interrupts_within_two_seconds_and_the_session_stays_usable(svc):
    _, _, run = svc.request(
        "POST", "/api/v1/runs", {"code": "import time; time.sleep(600)", "session_name": "cancel-me"}
    )
    _, _, page = svc.request("GET", f"/api/v1/runs/{run['id']}/events?after=1&wait=30")  # running
    asked = time.monotonic()
    status, _, _ = svc.request("POST", f"/api/v1/runs/{run['id']}/cancel")
    assert status == 202
    _, _, page = svc.request("GET", f"/api/v1/runs/{run['id']}/events?after=0&wait=0")
    while page["more"]:
        _, _, page = svc.request("GET", f"/api/v1/runs/{run['id']}/events?after={page['last_seq']}&wait=5")
    assert time.monotonic() - asked < 2, svc.request("GET", f"/api/v1/runs/{run['id']}/events")[2]
    done = svc.request("GET", f"/api/v1/runs/{run['id']}")[2]
    assert done["status"] == "cancelled" and done["exit_code"] == 4 and done["jenkins_result"] == "ABORTED"
    after = svc.run({"code": "print('still here')", "session_name": "cancel-me"})
    assert after["exit_code"] == 0 and after["log"].startswith("still here")
    assert svc.request("POST", f"/api/v1/runs/{run['id']}/cancel")[0] == 409


def test_a_cell_blocked_on_input_is_stopped_and_its_session_restarted(svc):
    run = svc.run({"code": ASKS_AND_IGNORES_INTERRUPTS, "session_name": "asks"})
    assert run["status"] == "failed" and run["exit_code"] == 1
    assert "did not stop when interrupted, so it was restarted" in run["log"]
    after = svc.run({"code": "print('fresh')", "session_name": "asks"})
    assert after["exit_code"] == 0 and after["log"].startswith("fresh")


def test_a_session_whose_folder_was_removed_restarts_in_a_new_one(svc):
    status, _, session = svc.request("POST", "/api/v1/sessions", {"name": "folder-gone"})
    assert status == 201
    svc.run({"code": "print(1)", "session": session["id"]})  # ready
    shutil.rmtree(session["cwd"])
    status, _, restarted = svc.request("POST", f"/api/v1/sessions/{session['id']}/restart")
    assert status == 200 and restarted["status"] == "idle", restarted
    after = svc.run({"code": "import os; print(os.getcwd())", "session": session["id"]})
    assert after["exit_code"] == 0 and after["log"].startswith(session["cwd"])


@on_every_backend
def test_a_notebook_run_keeps_its_reports_and_input_as_artifacts(svc, tmp_path):
    nb = make_notebook(tmp_path / "n.ipynb", [("alpha = 1", ["parameters"]), "print(alpha * 2)", "1/0", "print('no')"])
    body = {"notebook": json.loads(nb.read_text()), "notebook_name": "n.ipynb", "parameters": {"alpha": 21},
            "jenkins": {"job_name": "ml/train", "build_number": "7", "git_commit": "abc123"}}  # fmt: skip
    run = svc.run(body)
    assert run["exit_code"] == 1 and "42" in run["log"] and "cell 4/5: ZeroDivisionError" in run["message"]
    assert run["jenkins"] == {"job_name": "ml/train", "build_number": "7", "git_commit": "abc123"}
    assert run["parameters"] == {"alpha": 21} and run["kernel_info"]["language"] == "python"
    names = {a["name"] for a in svc.request("GET", f"/api/v1/runs/{run['id']}/artifacts")[2]["artifacts"]}
    assert {"executed.ipynb", "junit.xml", "report.html", "summary.json", "input.ipynb"} <= names
    status, _, junit = svc.request("GET", f"/api/v1/runs/{run['id']}/artifacts/junit.xml")
    assert status == 200 and b'failures="1"' in junit
    assert svc.request("GET", f"/api/v1/runs/{run['id']}/artifacts/../../token")[0] == 404
    listed = svc.request("GET", "/api/v1/runs?job=ml/train")[2]["runs"]
    assert [r["id"] for r in listed] == [run["id"]]


@on_every_backend
def test_sessions_can_be_created_listed_restarted_and_deleted(svc):
    status, _, session = svc.request("POST", "/api/v1/sessions", {"kernel": "python3", "name": "manual"})
    assert status == 201 and session["name"] == "manual"
    svc.run({"code": "y = 1", "session": session["id"]})
    sessions = svc.request("GET", "/api/v1/sessions")[2]["sessions"]
    assert session["id"] in [s["id"] for s in sessions]
    assert svc.request("POST", f"/api/v1/sessions/{session['id']}/restart")[0] == 200
    run = svc.run({"code": "print('y' in dir())", "session": session["id"]})
    assert run["log"].startswith("False")
    assert svc.request("DELETE", f"/api/v1/sessions/{session['id']}")[0] == 200
    assert svc.request("GET", f"/api/v1/sessions/{session['id']}")[0] == 404


@on_every_backend
def test_a_new_session_takes_a_warm_kernel(svc):
    specs = svc.request("GET", "/api/v1/kernelspecs")[2]["kernelspecs"]
    assert next(k for k in specs if k["name"] == "python3")["warm"] >= 0
    status, _, session = svc.request("POST", "/api/v1/sessions", {"kernel": "python3"})
    assert status == 201
    svc.request("DELETE", f"/api/v1/sessions/{session['id']}")


def test_mutating_requests_are_audited_with_the_token_name(svc):
    svc.request("POST", "/api/v1/runs", {"code": "1", "kernel": "cobol"})
    import sqlite3

    rows = (
        sqlite3.connect(svc.data_dir / "jenkins-kernel.sqlite3")
        .execute("SELECT token_name, action, outcome FROM audit ORDER BY id DESC LIMIT 50")
        .fetchall()
    )
    assert ("env", "POST /api/v1/runs", "400") in rows
    assert ("env", "POST /api/v1/runs", "201") in rows


def test_metrics_are_prometheus_text(svc):
    svc.run({"code": "print(1)"})
    status, _, text = svc.request("GET", "/metrics")
    text = text.decode()
    assert status == 200
    assert 'jenkins_kernel_runs_total{status="succeeded"}' in text
    assert "jenkins_kernel_run_duration_seconds_bucket" in text
    assert "jenkins_kernel_events_written_total" in text
    assert "jenkins_kernel_warm_kernels" in text and "jenkins_kernel_sessions" in text


@pytest.mark.skipif("bash" not in INSTALLED, reason="the bash kernel is not installed (run `make kernels`)")
def test_16_concurrent_runs_on_16_sessions_all_end_right(svc):
    results: dict[int, dict] = {}

    def one(i: int) -> None:
        kernel = "python3" if i % 2 else "bash"
        code = f"print('run {i}')" if kernel == "python3" else f"echo run {i}"
        results[i] = svc.run({"code": code, "kernel": kernel, "session_name": f"c-{i}"}, wait=120)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=180)
    assert len(results) == 16
    for i, run in results.items():
        assert run["exit_code"] == 0 and run["log"].startswith(f"run {i}\n"), run
        events = svc.request("GET", f"/api/v1/runs/{run['id']}/events")[2]["events"]
        assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
    for i in range(16):
        sid = results[i]["session_id"]
        svc.request("DELETE", f"/api/v1/sessions/{sid}")


@needs_kernel("python3")
def test_openapi_documents_every_route_and_only_routes(svc):
    from jenkins_kernel.server.api import openapi_document
    from jenkins_kernel.server.app import create_app

    class Fake:
        class settings:
            max_body_bytes = 1
            tokens = {}

    app = create_app(Fake(), no_auth=True)  # type: ignore[arg-type]
    routes = set()
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static":
            continue
        path = rule.rule.replace("<path:", "{").replace("<", "{").replace(">", "}")
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            routes.add((method.lower(), path))
    served = svc.request("GET", "/api/v1/openapi.json", token=None)[2]
    assert served == openapi_document()
    documented = {(m, p) for p, ops in served["paths"].items() for m in ops if m != "parameters"}
    assert routes == documented


def test_an_idempotency_key_reused_for_another_request_is_refused(svc):
    key = {"Idempotency-Key": "step-42"}
    assert svc.request("POST", "/api/v1/runs", {"code": "print(1)"}, headers=key)[0] == 201
    status, _, body = svc.request("POST", "/api/v1/runs", {"code": "print(2)"}, headers=key)
    assert status == 422 and body["error"]["code"] == "idempotency_key_reused"


@pytest.mark.skipif("bash" not in INSTALLED, reason="the bash kernel is not installed (run `make kernels`)")
def test_a_notebook_for_another_kernel_than_its_session_is_refused(svc, tmp_path):
    svc.run({"code": "x = 1", "session_name": "py-session"})
    nb = make_notebook(tmp_path / "b.ipynb", ["echo hi"], kernel="bash")
    status, _, body = svc.request(
        "POST", "/api/v1/runs", {"notebook": json.loads(nb.read_text()), "session_name": "py-session"}
    )
    assert status == 409 and body["error"]["code"] == "session_kernel_mismatch"
    assert "runs the python3 kernel, not bash" in body["error"]["message"]


def test_cancelling_a_run_that_waits_for_its_kernel_leaves_the_session_usable(svc):
    _, _, session = svc.request("POST", "/api/v1/sessions", {"kernel": "bash", "env": {"COLD": "1"}})  # not warm
    _, _, run = svc.request("POST", "/api/v1/runs", {"code": "echo 1", "session": session["id"]})
    svc.request("POST", f"/api/v1/runs/{run['id']}/cancel")
    after = svc.run({"code": "echo $COLD", "session": session["id"]})
    assert after["exit_code"] == 0 and after["log"].startswith("1\n")
    first = svc.request("GET", f"/api/v1/runs/{run['id']}")[2]
    assert first["status"] in ("cancelled", "succeeded")
    svc.request("DELETE", f"/api/v1/sessions/{session['id']}")


def test_a_flood_arrives_in_bounded_messages_in_the_order_it_was_written(svc):
    """One print of 3 MB reaches the service as messages of at most 1 MiB (the service holds
    one at a time, not the whole flood), and stdout and stderr keep their order."""
    code = "import sys\nprint('a' * 3_000_000)\nsys.stderr.write('b' * 2_500_000)\nprint('end')"
    run = svc.run({"code": code, "kernel": "python3"})
    assert run["status"] == "succeeded", run["message"]
    _, _, answer = svc.request("GET", f"/api/v1/runs/{run['id']}/events?limit=1000")
    streams = [e["data"] for e in answer["events"] if e["type"] == "stream"]
    assert max(len(s["text"]) for s in streams) <= 1 << 20
    merged: list[list[str]] = []
    for s in streams:
        if merged and merged[-1][0] == s["name"]:
            merged[-1][1] += s["text"]
        else:
            merged.append([s["name"], s["text"]])
    assert merged == [["stdout", "a" * 3_000_000 + "\n"], ["stderr", "b" * 2_500_000], ["stdout", "end\n"]]


def test_a_waited_answer_carries_the_end_of_a_long_log(svc):
    code = "for i in range(3000):\n    print(f'{i:04d} ' + 'x' * 995)\nprint('the end')"
    run = svc.run({"code": code, "kernel": "python3"})
    assert len(run["log"].encode()) <= 1 << 20 and run["log_start"] > 0
    assert run["log"].split(" ")[0].isdigit() and "the end\n[jenkins-kernel] succeeded" in run["log"]
    _, _, whole = svc.request("GET", f"/api/v1/runs/{run['id']}/log")
    assert whole[run["log_start"] :].decode() == run["log"] and whole.startswith(b"0000 x")
    short = svc.run({"code": "print('short')", "kernel": "python3"})
    assert short["log"].startswith("short\n") and short["log_start"] == 0
