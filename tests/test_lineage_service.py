"""Metrics and lineage through the service: every language's one-liner, scrapbook scraps,
files read by a Python notebook, the lineage document and the metric series API."""

from __future__ import annotations

import hashlib
import json

import nbformat
import pytest

from conftest import needs_kernel
from service import ServiceProcess

METRICS = "application/vnd.jenkins-kernel.metrics+json"
ONE_LINERS = {  # as the README shows them
    "python3": f'display({{"{METRICS}": {{"score": 0.5, "n": 3}}, "text/plain": "metrics"}}, raw=True)',
    "ir": f'IRdisplay::publish_mimebundle(list("{METRICS}" = list(score = 0.5, n = 3)))',
    "javascript": f'$$.mime({{"{METRICS}": {{score: 0.5, n: 3}}}})',
}


@pytest.fixture(scope="module")
def svc(tmp_path_factory):
    data = tmp_path_factory.mktemp("svc")
    allowed = tmp_path_factory.mktemp("allowed")
    (data / "config.yaml").write_text(f"allowed_roots: [{allowed}]\n")
    service = ServiceProcess(data, "--config", str(data / "config.yaml")).start()
    service.allowed = allowed
    yield service
    service.stop()


def notebook(kernel: str, *sources: str) -> dict:
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(s) for s in sources])
    nb.metadata["kernelspec"] = {"name": kernel, "display_name": kernel}
    return nb


def run_notebook(svc, kernel: str, *sources: str, **body) -> dict:
    name = body.pop("notebook_name", f"{kernel}-metrics.ipynb")
    run = svc.run({"notebook": notebook(kernel, *sources), "notebook_name": name, **body})
    assert run["exit_code"] == 0, run
    return run


@pytest.mark.parametrize("kernel", ["python3", "ir", "javascript"])
def test_metrics_of_every_language_reach_metrics_json_and_the_metrics_api(svc, kernel):
    needs_kernel(kernel)
    run = run_notebook(svc, kernel, ONE_LINERS[kernel])
    status, _, artifact = svc.request("GET", f"/api/v1/runs/{run['id']}/artifacts/metrics.json")
    assert status == 200 and artifact == {"score": 0.5, "n": 3}
    series = svc.request("GET", f"/api/v1/metrics?notebook={kernel}-metrics.ipynb&name=score")[2]["metrics"]
    assert [(p["run_id"], p["value"]) for p in series][-1] == (run["id"], 0.5)


@needs_kernel("python3")
def test_scrapbook_scraps_are_metrics_too(svc):
    scrap = {"name": "accuracy", "data": 0.93, "encoder": "json", "version": 1}
    text_scrap = {"name": "loss", "data": "0.25", "encoder": "text", "version": 1}
    run = run_notebook(
        svc,
        "python3",
        f'display({{"application/scrapbook.scrap.json+json": {scrap!r}}}, raw=True)',
        f'display({{"application/scrapbook.scrap.text+json": {text_scrap!r}}}, raw=True)',
        'display({"application/papermill.record+json": {"epochs": 12}}, raw=True)',
        notebook_name="scraps.ipynb",
    )
    metrics = svc.request("GET", f"/api/v1/runs/{run['id']}/lineage")[2]["metrics"]
    assert metrics == {"accuracy": 0.93, "loss": 0.25, "epochs": 12}
    series = svc.request("GET", "/api/v1/metrics?notebook=scraps.ipynb")[2]["metrics"]
    assert {p["name"] for p in series} == {"accuracy", "loss", "epochs"}


@needs_kernel("python3")
def test_files_a_python_notebook_reads_are_recorded_with_their_hashes(svc, tmp_path):
    work = svc.allowed / "reads"
    (work / "sub").mkdir(parents=True)
    (work / "a.csv").write_text("x\n1\n")
    (work / "sub" / "b.bin").write_bytes(b"\x00\x01" * 1000)
    (work / "reads.ipynb").write_text("{}")  # the notebook's own file
    outside = tmp_path / "outside.txt"
    outside.write_text("not an input")
    run = run_notebook(
        svc,
        "python3",
        "open('a.csv').read()\nimport pathlib\npathlib.Path('sub/b.bin').read_bytes()",
        f"open({str(outside)!r}).read()\nopen('reads.ipynb').read()\nopen('written.txt', 'w').write('x')",
        notebook_name="reads.ipynb",
        cwd=str(work),
        git={"commit": "0123abc", "branch": "main", "dirty": True},  # an unknown key is a 400 (strict input)
    )
    doc = svc.request("GET", f"/api/v1/runs/{run['id']}/lineage")[2]
    files = {f["path"]: (f["direction"], f["sha256"], f["size"]) for f in doc["files"]}
    digest = lambda p: hashlib.sha256(p.read_bytes()).hexdigest()  # noqa: E731
    assert files == {
        "a.csv": ("read", digest(work / "a.csv"), 4),
        "sub/b.bin": ("read", digest(work / "sub" / "b.bin"), 2000),
    }
    assert doc["code"]["git"] == {"commit": "0123abc", "branch": "main", "dirty": True}
    assert doc["environment"]["packages"]["ipykernel"] and len(doc["environment"]["sha256"]) == 64
    assert doc["system"]["machine"] and doc["run"]["options"]["cwd"] == str(work)
    executed = svc.request("GET", f"/api/v1/runs/{run['id']}/artifacts/executed.ipynb")[2]
    executed = json.loads(executed) if isinstance(executed, (bytes, str)) else executed
    assert [c["execution_count"] for c in executed["cells"]] == [1, 2]  # the set-up never shows
    log = svc.request("GET", f"/api/v1/runs/{run['id']}/log")[2]
    assert "jenkins_kernel_reads" not in json.dumps(executed) and b"jk_setup" not in log


@needs_kernel("python3")
def test_rerun_on_the_service_warns_of_a_changed_input_and_ends_with_the_diff(svc):
    from conftest import jk
    from service import TOKEN

    work = svc.allowed / "rerun"
    work.mkdir()
    (work / "data.txt").write_text("3\n")
    source = f"n = int(open('data.txt').read())\ndisplay({{'{METRICS}': {{'n': n}}}}, raw=True)"
    run = run_notebook(svc, "python3", "k = 1", source, notebook_name="again.ipynb", cwd=str(work))
    (work / "data.txt").write_text("3\n\n")  # other bytes, same number
    env = {"JENKINS_KERNEL_URL": svc.url, "JENKINS_KERNEL_TOKEN": TOKEN}
    proc = jk("rerun", run["id"][:10], "-q", "-o", "again", cwd=svc.allowed, env=env)
    assert proc.returncode == 0, proc.stderr
    assert "warning: the input data.txt differs" in proc.stderr and "environment" not in proc.stderr
    assert f"diff {run['id'][:12]} -> " in proc.stdout and "~ read:data.txt" in proc.stdout
    assert "metrics: same" in proc.stdout and "parameters: same" in proc.stdout
    rerun = svc.request("GET", "/api/v1/runs?limit=1")[2]["runs"][0]
    assert rerun["kernel"] == "python3" and rerun["input_sha256"] == run["input_sha256"]
