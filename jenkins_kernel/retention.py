"""Retention: what the record keeps, and for how long.

Runs older than ``retention_days`` (or beyond the newest ``max_runs``) go with their
events, log and artifacts; so do expired idempotency keys, old audit rows and closed
sessions. A queued or running run is never touched. Deletes go through the store's
writer in small batches (live runs keep writing meanwhile), files are removed once
their rows are gone, and the freed pages are handed back to the file system.
"""

from __future__ import annotations

import contextlib
import shutil
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

from .lineage.tables import RUN_TABLES
from .store import Store

__all__ = ["PruneReport", "prune"]

BATCH = 200
_ACTIVE = ("queued", "running")


@dataclass
class PruneReport:
    runs: int = 0
    files_bytes: int = 0
    audit_rows: int = 0
    idempotency_keys: int = 0
    sessions: int = 0
    db_bytes_before: int = 0
    db_bytes_after: int = 0

    def describe(self, dry_run: bool) -> str:
        verb = "would delete" if dry_run else "deleted"
        text = (
            f"{verb} {self.runs} run(s) with {self.files_bytes / 1e6:.1f} MB of logs and artifacts, "
            f"{self.audit_rows} audit row(s), {self.idempotency_keys} expired idempotency key(s), "
            f"{self.sessions} closed session(s)"
        )
        if not dry_run:
            text += f"; database {self.db_bytes_before / 1e6:.1f} MB -> {self.db_bytes_after / 1e6:.1f} MB"
        return text


def prune(
    store: Store,
    *,
    retention_days: float,
    max_runs: int = 0,
    idempotency_ttl: float = 24 * 3600.0,
    dry_run: bool = False,
    now: float | None = None,
) -> PruneReport:
    """Delete what the settings no longer keep (0 days or 0 runs: no limit of that kind)."""
    now = time.time() if now is None else now
    cutoff = now - retention_days * 86400 if retention_days > 0 else None
    report = PruneReport(db_bytes_before=_db_bytes(store))
    ids = _old_runs(store.reader, cutoff, max_runs)
    report.runs = len(ids)
    report.files_bytes = sum(_folder_bytes(store.run_dir(run_id)) for run_id in ids)
    reader = store.reader
    key_cutoff = now - idempotency_ttl
    report.idempotency_keys = reader.execute(
        "SELECT count(*) FROM idempotency WHERE created < ?", (key_cutoff,)
    ).fetchone()[0]
    if cutoff is not None:
        report.audit_rows = reader.execute("SELECT count(*) FROM audit WHERE time < ?", (cutoff,)).fetchone()[0]
        report.sessions = reader.execute(
            "SELECT count(*) FROM sessions WHERE status = 'closed' AND closed < ?", (cutoff,)
        ).fetchone()[0]
    if dry_run:
        return report
    for start in range(0, len(ids), BATCH):
        batch = ids[start : start + BATCH]
        store.write_and_wait(lambda conn, batch=batch: _delete_runs(conn, batch), timeout=120)
        for run_id in batch:
            shutil.rmtree(store.run_dir(run_id), ignore_errors=True)

    def delete_rest(conn: sqlite3.Connection) -> None:
        conn.execute("DELETE FROM idempotency WHERE created < ?", (key_cutoff,))
        if cutoff is not None:
            conn.execute("DELETE FROM audit WHERE time < ?", (cutoff,))
            conn.execute("DELETE FROM sessions WHERE status = 'closed' AND closed < ?", (cutoff,))

    store.write_and_wait(delete_rest, timeout=120)
    reclaim(store)
    report.db_bytes_after = _db_bytes(store)
    return report


def _old_runs(reader: sqlite3.Connection, cutoff: float | None, max_runs: int) -> list[str]:
    ids: set[str] = set()
    marks = ", ".join("?" for _ in _ACTIVE)
    if cutoff is not None:
        rows = reader.execute(f"SELECT id FROM runs WHERE created < ? AND status NOT IN ({marks})", (cutoff, *_ACTIVE))
        ids.update(r[0] for r in rows)
    if max_runs > 0:
        rows = reader.execute(
            f"SELECT id FROM runs WHERE status NOT IN ({marks}) AND id NOT IN "
            "(SELECT id FROM runs ORDER BY created DESC LIMIT ?)",
            (*_ACTIVE, max_runs),
        )
        ids.update(r[0] for r in rows)
    return sorted(ids)


def _delete_runs(conn: sqlite3.Connection, ids: list[str]) -> None:
    marks = ", ".join("?" for _ in ids)
    for table in ("events", "artifacts", "idempotency", *RUN_TABLES):
        conn.execute(f"DELETE FROM {table} WHERE run_id IN ({marks})", ids)
    conn.execute(f"DELETE FROM runs WHERE id IN ({marks}) AND status NOT IN ('queued', 'running')", ids)


def reclaim(store: Store) -> None:
    """Give freed pages back to the file system, and empty the write-ahead log if that
    can be done at once (never waiting: live writes must not stall behind it; otherwise the
    writer cuts the log back to its size limit at its next checkpoint).

    A database made before incremental vacuum was on is converted once (a full VACUUM).
    """
    conn = sqlite3.connect(store.path, timeout=60, isolation_level=None)
    try:
        if conn.execute("PRAGMA auto_vacuum").fetchone()[0] == 0:
            conn.execute("PRAGMA auto_vacuum = INCREMENTAL")
            conn.execute("VACUUM")
        conn.executescript("PRAGMA incremental_vacuum;")  # run to the end (execute() stops at one page)
        conn.execute("PRAGMA busy_timeout = 0")
        with contextlib.suppress(sqlite3.Error):
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
    finally:
        conn.close()


def _db_bytes(store: Store) -> int:
    return sum(p.stat().st_size for p in store.data_dir.glob(store.path.name + "*") if p.is_file())


def _folder_bytes(folder: Path) -> int:
    with contextlib.suppress(OSError):
        return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
    return 0
