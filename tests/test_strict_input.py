"""Strict input: a table of bad requests, each a 4xx JSON error, and nothing left behind.

One fresh service answers them all; afterwards it has no run, no session, no run folder
and no scratch folder, and it never answered 500.
"""

from __future__ import annotations

import json

import pytest

from service import ServiceProcess

NB = {
    "nbformat": 4,
    "nbformat_minor": 5,
    "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}},
    "cells": [{"cell_type": "code", "id": "c1", "metadata": {}, "execution_count": None, "outputs": [], "source": "1"}],
}


def _json(**fields: object) -> bytes:
    return json.dumps(fields).encode()


def _raw(text: str) -> bytes:
    return text.encode("utf-8", "surrogatepass")


# (method, path, body: dict | bytes | None, headers)
BAD = [
    ("POST", "/api/v1/runs", b"", {}),
    ("POST", "/api/v1/runs", b"   ", {}),
    ("POST", "/api/v1/runs", b"not json", {}),
    ("POST", "/api/v1/runs", b"\xff\xfe{}", {}),
    ("POST", "/api/v1/runs", b"[1, 2]", {}),
    ("POST", "/api/v1/runs", b"null", {}),
    ("POST", "/api/v1/runs", b'"print(1)"', {}),
    ("POST", "/api/v1/runs", _raw('{"code": "\\ud800"}'), {}),
    ("POST", "/api/v1/runs", _raw('{"code": "1", "session_name": "\\udc80"}'), {}),
    ("POST", "/api/v1/runs", _raw('{"code": "1", "kernel": "python3\\udfff"}'), {}),
    ("POST", "/api/v1/runs", b"[" * 1000 + b"]" * 1000, {}),
    ("POST", "/api/v1/runs", b'{"code": "1", "x": ' + b"[" * 5000 + b"]" * 5000 + b"}", {}),
    ("POST", "/api/v1/runs", b'{"code": "1", "timeout": NaN}', {}),
    ("POST", "/api/v1/runs", b'{"code": "1", "timeout": Infinity}', {}),
    ("POST", "/api/v1/runs", b'{"code": "1", "timeout": -Infinity}', {}),
    ("POST", "/api/v1/runs", b'{"code": "1", "timeout": 1e400}', {}),
    ("POST", "/api/v1/runs", b'{"code": "1", "timeout": ' + b"9" * 5000 + b"}", {}),
    ("POST", "/api/v1/runs", _json(code="1", timeout=-1), {}),
    ("POST", "/api/v1/runs", _json(code="1", timeout=0), {}),
    ("POST", "/api/v1/runs", _json(code="1", timeout="10"), {}),
    ("POST", "/api/v1/runs", _json(code="1", timeout=True), {}),
    ("POST", "/api/v1/runs", _json(code="1", timeout=10**30), {}),
    ("POST", "/api/v1/runs", _json(code="1", kernel=["python3"]), {}),
    ("POST", "/api/v1/runs", _json(code="1", kernel=""), {}),
    ("POST", "/api/v1/runs", _json(code="1", kernel="../../bin/sh"), {}),
    ("POST", "/api/v1/runs", _json(code="1", kernel="no-such-kernel"), {}),
    ("POST", "/api/v1/runs", _json(code="1", cwd=5), {}),
    ("POST", "/api/v1/runs", _json(code="1", cwd="relative/path"), {}),
    ("POST", "/api/v1/runs", _json(code="1", cwd="/etc"), {}),
    ("POST", "/api/v1/runs", _json(code="1", cwd="/tmp/x\x00y"), {}),
    ("POST", "/api/v1/runs", _json(code="1", allow_errors="false"), {}),
    ("POST", "/api/v1/runs", _json(code="1", allow_errors=0), {}),
    ("POST", "/api/v1/runs", _json(code="1", session_name={"a": 1}), {}),
    ("POST", "/api/v1/runs", _json(code="1", session_name=5), {}),
    ("POST", "/api/v1/runs", _json(code="1", session_name=""), {}),
    ("POST", "/api/v1/runs", _json(code="1", session_name="a/b"), {}),
    ("POST", "/api/v1/runs", _json(code="1", session_name="x" * 201), {}),
    ("POST", "/api/v1/runs", _json(code="1", session_name="a\nb"), {}),
    ("POST", "/api/v1/runs", _json(code="1", session="no-such-session"), {}),
    ("POST", "/api/v1/runs", _json(code="1", session="a", session_name="b"), {}),
    ("POST", "/api/v1/runs", _json(code=5), {}),
    ("POST", "/api/v1/runs", _json(code=["print(1)"]), {}),
    ("POST", "/api/v1/runs", _json(), {}),
    ("POST", "/api/v1/runs", _json(kernel="python3"), {}),
    ("POST", "/api/v1/runs", _json(code="1", notebook=NB), {}),
    ("POST", "/api/v1/runs", _json(code="1", extra=1), {}),
    ("POST", "/api/v1/runs", _json(code="1", env={"A": 5}), {}),
    ("POST", "/api/v1/runs", _json(code="1", env=["A=1"]), {}),
    ("POST", "/api/v1/runs", _json(code="1", env={"A B": "1"}), {}),
    ("POST", "/api/v1/runs", _json(code="1", env={"A": "x\x00y"}), {}),
    ("POST", "/api/v1/runs", _raw('{"code": "1", "env": {"A": "\\ud800"}}'), {}),
    ("POST", "/api/v1/runs", _json(code="1", parameters={"a": 1}), {}),
    ("POST", "/api/v1/runs", _json(notebook=NB, parameters={"whoami\n": 1}), {}),
    ("POST", "/api/v1/runs", _json(notebook=NB, parameters={"x": "a\x00b"}), {}),
    ("POST", "/api/v1/runs", _json(notebook=NB, parameters=[1]), {}),
    ("POST", "/api/v1/runs", _json(notebook=5), {}),
    ("POST", "/api/v1/runs", _json(notebook="not json"), {}),
    ("POST", "/api/v1/runs", _json(notebook={"cells": "x"}), {}),
    ("POST", "/api/v1/runs", _json(notebook=NB, notebook_name="../x.ipynb"), {}),
    ("POST", "/api/v1/runs", _json(notebook=NB, notebook_name=".hidden"), {}),
    ("POST", "/api/v1/runs", _json(notebook=NB, notebook_name=7), {}),
    ("POST", "/api/v1/runs", _json(notebook=NB, cell_timeout="nan"), {}),
    ("POST", "/api/v1/runs", _json(notebook=NB, cell_timeout=-5), {}),
    ("POST", "/api/v1/runs", _json(code="1", jenkins="job"), {}),
    ("POST", "/api/v1/runs", _json(code="1", jenkins={"build_number": "abc"}), {}),
    ("POST", "/api/v1/runs", _json(code="1", jenkins={"unknown": 1}), {}),
    ("POST", "/api/v1/runs", _json(code="1", jenkins={"job_name": 5}), {}),
    ("POST", "/api/v1/runs?wait=nan", _json(code="1"), {}),
    ("POST", "/api/v1/runs?wait=inf", _json(code="1"), {}),
    ("POST", "/api/v1/runs?wait=1e400", _json(code="1"), {}),
    ("POST", "/api/v1/runs?wait=301", _json(code="1"), {}),
    ("POST", "/api/v1/runs?wait=-1", _json(code="1"), {}),
    ("POST", "/api/v1/runs?wait=soon", _json(code="1"), {}),
    ("POST", "/api/v1/runs", _json(code="1"), {"Idempotency-Key": "k" * 201}),
    ("POST", "/api/v1/runs", _json(code="1"), {"Idempotency-Key": "a b"}),
    ("GET", "/api/v1/runs?limit=nan", None, {}),
    ("GET", "/api/v1/runs?limit=1001", None, {}),
    ("GET", "/api/v1/runs?limit=0", None, {}),
    ("GET", "/api/v1/runs?limit=1e400", None, {}),
    ("GET", "/api/v1/runs?limit=99999999999999999999999", None, {}),
    ("GET", "/api/v1/runs?limit=ten", None, {}),
    ("GET", "/api/v1/runs?limit=1.5", None, {}),
    ("GET", "/api/v1/runs?before=inf", None, {}),
    ("GET", "/api/v1/runs?before=nan", None, {}),
    ("GET", "/api/v1/runs?status=bogus", None, {}),
    ("GET", "/api/v1/runs?kernel=a%2Fb", None, {}),
    ("GET", "/api/v1/runs/x/events?after=nan", None, {}),
    ("GET", "/api/v1/runs/x/events?after=-1", None, {}),
    ("GET", "/api/v1/runs/x/events?wait=inf", None, {}),
    ("GET", "/api/v1/runs/x/events?limit=0", None, {}),
    ("GET", "/api/v1/runs/x/events?after=1e400", None, {}),
    ("GET", "/api/v1/runs/x/log?start=-1", None, {}),
    ("GET", "/api/v1/runs/x/log?start=1e400", None, {}),
    ("GET", "/api/v1/runs/x/log?start=abc", None, {}),
    ("GET", "/api/v1/runs/x/log?wait=NaN", None, {}),
    ("GET", "/api/v1/runs/x/stream", None, {"Last-Event-ID": "abc"}),
    ("GET", "/api/v1/runs/x/stream", None, {"Last-Event-ID": "nan"}),
    ("GET", "/api/v1/runs/x/stream?after=-1", None, {"Last-Event-ID": "3"}),
    ("GET", "/api/v1/runs/x/stream?after=inf", None, {}),
    ("GET", "/api/v1/runs/x/stream?after=1000000000000000000", None, {}),
    ("GET", "/api/v1/environments/no-such-kernel", None, {}),
    ("GET", "/api/v1/metrics?limit=0", None, {}),
    ("GET", "/api/v1/metrics?limit=nan", None, {}),
    ("GET", "/api/v1/runs/no-such-run", None, {}),
    ("GET", "/api/v1/runs/no-such-run/artifacts/../../token", None, {}),
    ("POST", "/api/v1/sessions", _json(kernel=["python3"]), {}),
    ("POST", "/api/v1/sessions", _json(cwd=5), {}),
    ("POST", "/api/v1/sessions", _json(name={"a": 1}), {}),
    ("POST", "/api/v1/sessions", _json(name=5), {}),
    ("POST", "/api/v1/sessions", _json(env={"A": 1}), {}),
    ("POST", "/api/v1/sessions", _json(extra=1), {}),
    ("POST", "/api/v1/sessions", b"[]", {}),
    ("POST", "/api/v1/sessions", _json(kernel="nope"), {}),
    ("POST", "/api/v1/sessions", _json(cwd="/etc"), {}),
    ("POST", "/api/v1/sessions", b'{"kernel": "python3", "name": "\\udc80"}', {}),
    ("DELETE", "/api/v1/sessions/no-such-session", None, {}),
    ("POST", "/api/v1/runs/no-such-run/cancel", None, {}),
    ("PUT", "/api/v1/runs", _json(code="1"), {}),
    ("DELETE", "/api/v1/runs", None, {}),
]


@pytest.fixture(scope="module")
def fresh(tmp_path_factory):
    svc = ServiceProcess(tmp_path_factory.mktemp("strict") / "data").start()
    yield svc
    svc.stop()


def test_a_table_of_bad_requests_gets_4xx_json_and_leaves_nothing_behind(fresh):
    assert len(BAD) >= 80
    wrong = []
    for method, path, body, headers in BAD:
        status, hdrs, payload = fresh.request(method, path, raw=body, headers=headers)
        ok = 400 <= status < 500 and isinstance(payload, dict) and payload.get("error", {}).get("code")
        if status == 405 and not hdrs.get("Allow"):
            ok = False
        if not ok:
            wrong.append((method, path, (body or b"")[:80], status, payload if isinstance(payload, dict) else ""))
    assert not wrong, "\n".join(map(repr, wrong))
    assert fresh.request("GET", "/api/v1/runs")[2]["runs"] == []
    assert fresh.request("GET", "/api/v1/sessions")[2]["sessions"] == []
    assert not (fresh.data_dir / "runs").exists() or not any((fresh.data_dir / "runs").iterdir())
    sessions_dir = fresh.data_dir.with_name(fresh.data_dir.name + "-sessions")
    assert not any(sessions_dir.iterdir())
    assert not any(" 500 " in line or "Traceback" in line for line in fresh.lines), "".join(fresh.lines)


def test_bad_fields_are_named_in_the_error(fresh):
    cases = {
        "timeout": _json(code="1", timeout=-1),
        "allow_errors": _json(code="1", allow_errors="false"),
        "session_name": _raw('{"code": "1", "session_name": "\\udc80"}'),
        "env.A": _json(code="1", env={"A": 5}),
        "kernel": _json(code="1", kernel=["python3"]),
    }
    for field, body in cases.items():
        status, _, payload = fresh.request("POST", "/api/v1/runs", raw=body)
        assert status == 400 and payload["error"]["field"] == field, payload
        assert payload["error"]["message"].startswith(field + ":")
    status, _, payload = fresh.request("GET", "/api/v1/runs?limit=nan")
    assert status == 400 and payload["error"]["field"] == "limit"
