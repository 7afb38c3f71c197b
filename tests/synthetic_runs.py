"""Synthetic finished runs written straight into a store's SQLite file (fast: 100,000 in seconds).

For the dashboard's pagination test and benchmarks/bench_dashboard.py. Rows look like
real ones: jobs with build numbers, notebooks, kernels, statuses, parameters, and (when
the lineage tables exist) metrics.
"""

from __future__ import annotations

import json
import random
import sqlite3
import uuid
from pathlib import Path

from jenkins_kernel.server.ui.lineage import METRICS_MIME
from jenkins_kernel.store import SCHEMA

STATUSES = [("succeeded", 0)] * 8 + [("failed", 1), ("timed_out", 2), ("cancelled", 4)]
KERNELS = ["python3", "python3", "python3", "ir", "bash", "javascript"]


def fill_runs(
    db: Path,
    count: int,
    *,
    jobs: int = 40,
    start: float = 1.7e9,
    step: float = 30.0,
    job_prefix: str = "job",
    metrics: bool = True,
    seed: int = 1,
) -> list[str]:
    """Insert ``count`` finished runs, one every ``step`` seconds from ``start``; their ids, oldest first."""
    rng = random.Random(f"{seed}-{job_prefix}")  # another prefix, other ids
    conn = sqlite3.connect(db)
    conn.executescript(SCHEMA)
    conn.execute("PRAGMA synchronous=OFF")  # a benchmark's fixture: no need to survive a power cut
    has_metrics = metrics and bool(
        conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'run_metrics'").fetchone()
    )
    builds: dict[str, int] = {}
    ids, rows, metric_rows, event_rows = [], [], [], []
    for i in range(count):
        run_id = uuid.UUID(int=rng.getrandbits(128)).hex
        job = f"{job_prefix}-{rng.randrange(jobs):02d}"
        builds[job] = builds.get(job, 0) + 1
        status, exit_code = rng.choice(STATUSES)
        created = start + i * step
        alpha = round(rng.uniform(0.01, 1.0), 3)
        jenkins = {"job_name": job, "build_number": str(builds[job]), "build_url": f"https://ci.example/job/{job}/"}
        rows.append(
            (
                run_id,
                "notebook",
                rng.choice(KERNELS),
                status,
                exit_code,
                created,
                created + 0.5,
                created + rng.uniform(1, 60),
                "bench",
                "0" * 64,
                f"{job}.ipynb",
                json.dumps({"alpha": alpha}),
                json.dumps(jenkins),
            )
        )
        values = {"loss": round(1 / (1 + alpha * 10), 4), "accuracy": round(alpha, 4)}
        if has_metrics:
            metric_rows += [(run_id, name, value) for name, value in values.items()]
        elif metrics:  # no lineage tables: the metrics as the notebook displayed them
            data = {"output_type": "display_data", "data": {METRICS_MIME: values}, "metadata": {}}
            event_rows.append((run_id, 1, "display", created + 1, json.dumps(data)))
        ids.append(run_id)
    conn.executemany(
        "INSERT INTO runs (id, kind, kernel, status, exit_code, created, started, ended, token_name, input_sha256,"
        " notebook_name, parameters, jenkins) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        rows,
    )
    if event_rows:
        conn.executemany("INSERT INTO events (run_id, seq, type, time, data) VALUES (?, ?, ?, ?, ?)", event_rows)
    if metric_rows:
        conn.executemany("INSERT INTO run_metrics (run_id, name, value) VALUES (?, ?, ?)", metric_rows)
    conn.commit()
    conn.close()
    return ids
