"""Who is looking at the dashboard, and what they may do.

A browser signs in once with a bearer token and gets a signed, expiring cookie (HttpOnly,
SameSite=Strict): ``{token name, token fingerprint, CSRF nonce}`` signed by itsdangerous
with a secret kept in the data dir. The token itself is never in the cookie; changing or
removing a token ends its browser sessions. Every state-changing form carries the CSRF
nonce, compared in constant time. A ``read`` token may look but not act.
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flask import Response, current_app, g, request
from itsdangerous import BadSignature, URLSafeTimedSerializer

from ..auth import READ, WRITE, TokenAuth, ensure_secret

__all__ = ["COOKIE", "SESSION_SECONDS", "Identity", "csrf_ok", "identify", "sign_in", "sign_out"]

COOKIE = "jk_dashboard"
SESSION_SECONDS = 12 * 3600
SECRET_FILE = "dashboard-secret"


@dataclass(frozen=True)
class Identity:
    token_name: str
    role: str
    csrf: str = ""  # empty when the request came with a bearer header (no cookie, no CSRF risk)

    @property
    def can_act(self) -> bool:
        return self.role != READ


def _auth() -> TokenAuth | None:
    return current_app.extensions["jenkins_kernel.auth"]


def _serializer() -> URLSafeTimedSerializer:
    signer = current_app.extensions.get("jenkins_kernel.ui_signer")
    if signer is None:
        service = current_app.extensions["jenkins_kernel"]
        secret, _ = ensure_secret(Path(service.settings.data_dir) / SECRET_FILE)
        signer = URLSafeTimedSerializer(secret, salt="jenkins-kernel-dashboard")
        current_app.extensions["jenkins_kernel.ui_signer"] = signer
    return signer


def identify() -> Identity | None:
    """The identity of this request: its dashboard cookie, else its bearer header."""
    auth = _auth()
    if auth is None:  # --no-auth: loopback only, everyone may act; the cookie only carries CSRF
        csrf = _cookie_csrf()
        if not csrf:
            csrf = g.ui_new_csrf = secrets.token_urlsafe(24)
        return Identity("anonymous", WRITE, csrf)
    raw = request.cookies.get(COOKIE)
    if raw:
        try:
            data: Any = _serializer().loads(raw, max_age=SESSION_SECONDS)
        except BadSignature:
            data = None
        if isinstance(data, dict) and isinstance(data.get("n"), str):
            name = data["n"]
            fingerprint = auth.fingerprint(name)
            if fingerprint and hmac.compare_digest(fingerprint, str(data.get("f", ""))):
                return Identity(name, auth.role(name) or READ, str(data.get("c", "")))
    name = auth.identify(request.headers.get("Authorization"))
    if name is not None:
        return Identity(name, auth.role(name) or READ)
    return None


def _cookie_csrf() -> str | None:
    raw = request.cookies.get(COOKIE)
    if not raw:
        return None
    try:
        data = _serializer().loads(raw, max_age=SESSION_SECONDS)
    except BadSignature:
        return None
    return str(data.get("c", "")) if isinstance(data, dict) else None


def sign_in(response: Response, token: str) -> Identity | None:
    """Check a token typed into the sign-in form; on success set the cookie on ``response``."""
    auth = _auth()
    if auth is None:
        name, role = "anonymous", WRITE
    else:
        found = auth.check(token.strip()) if token.strip() else None
        if found is None:
            return None
        name, role = found, auth.role(found) or READ
    nonce = g.pop("ui_new_csrf", None) or secrets.token_urlsafe(24)
    fingerprint = auth.fingerprint(name) if auth else ""
    value = _serializer().dumps({"n": name, "f": fingerprint, "c": nonce})
    response.set_cookie(
        COOKIE,
        value,
        max_age=SESSION_SECONDS,
        path="/",
        httponly=True,
        samesite="Strict",
        secure=request.is_secure,
    )
    return Identity(name, role, nonce)


def sign_out(response: Response) -> None:
    response.delete_cookie(COOKIE, path="/", httponly=True, samesite="Strict", secure=request.is_secure)


def csrf_ok(identity: Identity) -> bool:
    """A state-changing form is genuine: bearer requests need no nonce; cookie ones must match."""
    if request.cookies.get(COOKIE) is None and request.headers.get("Authorization"):
        return True
    sent = request.form.get("csrf", "")
    return bool(identity.csrf) and hmac.compare_digest(sent.encode(), identity.csrf.encode())
