"""The dashboard's reads of the store: runs by keyset page, one run's cells, filter choices.

Pages never use OFFSET: a page is "the N runs older than (created, id)", which an index
on ``(column, created, id)`` answers in the same time on page 1 and page 2,000
(see the ``runs_ui_*`` indexes in :data:`jenkins_kernel.store.SCHEMA`).
"""

from __future__ import annotations

import calendar
import json
import re
import sqlite3
import time
from dataclasses import asdict, dataclass
from typing import Any

from ...status import RunStatus
from .params import BadQuery, text_arg

__all__ = ["JOB", "RunFilters", "cells_of", "choices", "list_runs", "parse_filters", "previous_run"]

#: The Jenkins job of a run, as the indexed expression (the same text, so SQLite uses the index).
JOB = "json_extract(jenkins, '$.job_name')"
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_CURSOR = re.compile(r"^(\d{1,12}(?:\.\d{1,9})?)_([0-9a-f]{1,64})$")
_LIST_COLUMNS = (
    "id, kind, status, exit_code, kernel, notebook_name, created, started, ended, token_name, "
    "session_name, message, jenkins"
)
PAGE_SIZE = 50


@dataclass
class RunFilters:
    job: str = ""
    notebook: str = ""
    status: str = ""
    kernel: str = ""
    session: str = ""
    since: str = ""  # YYYY-MM-DD, UTC, inclusive
    until: str = ""  # YYYY-MM-DD, UTC, inclusive
    before: str = ""  # the keyset cursor: "<created>_<id>" of the last run shown

    def query(self, **changes: str) -> dict[str, str]:
        """These filters as query arguments (empty ones left out), with ``changes``."""
        values = {**asdict(self), **changes}
        return {k: v for k, v in values.items() if v}

    @property
    def active(self) -> bool:
        return any(v for k, v in asdict(self).items() if k != "before")


def _day(value: str, name: str) -> float | None:
    if not value:
        return None
    if not _DATE.match(value):
        raise BadQuery(f"?{name} must be a date YYYY-MM-DD, not {value!r}")
    try:
        return float(calendar.timegm(time.strptime(value, "%Y-%m-%d")))
    except ValueError:
        raise BadQuery(f"?{name} is not a real date: {value!r}") from None


def parse_filters(args: Any) -> RunFilters:
    """The runs page's filters from the query string, each checked (a bad one is a 400, never a 500)."""
    filters = RunFilters(**{name: text_arg(args, name) for name in ("job", "notebook", "kernel", "session")})
    status = text_arg(args, "status")
    if status and status not in {s.value for s in RunStatus}:
        raise BadQuery(f"?status must be one of {', '.join(s.value for s in RunStatus)}, not {status!r}")
    filters.status = status
    filters.since, filters.until = text_arg(args, "since"), text_arg(args, "until")
    _day(filters.since, "since"), _day(filters.until, "until")
    before = text_arg(args, "before")
    if before and not _CURSOR.match(before):
        raise BadQuery("?before must be a cursor from a 'older' link")
    filters.before = before
    return filters


def list_runs(conn: sqlite3.Connection, f: RunFilters, limit: int = PAGE_SIZE) -> tuple[list[dict[str, Any]], str]:
    """One page of runs, newest first, and the cursor of the next (older) page ('' at the end)."""
    where, args = [], []
    for column, value in (("status", f.status), ("kernel", f.kernel), ("notebook_name", f.notebook), (JOB, f.job)):
        if value:
            where.append(f"{column} = ?")
            args.append(value)
    if f.session:
        where.append("(session_id = ? OR session_name = ?)")
        args += [f.session, f.session]
    since, until = _day(f.since, "since"), _day(f.until, "until")
    if since is not None:
        where.append("created >= ?")
        args.append(since)
    if until is not None:
        where.append("created < ?")
        args.append(until + 86400)
    if f.before:
        match = _CURSOR.match(f.before)
        assert match is not None
        where.append("(created, id) < (?, ?)")
        args += [float(match.group(1)), match.group(2)]
    sql = f"SELECT {_LIST_COLUMNS} FROM runs" + (" WHERE " + " AND ".join(where) if where else "")
    rows = conn.execute(sql + " ORDER BY created DESC, id DESC LIMIT ?", (*args, limit + 1)).fetchall()
    runs = [_run_row(r) for r in rows[:limit]]
    cursor = f"{runs[-1]['created']!r}_{runs[-1]['id']}" if len(rows) > limit else ""
    return runs, cursor


def _run_row(row: sqlite3.Row) -> dict[str, Any]:
    run = dict(row)
    run["jenkins"] = json.loads(run["jenkins"]) if run.get("jenkins") else {}
    ended = run.get("ended")
    run["duration"] = (ended - run["created"]) if ended else None
    return run


def choices(conn: sqlite3.Connection, limit: int = 200) -> dict[str, list[str]]:
    """The values the filters can take: a skip-scan of each column's index, one seek per
    distinct value (SELECT DISTINCT would read all 100,000 index entries)."""
    found: dict[str, list[str]] = {}
    for key, column in (("job", JOB), ("notebook", "notebook_name"), ("kernel", "kernel")):
        values: list[str] = []
        sql = f"SELECT min({column}) FROM runs WHERE {column} > ?"
        while len(values) < limit:
            value = conn.execute(sql, (values[-1] if values else "",)).fetchone()[0]
            if value is None:
                break
            values.append(str(value))
        found[key] = values
    return found


def cells_of(conn: sqlite3.Connection, run_id: str) -> list[dict[str, Any]]:
    """A notebook run's cells from its ``cell`` events: number, title, status, duration."""
    cells: dict[int, dict[str, Any]] = {}
    rows = conn.execute("SELECT data FROM events WHERE run_id = ? AND type = 'cell' ORDER BY seq", (run_id,))
    for row in rows:
        data = json.loads(row["data"])
        number = int(data.get("number", 0))
        cell = cells.setdefault(number, {"number": number, "title": "", "status": "running", "duration": None})
        if data.get("phase") == "start":
            cell["title"] = data.get("title", "")
        elif data.get("phase") == "skipped":
            cell.update(status="skipped", title=data.get("reason", ""))
        elif data.get("phase") == "end":
            cell.update(status=data.get("status", ""), duration=data.get("duration"))
    ordered = [cells[n] for n in sorted(cells)]
    longest = max((c["duration"] or 0 for c in ordered), default=0) or 1
    for cell in ordered:
        cell["share"] = round(100 * (cell["duration"] or 0) / longest, 1)
    return ordered


def previous_run(conn: sqlite3.Connection, run: dict[str, Any]) -> str | None:
    """The run before this one of the same Jenkins job (else of the same notebook), if any."""
    job = (run.get("jenkins") or {}).get("job_name")
    column, value = (JOB, job) if job else ("notebook_name", run.get("notebook_name"))
    if not value:
        return None
    row = conn.execute(
        f"SELECT id FROM runs WHERE {column} = ? AND (created, id) < (?, ?) ORDER BY created DESC, id DESC LIMIT 1",
        (value, run["created"], run["id"]),
    ).fetchone()
    return row["id"] if row else None
