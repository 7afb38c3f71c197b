"""Moving a warm kernel to where a run asks: its working directory and extra environment.

A started process cannot be given another cwd or environment from outside, but the kernel's
own language can change both: ``os.chdir`` and ``os.environ`` in Python, ``setwd`` and
``Sys.setenv`` in R, ``cd`` and ``export`` in bash, ``process.chdir`` and ``process.env``
in JavaScript. So a run in a workspace folder, with the build's variables, still gets a warm
kernel. A language not listed here (or a variable name it cannot spell) gets a fresh kernel.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable

from .backends.base import Kernel
from .kernel import KernelSession

__all__ = ["relocate", "relocation_code"]

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _literal(value: object) -> str:
    """A string or string mapping as a literal that Python, R and JavaScript all read
    (JSON; characters beyond ASCII kept as they are, not as surrogate escapes)."""
    return json.dumps(value, ensure_ascii=False)


def _python(cwd: str | None, env: dict[str, str]) -> str:
    lines = ["import os as _jk_os"]
    if cwd:
        lines.append(f"_jk_os.chdir({_literal(cwd)})")
    if env:
        lines.append(f"_jk_os.environ.update({_literal(env)})")
    return "\n".join([*lines, "del _jk_os"])


def _r(cwd: str | None, env: dict[str, str]) -> str:
    lines = [f"setwd({_literal(cwd)})"] if cwd else []
    if env:
        pairs = ", ".join(f"`{k}` = {_literal(v)}" for k, v in env.items())
        lines.append(f"invisible(Sys.setenv({pairs}))")
    return "\n".join(lines)


def _b64(text: str) -> str:
    return base64.b64encode(text.encode("utf-8")).decode("ascii")


def _bash(cwd: str | None, env: dict[str, str]) -> str:
    """One line of base64 only: bash_kernel types code into readline in a pty, where a
    control character in a value (Ctrl-U, Ctrl-A, a newline) would edit or end the line
    before bash parses any quoting."""
    lines = [f"cd -- \"$(printf %s '{_b64(cwd)}' | base64 -d)\""] if cwd else []
    read = "{{ IFS= read -r -d '' {0} < <(printf %s '{1}' | base64 -d); export {0}; }}"
    lines += [read.format(name, _b64(value)) for name, value in env.items()]
    return " && ".join(lines)


def _javascript(cwd: str | None, env: dict[str, str]) -> str:
    lines = [f"process.chdir({_literal(cwd)});"] if cwd else []
    if env:
        lines.append(f"Object.assign(process.env, {_literal(env)});")
    return "\n".join(lines)


_BY_LANGUAGE: dict[str, Callable[[str | None, dict[str, str]], str]] = {
    "python": _python,
    "r": _r,
    "bash": _bash,
    "javascript": _javascript,
}


def relocation_code(language: str, cwd: str | None, env: dict[str, str]) -> str | None:
    """The code that moves a ``language`` kernel to ``cwd`` with ``env``; None if it cannot."""
    make = _BY_LANGUAGE.get(language.lower())
    if make is None or not all(_NAME.fullmatch(name) and "\0" not in value for name, value in env.items()):
        return None
    return make(cwd, env)


async def relocate(session: Kernel, cwd: str | None, env: dict[str, str], timeout: float = 10.0) -> bool:
    """Move a started kernel; True if it answered ok. A restart then starts it there too.

    A kernel on a gateway runs on another machine: this machine's folder means nothing
    there and only its ``KERNEL_*`` variables are passed at start (see the gateway
    backend), so it is taken as it is."""
    if not isinstance(session, KernelSession):
        session.cwd = cwd or session.cwd
        return True
    code = relocation_code(session.info.language if session.info else "", cwd, env)
    if code is None or session.kc is None:
        return False
    msg_id = session.kc.execute(code, silent=True, store_history=False)
    reply = await session.wait_reply(msg_id, timeout=timeout)
    if reply is None or reply["content"].get("status") != "ok":
        return False
    session.cwd = cwd or session.cwd
    session.extra_env.update(env)
    return True
