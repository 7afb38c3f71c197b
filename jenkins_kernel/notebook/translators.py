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


class Translator:
    """Python-like defaults; each language overrides what differs."""

    comment: ClassVar[str] = "#"

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
        return "None"

    def boolean(self, v: bool) -> str:
        return "True" if v else "False"

    def number(self, v: float) -> str:
        return repr(v) if math.isfinite(v) else f"float('{v}')"

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

    def null(self) -> str:
        return "''"

    def boolean(self, v: bool) -> str:
        return "true" if v else "false"

    def number(self, v: float) -> str:
        return repr(v)

    def string(self, v: str) -> str:
        # $'...' keeps every value on one line: bash_kernel sends code line by line.
        escaped = v.replace("\\", "\\\\").replace("'", "\\'")
        escaped = escaped.replace("\n", "\\n").replace("\r", "\\r").replace("\t", "\\t")
        return f"$'{escaped}'"

    def sequence(self, v: list[Any]) -> str:
        return self.string(json.dumps(v))

    def mapping(self, v: dict[Any, Any]) -> str:
        return self.string(json.dumps(v))


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
