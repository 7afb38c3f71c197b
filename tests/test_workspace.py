"""Where a notebook runs through the service: in place on this machine, with the build's
environment; files carried to a remote-style session folder and back, hashed and recorded."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import os
import subprocess

import pytest
from click.testing import CliRunner

from jenkins_kernel.cli import main

from conftest import INSTALLED, jk, make_notebook, needs_kernel, read_notebook, until
from service import TOKEN, ServiceProcess

READS_AND_WRITES = [
    "import csv, os\nrows = list(csv.reader(open('data.csv')))\nprint(len(rows), rows[1])",
    "total = sum(int(r[1]) for r in rows[1:])\nopen('result.txt', 'w').write(str(total))\nprint('total', total)",
    "print(os.environ.get('BUILD_NUMBER'), os.environ.get('SEED'), os.path.basename(os.getcwd()))",
]


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    return tmp_path_factory.mktemp("workspaces")


@pytest.fixture(scope="module")
def svc(root, tmp_path_factory):
    warm = ",".join(f"{k}=1" for k in ("python3", "bash", "ir", "javascript") if k in INSTALLED)
    service = ServiceProcess(tmp_path_factory.mktemp("data"), "--allowed-root", str(root), "--warm", warm)
    yield service.start()
    service.stop()


def _project(root, name: str):
    folder = root / name / "project"
    folder.mkdir(parents=True)
    (folder / "data.csv").write_text("name,value\na,1\nb,2\nc,39\n")
    make_notebook(folder / "nb.ipynb", READS_AND_WRITES)
    return folder


def client(*args: str, cwd, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """The CLI as a client of the service, in this process (no kernel runs here): as a shell
    would run it, without paying for a Python start."""
    with contextlib.chdir(cwd):
        result = CliRunner().invoke(main, list(args), env={"NO_COLOR": "1", **env}, catch_exceptions=False)
    return subprocess.CompletedProcess(list(args), result.exit_code, result.stdout, result.stderr)


def _cells(path):
    """What a run produced, without its timings."""
    return [(c.source, c.execution_count, c.outputs) for c in read_notebook(path).cells]


def _last_run(svc):
    run = svc.request("GET", "/api/v1/runs?limit=1")[2]["runs"][0]
    return svc.request("GET", f"/api/v1/runs/{run['id']}")[2]


def test_a_notebook_reading_and_writing_beside_it_gives_the_same_result_embedded_and_through_the_service(svc, root):
    folder = _project(root, "same")
    build = {"BUILD_NUMBER": "42", "GITHUB_TOKEN": "not-a-build-variable"}
    args = ("run", "project/nb.ipynb", "--env", "SEED=7")
    embedded = jk(*args, "-o", "embedded", cwd=folder.parent, env=build)
    assert embedded.returncode == 0, embedded.stderr
    assert (folder / "result.txt").read_text() == "42"
    (folder / "result.txt").unlink()
    service_env = {**build, "JENKINS_KERNEL_URL": svc.url, "JENKINS_KERNEL_TOKEN": TOKEN}
    through = client(*args, "-o", "client", cwd=folder.parent, env=service_env)
    assert through.returncode == 0, through.stderr
    assert (folder / "result.txt").read_text() == "42"  # written in place, in the workspace
    assert through.stdout == embedded.stdout and "42 7 project" in through.stdout
    executed = folder.parent / "client" / "executed.ipynb"
    assert _cells(executed) == _cells(folder.parent / "embedded" / "executed.ipynb")
    run = _last_run(svc)
    assert run["cwd"] == str(folder)
    assert run["env"]["BUILD_NUMBER"] == "42" and run["env"]["SEED"] == "7"
    assert "GITHUB_TOKEN" not in run["env"]  # only the documented build variables travel


def test_a_relative_cwd_is_resolved_by_the_client_and_the_build_environment_reaches_the_cell(svc, root):
    (root / "rel" / "sub").mkdir(parents=True)
    env = {"JENKINS_KERNEL_URL": svc.url, "JENKINS_KERNEL_TOKEN": TOKEN, "JOB_NAME": "ml/train", "NODE_NAME": "gpu-1"}
    code = "import os; print(os.getcwd()); print(os.environ['JOB_NAME'], os.environ['NODE_NAME'])"
    proc = client("exec", "--cwd", "sub", "-c", code, cwd=root / "rel", env=env)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == f"{root / 'rel' / 'sub'}\nml/train gpu-1\n"
    run = _last_run(svc)
    assert run["jenkins"]["job_name"] == "ml/train" and run["jenkins"]["node_name"] == "gpu-1"


def test_a_cwd_outside_the_allowed_roots_is_still_refused_with_403(svc, tmp_path):
    status, _, body = svc.request("POST", "/api/v1/runs", {"code": "1", "cwd": str(tmp_path)})
    assert status == 403 and body["error"]["code"] == "path_forbidden"
    env = {"JENKINS_KERNEL_URL": svc.url, "JENKINS_KERNEL_TOKEN": TOKEN}
    proc = client("exec", "--cwd", str(tmp_path), "-c", "1", cwd=tmp_path, env=env)
    assert proc.returncode == 5 and "outside the allowed roots" in proc.stderr


def test_inputs_travel_to_a_session_folder_and_outputs_come_back_with_their_hashes(svc, tmp_path):
    folder = tmp_path / "remote"
    (folder / "data").mkdir(parents=True)
    (folder / "data" / "a.csv").write_text("1\n2\n")
    (folder / "data" / "b.csv").write_text("39\n")
    make_notebook(
        folder / "train.ipynb",
        [
            "import glob, json, os\n"
            "numbers = [int(x) for f in sorted(glob.glob('data/*.csv')) for x in open(f).read().split()]\n"
            "json.dump({'sum': sum(numbers)}, open('model.json', 'w'))\n"
            "print(os.getcwd() != " + repr(str(folder)) + ", sum(numbers))"
        ],
    )
    env = {"JENKINS_KERNEL_URL": svc.url, "JENKINS_KERNEL_TOKEN": TOKEN}
    proc = client("run", "train.ipynb", "--input", "data/*.csv", "--output-file", "model.json", cwd=folder, env=env)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "True 42\n"  # it ran in the session's folder, not in the workspace
    assert json.loads((folder / "model.json").read_text()) == {"sum": 42}
    declared = [f for f in _last_run(svc)["files"] if f["direction"] != "read"]  # 'read': lineage's audit
    files = {(f["direction"], f["path"]): f for f in declared}
    assert set(files) == {("input", "data/a.csv"), ("input", "data/b.csv"), ("output", "model.json")}
    assert files["input", "data/a.csv"]["sha256"] == hashlib.sha256(b"1\n2\n").hexdigest()
    assert files["output", "model.json"]["sha256"] == hashlib.sha256((folder / "model.json").read_bytes()).hexdigest()


def _input(path: str, data: bytes = b"x", sha: str | None = None) -> dict[str, str]:
    digest = sha or hashlib.sha256(data).hexdigest()
    return {"path": path, "content_base64": base64.b64encode(data).decode(), "sha256": digest}


@pytest.mark.parametrize(
    ("inputs", "code"),
    [
        ([_input("../escape.txt")], "bad_path"),
        ([_input("/etc/passwd")], "bad_path"),
        ([_input("a.txt", sha="0" * 64)], "input_hash_mismatch"),
        ([{"path": "a.txt", "content_base64": "***"}], "bad_inputs"),
        ("a.txt", "bad_inputs"),
    ],
)
def test_inputs_that_leave_the_folder_or_do_not_match_their_hash_are_refused(svc, inputs, code):
    status, _, body = svc.request("POST", "/api/v1/runs", {"code": "1", "inputs": inputs})
    assert status == 400 and body["error"]["code"] == code


def test_an_input_is_never_written_through_a_symlink_left_in_the_session_folder(svc, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    link = f"import os; os.symlink({str(outside)!r}, 'data')"
    assert svc.run({"code": link, "session_name": "symlinked"})["exit_code"] == 0
    run = svc.run({"code": "1", "session_name": "symlinked", "inputs": [_input("data/x.csv")]})
    assert run["exit_code"] == 5 and "not a folder" in run["message"]
    assert os.listdir(outside) == []
    svc.request("DELETE", "/api/v1/sessions/symlinked")


def test_every_field_a_run_request_may_have_is_in_the_openapi_document():
    from jenkins_kernel.server.api import openapi_document
    from jenkins_kernel.server.requests import RUN_FIELDS

    schemas = openapi_document()["components"]["schemas"]
    assert set(schemas["CodeRun"]["properties"]) | set(schemas["NotebookRun"]["properties"]) == set(RUN_FIELDS)


def test_parameters_sent_as_text_are_typed_by_the_service_like_dash_p(svc, tmp_path):
    cells = [("rate = 1\nname = 'x'", ["parameters"]), "print(repr(rate), repr(name))"]
    nb = make_notebook(tmp_path / "p.ipynb", cells)
    body = {"notebook": read_notebook(nb), "parameters_text": {"rate": "0.05", "name": "no"}}
    run = svc.run(body)
    assert run["exit_code"] == 0 and run["log"].splitlines()[-2] == "0.05 'no'"
    assert run["parameters"] == {"rate": 0.05, "name": "no"}


RELOCATED = {
    "bash": 'pwd; echo "$BUILD_NUMBER|$ODD"',
    "ir": 'cat(getwd(), "\\n", Sys.getenv("BUILD_NUMBER"), "|", Sys.getenv("ODD"), "\\n", sep = "")',
    "javascript": 'console.log(process.cwd()); console.log(process.env.BUILD_NUMBER + "|" + process.env.ODD)',
}


@pytest.mark.parametrize("kernel", [pytest.param(k, marks=needs_kernel(k)) for k in RELOCATED])
def test_a_warm_kernel_of_any_language_is_moved_to_the_runs_folder_and_environment(svc, root, kernel):
    folder = root / f"moved {kernel} é"
    folder.mkdir()
    odd = 'it\'s "q" $HOME\nline2 ü'

    def warm() -> int:
        specs = svc.request("GET", "/api/v1/kernelspecs")[2]["kernelspecs"]
        return next(k["warm"] for k in specs if k["name"] == kernel)

    until(warm, 60)
    body = {"code": RELOCATED[kernel], "kernel": kernel, "cwd": str(folder), "env": {"BUILD_NUMBER": "7", "ODD": odd}}
    run = svc.run(body)
    queued = svc.request("GET", f"/api/v1/runs/{run['id']}/events")[2]["events"][0]["data"]
    assert run["exit_code"] == 0 and queued["warm"] is True
    assert run["log"].startswith(f"{folder}\n7|{odd}\n")


@needs_kernel("bash")
def test_a_warm_bash_kernel_takes_control_characters_in_variables_without_running_them(svc, root):
    folder = root / "moved bash controls"
    folder.mkdir()
    evil = "a\x15touch canary\x01\x0b; touch canary2\u2028\x85\nz"

    def warm() -> int:
        specs = svc.request("GET", "/api/v1/kernelspecs")[2]["kernelspecs"]
        return next(k["warm"] for k in specs if k["name"] == "bash")

    until(warm, 60)
    code = 'printf %s "$EVIL" | base64 -w0; echo; ls'
    run = svc.run({"code": code, "kernel": "bash", "cwd": str(folder), "env": {"EVIL": evil}})
    queued = svc.request("GET", f"/api/v1/runs/{run['id']}/events")[2]["events"][0]["data"]
    assert run["exit_code"] == 0 and queued["warm"] is True, run["log"]
    assert base64.b64decode(run["log"].splitlines()[0]).decode() == evil
    assert not (folder / "canary").exists() and not (folder / "canary2").exists()
