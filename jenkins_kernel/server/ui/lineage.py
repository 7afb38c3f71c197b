"""A run's lineage and metrics as the dashboard shows them, from whatever the store holds.

The lineage tables are read through :func:`~jenkins_kernel.lineage.tables.read_lineage`,
as the API reads them. A run recorded before lineage existed still gets a page: its
metrics are read from its own events (a notebook displays
``application/vnd.jenkins-kernel.metrics+json``), and inputs and packages are "not recorded".
"""

from __future__ import annotations

import json
import math
import sqlite3
from typing import Any

from ...lineage.metrics import METRICS_MIME
from ...lineage.tables import read_lineage
from .queries import JOB

__all__ = ["METRICS_MIME", "lineage_of", "metric_series", "package_changes"]


def lineage_of(conn: sqlite3.Connection, run_id: str) -> dict[str, Any]:
    """``{recorded, environment (sha256, packages), git, system, metrics, files}`` of a run; a
    run recorded before lineage existed shows the metrics its own events displayed."""
    lineage = read_lineage(conn, run_id)
    if not lineage["metrics"]:
        lineage.update(_event_metrics(conn, run_id))
    return lineage


def package_changes(before: dict[str, Any] | None, after: dict[str, Any] | None) -> list[dict[str, str]]:
    """Packages added, removed or changed between two environments (each ``{packages: {name: version}}``)."""
    if not before or not after:
        return []
    old, new = before.get("packages") or {}, after.get("packages") or {}
    changes = []
    for name in sorted(set(old) | set(new)):
        if old.get(name) != new.get(name):
            kind = "added" if name not in old else "removed" if name not in new else "changed"
            changes.append({"name": name, "kind": kind, "before": old.get(name, ""), "after": new.get(name, "")})
    return changes


def metric_series(
    conn: sqlite3.Connection, *, job: str = "", notebook: str = "", runs: int = 100
) -> tuple[dict[str, list[dict[str, Any]]], list[dict[str, Any]]]:
    """Each metric's points across the latest ``runs`` runs of a job or notebook, oldest first;
    and those runs (id, created, build, status, parameters)."""
    column, value = (JOB, job) if job else ("notebook_name", notebook)
    recent = conn.execute(
        f"SELECT id, created, status, parameters, {JOB} AS job, json_extract(jenkins, '$.build_number') AS build"
        f" FROM runs WHERE {column} = ? ORDER BY created DESC, id DESC LIMIT ?",
        (value, runs),
    ).fetchall()
    chosen = [dict(r) for r in reversed(recent)]
    for run in chosen:
        run["parameters"] = json.loads(run["parameters"] or "{}")
    by_run = _metrics_of_runs(conn, [r["id"] for r in chosen])
    series: dict[str, list[dict[str, Any]]] = {}
    for run in chosen:
        for name, number in sorted(by_run.get(run["id"], {}).items()):
            series.setdefault(name, []).append({**run, "value": number})
    return series, chosen


def _metrics_of_runs(conn: sqlite3.Connection, ids: list[str]) -> dict[str, dict[str, float]]:
    if not ids:
        return {}
    found: dict[str, dict[str, float]] = {}
    marks = ", ".join("?" for _ in ids)
    for r in conn.execute(f"SELECT run_id, name, value FROM run_metrics WHERE run_id IN ({marks})", ids):
        found.setdefault(r["run_id"], {})[r["name"]] = r["value"]
    for run_id in ids:
        if run_id not in found:
            metrics = _event_metrics(conn, run_id)["metrics"]
            if metrics:
                found[run_id] = metrics
    return found


def _event_metrics(conn: sqlite3.Connection, run_id: str) -> dict[str, Any]:
    """Metrics displayed by the run itself (a flat mapping name -> number; later values win)."""
    metrics: dict[str, float] = {}
    rows = conn.execute(
        "SELECT data FROM events WHERE run_id = ? AND type = 'display' AND instr(data, ?) > 0 ORDER BY seq",
        (run_id, METRICS_MIME),
    )
    for row in rows:
        bundle = json.loads(row["data"]).get("data", {}).get(METRICS_MIME)
        if isinstance(bundle, str):
            try:
                bundle = json.loads(bundle)
            except ValueError:
                bundle = None
        if isinstance(bundle, dict):
            for name, value in bundle.items():
                if isinstance(value, list) and len(value) == 1:
                    value = value[0]
                if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
                    metrics[str(name)] = float(value)
    return {"metrics": metrics}
