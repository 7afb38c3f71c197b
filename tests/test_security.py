"""Secrets out of reach: what a cell (or a web page, or another user) can and cannot get.

One service started the way an operator would (token in JENKINS_KERNEL_TOKEN and, against
advice, another on the command line; a cloud key in its environment; a kernel_env
setting), one more with --no-auth.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from jenkins_kernel.server.artifact_files import index_files, open_artifact

from conftest import needs_kernel
from service import TOKEN, ServiceProcess

CLI_TOKEN = "cli-token-visible-in-ps-0123"
CLOUD_KEY = "AKIA-cloud-secret-0123456789"


@pytest.fixture(scope="module")
def svc(tmp_path_factory):
    root = tmp_path_factory.mktemp("security")
    config = root / "config.yaml"
    config.write_text("kernel_env: {FROM_SETTINGS: settings-value}\n")
    os.environ["AWS_SECRET_ACCESS_KEY"] = CLOUD_KEY
    try:
        service = ServiceProcess(root / "data", "--token", CLI_TOKEN, "--config", str(config)).start()
    finally:
        del os.environ["AWS_SECRET_ACCESS_KEY"]
    yield service
    service.stop()


def _printed(svc: ServiceProcess, code: str, **fields: object) -> str:
    run = svc.run({"code": code, **fields})
    assert run["exit_code"] == 0, run["log"]
    return run["log"]


def test_kernels_get_the_allowlist_plus_settings_and_request_env_and_never_a_secret(svc):
    code = "import json, os; print(json.dumps(dict(os.environ)))"
    log = _printed(svc, code, env={"FROM_REQUEST": "request-value"})
    env = __import__("json").loads(next(line for line in log.splitlines() if line.startswith("{")))
    assert env["FROM_SETTINGS"] == "settings-value" and env["FROM_REQUEST"] == "request-value"
    assert "PATH" in env
    assert "AWS_SECRET_ACCESS_KEY" not in env and "JENKINS_KERNEL_TOKEN" not in env
    assert CLOUD_KEY not in log and TOKEN not in log and CLI_TOKEN not in log


def test_the_service_holds_no_token_in_its_command_line_or_initial_environment(svc):
    pid = svc.proc.pid  # the same process: it replaced its own image without the tokens
    for what in ("cmdline", "environ"):
        data = Path(f"/proc/{pid}/{what}").read_bytes()
        assert TOKEN.encode() not in data and CLI_TOKEN.encode() not in data, what
    assert svc.request("GET", "/api/v1/runs", token=CLI_TOKEN)[0] == 200  # both still accepted
    assert svc.request("GET", "/api/v1/runs", token=TOKEN)[0] == 200
    assert any("--token is visible" in line for line in svc.lines)


def test_a_cell_finds_neither_the_database_nor_the_token_by_relative_paths(svc):
    code = (
        "import os, pathlib\n"
        "here = pathlib.Path.cwd()\n"
        "found = [str(p) for d in [here, *here.parents] for p in d.glob('*')"
        " if p.name in ('token', 'jenkins-kernel.sqlite3')]\n"
        "print('FOUND', found)"
    )
    assert "FOUND []" in _printed(svc, code)


def test_the_data_dir_is_private_and_every_file_in_it_is_0600(svc):
    _printed(svc, "print('write something')")
    data = svc.data_dir
    assert stat.S_IMODE(data.stat().st_mode) == 0o700
    for path in data.rglob("*"):
        mode = stat.S_IMODE(path.lstat().st_mode)
        assert mode & 0o077 == 0, f"{path} is {oct(mode)}"


def test_symlinks_planted_in_a_run_folder_are_neither_indexed_nor_served(svc, tmp_path):
    token_file = tmp_path / "token-like"
    token_file.write_text("secret-in-a-file")
    marker = "plant-links-here-7f3a"
    code = (
        "import os, glob\n"
        f"for nb in glob.glob({str(svc.data_dir)!r} + '/runs/*/artifacts/input.ipynb'):\n"
        f"    if {marker!r} in open(nb).read():\n"
        "        d = os.path.dirname(nb)\n"
        "        os.symlink('/etc/passwd', d + '/passwd.txt')\n"
        f"        os.symlink({str(token_file)!r}, d + '/token.txt')\n"
        "        os.symlink('/etc', d + '/etcdir')\n"
        "        os.link(nb, d + '/hard.txt') if False else None\n"
        "        print('PLANTED')\n"
    )
    nb = {
        "nbformat": 4,
        "nbformat_minor": 5,
        "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}},
        "cells": [
            {"cell_type": "code", "id": "a", "metadata": {}, "execution_count": None, "outputs": [], "source": code},
            {"cell_type": "markdown", "id": "b", "metadata": {}, "source": marker},
        ],
    }
    run = svc.run({"notebook": nb})
    assert run["exit_code"] == 0 and "PLANTED" in run["log"], run["log"]
    base = f"/api/v1/runs/{run['id']}/artifacts"
    names = [a["name"] for a in svc.request("GET", base)[2]["artifacts"]]
    assert "executed.ipynb" in names
    assert not {"passwd.txt", "token.txt"} & set(names) and not any(n.startswith("etcdir") for n in names)
    for name in ("passwd.txt", "token.txt", "etcdir/passwd", "../../../../etc/passwd"):
        status, _, payload = svc.request("GET", f"{base}/{name}")
        assert status == 404, (name, payload)


def test_an_artifact_swapped_for_a_link_after_indexing_is_refused(tmp_path):
    folder = tmp_path / "artifacts"
    (folder / "images").mkdir(parents=True)
    (folder / "images" / "a.png").write_bytes(b"png")
    (folder / "ok.txt").write_text("ok")
    outside = tmp_path / "outside.txt"
    outside.write_text("secret")
    os.symlink(outside, folder / "link.txt")
    os.mkfifo(folder / "fifo")
    assert [n for n, _, _ in index_files(folder)] == ["images/a.png", "ok.txt"]
    (folder / "ok.txt").unlink()
    os.symlink(outside, folder / "ok.txt")
    (folder / "images" / "a.png").unlink()
    (folder / "images").rmdir()
    os.symlink(tmp_path, folder / "images")
    for name in ("ok.txt", "images/outside.txt", "link.txt", "fifo", "../outside.txt"):
        assert open_artifact(folder, name) is None, name


@pytest.fixture(scope="module")
def open_svc(tmp_path_factory):
    service = ServiceProcess(tmp_path_factory.mktemp("noauth") / "data", "--no-auth").start()
    yield service
    service.stop()


def test_without_auth_web_pages_and_foreign_hosts_are_refused(open_svc):
    body = b"{\"code\": \"open('pwned', 'w')\"}"
    cases = [
        ({"Content-Type": "text/plain"}, 415),
        ({"Content-Type": "application/x-www-form-urlencoded"}, 415),
        ({"Content-Type": "application/json", "Origin": "https://evil.example"}, 403),
        ({"Content-Type": "application/json", "Origin": "null"}, 403),
        ({"Content-Type": "application/json", "Host": "evil.example:8765"}, 403),
        ({"Content-Type": "application/json", "Host": "127.0.0.1.evil.example"}, 403),
    ]
    for headers, expected in cases:
        status, _, payload = open_svc.request("POST", "/api/v1/runs", raw=body, headers=headers, token=None)
        assert status == expected and payload["error"]["code"], (headers, status, payload)
    status, _, _ = open_svc.request("GET", "/api/v1/runs", token=None, headers={"Origin": "https://evil.example"})
    assert status == 403
    assert open_svc.request("GET", "/api/v1/runs", token=None)[2]["runs"] == []
    ok = open_svc.request(
        "POST",
        "/api/v1/runs?wait=60",
        raw=b'{"code": "print(6 * 7)"}',
        headers={"Content-Type": "application/json", "Origin": f"http://localhost:{open_svc.port}"},
        token=None,
    )
    assert ok[0] == 201 and ok[2]["exit_code"] == 0


def test_a_named_session_refuses_another_env_and_no_request_borrows_a_scratch_folder(svc):
    first = svc.run({"code": "import os; print(os.getcwd())", "session_name": "sec-build-1", "env": {"A": "1"}})
    scratch = first["log"].splitlines()[0]
    status, _, payload = svc.request(
        "POST", "/api/v1/runs", {"code": "1", "session_name": "sec-build-1", "env": {"A": "2"}}
    )
    assert status == 409 and payload["error"]["code"] == "session_exists", payload
    assert svc.run({"code": "print(2)", "session_name": "sec-build-1", "env": {"A": "1"}})["exit_code"] == 0
    status, _, payload = svc.request("POST", "/api/v1/runs", {"code": "1", "cwd": scratch})
    assert status == 403 and payload["error"]["code"] == "path_forbidden", payload
    assert svc.request("DELETE", "/api/v1/sessions/sec-build-1")[0] == 200


@pytest.fixture(scope="module")
def as_nobody(tmp_path_factory):
    if os.geteuid() != 0:
        pytest.skip("kernel_user needs the service to run as root (CI runs as root)")
    import tempfile

    work = Path(tempfile.mkdtemp(prefix="jk-kernel-user-"))  # /tmp: a path the kernel user can walk
    os.chmod(work, 0o711)
    config = tmp_path_factory.mktemp("kuser") / "config.yaml"
    config.write_text(f"kernel_user: nobody\nwork_dir: {work / 'sessions'}\n")
    service = ServiceProcess(tmp_path_factory.mktemp("kuser") / "data", "--config", str(config)).start()
    yield service
    service.stop()
    import shutil

    shutil.rmtree(work, ignore_errors=True)


@needs_kernel("ir")
def test_with_kernel_user_a_cell_runs_as_that_user_and_cannot_read_the_data_dir(as_nobody):
    token = as_nobody.data_dir / "jenkins-kernel.sqlite3"
    code = (
        'cat("USER", Sys.info()[["effective_user"]], "\\n")\n'
        f'cat("READ", tryCatch({{readBin("{token}", "raw", 10); "yes"}}, error = function(e) "denied",'
        ' warning = function(w) "denied"), "\\n")\n'
        'writeLines("x", "own-file.txt"); cat("WROTE", file.exists("own-file.txt"), "\\n")'
    )
    run = as_nobody.run({"code": code, "kernel": "ir"})
    assert run["exit_code"] == 0, run["log"]
    assert "USER nobody" in run["log"] and "READ denied" in run["log"] and "WROTE TRUE" in run["log"], run["log"]
