"""Bearer tokens: each has a name, recorded on every run and audit entry.

Tokens are compared as SHA-256 digests with ``hmac.compare_digest`` (constant time, and
the same length whatever was sent). A token never reaches a log.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import os
import secrets
from pathlib import Path

__all__ = ["READ", "TOKEN_FILE", "WRITE", "Token", "TokenAuth", "ensure_secret", "ensure_token", "is_loopback"]

TOKEN_FILE = "token"
READ, WRITE = "read", "write"


class Token(str):
    """A token's secret text, with its role: ``write`` (the default) may act, ``read`` may only look.

    A ``str`` so that every place that handles plain tokens keeps working unchanged.
    """

    role: str = WRITE

    def __new__(cls, text: str, role: str = WRITE) -> Token:
        if role not in (READ, WRITE):
            raise ValueError(f"a token's role is {READ!r} or {WRITE!r}, not {role!r}")
        token = super().__new__(cls, text)
        token.role = role
        return token


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode("utf-8")).digest()


class TokenAuth:
    def __init__(self, tokens: dict[str, str]) -> None:
        self._digests = [(name, _digest(token)) for name, token in tokens.items()]
        self._roles = {name: getattr(token, "role", WRITE) for name, token in tokens.items()}
        self._fingerprints = {
            name: hashlib.sha256(b"fingerprint:" + digest).hexdigest()[:16] for name, digest in self._digests
        }

    def role(self, name: str | None) -> str | None:
        """``read`` or ``write`` for a known token name; None for an unknown one."""
        return self._roles.get(name) if name else None

    def fingerprint(self, name: str) -> str | None:
        """A short value that changes when the token's secret changes (a signed-in browser
        then has to sign in again); never the token itself."""
        return self._fingerprints.get(name)

    def check(self, token: str) -> str | None:
        """The name of ``token`` (a token typed into the sign-in form), or None."""
        return self.identify("Bearer " + token)

    def identify(self, header: str | None) -> str | None:
        """The name of the token in an ``Authorization: Bearer`` header, or None."""
        if not header or not header.startswith("Bearer "):
            return None
        given = _digest(header[len("Bearer ") :].strip())
        found = None
        for name, digest in self._digests:  # no early exit: every token is compared
            if hmac.compare_digest(given, digest):
                found = name
        return found


def ensure_token(data_dir: Path) -> tuple[str, Path, bool]:
    """The token stored in the data dir, created (mode 0600) at first start; (token, path, new)."""
    path = data_dir / TOKEN_FILE
    token, created = ensure_secret(path)
    return token, path, created


def ensure_secret(path: Path) -> tuple[str, bool]:
    """A random secret kept in ``path`` (mode 0600), created the first time; (secret, new)."""
    if path.exists():
        return path.read_text(encoding="utf-8").strip(), False
    path.parent.mkdir(parents=True, exist_ok=True)
    secret = secrets.token_urlsafe(32)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process made it first
        return path.read_text(encoding="utf-8").strip(), False
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(secret + "\n")
    return secret, True


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
