"""The lineage tables and their small read/write API, mixed into :class:`~jenkins_kernel.store.Store`.

Every table but ``environments`` is keyed by ``run_id``, so deleting a run (retention)
deletes its rows with ``DELETE FROM <table> WHERE run_id = ?`` (see :data:`RUN_TABLES`).
An environment (a kernel's package set) is stored once under the sha256 of its content:
10,000 runs on one environment hold 10,000 hashes and one package list.
"""

from __future__ import annotations

import json
import sqlite3
import time
from typing import Any

__all__ = ["LINEAGE_SCHEMA", "RUN_TABLES", "LineageRecords", "read_lineage"]

LINEAGE_SCHEMA = """
CREATE TABLE IF NOT EXISTS environments (
    sha256 TEXT PRIMARY KEY,
    kernel TEXT NOT NULL,
    language TEXT NOT NULL DEFAULT '',
    packages TEXT NOT NULL,
    created REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS run_lineage (
    run_id TEXT PRIMARY KEY,
    environment_sha256 TEXT,
    system TEXT NOT NULL DEFAULT '{}',
    git TEXT NOT NULL DEFAULT '{}',
    created REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS run_metrics (
    run_id TEXT NOT NULL,
    name TEXT NOT NULL,
    value REAL NOT NULL,
    PRIMARY KEY (run_id, name)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS run_metrics_by_name ON run_metrics (name, run_id);
CREATE TABLE IF NOT EXISTS run_files (
    run_id TEXT,
    direction TEXT /* 'input'|'output'|'read' */,
    path TEXT,
    size INTEGER,
    sha256 TEXT,
    PRIMARY KEY (run_id, direction, path)
);
"""

#: Tables whose rows belong to one run (column ``run_id``): a pruned run's rows go too.
RUN_TABLES = ("run_lineage", "run_metrics", "run_files")


class LineageRecords:
    """Write and read a run's lineage. Needs ``write`` and ``reader`` (the Store's)."""

    reader: sqlite3.Connection

    def write(self, func: Any) -> Any:  # pragma: no cover - the Store's
        raise NotImplementedError

    def save_lineage(
        self,
        run_id: str,
        *,
        environment: dict[str, Any] | None = None,
        system: dict[str, Any] | None = None,
        git: dict[str, Any] | None = None,
        metrics: dict[str, float] | None = None,
        files: list[dict[str, Any]] | None = None,
    ) -> Any:
        """Queue a run's lineage as one transaction; the environment's packages only if new.

        ``environment`` is ``{sha256, kernel, language, packages}``; ``files`` are rows of
        ``{direction, path, size, sha256}``. Returns the store's future."""
        now = time.time()

        def write(conn: sqlite3.Connection) -> None:
            env_sha = None
            if environment:
                env_sha = environment["sha256"]
                conn.execute(
                    "INSERT OR IGNORE INTO environments (sha256, kernel, language, packages, created)"
                    " VALUES (?, ?, ?, ?, ?)",
                    (
                        env_sha,
                        environment.get("kernel", ""),
                        environment.get("language", ""),
                        json.dumps(environment.get("packages", {}), sort_keys=True),
                        now,
                    ),
                )
            conn.execute(
                "INSERT OR REPLACE INTO run_lineage (run_id, environment_sha256, system, git, created)"
                " VALUES (?, ?, ?, ?, ?)",
                (run_id, env_sha, json.dumps(system or {}), json.dumps(git or {}), now),
            )
            if metrics:
                conn.executemany(
                    "INSERT OR REPLACE INTO run_metrics (run_id, name, value) VALUES (?, ?, ?)",
                    [(run_id, name, float(value)) for name, value in metrics.items()],
                )
            if files:
                conn.executemany(
                    "INSERT OR REPLACE INTO run_files (run_id, direction, path, size, sha256) VALUES (?, ?, ?, ?, ?)",
                    [(run_id, f["direction"], f["path"], f.get("size"), f.get("sha256")) for f in files],
                )

        return self.write(write)

    def lineage_for(self, run_id: str) -> dict[str, Any]:
        """A run's lineage: environment (with packages), system, git, metrics and files."""
        return read_lineage(self.reader, run_id)

    def metric_series(
        self,
        *,
        name: str | None = None,
        job: str | None = None,
        notebook: str | None = None,
        limit: int = 100,
    ) -> list[dict[str, Any]]:
        """Metric values across runs, oldest first: the ``limit`` latest points that match."""
        where, args = [], []
        if name:
            where.append("m.name = ?")
            args.append(name)
        if job:
            where.append("json_extract(r.jenkins, '$.job_name') = ?")
            args.append(job)
        if notebook:
            where.append("r.notebook_name = ?")
            args.append(notebook)
        sql = (
            "SELECT m.run_id, m.name, m.value, r.created, r.notebook_name, r.status,"
            " json_extract(r.jenkins, '$.job_name') AS job, json_extract(r.jenkins, '$.build_number') AS build"
            " FROM run_metrics m JOIN runs r ON r.id = m.run_id"
            + (" WHERE " + " AND ".join(where) if where else "")
            + " ORDER BY r.created DESC, m.name LIMIT ?"
        )
        rows = [dict(r) for r in self.reader.execute(sql, (*args, limit))]
        rows.reverse()
        return rows


def read_lineage(conn: sqlite3.Connection, run_id: str) -> dict[str, Any]:
    """A run's lineage: environment (with packages), system, git, metrics and files; ``recorded``
    says whether the run has a lineage row at all (runs from before lineage have none)."""
    row = conn.execute("SELECT * FROM run_lineage WHERE run_id = ?", (run_id,)).fetchone()
    environment = None
    if row and row["environment_sha256"]:
        env = conn.execute("SELECT * FROM environments WHERE sha256 = ?", (row["environment_sha256"],)).fetchone()
        if env:
            environment = {
                "sha256": env["sha256"],
                "kernel": env["kernel"],
                "language": env["language"],
                "packages": json.loads(env["packages"]),
            }
    metrics = {
        r["name"]: r["value"]
        for r in conn.execute("SELECT name, value FROM run_metrics WHERE run_id = ? ORDER BY name", (run_id,))
    }
    files = [
        dict(r)
        for r in conn.execute(
            "SELECT direction, path, size, sha256 FROM run_files WHERE run_id = ? ORDER BY direction, path",
            (run_id,),
        )
    ]
    return {
        "recorded": row is not None,
        "environment": environment,
        "system": json.loads(row["system"]) if row else {},
        "git": json.loads(row["git"]) if row else {},
        "metrics": metrics,
        "files": files,
    }
