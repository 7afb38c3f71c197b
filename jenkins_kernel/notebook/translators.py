"""Parameter values written as code in each kernel's language (papermill-compatible idea).

A :class:`Translator` renders one value by type; a language overrides only what differs.
Callers use :func:`parameter_cell_source`.

Values are untrusted (a Jenkins build parameter, an HTTP body): every string literal is
written in printable ASCII only, so no character of a value can end a line, a literal or
a statement in any kernel. That matters most for bash: bash_kernel splits code with
``str.splitlines`` (which also breaks at ``\x0b \x0c \x1c-\x1e \x85 \u2028 \u2029``) and types
each line into readline on a pty, where ``\x15`` (Ctrl-U) or ``\x01`` would edit the line.
Names must match :data:`NAME_PATTERN` in full; NUL and lone surrogates are refused (no
kernel can hold them faithfully, and they cannot be sent as UTF-8).
"""

from __future__ import annotations

import json
import math
import re
from typing import Any, ClassVar

from ..exceptions import InvalidParameterError

__all__ = [
    "LANGUAGES",
    "NAME_PATTERN",
    "Translator",
    "check_name",
    "check_text",
    "parameter_cell_source",
    "register",
    "translator_for",
]

#: A parameter name: ASCII letters, digits and underscores, not starting with a digit (matched in full).
NAME_PATTERN = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_UNSAFE_TEXT = re.compile(r"[\x00\ud800-\udfff]")
#: Bytes bash may see as themselves inside $'...': everything else is written \xHH.
_BASH_SAFE = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789 _-.,:/=+@%")


def check_name(name: Any) -> str:
    """``name`` if it is a valid parameter name in every language, else :class:`InvalidParameterError`."""
    if not isinstance(name, str) or not NAME_PATTERN.fullmatch(name):
        raise InvalidParameterError(
            f"{name!r} is not a valid parameter name",
            hint="use ASCII letters, digits and underscores, not starting with a digit",
        )
    return name


def check_text(text: str, what: str = "a parameter value") -> str:
    """``text`` unless it holds NUL or a lone surrogate, which no kernel receives faithfully."""
    bad = _UNSAFE_TEXT.search(text)
    if bad:
        raise InvalidParameterError(
            f"{what} holds the character U+{ord(bad.group()):04X} at position {bad.start()}, which cannot be passed",
            hint="NUL and lone surrogates (invalid UTF-16 halves) are refused; send valid Unicode text",
        )
    return text


def _check_value(v: Any) -> None:
    """Every text inside ``v`` (keys too) passes :func:`check_text`."""
    if isinstance(v, str):
        check_text(v)
    elif isinstance(v, dict):
        for k, x in v.items():
            check_text(str(k), "a mapping key")
            _check_value(x)
    elif isinstance(v, (list, tuple)):
        for x in v:
            _check_value(x)


class Translator:
    """Python-like defaults; each language overrides what differs (often only its literals)."""

    comment: ClassVar[str] = "#"
    literals: ClassVar[dict[str, str]] = {
        "null": "None",
        "true": "True",
        "false": "False",
        "nan": "float('nan')",
        "inf": "float('inf')",
    }

    def assign(self, name: str, value: Any) -> str:
        return f"{name} = {self.value(value)}"

    def value(self, v: Any) -> str:
        if v is None:
            return self.null()
        if isinstance(v, bool):
            return self.boolean(v)
        if isinstance(v, int):
            return str(v)
        if isinstance(v, float):
            return self.number(v)
        if isinstance(v, str):
            return self.string(v)
        if isinstance(v, (list, tuple)):
            return self.sequence(list(v))
        if isinstance(v, dict):
            return self.mapping(v)
        raise InvalidParameterError(f"cannot pass a value of type {type(v).__name__} as a parameter")

    def null(self) -> str:
        return self.literals["null"]

    def boolean(self, v: bool) -> str:
        return self.literals["true" if v else "false"]

    def number(self, v: float) -> str:
        if math.isnan(v):
            return self.literals["nan"]
        if math.isinf(v):
            return ("" if v > 0 else "-") + self.literals["inf"]
        return repr(v)

    def string(self, v: str) -> str:
        return repr(v)

    def sequence(self, v: list[Any]) -> str:
        return "[" + ", ".join(self.value(x) for x in v) + "]"

    def mapping(self, v: dict[Any, Any]) -> str:
        return "{" + ", ".join(f"{self.value(str(k))}: {self.value(x)}" for k, x in v.items()) + "}"


class PythonTranslator(Translator):
    """``repr`` of a str escapes every non-printable character (controls, U+2028, U+0085 ...)."""


class BashTranslator(Translator):
    """Bash has strings only: lists become arrays, dicts associative arrays, null empty."""

    def assign(self, name: str, value: Any) -> str:
        if isinstance(value, (list, tuple)):
            return f"{name}=({' '.join(self.value(x) for x in value)})"
        if isinstance(value, dict):
            items = " ".join(f"[{self.key(k)}]={self.value(x)}" for k, x in value.items())
            return f"declare -A {name}=({items})"
        return f"{name}={self.value(value)}"

    literals: ClassVar[dict[str, str]] = {"null": "''", "true": "true", "false": "false", "nan": "nan", "inf": "inf"}

    def string(self, v: str) -> str:
        """$'...' with every byte of the UTF-8 text but a few safe ASCII ones written ``\\xHH``:
        exact whatever the kernel's locale, and readline only ever sees printable ASCII."""
        return "$'" + "".join(chr(b) if b in _BASH_SAFE else f"\\x{b:02x}" for b in v.encode("utf-8")) + "'"

    def key(self, k: Any) -> str:
        text = str(k)
        if not text:
            raise InvalidParameterError("bash associative arrays cannot have an empty key", hint="name every key")
        return self.string(text)

    def sequence(self, v: list[Any]) -> str:
        return self.string(json.dumps(v))

    def mapping(self, v: dict[Any, Any]) -> str:
        return self.string(json.dumps(v))


class RTranslator(Translator):
    """R: ``<-``, ``TRUE``/``FALSE``/``NULL``, integers as ``3L``, lists and named lists."""

    def assign(self, name: str, value: Any) -> str:
        return f"{name} <- {self.value(value)}"

    def value(self, v: Any) -> str:
        if isinstance(v, int) and not isinstance(v, bool) and abs(v) < 2**31:
            return f"{v}L"
        return super().value(v)

    literals: ClassVar[dict[str, str]] = {"null": "NULL", "true": "TRUE", "false": "FALSE", "nan": "NaN", "inf": "Inf"}

    def string(self, v: str) -> str:
        """Printable ASCII as is; everything else as ``\\u{XXXX}`` (a UTF-8 string in any locale)."""
        return '"' + "".join(_r_char(c) for c in v) + '"'

    def sequence(self, v: list[Any]) -> str:
        return "list(" + ", ".join(self.value(x) for x in v) + ")"

    def mapping(self, v: dict[Any, Any]) -> str:
        if any(str(k) == "" for k in v):
            raise InvalidParameterError("R lists cannot have an empty name", hint="name every key")
        return "list(" + ", ".join(f"{self.value(str(k))} = {self.value(x)}" for k, x in v.items()) + ")"


def _r_char(c: str) -> str:
    if c in '"\\':
        return "\\" + c
    if " " <= c <= "~":
        return c
    return f"\\u{{{ord(c):x}}}" if ord(c) <= 0xFFFF else f"\\U{{{ord(c):x}}}"


class JavaScriptTranslator(Translator):
    """JavaScript: JSON literals; a plain assignment, so a parameters cell may use var or let."""

    comment = "//"
    literals: ClassVar[dict[str, str]] = {
        "null": "null",
        "true": "true",
        "false": "false",
        "nan": "NaN",
        "inf": "Infinity",
    }

    def assign(self, name: str, value: Any) -> str:
        return f"{name} = {self.value(value)};"

    def string(self, v: str) -> str:
        return json.dumps(v)  # ASCII only: U+2028, U+2029 and the rest as \\uXXXX

    def mapping(self, v: dict[Any, Any]) -> str:
        return "{" + ", ".join(f"{self.string(str(k))}: {self.value(x)}" for k, x in v.items()) + "}"


_REGISTRY: dict[str, Translator] = {}
LANGUAGES = _REGISTRY  # read-only view for docs and errors


def register(language: str, translator: Translator) -> None:
    _REGISTRY[language.lower()] = translator


def translator_for(language: str) -> Translator:
    try:
        return _REGISTRY[language.lower()]
    except KeyError:
        raise InvalidParameterError(
            f"parameters cannot be passed to a {language or 'unknown'} kernel yet "
            f"(languages with a translator: {', '.join(sorted(_REGISTRY))})",
            hint="run without parameters, or use a kernel of one of those languages",
        ) from None


def parameter_cell_source(parameters: dict[str, Any], language: str) -> str:
    """The source of the injected-parameters cell for ``language``."""
    translator = translator_for(language)
    lines = [f"{translator.comment} Parameters"]
    for name, value in parameters.items():
        check_name(name)
        _check_value(value)
        lines.append(translator.assign(name, value))
    return "\n".join(lines) + "\n"


register("python", PythonTranslator())
register("bash", BashTranslator())
register("r", RTranslator())
register("javascript", JavaScriptTranslator())
