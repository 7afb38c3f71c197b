"""SQLite: sessions, runs, events, artifacts, idempotency keys and the audit log.

The datasette shape: reads on per-thread connections, every write through one writer
thread. Writes are queued as small functions; the writer runs what is queued in one
transaction (WAL, so readers never wait), commits, then tells whoever waits. A run's
console text lives beside the database in ``runs/<id>/console.log`` and is appended by
the same writer thread, in the same order as the events it was rendered from.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import logging
import os
import queue
import sqlite3
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from pathlib import Path
from typing import Any

from .exceptions import StorageError
from .lineage.tables import LINEAGE_SCHEMA, LineageRecords

__all__ = ["SCHEMA_VERSION", "Store"]

SCHEMA_VERSION = 1
#: Seconds between probes of a failing store (so /health turns 200 again by itself).
PROBE_EVERY = 1.0
#: A failing store counts as writable again only with this much room: one batch of a run's
#: output (a database write that fits in the WAL's old pages proves nothing on a full disk).
MIN_FREE_BYTES = 1 << 20
#: Bytes the write-ahead log is cut back to after a checkpoint (a flood must not leave it huge).
WAL_LIMIT = 16 * 1024 * 1024
log = logging.getLogger(__name__)

SCHEMA = (
    """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS sessions (
    id TEXT PRIMARY KEY,
    name TEXT,
    kernel TEXT NOT NULL,
    cwd TEXT NOT NULL,
    status TEXT NOT NULL,
    token_name TEXT,
    created REAL NOT NULL,
    last_used REAL NOT NULL,
    closed REAL,
    message TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS sessions_by_name ON sessions (name, status);
CREATE TABLE IF NOT EXISTS runs (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    session_id TEXT,
    session_name TEXT,
    kernel TEXT,
    status TEXT NOT NULL,
    exit_code INTEGER,
    message TEXT NOT NULL DEFAULT '',
    created REAL NOT NULL,
    started REAL,
    ended REAL,
    token_name TEXT,
    remote_addr TEXT,
    idempotency_key TEXT,
    input_sha256 TEXT NOT NULL,
    notebook_name TEXT,
    parameters TEXT NOT NULL DEFAULT '{}',
    options TEXT NOT NULL DEFAULT '{}',
    jenkins TEXT NOT NULL DEFAULT '{}',
    kernel_info TEXT NOT NULL DEFAULT '{}',
    last_seq INTEGER NOT NULL DEFAULT 0,
    log_size INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS runs_by_created ON runs (created DESC);
CREATE INDEX IF NOT EXISTS runs_by_status ON runs (status);
-- the dashboard's keyset pages, newest first, whole or filtered (server/ui/queries.py)
CREATE INDEX IF NOT EXISTS runs_ui_created ON runs (created, id);
CREATE INDEX IF NOT EXISTS runs_ui_status ON runs (status, created, id);
CREATE INDEX IF NOT EXISTS runs_ui_kernel ON runs (kernel, created, id);
CREATE INDEX IF NOT EXISTS runs_ui_notebook ON runs (notebook_name, created, id);
CREATE INDEX IF NOT EXISTS runs_ui_job ON runs (json_extract(jenkins, '$.job_name'), created, id);
CREATE TABLE IF NOT EXISTS events (
    run_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    type TEXT NOT NULL,
    time REAL NOT NULL,
    data TEXT NOT NULL,
    PRIMARY KEY (run_id, seq)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS artifacts (
    run_id TEXT NOT NULL,
    name TEXT NOT NULL,
    size INTEGER NOT NULL,
    sha256 TEXT NOT NULL,
    created REAL NOT NULL,
    PRIMARY KEY (run_id, name)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS idempotency (
    key TEXT PRIMARY KEY,
    run_id TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    created REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS audit (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    time REAL NOT NULL,
    token_name TEXT,
    remote_addr TEXT,
    action TEXT NOT NULL,
    target TEXT,
    outcome TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS kernel_processes (
    pid INTEGER NOT NULL,
    started REAL NOT NULL,
    kernel TEXT NOT NULL,
    PRIMARY KEY (pid, started)
) WITHOUT ROWID;
"""
    + LINEAGE_SCHEMA
)

#: Columns added to a table after its first release: (table, column, SQL type and default).
#: A database made by an older version gets them at open; new tables go in SCHEMA above.
COLUMNS_ADDED: list[tuple[str, str, str]] = [
    ("runs", "cwd", "TEXT"),
    ("runs", "env", "TEXT NOT NULL DEFAULT '{}'"),
]

Write = Callable[[sqlite3.Connection], Any]
#: The page cache of each reading connection, in KiB (SQLite's default is 2000).
READER_CACHE_KIB = 256
_JSON_COLUMNS = ("parameters", "options", "jenkins", "kernel_info", "env")


class Store(LineageRecords):
    """The service's durable record. Thread-safe: call from any thread."""

    def __init__(self, data_dir: str | Path) -> None:
        self.data_dir = Path(data_dir)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.path = self.data_dir / "jenkins-kernel.sqlite3"
        self._local = threading.local()
        self._queue: queue.SimpleQueue[tuple[Write, Future[Any]] | None] = queue.SimpleQueue()
        if not self.path.exists():  # retention hands space back: set before the first table
            with contextlib.closing(sqlite3.connect(self.path)) as fresh:
                fresh.execute("PRAGMA auto_vacuum = INCREMENTAL")
                fresh.executescript(SCHEMA)
        self._writer_conn = self._connect()
        self._writer_conn.execute(f"PRAGMA journal_size_limit = {WAL_LIMIT}")
        self._writer_conn.executescript(SCHEMA)
        add_missing_columns(self._writer_conn, COLUMNS_ADDED)
        self._writer_conn.execute(
            "INSERT OR IGNORE INTO meta (key, value) VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),)
        )
        self._writer_conn.commit()
        self.failure: str | None = None  # why writes fail now, or None
        self._thread = threading.Thread(target=self._write_loop, name="jk-store-writer", daemon=True)
        self._thread.start()

    # -- connections -------------------------------------------------------------------

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=30)
        conn.row_factory = sqlite3.Row
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        return conn

    @property
    def reader(self) -> sqlite3.Connection:
        """This thread's connection for reading. Its page cache is kept small: every HTTP
        thread has one, the writer invalidates them all the time anyway, and at SQLite's
        default of 2 MB each they made the service's RSS creep up by tens of MB."""
        conn = getattr(self._local, "conn", None)
        if conn is None:
            try:
                conn = self._local.conn = self._connect()
                conn.execute(f"PRAGMA cache_size = -{READER_CACHE_KIB}")
            except sqlite3.Error as exc:
                raise self._failed(exc) from exc
        return conn

    # -- the writer --------------------------------------------------------------------

    def write(self, func: Write) -> Future[Any]:
        """Queue ``func(conn)`` for the writer; the future resolves once it is committed."""
        future: Future[Any] = Future()
        self._queue.put((func, future))
        return future

    def write_and_wait(self, func: Write, timeout: float = 30.0) -> Any:
        return self.write(func).result(timeout)

    def _write_loop(self) -> None:
        """Run queued writes in batches, one transaction each, forever.

        A batch that cannot be written (disk full, data dir unwritable) is rolled back
        and every waiter gets a :class:`StorageError`; the loop goes on, and while the
        store is failing it probes every second, so that it notices when writes work again.
        """
        while True:
            try:
                item = self._queue.get(timeout=PROBE_EVERY if self.failure else None)
            except queue.Empty:
                self._run_batch([(self._probe, Future())])
                continue
            if item is None:
                return
            batch = [item]
            while len(batch) < 500:
                try:
                    more = self._queue.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    self._queue.put(None)
                    break
                batch.append(more)
            self._run_batch(batch)

    def _run_batch(self, batch: list[tuple[Write, Future[Any]]]) -> None:
        conn = self._writer_conn
        results: list[tuple[Future[Any], Any, BaseException | None]] = []
        try:
            conn.execute("BEGIN IMMEDIATE")  # the write lock now: a read first must not go stale
            for func, future in batch:
                try:
                    results.append((future, func(conn), None))
                except BaseException as exc:  # one bad write must not lose the others ...
                    if storage_failure(exc):
                        raise  # ... but when the storage itself fails, nothing of the batch is kept
                    results.append((future, None, exc))
            conn.execute("COMMIT")
        except (sqlite3.Error, OSError) as exc:
            with contextlib.suppress(sqlite3.Error):
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
            error = self._failed(exc)
            for _, future in batch:
                future.set_exception(error)
            return
        if self.failure is not None and any(func == self._probe for func, _ in batch):
            log.warning("the store can write again: %s", self.data_dir)
            self.failure = None  # only a probe says so: small writes can succeed on a full disk
        for future, value, error in results:
            if error is None:
                future.set_result(value)
            else:
                future.set_exception(error)

    def _failed(self, exc: BaseException) -> StorageError:
        """Remember why writes fail (for /health) and the error every waiter gets."""
        reason = getattr(exc, "strerror", None) or str(exc)
        message = f"the data dir {self.data_dir} cannot be written: {reason}"
        if self.failure != message:
            log.error("%s", message)
        self.failure = message
        return StorageError(message, hint="free disk space or restore the data dir's permissions; no restart needed")

    def _probe(self, conn: sqlite3.Connection) -> None:
        """A write of the database and of a file in the data dir, and room for a run's output."""
        conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('probe', ?)", (str(time.time()),))
        probe = self.data_dir / "runs" / ".probe"
        probe.parent.mkdir(parents=True, exist_ok=True)
        probe.write_bytes(b"ok")
        probe.unlink()
        disk = os.statvfs(self.data_dir)
        if disk.f_bavail * disk.f_frsize < MIN_FREE_BYTES:
            raise OSError(errno.ENOSPC, f"No space left on device (less than {MIN_FREE_BYTES >> 20} MB free)")

    def check(self, timeout: float = 2.0) -> str | None:
        """None while writes work; else why they fail (tried again now, so it is current)."""
        if self.failure is None:
            return None
        with contextlib.suppress(Exception):
            self.write(self._probe).result(timeout)
        return self.failure

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join(timeout=10)

    # -- runs ------------------------------------------------------------------------

    def run_dir(self, run_id: str) -> Path:
        return self.data_dir / "runs" / run_id

    def insert_run(
        self,
        run: dict[str, Any],
        *,
        idempotency_key: str | None = None,
        fingerprint: str = "",
        input_file: tuple[str, str] | None = None,
    ) -> Future[Any]:
        """Queue a new run's record, its idempotency key, and its input (name, text) as its
        first artifact, so that the run can be repeated later."""
        row = {k: json.dumps(v) if k in _JSON_COLUMNS else v for k, v in run.items()}
        columns = ", ".join(row)
        marks = ", ".join(f":{k}" for k in row)

        def insert(conn: sqlite3.Connection) -> None:
            conn.execute(f"INSERT INTO runs ({columns}) VALUES ({marks})", row)
            if idempotency_key:
                conn.execute(
                    "INSERT OR REPLACE INTO idempotency (key, run_id, fingerprint, created) VALUES (?, ?, ?, ?)",
                    (idempotency_key, run["id"], fingerprint, run["created"]),
                )
            if input_file is not None:
                name, text = input_file
                data = text.encode("utf-8")
                folder = self.run_dir(run["id"]) / "artifacts"
                folder.mkdir(parents=True, exist_ok=True)
                (folder / name).write_bytes(data)
                conn.execute(
                    "INSERT INTO artifacts (run_id, name, size, sha256, created) VALUES (?, ?, ?, ?, ?)",
                    (run["id"], name, len(data), hashlib.sha256(data).hexdigest(), run["created"]),
                )

        return self.write(insert)

    def get_run(self, run_id: str) -> dict[str, Any] | None:
        row = self.reader.execute("SELECT * FROM runs WHERE id = ?", (run_id,)).fetchone()
        return _decode_run(row) if row else None

    def list_runs(
        self,
        *,
        status: str | None = None,
        session: str | None = None,
        kernel: str | None = None,
        job: str | None = None,
        before: float | None = None,
        limit: int = 50,
    ) -> list[dict[str, Any]]:
        where, args = [], []
        for column, value in (("status", status), ("kernel", kernel)):
            if value:
                where.append(f"{column} = ?")
                args.append(value)
        if session:
            where.append("(session_id = ? OR session_name = ?)")
            args += [session, session]
        if job:
            where.append("json_extract(jenkins, '$.job_name') = ?")
            args.append(job)
        if before is not None:
            where.append("created < ?")
            args.append(before)
        sql = "SELECT * FROM runs" + (" WHERE " + " AND ".join(where) if where else "")
        rows = self.reader.execute(sql + " ORDER BY created DESC LIMIT ?", (*args, limit)).fetchall()
        return [_decode_run(r) for r in rows]

    def run_for_key(self, key: str, ttl: float) -> tuple[str, str] | None:
        """(run id, request fingerprint) of the key's run, if the key was used within ``ttl``."""
        row = self.reader.execute(
            "SELECT run_id, fingerprint FROM idempotency WHERE key = ? AND created > ?", (key, time.time() - ttl)
        ).fetchone()
        return (row["run_id"], row["fingerprint"]) if row else None

    def mark_lost_runs(self, message: str) -> list[str]:
        """Runs in flight when the service stopped end ``lost``; returns their ids."""

        def mark(conn: sqlite3.Connection) -> list[str]:
            ids = [r[0] for r in conn.execute("SELECT id FROM runs WHERE status IN ('queued', 'running')")]
            now = time.time()
            for run_id in ids:
                conn.execute(
                    "UPDATE runs SET status = 'lost', exit_code = 6, message = ?, ended = ? WHERE id = ?",
                    (message, now, run_id),
                )
            conn.execute("UPDATE sessions SET status = 'closed', closed = ? WHERE status != 'closed'", (now,))
            return ids

        return self.write_and_wait(mark)

    # -- events and the console log ----------------------------------------------------

    def record(
        self,
        run_id: str,
        *,
        events: tuple[list[tuple[int, str, float, str]], str, int] | None = None,
        artifacts: list[tuple[str, int, str]] | None = None,
        fields: dict[str, Any] | None = None,
    ) -> Future[tuple[int, int]]:
        """Queue, as one transaction: events (rows of seq, type, time, data JSON) with their
        console text; artifacts (name, size, sha256); run fields. The future gives the
        log's size and the run's last seq once committed.

        Events are numbered on from the run's last committed seq and the text is appended
        at the log's committed size: whatever a failed write left behind is overwritten,
        so seq has no gap and the log no doubled text, whatever failed before.
        """
        log_path = self.run_dir(run_id) / "console.log"
        now = time.time()
        update = {k: json.dumps(v) if k in _JSON_COLUMNS else v for k, v in (fields or {}).items()}

        def write(conn: sqlite3.Connection) -> tuple[int, int]:
            found = conn.execute("SELECT last_seq, log_size FROM runs WHERE id = ?", (run_id,)).fetchone()
            if found is None:  # a run whose own record could not be written
                return 0, 0
            last_seq, size = found
            if events is not None:
                rows, text, _ = events
                conn.executemany(
                    "INSERT INTO events (run_id, seq, type, time, data) VALUES (?, ?, ?, ?, ?)",
                    [(run_id, last_seq + i, kind, at, data) for i, (_, kind, at, data) in enumerate(rows, 1)],
                )
                last_seq += len(rows)
                size = _append_text(log_path, text, size)
                update.update(last_seq=last_seq, log_size=size)
            if artifacts:
                conn.executemany(
                    "INSERT OR REPLACE INTO artifacts (run_id, name, size, sha256, created) VALUES (?, ?, ?, ?, ?)",
                    [(run_id, name, length, digest, now) for name, length, digest in artifacts],
                )
            if update:
                assignments = ", ".join(f"{k} = :{k}" for k in update)
                conn.execute(f"UPDATE runs SET {assignments} WHERE id = :_id", {**update, "_id": run_id})
            return size, last_seq

        return self.write(write)

    def events_after(self, run_id: str, after: int, limit: int = 1000) -> list[dict[str, Any]]:
        rows = self.reader.execute(
            "SELECT seq, type, time, data FROM events WHERE run_id = ? AND seq > ? ORDER BY seq LIMIT ?",
            (run_id, after, limit),
        ).fetchall()
        return [{"seq": r["seq"], "type": r["type"], "time": r["time"], "data": json.loads(r["data"])} for r in rows]

    def read_log(self, run_id: str, start: int, end: int) -> bytes:
        path = self.run_dir(run_id) / "console.log"
        if end <= start:
            return b""
        try:
            with open(path, "rb") as f:
                f.seek(start)
                return f.read(end - start)
        except FileNotFoundError:
            return b""
        except OSError as exc:
            raise self._failed(exc) from exc

    # -- artifacts ---------------------------------------------------------------------

    def artifacts(self, run_id: str) -> list[dict[str, Any]]:
        rows = self.reader.execute(
            "SELECT name, size, sha256, created FROM artifacts WHERE run_id = ? ORDER BY name", (run_id,)
        ).fetchall()
        return [dict(r) for r in rows]

    # -- declared and read files ---------------------------------------------------------

    def record_files(self, run_id: str, direction: str, rows: list[tuple[str, int, str]]) -> Future[Any]:
        """Queue (path, size, sha256) rows of a run's files: 'input', 'output' or 'read'."""
        return self.write(
            lambda conn: conn.executemany(
                "INSERT OR REPLACE INTO run_files (run_id, direction, path, size, sha256) VALUES (?, ?, ?, ?, ?)",
                [(run_id, direction, *row) for row in rows],
            )
        )

    def run_files(self, run_id: str) -> list[dict[str, Any]]:
        rows = self.reader.execute(
            "SELECT direction, path, size, sha256 FROM run_files WHERE run_id = ? ORDER BY direction, path", (run_id,)
        ).fetchall()
        return [dict(r) for r in rows]

    # -- sessions ----------------------------------------------------------------------

    def save_session(self, session: dict[str, Any]) -> Future[Any]:
        columns = ", ".join(session)
        marks = ", ".join(f":{k}" for k in session)
        return self.write(
            lambda conn: conn.execute(f"INSERT OR REPLACE INTO sessions ({columns}) VALUES ({marks})", session)
        )

    # -- audit -------------------------------------------------------------------------

    def audit(
        self, *, token_name: str | None, remote_addr: str | None, action: str, target: str | None, outcome: str
    ) -> Future[Any]:
        row = (time.time(), token_name, remote_addr, action, target, outcome)
        return self.write(
            lambda conn: conn.execute(
                "INSERT INTO audit (time, token_name, remote_addr, action, target, outcome) VALUES (?, ?, ?, ?, ?, ?)",
                row,
            )
        )

    # -- kernel processes (engine.orphans.ProcessLedger) ---------------------------------

    def kernel_started(self, pid: int, started: float, kernel: str) -> None:
        self.write(
            lambda conn: conn.execute(
                "INSERT OR REPLACE INTO kernel_processes (pid, started, kernel) VALUES (?, ?, ?)",
                (pid, started, kernel),
            )
        )

    def kernel_stopped(self, pid: int, started: float) -> None:
        self.write(
            lambda conn: conn.execute("DELETE FROM kernel_processes WHERE pid = ? AND started = ?", (pid, started))
        )

    def take_kernel_processes(self) -> list[tuple[int, float]]:
        """The kernel processes recorded by an earlier service, forgotten as they are read."""

        def take(conn: sqlite3.Connection) -> list[tuple[int, float]]:
            rows = [(r[0], r[1]) for r in conn.execute("SELECT pid, started FROM kernel_processes")]
            conn.execute("DELETE FROM kernel_processes")
            return rows

        return self.write_and_wait(take)


def add_missing_columns(conn: sqlite3.Connection, columns: list[tuple[str, str, str]]) -> None:
    """Additive migration: ``ALTER TABLE ... ADD COLUMN`` for each column a table lacks."""
    for table, column, decl in columns:
        have = {r[1] for r in conn.execute(f"PRAGMA table_info({table})")}
        if column not in have:
            conn.execute(f"ALTER TABLE {table} ADD COLUMN {column} {decl}")


def storage_failure(exc: BaseException) -> bool:
    """Whether ``exc`` says the disk or the data dir fails, rather than one bad write."""
    if isinstance(exc, OSError):
        return True
    return isinstance(exc, sqlite3.DatabaseError) and not isinstance(
        exc, sqlite3.IntegrityError | sqlite3.ProgrammingError | sqlite3.InterfaceError
    )


def _decode_run(row: sqlite3.Row) -> dict[str, Any]:
    run = dict(row)
    for key in _JSON_COLUMNS:
        run[key] = json.loads(run[key]) if run[key] else {}
    return run


def _append_text(path: Path, text: str, at: int) -> int:
    """Write ``text`` at byte ``at`` of the file (cutting what a failed write left there)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "ab") as f:
        if f.tell() != at:
            f.truncate(at)
        if text:
            f.write(text.encode("utf-8", "replace"))
        return f.tell()
