"""The dashboard: server-rendered pages at /ui on the service's own port, with its tokens.

Every page is HTML from Jinja2 templates, charts are SVG drawn here, and the only script
is the package's own static files (the live log and the live run list), so every page
carries a strict Content-Security-Policy. See :mod:`.access` for sign-in and CSRF.
"""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, Response, current_app, g, redirect, render_template, request, url_for
from werkzeug.exceptions import HTTPException

from ...exceptions import JenkinsKernelError
from ..auth import is_loopback
from .access import Identity, csrf_ok, identify, sign_in

__all__ = ["CSP", "REPORT_CSP", "ui"]

#: Sent with every dashboard page: nothing but the service's own files, no inline code.
CSP = (
    "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'self'"
)
#: A notebook's report.html: Jenkins' own default policy for archived files (the page is made
#: for it: report.css and images are files beside it, no inline style, no script), framed by
#: the dashboard only; but without Jenkins' ``sandbox``: a sandboxed page has an opaque origin,
#: so the browser would not send the SameSite=Strict sign-in cookie with its stylesheet and
#: images. The frame's own ``sandbox="allow-same-origin"`` keeps scripts off instead.
REPORT_CSP = (
    "default-src 'none'; img-src 'self'; style-src 'self'; form-action 'none'; base-uri 'none'; frame-ancestors 'self'"
)
OPEN_ENDPOINTS = {"ui.signin", "ui.static"}

ui = Blueprint("ui", __name__, url_prefix="/ui", template_folder="templates", static_folder="static")


@ui.before_request
def require_identity() -> Response | None:
    g.ui_started = (time.perf_counter(), time.thread_time())
    if current_app.extensions["jenkins_kernel.auth"] is None and not is_loopback(
        urlsplit("//" + request.host).hostname or ""
    ):
        return page_error(403, "Foreign host", "Without tokens the dashboard answers loopback names only.")
    g.identity = identify()  # (a DNS-rebinding page would come with its own Host)
    if request.endpoint in OPEN_ENDPOINTS:
        return None
    if g.identity is None:
        if request.method == "GET":
            target = request.full_path.rstrip("?")
            return redirect(url_for("ui.signin", next=target))
        return page_error(401, "Sign in first", "Your dashboard session has ended; sign in again.")
    g.token_name = g.identity.token_name
    if request.method == "POST":
        if not g.identity.can_act and request.endpoint != "ui.signout":
            return page_error(403, "Read-only token", f"The token {g.identity.token_name!r} may look but not act.")
        if not csrf_ok(g.identity):
            return page_error(403, "Form expired", "This form is out of date (CSRF check failed); reload the page.")
    return None


@ui.after_request
def secure_headers(response: Response) -> Response:
    response.headers.setdefault("Content-Security-Policy", CSP)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "same-origin"
    if request.endpoint != "ui.static":
        response.headers["Cache-Control"] = "no-store"
    started = g.get("ui_started")
    if started is not None:  # wall time, and the CPU time of this request's thread (what contention does not inflate)
        wall, cpu = (time.perf_counter() - started[0]) * 1000, (time.thread_time() - started[1]) * 1000
        response.headers["Server-Timing"] = f"app;dur={wall:.1f}, cpu;dur={cpu:.1f}"
    if g.get("ui_new_csrf") and request.endpoint != "ui.signin":  # --no-auth: the CSRF nonce's cookie
        sign_in(response, "")
    return response


def page_error(status: int, title: str, message: str) -> Response:
    response = Response(render_template("error.html", title=title, message=message, status=status), status=status)
    return response


@ui.errorhandler(JenkinsKernelError)
def on_our_error(exc: JenkinsKernelError) -> Response:
    return page_error(exc.http_status, exc.code.replace("_", " ").capitalize(), exc.message)


@ui.errorhandler(HTTPException)
def on_http_error(exc: HTTPException) -> Response:
    return page_error(exc.code or 500, exc.name, exc.description or exc.name)


@ui.app_context_processor
def page_globals() -> dict[str, Any]:
    identity: Identity | None = g.get("identity")
    return {"identity": identity, "can_act": bool(identity and identity.can_act)}


from . import filters, views  # noqa: E402,F401  (routes and template filters register on import)
