"""papermill's own CLI with ``--engine jenkins_kernel``: the notebook runs on the service."""

from __future__ import annotations

import os
import subprocess
import sys

from conftest import make_notebook, read_notebook, stream_text
from service import TOKEN, ServiceProcess


def papermill(*args: str, cwd, url: str):
    env = {**os.environ, "JENKINS_KERNEL_URL": url, "JENKINS_KERNEL_TOKEN": TOKEN}
    cmd = [sys.executable, "-m", "papermill", *args, "--engine", "jenkins_kernel", "--no-progress-bar"]
    return subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=120)


def test_papermill_runs_a_parameterized_notebook_on_the_service_and_it_is_recorded(tmp_path):
    svc = ServiceProcess(tmp_path / "data").start()
    try:
        make_notebook(tmp_path / "in.ipynb", [("a = 1", ["parameters"]), "print(a * 2)", "import sys; sys.version"])
        proc = papermill("in.ipynb", "out.ipynb", "-p", "a", "21", cwd=tmp_path, url=svc.url)
        assert proc.returncode == 0, proc.stderr
        out = read_notebook(tmp_path / "out.ipynb")
        assert "injected-parameters" in out.cells[1].metadata.tags and "a = 21" in out.cells[1].source
        assert stream_text(out.cells[2]) == "42\n" and out.cells[2].execution_count is not None
        assert out.cells[3].outputs[0].output_type == "execute_result"
        assert out.metadata.papermill.parameters == {"a": 21}
        run_id = out.metadata.jenkins_kernel.run_id
        run = svc.request("GET", f"/api/v1/runs/{run_id}")[2]
        assert run["status"] == "succeeded" and run["notebook_name"] == "in.ipynb" and run["parameters"] == {"a": 21}

        make_notebook(tmp_path / "bad.ipynb", ["print('before')", "1/0", "print('never')"])
        proc = papermill("bad.ipynb", "bad-out.ipynb", cwd=tmp_path, url=svc.url)
        assert proc.returncode == 1 and "ZeroDivisionError" in proc.stderr
        bad = read_notebook(tmp_path / "bad-out.ipynb")
        assert bad.metadata.jenkins_kernel.exit_code == 1 and bad.metadata.papermill.exception is True
        assert "papermill-error-cell-tag" in bad.cells[0].metadata.get("tags", [])  # papermill's own banner
    finally:
        svc.stop()
