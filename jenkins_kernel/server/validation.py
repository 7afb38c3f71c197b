"""The one place a request's input is checked: a small declarative spec per endpoint.

Every body field, query parameter and header value the API reads goes through a
:class:`Field` of a spec; a bad value is a 400 that names the field and says what is
wanted, never a 500 and never a silent default. How an endpoint uses it::

    SPEC = {"name": Text(max_length=200, help="a name"), "limit": Number(1, 1000, integer=True)}

    values = check_body(json_body(), SPEC, required=("name",))   # unknown fields -> 400
    args = check_query(request.args, {"limit": SPEC["limit"]})   # absent -> not in the dict

Numbers are finite (no NaN, no Infinity, no 1e400), booleans are JSON booleans (never
``"false"``), texts are valid Unicode (no lone surrogates; NUL only where a field allows
it), JSON values are at most :data:`MAX_DEPTH` deep, and sizes are bounded.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..exceptions import RejectedError

__all__ = [
    "MAX_DEPTH",
    "AnyJson",
    "Field",
    "Flag",
    "Number",
    "Text",
    "TextMap",
    "bad_field",
    "check_body",
    "check_query",
    "check_value",
    "parse_json",
]

#: Deepest nesting of JSON a request may hold (a notebook's metadata is well under 20).
MAX_DEPTH = 64
_SURROGATE = re.compile(r"[\ud800-\udfff]")
_NUMBER_TEXT = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d{1,3})?")
_INTEGER_TEXT = re.compile(r"-?\d{1,18}")


def bad_field(name: str, message: str, code: str = "bad_field", hint: str = "") -> RejectedError:
    """A 400 that names the field: ``{"error": {"code", "message": "<name>: ...", "field"}}``."""
    error = RejectedError(f"{name}: {message}", code=code, hint=hint)
    error.field = name  # type: ignore[attr-defined]
    return error


@dataclass(frozen=True)
class Field:
    """One input's rule; :meth:`check` returns the clean value or raises :func:`bad_field`."""

    help: str = field(default="", kw_only=True)
    code: str = field(default="bad_field", kw_only=True)

    def _bad(self, name: str, message: str) -> RejectedError:
        return bad_field(name, message, self.code, self.help)

    def check(self, name: str, value: Any) -> Any:
        raise NotImplementedError

    def from_text(self, name: str, text: str) -> Any:
        """A query parameter or header: the text as this field's type."""
        return self.check(name, text)


@dataclass(frozen=True)
class Text(Field):
    min_length: int = 1
    max_length: int = 4096
    pattern: str | None = None  # matched in full
    allow_nul: bool = False
    choices: Collection[str] = ()

    def check(self, name: str, value: Any) -> str:
        if not isinstance(value, str):
            raise self._bad(name, f"must be a string, not {_kind(value)}")
        if not self.min_length <= len(value) <= self.max_length:
            raise self._bad(name, f"must be {self.min_length} to {self.max_length} characters long, not {len(value)}")
        _check_unicode(name, value, allow_nul=self.allow_nul)
        if self.choices and value not in self.choices:
            raise self._bad(name, f"must be one of {', '.join(sorted(self.choices))}, not {value!r}")
        if self.pattern is not None and not re.fullmatch(self.pattern, value):
            raise self._bad(name, f"{value!r} is not allowed here")
        return value


@dataclass(frozen=True)
class Number(Field):
    low: float = 0
    high: float = 2**53
    integer: bool = False
    exclusive_low: bool = False

    def check(self, name: str, value: Any) -> float | int:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise self._bad(name, f"must be a number, not {_kind(value)}")
        if isinstance(value, float) and not math.isfinite(value):
            raise self._bad(name, "must be a finite number")
        if self.integer and isinstance(value, float) and not value.is_integer():
            raise self._bad(name, f"must be a whole number, not {value!r}")
        low_ok = value > self.low if self.exclusive_low else value >= self.low
        if not low_ok or value > self.high:
            above = "above" if self.exclusive_low else "at least"
            raise self._bad(name, f"must be {above} {self.low:g} and at most {self.high:g}, not {value!r}")
        return int(value) if self.integer else float(value)

    def from_text(self, name: str, text: str) -> float | int:
        shape = _INTEGER_TEXT if self.integer else _NUMBER_TEXT
        if len(text) > 40 or not shape.fullmatch(text):
            kind = "a whole number" if self.integer else "a number"
            raise self._bad(name, f"must be {kind} written in digits, not {text[:40]!r}")
        return self.check(name, int(text) if self.integer else float(text))


@dataclass(frozen=True)
class Flag(Field):
    """A JSON boolean: ``"false"`` or ``0`` is refused rather than read as true."""

    def check(self, name: str, value: Any) -> bool:
        if not isinstance(value, bool):
            raise self._bad(name, f"must be true or false, not {_kind(value)}")
        return value

    def from_text(self, name: str, text: str) -> bool:
        if text not in ("true", "false"):
            raise self._bad(name, f"must be true or false, not {text[:40]!r}")
        return text == "true"


@dataclass(frozen=True)
class TextMap(Field):
    """An object of texts, e.g. environment variables."""

    key_pattern: str = r"[A-Za-z_][A-Za-z0-9_]*"
    max_items: int = 256
    max_value_length: int = 32768

    def check(self, name: str, value: Any) -> dict[str, str]:
        if not isinstance(value, dict):
            raise self._bad(name, f"must be an object of strings, not {_kind(value)}")
        if len(value) > self.max_items:
            raise self._bad(name, f"may hold at most {self.max_items} entries, not {len(value)}")
        for key, item in value.items():
            Text(pattern=self.key_pattern, max_length=256, help=self.help).check(f"{name} key", key)
            Text(min_length=0, max_length=self.max_value_length).check(f"{name}.{key}", item)
        return dict(value)


@dataclass(frozen=True)
class AnyJson(Field):
    """Any JSON value (or only an object): bounded depth, valid Unicode everywhere."""

    object_only: bool = False
    allow_nul: bool = True

    def check(self, name: str, value: Any) -> Any:
        if self.object_only and not isinstance(value, dict):
            raise self._bad(name, f"must be a JSON object, not {_kind(value)}")
        check_value(name, value, allow_nul=self.allow_nul)
        return value


def check_value(name: str, value: Any, *, allow_nul: bool = True, depth: int = 0) -> None:
    """Every text in ``value`` (keys too) is valid Unicode; numbers finite; depth bounded."""
    if depth > MAX_DEPTH:
        raise bad_field(name, f"is nested deeper than {MAX_DEPTH} levels")
    if isinstance(value, str):
        _check_unicode(name, value, allow_nul=allow_nul)
    elif isinstance(value, float) and not math.isfinite(value):
        raise bad_field(name, "holds a number that is not finite")
    elif isinstance(value, dict):
        for key, item in value.items():
            _check_unicode(f"{name} key", str(key), allow_nul=allow_nul)
            check_value(name, item, allow_nul=allow_nul, depth=depth + 1)
    elif isinstance(value, list):
        for item in value:
            check_value(name, item, allow_nul=allow_nul, depth=depth + 1)


def check_body(body: Any, spec: Mapping[str, Field], *, required: Collection[str] = ()) -> dict[str, Any]:
    """The body's fields, each checked by its spec; None or absent fields are left out."""
    if not isinstance(body, dict):
        raise RejectedError(f"the request body must be a JSON object, not {_kind(body)}", code="bad_body")
    unknown = sorted(set(body) - set(spec))
    if unknown:
        shown = ", ".join(repr(u)[:60] for u in unknown[:5])
        raise RejectedError(f"unknown field(s): {shown}", code="unknown_field", hint=f"known fields: {', '.join(spec)}")
    values = {name: spec[name].check(name, value) for name, value in body.items() if value is not None}
    missing = [name for name in required if name not in values]
    if missing:
        raise bad_field(missing[0], "is required", code="missing_field")
    return values


def check_query(args: Mapping[str, str], spec: Mapping[str, Field]) -> dict[str, Any]:
    """The query parameters named in ``spec``, typed; others are ignored, as HTTP caches add some."""
    return {name: field.from_text(name, args[name]) for name, field in spec.items() if name in args}


def _reject_constant(text: str) -> Any:
    raise ValueError(f"{text} is not a JSON number")


def parse_json(raw: bytes) -> Any:
    """A request body as JSON: UTF-8, no NaN/Infinity, not absurdly deep, numbers of sane size."""
    if not raw.strip():
        raise RejectedError("the request body is empty", code="invalid_json", hint="send a JSON object")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise RejectedError(f"the request body is not UTF-8 (byte {exc.start})", code="invalid_json") from None
    try:
        return json.loads(text, parse_constant=_reject_constant)
    except json.JSONDecodeError as exc:
        raise RejectedError(
            f"the request body is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}",
            code="invalid_json",
        ) from None
    except (ValueError, RecursionError) as exc:  # NaN, a 5000-digit integer, nesting past the stack
        reason = "it is nested too deeply" if isinstance(exc, RecursionError) else str(exc)
        raise RejectedError(f"the request body is not acceptable JSON: {reason}", code="invalid_json") from None


def _check_unicode(name: str, text: str, *, allow_nul: bool) -> None:
    bad = _SURROGATE.search(text)
    if bad:
        raise bad_field(name, f"holds a lone surrogate U+{ord(bad.group()):04X}: not valid Unicode text")
    if not allow_nul and "\x00" in text:
        raise bad_field(name, "must not hold NUL characters")


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    return {dict: "an object", list: "an array", str: "a string", int: "a number", float: "a number"}.get(
        type(value), type(value).__name__
    )
