"""Lineage: any run can be traced (show), compared (diff) and repeated (rerun).

The example notebook is trained twice, embedded and recorded (``run --record``), with a
different learning rate and an input file whose bytes changed but whose rows did not."""

from __future__ import annotations

import asyncio
import json
import runpy
import shutil

import pytest
from click.testing import CliRunner

from jenkins_kernel.cli import main

from conftest import ROOT, jk, needs_kernel


def cli(*args: str) -> str:
    """A read-only command in this process (no interpreter to start): its stdout."""
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.stdout


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """Two recorded runs of examples/train.ipynb: (work dir, data dir, run A, run B)."""
    work, data = tmp_path_factory.mktemp("work"), tmp_path_factory.mktemp("record")
    for name in ("train.ipynb", "train_data.csv"):
        shutil.copy(ROOT / "examples" / name, work / name)
    common = ["--record", "--data-dir", str(data), "-q"]
    first = jk("run", "train.ipynb", "-p", "learning_rate", "0.05", "-o", "out1", *common, cwd=work)
    assert first.returncode == 0, first.stderr
    with open(work / "train_data.csv", "a") as f:
        f.write("\n")  # other bytes, same rows: the metrics move with the parameter only
    mlflow = ["--mlflow-tracking-uri", (work / "mlruns").as_uri()]
    env = {"MLFLOW_ALLOW_FILE_STORE": "true", "BUILD_URL": "https://ci.example/job/train/7/"}
    second = jk("run", "train.ipynb", "-p", "learning_rate", "0.1", "-o", "out2", *common, *mlflow, cwd=work, env=env)
    assert second.returncode == 0, second.stderr
    runs = json.loads(cli("runs", "--json", "--data-dir", str(data)))
    assert [r["parameters"]["learning_rate"] for r in runs] == [0.1, 0.05]  # newest first
    return work, data, runs[1]["id"], runs[0]["id"]


@needs_kernel("python3")
def test_diff_names_exactly_the_parameter_the_changed_input_and_the_metric_deltas(trained):
    _, data, a, b = trained
    diff = json.loads(cli("diff", a, b, "--json", "--data-dir", str(data)))
    assert diff["parameters"] == {"added": {}, "removed": {}, "changed": {"learning_rate": [0.05, 0.1]}}
    assert list(diff["files"]["changed"]) == ["read:train_data.csv"]
    assert not diff["files"]["added"] and not diff["files"]["removed"]
    assert diff["code"] == {} and diff["kernel"] == {}
    assert not any(diff["environment"]["packages"].values())
    metrics = diff["metrics"]["changed"]
    assert metrics and set(metrics) <= {"test_rmse", "w", "b"} and not diff["metrics"]["added"]
    for change in metrics.values():
        assert change["delta"] == pytest.approx(change["to"] - change["from"])
    text = cli("diff", a[:8], b[:8], "--data-dir", str(data))
    assert "~ learning_rate: 0.05 -> 0.1" in text
    assert "~ read:train_data.csv: sha256" in text
    for name, change in metrics.items():
        assert f"~ {name}: {change['from']:g} -> {change['to']:g} ({change['delta']:+g})" in text


@needs_kernel("python3")
def test_show_tells_code_environment_inputs_and_metrics_of_a_run(trained):
    _, data, a, _ = trained
    doc = json.loads(cli("show", a, "--json", "--data-dir", str(data)))
    assert doc["code"]["parameters"]["learning_rate"] == 0.05
    assert doc["environment"]["packages"]["ipykernel"]
    assert doc["system"]["machine"] and doc["system"]["service_version"]
    assert [f["path"] for f in doc["files"]] == ["train_data.csv"]  # never the notebook or its reports
    assert set(doc["metrics"]) == {"test_rmse", "w", "b"}
    assert {"executed.ipynb", "metrics.json", "input.ipynb"} <= {x["name"] for x in doc["artifacts"]}
    text = cli("show", a, "--data-dir", str(data))
    assert "learning_rate = 0.05" in text and "train_data.csv" in text and "test_rmse" in text


@needs_kernel("python3")
def test_rerun_reproduces_the_metrics_and_says_the_input_differs(trained):
    work, data, a, _ = trained
    proc = jk("rerun", a, "-o", "again", "-q", "--data-dir", str(data), cwd=work)
    assert proc.returncode == 0, proc.stderr
    assert "warning: the input train_data.csv differs" in proc.stderr
    assert "environment differs" not in proc.stderr
    assert "metrics: same" in proc.stdout and "parameters: same" in proc.stdout
    assert "~ read:train_data.csv" in proc.stdout
    original = json.loads((work / "out1" / "metrics.json").read_text())
    assert json.loads((work / "again" / "metrics.json").read_text()) == original


@needs_kernel("python3")
def test_the_environment_cache_refreshes_after_pip_install_into_the_kernels_environment(capsys):
    bench = runpy.run_path(str(ROOT / "benchmarks" / "bench_lineage.py"))  # a kernel, a real pip install
    asyncio.run(bench["main"](1))
    assert "refreshed=True, jk-bench-probe=1.0" in capsys.readouterr().out


@needs_kernel("python3")
def test_the_mlflow_export_reads_back_with_params_metrics_tags_and_artifacts(trained, monkeypatch):
    work, data, _, b = trained
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=(work / "mlruns").as_uri())
    experiment = client.get_experiment_by_name("train")
    (run,) = client.search_runs([experiment.experiment_id])
    metrics = json.loads(cli("show", b, "--json", "--data-dir", str(data)))
    assert run.data.params == {"learning_rate": "0.1"}
    assert run.data.metrics == pytest.approx(metrics["metrics"])
    tags = run.data.tags
    assert tags["jenkins_kernel.run_id"] == b and tags["jenkins_kernel.kernel"] == "python3"
    assert tags["jenkins_kernel.environment_sha256"] == metrics["environment"]["sha256"]
    assert tags["jenkins.build_url"] == "https://ci.example/job/train/7/"
    assert run.info.status == "FINISHED"
    assert {a.path for a in client.list_artifacts(run.info.run_id)} >= {"executed.ipynb", "report.html"}
