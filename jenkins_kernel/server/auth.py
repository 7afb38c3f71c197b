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

__all__ = ["TOKEN_FILE", "TokenAuth", "ensure_token", "is_loopback"]

TOKEN_FILE = "token"


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode("utf-8")).digest()


class TokenAuth:
    def __init__(self, tokens: dict[str, str]) -> None:
        self._digests = [(name, _digest(token)) for name, token in tokens.items()]

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
    if path.exists():
        return path.read_text(encoding="utf-8").strip(), path, False
    data_dir.mkdir(parents=True, exist_ok=True)
    token = secrets.token_urlsafe(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(token + "\n")
    return token, path, True


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
