"""Strict reading of the dashboard's query arguments: a bad one is a 400 that names it.

Small on purpose: the service's one request-validation layer (server/requests.py) can
take these over; until then every UI argument goes through here.
"""

from __future__ import annotations

from typing import Any

from ...exceptions import RejectedError

__all__ = ["MAX_TEXT", "BadQuery", "int_arg", "text_arg"]

MAX_TEXT = 200


class BadQuery(RejectedError):
    """A query argument the dashboard cannot use."""

    code = "bad_query"


def text_arg(args: Any, name: str, *, max_length: int = MAX_TEXT) -> str:
    value = args.get(name, "") or ""
    if len(value) > max_length:
        raise BadQuery(f"?{name} is longer than {max_length} characters")
    if any(ord(c) < 32 for c in value):
        raise BadQuery(f"?{name} has control characters")
    return value.strip()


def int_arg(args: Any, name: str, default: int, *, low: int, high: int) -> int:
    raw = args.get(name)
    if raw in (None, ""):
        return default
    if not raw.isdigit() or len(raw) > 9:
        raise BadQuery(f"?{name} must be a whole number, not {raw[:40]!r}")
    value = int(raw)
    if not low <= value <= high:
        raise BadQuery(f"?{name} must be between {low} and {high}, not {value}")
    return value
