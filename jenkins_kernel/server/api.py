"""The HTTP API v1 (see DESIGN.md and /api/v1/openapi.json): parse, call the service, answer JSON."""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

import yaml
from flask import Blueprint, Response, current_app, g, jsonify, request, send_file, stream_with_context

from ..exceptions import RejectedError
from .auth import READ
from .requests import parse_run_request
from .service import AgentService

__all__ = ["api", "metrics"]

api = Blueprint("api", __name__, url_prefix="/api/v1")
metrics = Blueprint("metrics", __name__)
OPEN_ENDPOINTS = {"api.health", "api.openapi"}
MUTATING = {"POST", "DELETE", "PUT", "PATCH"}
SAFE = {"GET", "HEAD"}


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
        return None
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
    raw = request.get_data(cache=False)  # 413 past max_body_bytes
    if not raw.strip():
        raise RejectedError("the request body is empty", code="invalid_json", hint="send a JSON object")
    try:
        return json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        where = f" at line {exc.lineno} column {exc.colno}" if isinstance(exc, json.JSONDecodeError) else ""
        reason = exc.msg if isinstance(exc, json.JSONDecodeError) else "not UTF-8"
        raise RejectedError(f"the request body is not valid JSON: {reason}{where}", code="invalid_json") from exc


def with_dashboard(run: dict[str, Any]) -> dict[str, Any]:
    """The run with ``dashboard_url``: its page on the dashboard, absolute (a build log can link it)."""
    return {**run, "dashboard_url": f"{request.host_url.rstrip('/')}/ui/runs/{run['id']}"}


def number_arg(name: str, default: float, *, low: float = 0, high: float | None = None) -> float:
    raw = request.args.get(name)
    if raw is None:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise RejectedError(f"?{name} must be a number, not {raw!r}", code="bad_query") from None
    if value < low or (high is not None and value > high):
        limit = f" and {high:g}" if high is not None else ""
        raise RejectedError(f"?{name} must be between {low:g}{limit}, not {raw}", code="bad_query")
    return value


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
    text = resources.files("jenkins_kernel.server").joinpath("openapi.yaml").read_text(encoding="utf-8")
    return yaml.safe_load(text)


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
    wait = number_arg("wait", 0, high=300)
    key = request.headers.get("Idempotency-Key") or None
    if key is not None and not 0 < len(key) <= 200:
        raise RejectedError("Idempotency-Key must be 1 to 200 characters", code="bad_idempotency_key")
    run_request = parse_run_request(json_body())
    run, created = service().start_run(
        run_request, token_name=g.token_name, remote_addr=request.remote_addr, idempotency_key=key, will_wait=wait > 0
    )
    g.created_id = run["id"]
    if wait > 0:
        run = service().wait_run(run["id"], wait)
        run["log"] = service().store.read_log(run["id"], 0, run["log_size"]).decode("utf-8", "replace")
    response = jsonify(with_dashboard(run))
    response.headers["Location"] = run["links"]["self"]
    if not created:
        response.headers["Idempotent-Replayed"] = "true"
    return response, 201 if created else 200


@api.get("/runs")
def list_runs() -> Response:
    before = request.args.get("before")
    runs = service().list_runs(
        status=request.args.get("status"),
        session=request.args.get("session"),
        kernel=request.args.get("kernel"),
        job=request.args.get("job"),
        before=number_arg("before", 0) if before else None,
        limit=int(number_arg("limit", 50, low=1, high=1000)),
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
    after = int(number_arg("after", 0))
    events, run = service().events(
        id, after, number_arg("wait", 0, high=300), int(number_arg("limit", 1000, low=1, high=5000))
    )
    last = events[-1]["seq"] if events else after
    more = last < run["last_seq"] or run["exit_code"] is None
    return jsonify({"events": events, "last_seq": last, "status": run["status"], "more": more})


@api.get("/runs/<id>/log")
def run_log(id: str) -> Response:
    start = int(number_arg("start", 0))
    text, size, more = service().log(id, start, number_arg("wait", 0, high=300))
    response = Response(text, mimetype="text/plain", content_type="text/plain; charset=utf-8")
    response.headers["X-Text-Size"] = str(size)
    if more:
        response.headers["X-More-Data"] = "true"
    return response


@api.get("/runs/<id>/stream")
def run_stream(id: str) -> Response:
    after = int(request.headers.get("Last-Event-ID") or number_arg("after", 0))
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


@api.get("/runs/<id>/artifacts")
def list_artifacts(id: str) -> Response:
    return jsonify({"artifacts": service().artifacts(id)})


@api.get("/runs/<id>/artifacts/<path:name>")
def get_artifact(id: str, name: str) -> Response:
    return send_file(service().artifact_path(id, name), as_attachment=False, download_name=name.rsplit("/", 1)[-1])


@metrics.get("/metrics")
def prometheus() -> Response:
    return Response(service().metrics.render(), mimetype="text/plain; version=0.0.4")
