"""The dashboard's pages: runs, one run, metrics, compare, sessions, the service, sign-in."""

from __future__ import annotations

import re
import time
from typing import Any
from urllib.parse import urlsplit

from flask import Response, g, redirect, render_template, request, send_file, url_for

from ...status import RunStatus
from ..api import audit, service
from ..service import NotFound
from . import REPORT_CSP, page_error, ui
from .access import sign_in, sign_out
from .charts import line_chart
from .host import DiskUse, kernel_pid, resident_bytes
from .lineage import lineage_of, metric_series, package_changes
from .params import BadQuery, text_arg
from .queries import cells_of, choices, list_runs, parse_filters, previous_run

__all__: list[str] = []

ui.after_request(audit)  # sign-ins and every action, with the token's name, in the audit log
_SCRIPT = re.compile(rb"<script\b.*?</script\s*>", re.I | re.S)
_HEAD = re.compile(rb"<head\b[^>]*>", re.I)
_SESSION_ACTIONS = {"interrupt": "interrupt_session", "restart": "restart_session", "delete": "delete_session"}
_disk: dict[str, DiskUse] = {}


# -- sign-in -------------------------------------------------------------------------------


def _safe_next(target: str) -> str:
    """Only a path of this dashboard (never another site) is a place to go after signing in."""
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not parts.path.startswith("/ui") or "\\" in target:
        return url_for("ui.runs")
    return target


@ui.route("/signin", methods=["GET", "POST"])
def signin() -> Any:
    target = _safe_next(text_arg(request.args, "next", max_length=2000) or url_for("ui.runs"))
    if request.method == "GET":
        return render_template("signin.html", next=target, failed=False)
    response = redirect(target, 303)
    identity = sign_in(response, request.form.get("token", "")[:4096])
    if identity is None:
        g.token_name = None
        return Response(render_template("signin.html", next=target, failed=True), status=401)
    g.token_name = identity.token_name
    return response


@ui.post("/signout")
def signout() -> Response:
    response = redirect(url_for("ui.signin"), 303)
    sign_out(response)
    return response


# -- runs ------------------------------------------------------------------------------


@ui.get("/")
def home() -> Response:
    return redirect(url_for("ui.runs"))


@ui.get("/runs")
def runs() -> str:
    filters = parse_filters(request.args)
    conn = service().store.reader
    found, cursor = list_runs(conn, filters)
    return render_template(
        "runs.html",
        runs=found,
        filters=filters,
        cursor=cursor,
        choices=choices(conn),
        statuses=[s.value for s in RunStatus],
        live=not filters.before,
    )


@ui.get("/runs/rows")
def run_rows() -> str:
    """The runs table's rows alone, for the live list (static/live.js fetches them)."""
    filters = parse_filters(request.args)
    found, _ = list_runs(service().store.reader, filters)
    return render_template("_run_rows.html", runs=found)


@ui.get("/runs/<id>")
def run(id: str) -> str:
    svc = service()
    run = svc.get_run(id)
    conn = svc.store.reader
    lineage = lineage_of(conn, id)
    previous = previous_run(conn, run)
    before = lineage_of(conn, previous) if previous else None
    limit = 512 * 1024
    start = max(0, run["log_size"] - limit)
    log = svc.store.read_log(id, start, run["log_size"]).decode("utf-8", "replace")
    # a finished notebook's report.html is rendered just after its end: wait for it (about a second)
    artifacts = svc.artifacts(id) if RunStatus(run["status"]).finished else svc.store.artifacts(id)
    return render_template(
        "run.html",
        run=run,
        finished=RunStatus(run["status"]).finished,
        log=log,
        log_cut=start,
        cells=cells_of(conn, id),
        artifacts=artifacts,
        has_report=any(a["name"] == "report.html" for a in artifacts),
        lineage=lineage,
        previous=previous,
        packages=package_changes(before["environment"] if before else None, lineage["environment"]),
        git_commit=lineage["git"].get("commit") or run["jenkins"].get("git_commit"),
    )


@ui.get("/runs/<id>/report/")
def report(id: str) -> Response:
    """The run's report.html without scripts (it has none; an older one might). Served at a
    folder URL so that its report.css and images/ resolve to :func:`report_file`."""
    with service().open_artifact(id, "report.html") as opened:
        html = _SCRIPT.sub(b"", opened.read())
    icon = url_for("ui.static", filename="favicon.svg").encode()  # else the browser asks /favicon.ico (a 404)
    html = _HEAD.sub(rb'\g<0><link rel="icon" href="' + icon + rb'">', html, count=1)
    response = Response(html, mimetype="text/html")
    response.headers["Content-Security-Policy"] = REPORT_CSP
    return response


@ui.get("/runs/<id>/report/<path:name>")
def report_file(id: str, name: str) -> Response:
    """report.css and the images report.html shows, beside it."""
    if name != "report.css" and not name.startswith("images/"):
        raise NotFound(f"run {id} has no report file {name!r}", code="unknown_artifact")
    opened = service().open_artifact(id, name)
    response = send_file(opened, download_name=name.rsplit("/", 1)[-1], conditional=True)
    response.headers["Content-Security-Policy"] = REPORT_CSP
    return response


@ui.post("/runs/<id>/cancel")
def cancel(id: str) -> Response:
    service().cancel_run(id)
    return redirect(url_for("ui.run", id=id), 303)


# -- metrics ---------------------------------------------------------------------------


@ui.get("/metrics")
def metrics() -> str:
    job, notebook = text_arg(request.args, "job"), text_arg(request.args, "notebook")
    conn = service().store.reader
    series, chosen = metric_series(conn, job=job, notebook=notebook) if (job or notebook) else ({}, [])
    charts = {
        name: line_chart(name, points, lambda p: url_for("ui.run", id=p["id"])) for name, points in series.items()
    }
    latest = {name: points[-1] for name, points in series.items()}
    return render_template(
        "metrics.html",
        job=job,
        notebook=notebook,
        charts=charts,
        latest=latest,
        runs=list(reversed(chosen)),
        choices=choices(conn),
    )


@ui.get("/compare")
def compare() -> str:
    ids = [text_arg(request.args, "a"), text_arg(request.args, "b")]
    if not all(ids):
        raise BadQuery("compare needs two runs: ?a=RUN&b=RUN")
    svc = service()
    conn = svc.store.reader
    pair = [svc.get_run(i) for i in ids]
    lineages = [lineage_of(conn, i) for i in ids]
    return render_template(
        "compare.html",
        a=pair[0],
        b=pair[1],
        rows=_compare_rows(pair, lineages),
        packages=package_changes(lineages[0]["environment"], lineages[1]["environment"]),
        files=_file_changes(lineages[0]["files"], lineages[1]["files"]),
    )


def _compare_rows(pair: list[dict[str, Any]], lineages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Side by side: what ran, how it ended, each parameter and each metric (with its delta)."""
    a, b = pair
    rows: list[dict[str, Any]] = []
    for label, key in (
        ("status", "status"),
        ("exit code", "exit_code"),
        ("kernel", "kernel"),
        ("notebook", "notebook_name"),
    ):
        rows.append({"group": "run", "name": label, "a": a[key], "b": b[key], "delta": None})
    rows.append(
        {
            "group": "run",
            "name": "input sha256",
            "a": a["input_sha256"][:16],
            "b": b["input_sha256"][:16],
            "delta": None,
        }
    )
    for name in sorted(set(a["parameters"]) | set(b["parameters"])):
        rows.append(
            {
                "group": "parameter",
                "name": name,
                "a": a["parameters"].get(name),
                "b": b["parameters"].get(name),
                "delta": None,
            }
        )
    ma, mb = lineages[0]["metrics"], lineages[1]["metrics"]
    for name in sorted(set(ma) | set(mb)):
        delta = mb[name] - ma[name] if name in ma and name in mb else None
        rows.append({"group": "metric", "name": name, "a": ma.get(name), "b": mb.get(name), "delta": delta})
    for row in rows:
        row["differs"] = row["a"] != row["b"]
    return rows


def _file_changes(a: list[dict[str, Any]], b: list[dict[str, Any]]) -> list[dict[str, Any]]:
    old = {(f["direction"], f["path"]): f.get("sha256") for f in a}
    new = {(f["direction"], f["path"]): f.get("sha256") for f in b}
    return [
        {"direction": d, "path": p, "a": old.get((d, p)), "b": new.get((d, p))}
        for d, p in sorted(set(old) | set(new))
        if old.get((d, p)) != new.get((d, p))
    ]


# -- sessions and the service ----------------------------------------------------------------


async def _live_sessions() -> list[dict[str, Any]]:
    svc = service()
    return [{**m.to_dict(), "pid": kernel_pid(m.kernel_session)} for m in svc.sessions.all()]


@ui.get("/sessions")
def sessions() -> str:
    svc = service()
    now = time.time()
    found = svc.engine.run(_live_sessions())
    for session in found:
        session["memory"] = resident_bytes(session.pop("pid"))
        session["idle"] = None if session["active_runs"] else now - session["last_used"]
    done = text_arg(request.args, "done")
    return render_template("sessions.html", sessions=found, done=done if done in _SESSION_ACTIONS else "")


@ui.post("/sessions/<id>/<action>")
def session_action(id: str, action: str) -> Response:
    method = _SESSION_ACTIONS.get(action)
    if method is None:
        return page_error(404, "No such action", f"sessions can be {', '.join(_SESSION_ACTIONS)}, not {action!r}")
    getattr(service(), method)(id)
    return redirect(url_for("ui.sessions", done=action), 303)


@ui.get("/service")
def service_page() -> str:
    svc = service()
    settings = svc.settings
    disk = _disk.setdefault(str(svc.data_dir), DiskUse(svc.data_dir)).get()
    conn = svc.store.reader
    counts = {r["status"]: r["n"] for r in conn.execute("SELECT status, count(*) AS n FROM runs GROUP BY status")}
    limits = {
        "max_sessions": settings.max_sessions,
        "session_idle_timeout": settings.session_idle_timeout,
        "max_body_bytes": settings.max_body_bytes,
        "max_run_output_bytes": settings.max_run_output_bytes,
        "max_output_bytes": settings.max_output_bytes,
        "threads": settings.threads,
        "interrupt_grace": settings.interrupt_grace,
        "default_kernel": settings.default_kernel,
    }
    retention = {k: v for k, v in vars(settings).items() if k.startswith("retention")}
    return render_template(
        "service.html",
        health=svc.health(),
        kernels=svc.kernelspecs(),
        warm=settings.warm,
        live_sessions=len(svc.list_sessions()),
        limits=limits,
        disk=disk,
        data_dir=str(svc.data_dir),
        counts=counts,
        total_runs=sum(counts.values()),
        retention=retention,
    )


@ui.errorhandler(NotFound)
def on_not_found(exc: NotFound) -> Response:
    return page_error(404, "Not found", exc.message)
