"""Keep the service's tokens out of places a cell (or another local user) can read.

``/proc/<pid>/cmdline`` is readable by every local user, and ``/proc/<pid>/environ`` by
every process of the same user. Clearing ``os.environ`` does not help: the kernel shows
the *initial* environment block. So when a token arrives by ``--token`` or
``JENKINS_KERNEL_TOKEN``, :func:`reexec_without_tokens` replaces the process image (same
pid) with one whose argv and environment do not hold it, passing the tokens through an
inherited pipe that is read once and closed (:func:`read_token_fd`).
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from ..exceptions import RejectedError

__all__ = ["TOKEN_ENV", "read_token_fd", "read_token_file", "reexec_without_tokens", "strip_token_args"]

TOKEN_ENV = "JENKINS_KERNEL_TOKEN"
TOKEN_FD_OPTION = "--token-fd"


def strip_token_args(args: list[str]) -> list[str]:
    """``args`` without ``--token VALUE`` / ``--token=VALUE``."""
    kept, skip = [], False
    for arg in args:
        if skip:
            skip = False
        elif arg == "--token":
            skip = True
        elif not arg.startswith("--token="):
            kept.append(arg)
    return kept


def reexec_without_tokens(tokens: dict[str, str], args: list[str]) -> None:
    """Become ``python -m jenkins_kernel ARGS`` again, tokens handed over through a pipe.

    Does nothing where there is no ``/proc`` to hide from or no ``execve`` (Windows)."""
    if not tokens or not hasattr(os, "execve") or not os.path.isdir("/proc/self"):
        return
    payload = json.dumps(tokens).encode()
    read_end, write_end = os.pipe()
    if len(payload) > 60000:  # a pipe holds 64 KiB: more tokens than any service needs
        raise RejectedError("too many tokens to hand over", code="bad_setting")
    os.write(write_end, payload)
    os.close(write_end)
    os.set_inheritable(read_end, True)
    env = {k: v for k, v in os.environ.items() if k != TOKEN_ENV}
    argv = [sys.executable, "-m", "jenkins_kernel", *strip_token_args(args), TOKEN_FD_OPTION, str(read_end)]
    sys.stdout.flush()
    sys.stderr.flush()
    os.execve(sys.executable, argv, env)


def read_token_fd(fd: int) -> dict[str, str]:
    """The tokens :func:`reexec_without_tokens` left in pipe ``fd`` (read once, then closed)."""
    chunks = []
    try:
        while chunk := os.read(fd, 65536):
            chunks.append(chunk)
    except OSError as exc:
        raise RejectedError(f"cannot read tokens from fd {fd}: {exc}", code="bad_setting") from None
    finally:
        os.close(fd)
    tokens = json.loads(b"".join(chunks) or b"{}")
    return {str(k): str(v) for k, v in tokens.items()}


def read_token_file(path: str | Path) -> str:
    """A token kept in a file (``--token-file``): its first line, which must not be empty."""
    try:
        token = Path(path).read_text(encoding="utf-8").strip().splitlines()[0].strip()
    except (OSError, UnicodeDecodeError, IndexError) as exc:
        raise RejectedError(
            f"cannot read a token from {path}: {exc or 'the file is empty'}", code="bad_setting"
        ) from None
    if not token:
        raise RejectedError(f"the token file {path} is empty", code="bad_setting")
    return token
