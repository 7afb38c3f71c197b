"""The one small interface between the engine and a kernel, wherever the kernel runs.

The executor, the sessions and the warm pool speak only this; a backend decides how a
kernel is started and reached: :mod:`.local` (a process on this machine, jupyter_client
over ZeroMQ) or :mod:`.gateway` (a Jupyter Kernel Gateway or Enterprise Gateway, REST +
WebSocket). Shaped like jupyter_client's provisioner: a few Popen-like methods, chosen by
name, with a clear error for an unknown one.
"""

from __future__ import annotations

import asyncio
from typing import Any, Protocol

from ..kernelspecs import KernelSpecInfo

__all__ = ["Kernel", "KernelBackend"]


class Kernel(Protocol):
    """One live kernel and the channels to it. Runs on it are serialized by :attr:`lock`."""

    kernel_name: str
    cwd: str
    spec: KernelSpecInfo
    info: Any  # KernelInfo once started
    lock: asyncio.Lock
    started_at: float | None

    async def start(self, attempts: int = 2) -> Kernel:
        """Start the kernel and return once it answers (kernel_info_reply and one IOPub message)."""

    def execute(self, code: str, *, store_history: bool = True, allow_stdin: bool = False) -> str:
        """Send an execute_request; its msg_id."""

    async def recv_iopub(self) -> dict[str, Any]:
        """The next IOPub message (any parent)."""

    async def recv_stdin(self) -> dict[str, Any]:
        """The next message on the stdin channel (an input_request)."""

    async def wait_reply(self, msg_id: str, timeout: float | None) -> dict[str, Any] | None:
        """The shell reply to ``msg_id``; None when ``timeout`` passes first."""

    async def exit_code(self) -> int | None:
        """None while the kernel lives (is-alive); a code once it is gone."""

    def describe_exit(self, code: int | None) -> str:
        """How the kernel ended, in words for a build log (``exited with code 9``)."""

    async def interrupt(self) -> None: ...

    async def restart(self) -> None:
        """A fresh kernel in place of this one: state is lost, the session lives on."""

    def request_shutdown(self) -> None:
        """Ask the kernel to exit, without waiting: :meth:`close` waits and cleans up."""

    async def close(self, grace: float = 0.5) -> None: ...

    async def kill(self) -> None:
        """Stop the kernel at once and release what it holds."""

    def resident_bytes(self) -> int:
        """Memory the kernel holds on this machine (the warm pool's budget counts it)."""

    def stderr_tail(self, lines: int = 5) -> str:
        """What the kernel last logged, as a hint for why it died ("" when unknown)."""


class KernelBackend(Protocol):
    """Where kernels come from: their kernelspecs and new kernels."""

    name: str

    def kernelspecs(self) -> dict[str, KernelSpecInfo]:
        """Every kernel this backend can start, by name."""

    def require_kernel(self, name: str) -> KernelSpecInfo:
        """The kernelspec called ``name``, or UnknownKernelError listing the known ones."""

    def new_kernel(
        self,
        name: str,
        *,
        cwd: str | None = None,
        env: dict[str, str] | None = None,
        startup_timeout: float = 60.0,
        **options: Any,
    ) -> Kernel:
        """A kernel object, not started yet. ``options`` are the local backend's (the
        environment it inherits, ``kernel_env``, the Unix user ``run_as``); a gateway sends
        ``kernel_env`` with the start and ignores the rest (the gateway decides those)."""

    async def close(self) -> None:
        """Release what the backend holds (HTTP clients)."""
