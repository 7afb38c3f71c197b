"""The Flask app factory: one blueprint for the API, one place that turns errors into JSON."""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, Response, jsonify, redirect
from werkzeug.exceptions import HTTPException

from ..exceptions import JenkinsKernelError
from .auth import TokenAuth
from .service import AgentService

__all__ = ["create_app", "error_response"]

log = logging.getLogger(__name__)

_HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "body_too_large",
    429: "too_many_requests",
}


def error_response(status: int, code: str, message: str, hint: str = "", field: str | None = None) -> Response:
    body: dict[str, Any] = {"code": code, "message": message}
    if hint:
        body["hint"] = hint
    if field:
        body["field"] = field
    response = jsonify({"error": body})
    response.status_code = status
    return response


def create_app(service: AgentService, *, no_auth: bool = False) -> Flask:
    app = Flask("jenkins_kernel")
    app.config["MAX_CONTENT_LENGTH"] = service.settings.max_body_bytes
    app.json.sort_keys = False  # type: ignore[attr-defined]
    app.extensions["jenkins_kernel"] = service
    app.extensions["jenkins_kernel.auth"] = None if no_auth else TokenAuth(service.settings.tokens)

    from .api import api, metrics
    from .ui import ui

    app.register_blueprint(api)
    app.register_blueprint(metrics)
    app.register_blueprint(ui)

    @app.get("/favicon.ico")
    def favicon() -> Response:
        """Browsers ask for it on any page without an icon of its own (a report.html opened
        alone): the dashboard's icon, rather than a 404 in the console."""
        return redirect("/ui/static/favicon.svg", 301)

    @app.errorhandler(JenkinsKernelError)
    def on_our_error(exc: JenkinsKernelError) -> Response:
        return error_response(exc.http_status, exc.code, exc.message, exc.hint, getattr(exc, "field", None))

    @app.errorhandler(HTTPException)
    def on_http_error(exc: HTTPException) -> Response:
        status = exc.code or 500
        hint = ""
        if status == 413:
            limit = service.settings.max_body_bytes
            message = f"the request body is larger than the service's limit of {limit} bytes"
            hint = "send a smaller notebook, or raise max_body_bytes in the service's config"
        elif status == 404:
            message, hint = "no such endpoint", "see GET /api/v1/openapi.json for the API"
        else:
            message = exc.description or exc.name
        response = error_response(status, _HTTP_CODES.get(status, "http_error"), message, hint)
        valid = getattr(exc, "valid_methods", None)
        if status == 405 and valid:
            response.headers["Allow"] = ", ".join(sorted(valid))
        return response

    @app.errorhandler(Exception)
    def on_bug(exc: Exception) -> Response:
        log.exception("unexpected error")
        return error_response(500, "internal_error", "the service failed unexpectedly; its log has the details")

    return app
