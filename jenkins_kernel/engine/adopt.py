"""Hand a warm kernel to a session that wants its own working directory and variables.

A started process cannot be given a new environment from outside, but its own code can
change its directory and its variables, and what it starts from then on inherits both.
So a warm kernel is adopted by one silent execute (no history, no outputs, no execution
count) that does ``cd`` and ``export`` in the kernel's language. A language with no
snippet here gets a freshly started kernel instead.

Values travel as literals that the language reads back exactly, whatever they contain:
Python's ``repr``, JavaScript's JSON, R escapes every character outside plain ASCII
letters and digits, and bash decodes base64 (the pty bash_kernel types into must never
see a control character).
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable, Mapping

__all__ = ["adoption_code", "can_adopt"]

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _python(cwd: str | None, env: Mapping[str, str]) -> str:
    lines = ["import os as _jk_os"]
    if env:
        lines.append(f"_jk_os.environ.update({dict(env)!r})")
    if cwd:
        lines.append(f"_jk_os.chdir({cwd!r})")
    lines.append("del _jk_os")
    return "\n".join(lines)


def _r_literal(text: str) -> str:
    out = []
    for ch in text:
        if ch.isascii() and ch.isalnum():
            out.append(ch)
        elif ord(ch) <= 0xFFFF:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(f"\\U{ord(ch):08x}")
    return '"' + "".join(out) + '"'


def _r(cwd: str | None, env: Mapping[str, str]) -> str:
    lines = []
    if env:
        pairs = ", ".join(f"{name} = {_r_literal(value)}" for name, value in env.items())
        lines.append(f"invisible(Sys.setenv({pairs}))")
    if cwd:
        lines.append(f"invisible(setwd({_r_literal(cwd)}))")
    return "\n".join(lines)


def _javascript(cwd: str | None, env: Mapping[str, str]) -> str:
    lines = []
    if env:
        lines.append(f"Object.assign(process.env, {json.dumps(dict(env))});")
    if cwd:
        lines.append(f"process.chdir({json.dumps(cwd)});")
    return "\n".join(lines) + "\nundefined;"


def _b64(text: str) -> str:
    return base64.b64encode(text.encode("utf-8")).decode("ascii")


def _bash(cwd: str | None, env: Mapping[str, str]) -> str:
    parts = []
    for name, value in env.items():
        parts.append(f"IFS= read -r -d '' {name} < <(printf %s '{_b64(value)}' | base64 -d); export {name}")
    if cwd:
        parts.append(f"""cd -- "$(printf %s '{_b64(cwd)}' | base64 -d)\"""")
    return "; ".join(parts) or ":"


_ADOPTERS: dict[str, Callable[[str | None, Mapping[str, str]], str]] = {
    "python": _python,
    "r": _r,
    "javascript": _javascript,
    "bash": _bash,
}


def can_adopt(language: str, env: Mapping[str, str]) -> bool:
    """Whether a warm kernel of ``language`` can take on ``env`` (names must be plain, and
    no value may hold a NUL, which no environment can)."""
    return language.lower() in _ADOPTERS and all(_NAME.fullmatch(k) and "\0" not in v for k, v in env.items())


def adoption_code(language: str, cwd: str | None, env: Mapping[str, str]) -> str:
    """The code that moves a kernel of ``language`` into ``cwd`` with ``env`` added."""
    return _ADOPTERS[language.lower()](cwd, env)
