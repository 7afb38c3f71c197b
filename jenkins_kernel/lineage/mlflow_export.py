"""Log a finished notebook run to MLflow: parameters, metrics, tags, executed.ipynb and
report.html. Optional (``pip install 'jenkins-kernel[mlflow]'``, which brings
mlflow-skinny); imported only when a tracking URI is set, as MLflow takes seconds to import.

The run is read back from its reports folder (``summary.json`` says status, parameters,
kernel, metrics and environment hash), so the embedded CLI, the CLI on a service and the
service itself export the same thing the same way.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from ..exceptions import RejectedError

__all__ = ["export_run"]

_STATUS = {"succeeded": "FINISHED", "cancelled": "KILLED"}


def export_run(
    tracking_uri: str,
    reports: Path,
    *,
    git: dict[str, Any] | None = None,
    jenkins: dict[str, Any] | None = None,
    run_id: str | None = None,
) -> str:
    """Log the run whose reports are in ``reports``; the MLflow run id.

    The experiment is ``MLFLOW_EXPERIMENT_NAME`` if set, else the Jenkins job's name, else
    the notebook's name."""
    try:
        from mlflow.tracking import MlflowClient
    except ImportError:
        raise RejectedError(
            "an MLflow tracking URI is set but MLflow is not installed",
            code="mlflow_missing",
            hint="pip install 'jenkins-kernel[mlflow]'",
        ) from None
    summary = json.loads((reports / "summary.json").read_text(encoding="utf-8"))
    git, jenkins = git or {}, jenkins or {}
    notebook = str(summary.get("notebook") or "notebook.ipynb")
    kernel = summary.get("kernel") or {}
    experiment_name = os.environ.get("MLFLOW_EXPERIMENT_NAME") or jenkins.get("job_name") or Path(notebook).stem
    tags = {
        "jenkins_kernel.notebook": notebook,
        "jenkins_kernel.status": summary.get("status", ""),
        "jenkins_kernel.kernel": kernel.get("name", ""),
        "jenkins_kernel.language": f"{kernel.get('language', '')} {kernel.get('language_version', '')}".strip(),
        "jenkins_kernel.environment_sha256": summary.get("environment_sha256") or "",
        "jenkins_kernel.run_id": run_id or "",
        "mlflow.source.git.commit": git.get("commit", ""),
        "mlflow.source.git.branch": git.get("branch", ""),
        "mlflow.source.git.repoURL": git.get("remote", ""),
        "jenkins.build_url": jenkins.get("build_url") or os.environ.get("BUILD_URL", ""),
        "jenkins.job_name": jenkins.get("job_name") or os.environ.get("JOB_NAME", ""),
        "jenkins.build_number": str(jenkins.get("build_number") or os.environ.get("BUILD_NUMBER", "")),
    }
    client = MlflowClient(tracking_uri=tracking_uri)
    experiment = client.get_experiment_by_name(experiment_name)
    experiment_id = experiment.experiment_id if experiment else client.create_experiment(experiment_name)
    run = client.create_run(
        experiment_id, run_name=run_id or Path(notebook).stem, tags={k: v for k, v in tags.items() if v}
    )
    mlflow_id = run.info.run_id
    try:
        for name, value in (summary.get("parameters") or {}).items():
            client.log_param(mlflow_id, name, value if isinstance(value, str) else json.dumps(value))
        for name, value in (summary.get("metrics") or {}).items():
            client.log_metric(mlflow_id, name, float(value))
        for name in ("executed.ipynb", "report.html", "metrics.json"):
            if (reports / name).is_file():
                client.log_artifact(mlflow_id, str(reports / name))
    finally:
        client.set_terminated(mlflow_id, _STATUS.get(summary.get("status", ""), "FAILED"))
    return mlflow_id
