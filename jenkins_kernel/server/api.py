"""The HTTP API v1 (see DESIGN.md and /api/v1/openapi.json): parse, call the service, answer JSON."""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any
from urllib.parse import urlsplit

import yaml
from flask import Blueprint, Response, current_app, g, jsonify, request, send_file, stream_with_context

from ..engine.kernelspecs import installed_kernels
from ..status import RunStatus
from .auth import READ, is_loopback
from .requests import KERNEL_NAME, SESSION_NAME, parse_run_request
from .service import AgentService
from .validation import Field, Number, Text, check_query, parse_json

__all__ = ["api", "metrics"]

api = Blueprint("api", __name__, url_prefix="/api/v1")
metrics = Blueprint("metrics", __name__)
OPEN_ENDPOINTS = {"api.health", "api.openapi"}
MUTATING = {"POST", "DELETE", "PUT", "PATCH"}
SAFE = {"GET", "HEAD"}
ARTIFACT_CSP = "sandbox; default-src 'none'; img-src 'self' data:; style-src 'unsafe-inline'; font-src data:"


def service() -> AgentService:
    return current_app.extensions["jenkins_kernel"]


# -- auth and audit ----------------------------------------------------------------------


def dashboard_token_name() -> str | None:
    from .ui.access import identify

    identity = identify()
    return identity.token_name if identity else None


def authenticate() -> Response | None:
    """Every endpoint but health and the API document needs a bearer token."""
    g.token_name = None
    if request.endpoint in OPEN_ENDPOINTS:
        return None
    auth = current_app.extensions["jenkins_kernel.auth"]
    if auth is None:
        g.token_name = "anonymous"
        return refuse_browsers()
    from .app import error_response

    header = request.headers.get("Authorization")
    g.token_name = auth.identify(header)
    if g.token_name is None and not header and request.method in SAFE:
        g.token_name = dashboard_token_name()  # a signed-in browser reads too (the live log, artifacts)
    if g.token_name is not None:
        if request.method in MUTATING and auth.role(g.token_name) == READ:
            return error_response(
                403,
                "read_only_token",
                f"the token {g.token_name!r} is read-only: it may look but not act",
                "use a token without 'role: read' for this",
            )
        return None
    if not header:
        response = error_response(
            401, "missing_token", "this endpoint needs a token", "send the header 'Authorization: Bearer <token>'"
        )
    else:
        response = error_response(
            401,
            "bad_token",
            "the token is not valid",
            "send one of the service's tokens (JENKINS_KERNEL_TOKEN for the CLI, a Secret text credential in Jenkins)",
        )
    response.headers["WWW-Authenticate"] = 'Bearer realm="jenkins-kernel"'
    return response


def refuse_browsers() -> Response | None:
    """Without tokens, only local programs may call: a web page the user visits must not.

    DNS rebinding needs a foreign Host header; a cross-site request carries a foreign
    Origin; a form can post text/plain or form data but not application/json (which a
    browser first asks about with a preflight this service never grants)."""
    from .app import error_response

    host = request.host.rsplit(":", 1)[0] if not request.host.endswith("]") else request.host
    if not is_loopback(host.strip("[]")):
        return error_response(
            403, "foreign_host", f"Host {request.host!r} is not a loopback name", "call http://127.0.0.1:PORT"
        )
    origin = request.headers.get("Origin")
    if origin is not None and not is_loopback((urlsplit(origin).hostname or "") if origin != "null" else ""):
        return error_response(403, "foreign_origin", f"requests from {origin[:100]!r} are refused", "")
    has_body = request.content_length or "chunked" in request.headers.get("Transfer-Encoding", "")
    if request.method == "POST" and has_body and request.mimetype != "application/json":
        return error_response(
            415,
            "json_only",
            "without tokens, a POST body must be application/json",
            "send Content-Type: application/json",
        )
    return None


def audit(response: Response) -> Response:
    """Record every mutating request: who, from where, what, on what, with what outcome.

    A request without a valid token is only counted (in /metrics): a flood of them must
    not grow the database.
    """
    if response.status_code == 401:
        service().metrics.unauthorized.inc()
    elif request.method in MUTATING:
        target = (request.view_args or {}).get("id") or g.get("created_id")
        service().store.audit(
            token_name=getattr(g, "token_name", None),
            remote_addr=request.remote_addr,
            action=f"{request.method} {request.url_rule.rule if request.url_rule else request.path}",
            target=target,
            outcome=str(response.status_code),
        )
    return response


for blueprint in (api, metrics):
    blueprint.before_request(authenticate)
    blueprint.after_request(audit)


# -- request helpers ---------------------------------------------------------------------


def json_body() -> Any:
    return parse_json(request.get_data(cache=False))  # 413 past max_body_bytes


def with_dashboard(run: dict[str, Any]) -> dict[str, Any]:
    """The run with ``dashboard_url``: its page on the dashboard, absolute (a build log can link it)."""
    return {**run, "dashboard_url": f"{request.host_url.rstrip('/')}/ui/runs/{run['id']}"}


WAIT = Number(0, 300, help="seconds to hold the answer")
OFFSET = Number(0, 10**18 - 1, integer=True)  # the document says the same maximum
#: Query parameters and headers of every endpoint, checked by one spec each.
QUERY: dict[str, dict[str, Field]] = {
    "start_run": {"wait": WAIT},
    "list_runs": {
        "status": Text(max_length=20, choices=[s.value for s in RunStatus]),
        "session": SESSION_NAME,
        "kernel": KERNEL_NAME,
        "job": Text(max_length=2048),
        "before": Number(0, 2**40),
        "limit": Number(1, 1000, integer=True),
    },
    "run_events": {"after": OFFSET, "wait": WAIT, "limit": Number(1, 5000, integer=True)},
    "run_log": {"start": OFFSET, "wait": WAIT},
    "run_stream": {"after": OFFSET},
    "metric_series": {
        "name": Text(min_length=0, max_length=200),
        "job": Text(min_length=0, max_length=2048),
        "notebook": Text(min_length=0, max_length=1024),
        "limit": Number(1, 10000, integer=True),
    },
    "environment": {"cwd": Text(min_length=1, max_length=4096)},
}
IDEMPOTENCY_KEY = Text(max_length=200, pattern=r"[\x21-\x7e]+", help="1 to 200 printable ASCII characters")


def query(endpoint: str) -> dict[str, Any]:
    return check_query(request.args, QUERY[endpoint])


def header(name: str, field: Field) -> Any:
    value = request.headers.get(name)
    return None if value is None else field.from_text(name, value)


# -- endpoints ---------------------------------------------------------------------------


@api.get("/health")
def health() -> tuple[Response, int]:
    body = service().health()
    return jsonify(body), 200 if body["status"] == "ok" else 503


@api.get("/openapi.json")
def openapi() -> Response:
    return jsonify(openapi_document())


@cache
def openapi_document() -> dict[str, Any]:
    """The API document, with the kernels installed here as the allowed values of a kernel name."""
    text = resources.files("jenkins_kernel.server").joinpath("openapi.yaml").read_text(encoding="utf-8")
    document = yaml.safe_load(text)
    document["components"]["schemas"]["KernelName"]["enum"] = sorted(installed_kernels())
    return document


@api.get("/kernelspecs")
def kernelspecs() -> Response:
    return jsonify({"kernelspecs": service().kernelspecs()})


@api.post("/sessions")
def create_session() -> tuple[Response, int]:
    session = service().create_session(json_body(), g.token_name)
    g.created_id = session["id"]
    return jsonify(session), 201


@api.get("/sessions")
def list_sessions() -> Response:
    return jsonify({"sessions": service().list_sessions()})


@api.get("/sessions/<id>")
def get_session(id: str) -> Response:
    return jsonify(service().get_session(id))


@api.delete("/sessions/<id>")
def delete_session(id: str) -> Response:
    return jsonify(service().delete_session(id))


@api.post("/sessions/<id>/interrupt")
def interrupt_session(id: str) -> Response:
    return jsonify(service().interrupt_session(id))


@api.post("/sessions/<id>/restart")
def restart_session(id: str) -> Response:
    return jsonify(service().restart_session(id))


@api.post("/runs")
def start_run() -> tuple[Response, int]:
    wait = query("start_run").get("wait", 0)
    key = header("Idempotency-Key", IDEMPOTENCY_KEY)
    run_request = parse_run_request(json_body())
    run, created = service().start_run(
        run_request, token_name=g.token_name, remote_addr=request.remote_addr, idempotency_key=key, will_wait=wait > 0
    )
    g.created_id = run["id"]
    if wait > 0:
        run = service().wait_run(run["id"], wait)
        run["log"], run["log_start"] = service().log_tail(run)
    response = jsonify(with_dashboard(run))
    response.headers["Location"] = run["links"]["self"]
    if not created:
        response.headers["Idempotent-Replayed"] = "true"
    return response, 201 if created else 200


@api.get("/runs")
def list_runs() -> Response:
    args = query("list_runs")
    runs = service().list_runs(
        status=args.get("status"),
        session=args.get("session"),
        kernel=args.get("kernel"),
        job=args.get("job"),
        before=args.get("before"),
        limit=args.get("limit", 50),
    )
    return jsonify({"runs": [with_dashboard(r) for r in runs]})


@api.get("/runs/<id>")
def get_run(id: str) -> Response:
    return jsonify(with_dashboard(service().get_run(id)))


@api.post("/runs/<id>/cancel")
def cancel_run(id: str) -> tuple[Response, int]:
    return jsonify(with_dashboard(service().cancel_run(id))), 202


@api.get("/runs/<id>/events")
def run_events(id: str) -> Response:
    args = query("run_events")
    after = args.get("after", 0)
    events, run = service().events(id, after, args.get("wait", 0), args.get("limit", 1000))
    last = events[-1]["seq"] if events else after
    more = last < run["last_seq"] or run["exit_code"] is None
    return jsonify({"events": events, "last_seq": last, "status": run["status"], "more": more})


@api.get("/runs/<id>/log")
def run_log(id: str) -> Response:
    args = query("run_log")
    text, size, more = service().log(id, args.get("start", 0), args.get("wait", 0))
    response = Response(text, mimetype="text/plain", content_type="text/plain; charset=utf-8")
    response.headers["X-Text-Size"] = str(size)
    if more:
        response.headers["X-More-Data"] = "true"
    return response


@api.get("/runs/<id>/stream")
def run_stream(id: str) -> Response:
    args = query("run_stream")  # checked even when Last-Event-ID wins
    last_event_id = header("Last-Event-ID", OFFSET)
    after = last_event_id if last_event_id is not None else args.get("after", 0)
    service().get_run(id)  # a 404 now, before the stream starts
    batches = service().follow(id, after)

    def sse() -> Any:
        for batch in batches:
            if batch is None:
                yield ": keep-alive\n\n"
                continue
            for event in batch:
                yield f"id: {event['seq']}\nevent: {event['type']}\ndata: {json.dumps(event)}\n\n"
        yield f"event: end\ndata: {json.dumps({'status': service().get_run(id)['status']})}\n\n"

    return Response(
        stream_with_context(sse()),
        mimetype="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


@api.get("/runs/<id>/lineage")
def run_lineage(id: str) -> Response:
    return jsonify(service().lineage(id))


@api.get("/metrics")
def metric_series() -> Response:
    args = query("metric_series")
    series = service().store.metric_series(
        name=args.get("name") or None,
        job=args.get("job") or None,
        notebook=args.get("notebook") or None,
        limit=args.get("limit", 100),
    )
    return jsonify({"metrics": series})


@api.get("/environments/<kernel>")
def environment(kernel: str) -> Response:
    return jsonify(service().current_environment(kernel, query("environment").get("cwd") or None))


@api.get("/runs/<id>/artifacts")
def list_artifacts(id: str) -> Response:
    return jsonify({"artifacts": service().artifacts(id)})


@api.get("/runs/<id>/artifacts/<path:name>")
def get_artifact(id: str, name: str) -> Response:
    return artifact_response(id, name)


def artifact_response(run_id: str, name: str) -> Response:
    """An artifact's bytes. A notebook's own HTML opened from the dashboard must not run as
    the dashboard: no script, an origin of its own."""
    opened = service().open_artifact(run_id, name)  # no link followed (see artifact_files)
    response = send_file(opened, as_attachment=False, download_name=name.rsplit("/", 1)[-1])
    response.headers["Content-Security-Policy"] = ARTIFACT_CSP
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


@metrics.get("/metrics")
def prometheus() -> Response:
    return Response(service().metrics.render(), mimetype="text/plain; version=0.0.4")
