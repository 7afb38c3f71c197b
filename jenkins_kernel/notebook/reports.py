"""The reports of a notebook run: executed.ipynb, junit.xml, report.html (+ report.css and
images), summary.json.

Written for every outcome, failures included: a partial result is what a failed build's
reader needs most. Every file is written to a temporary name and renamed, so a report is
either whole or absent.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import nbformat
from nbformat import NotebookNode

from ..engine.results import CellResult, RunResult, describe_error
from ..lineage.metrics import metrics_csv
from .cells import FAILURE_TAG, fit_cell_ids
from .files import OWN_FILES, atomic_write, clean_output_dir, own_files
from .html import prepare_html_exporter, write_html
from .junit import write_junit

__all__ = [
    "REPORT_FILES",
    "build_summary",
    "clean_output_dir",
    "mark_failed_cell",
    "prepare_html_exporter",
    "record_outcome",
    "write_executed_notebook",
    "write_html_report",
    "write_junit",
    "write_metrics",
    "write_reports",
    "write_summary",
]

REPORT_FILES = OWN_FILES


def record_outcome(
    nb: NotebookNode,
    result: RunResult,
    *,
    name: str,
    path: str | None = None,
    origin: dict[str, Any] | None = None,
    warnings: list[str] | None = None,
) -> None:
    """How the run ended, in the executed notebook's own metadata: the reports (report.html
    rendered later by the service too) read it from there."""
    nb.metadata.setdefault("jenkins_kernel", {}).update(
        {
            "notebook": name,
            "path": path or name,
            "status": result.status.value,
            "exit_code": result.exit_code,
            "message": result.message,
            "duration": round(result.duration, 4),
            "parameters": result.parameters,
            "origin": dict(origin or {}),
            "warnings": list(warnings or []),
        }
    )


def write_reports(nb: NotebookNode, result: RunResult, output_dir: Path, name: str, *, html: bool = True) -> list[Path]:
    """Every report for ``nb`` into ``output_dir``; returns the paths written.

    With ``html=False`` report.html is left to :func:`write_html_report`, for a caller
    that renders it later (the service renders it after the run has ended).
    """
    output_dir.mkdir(parents=True, exist_ok=True)
    marked = mark_failed_cell(nb, result)
    classpath = nb.metadata.get("jenkins_kernel", {}).get("path")
    paths = [
        write_executed_notebook(marked, output_dir / "executed.ipynb"),
        write_junit(nb, result, output_dir / "junit.xml", name, classpath),
    ]
    if html:
        paths.extend(write_html(marked, result, output_dir))
    paths += write_metrics(result, output_dir)
    paths.append(write_summary(nb, result, output_dir, name))
    return paths


def write_metrics(result: RunResult, output_dir: Path) -> list[Path]:
    """metrics.json (name to number) and metrics.csv (the Jenkins Plot plugin's shape)."""
    return [
        atomic_write(output_dir / "metrics.json", json.dumps(result.metrics, indent=2, sort_keys=True) + "\n"),
        atomic_write(output_dir / "metrics.csv", metrics_csv(result.metrics)),
    ]


def write_html_report(nb: NotebookNode, result: RunResult, output_dir: Path) -> list[Path]:
    """report.html (with report.css and its images) for a run already reported otherwise;
    summary.json is written again to list them."""
    paths = write_html(mark_failed_cell(nb, result), result, output_dir)
    name = nb.metadata.get("jenkins_kernel", {}).get("notebook", "notebook.ipynb")
    paths.append(write_summary(nb, result, output_dir, name))
    return paths


def _failed_cell(result: RunResult) -> CellResult | None:
    return next((c for c in result.cells if c.error and not c.expected_error), None)


def mark_failed_cell(nb: NotebookNode, result: RunResult) -> NotebookNode:
    """A copy of ``nb`` with a markdown banner just before the cell that ended the run
    (tagged, so that the next run of this executed notebook removes it)."""
    failed = _failed_cell(result)
    if failed is None:
        return nb
    nb = copy.copy(nb)
    nb.cells = list(nb.cells)
    banner = nbformat.v4.new_markdown_cell(
        source=(
            f"**jenkins-kernel: the run {result.status.value} at cell {failed.number}** (below): "
            f"`{describe_error(failed.error)}`"
        ),
        metadata={"tags": [FAILURE_TAG]},
    )
    banner["id"] = FAILURE_TAG
    nb.cells.insert(failed.index, banner)
    return fit_cell_ids(nb)


def write_executed_notebook(nb: NotebookNode, path: Path) -> Path:
    return atomic_write(path, nbformat.writes(nb, version=4))


# -- summary -----------------------------------------------------------------------------


def build_summary(nb: NotebookNode, result: RunResult, output_dir: Path, name: str) -> dict[str, Any]:
    """summary.json's content; the one place that builds it (lineage adds its keys here)."""
    meta = nb.metadata.get("jenkins_kernel", {})
    return {
        "notebook": name,
        "path": meta.get("path", name),
        **result.to_dict(),
        "origin": meta.get("origin", {}),
        "warnings": meta.get("warnings", []),
        "environment_sha256": (result.lineage.get("environment") or {}).get("sha256"),
        "files": own_files(output_dir, also=["summary.json"]),
    }


def write_summary(nb: NotebookNode, result: RunResult, output_dir: Path, name: str) -> Path:
    summary = build_summary(nb, result, output_dir, name)
    return atomic_write(output_dir / "summary.json", json.dumps(summary, indent=2, default=str) + "\n")
