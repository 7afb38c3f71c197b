"""Parameter values written as code in each kernel's language (papermill-compatible idea).

A :class:`Translator` renders one value by type; a language overrides only what differs.
Callers use :func:`parameter_cell_source`.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any, ClassVar

from ..exceptions import InvalidParameterError

__all__ = ["LANGUAGES", "Translator", "parameter_cell_source", "register", "translator_for"]

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_CONTROL = {"\n": "\\n", "\r": "\\r", "\t": "\\t", "\\": "\\\\"}
_BASH_ESCAPES = str.maketrans({**_CONTROL, "'": "\\'"})
_R_ESCAPES = str.maketrans({**_CONTROL, '"': '\\"'})


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
    pass


class BashTranslator(Translator):
    """Bash has strings only: lists become arrays, dicts associative arrays, null empty."""

    def assign(self, name: str, value: Any) -> str:
        if isinstance(value, (list, tuple)):
            return f"{name}=({' '.join(self.value(x) for x in value)})"
        if isinstance(value, dict):
            items = " ".join(f"[{self.string(str(k))}]={self.value(x)}" for k, x in value.items())
            return f"declare -A {name}=({items})"
        return f"{name}={self.value(value)}"

    literals: ClassVar[dict[str, str]] = {"null": "''", "true": "true", "false": "false", "nan": "nan", "inf": "inf"}

    def string(self, v: str) -> str:
        # $'...' keeps every value on one line: bash_kernel sends code line by line.
        return "$'" + v.translate(_BASH_ESCAPES) + "'"

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
        return '"' + v.translate(_R_ESCAPES) + '"'

    def sequence(self, v: list[Any]) -> str:
        return "list(" + ", ".join(self.value(x) for x in v) + ")"

    def mapping(self, v: dict[Any, Any]) -> str:
        return "list(" + ", ".join(f"{self.string(str(k))} = {self.value(x)}" for k, x in v.items()) + ")"


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
        return json.dumps(v)

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
        if not _NAME.match(name):
            raise InvalidParameterError(
                f"{name!r} is not a valid parameter name",
                hint="use letters, digits and underscores, not starting with a digit",
            )
        lines.append(translator.assign(name, value))
    return "\n".join(lines) + "\n"


register("python", PythonTranslator())
register("bash", BashTranslator())
register("r", RTranslator())
register("javascript", JavaScriptTranslator())
