"""A live kernel: start it, know when it is ready, interrupt, restart and stop it.

Built on jupyter_client's async manager and client. Two choices differ from the defaults,
both measured (see ../shared/KERNEL-FACTS.md):

- readiness is one kernel_info_reply plus one IOPub message, not ``wait_for_ready`` (which
  ends with 0.2 s of waiting for IOPub to stay quiet);
- the client is :class:`~.wire.FloodSafeKernelClient`: no output is ever dropped by
  ZeroMQ, and a flood of output is not copied in memory.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import tempfile
import time
import weakref
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jupyter_client.manager import AsyncKernelManager

from ..exceptions import KernelStartError
from . import orphans
from .environment import SECRET_ENV_VARS, kernel_environment
from .kernelspecs import require_kernel
from .run_as import KernelUser, UserKernelManager
from .wire import recv_message, recv_message_within

__all__ = ["SECRET_ENV_VARS", "KernelInfo", "KernelSession", "describe_exit"]

#: Lines a kernel logs at every start; they say nothing about why it died.
_LOG_NOISE = ("running over TCP without encryption",)
#: Kernels booting at once per event loop. A boot is ~0.5 s of CPU: twenty at once on two
#: cores take no less time in all, but starve the service (``/health`` waited 0.6 s).
START_SLOTS = max(4, 2 * (os.cpu_count() or 1))
_start_slots: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore] = weakref.WeakKeyDictionary()


def _boot_slot() -> asyncio.Semaphore:
    """This loop's limiter of kernel boots (asyncio primitives belong to one loop)."""
    loop = asyncio.get_running_loop()
    slots = _start_slots.get(loop)
    if slots is None:
        slots = _start_slots[loop] = asyncio.Semaphore(START_SLOTS)
    return slots


@dataclass(frozen=True)
class KernelInfo:
    """What a kernel says of itself in its kernel_info_reply."""

    name: str
    language: str
    language_version: str
    implementation: str
    implementation_version: str
    file_extension: str

    @classmethod
    def from_reply(cls, name: str, content: dict[str, Any]) -> KernelInfo:
        lang = content.get("language_info") or {}
        return cls(
            name=name,
            language=str(lang.get("name", "")),
            language_version=str(lang.get("version", "")),
            implementation=str(content.get("implementation", "")),
            implementation_version=str(content.get("implementation_version", "")),
            file_extension=str(lang.get("file_extension", "")),
        )

    def to_dict(self) -> dict[str, str]:
        return dict(self.__dict__)


#: Run in each IPython kernel at its start: no stream message larger than 1 MB.
IPYKERNEL_STARTUP = Path(__file__).with_name("ipykernel_startup.py")


def ipython_arguments(argv: Sequence[str]) -> list[str]:
    """Extra arguments for an IPython kernel.

    Its history stays in memory: kernels sharing one ``history.sqlite`` wait on its lock,
    a CI run has no use for the next session's history, and writing it costs a quarter of
    a short cell's CPU (nbclient's tests do the same). And it sends output in messages of
    at most 1 MB (:mod:`.ipykernel_startup`), so a flood never arrives as one message.
    """
    if any("ipykernel" in part for part in argv):
        return ["--HistoryManager.hist_file=:memory:", f"--IPKernelApp.exec_files={IPYKERNEL_STARTUP}"]
    return []


def describe_exit(code: int | None) -> str:
    """Say how a kernel process ended, in words a build log reader understands."""
    if code is None:
        return "stopped answering"
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        return f"was killed by {name} (signal {-code})"
    return f"exited with code {code}"


class KernelSession:
    """One kernel process and the client connected to it.

    Runs on a session are serialized by :attr:`lock` (asyncio's lock is FIFO-fair).
    """

    def __init__(
        self,
        kernel_name: str,
        *,
        cwd: str | os.PathLike[str] | None = None,
        env: dict[str, str] | None = None,
        startup_timeout: float = 60.0,
        inherit_env: bool = True,
        kernel_env: dict[str, str] | None = None,
        run_as: KernelUser | None = None,
    ) -> None:
        """``env`` is added to the kernel's environment; ``inherit_env=False`` (the service)
        starts from an allowlist plus ``kernel_env`` instead of this process's environment;
        ``run_as`` starts the kernel as another Unix user (see :mod:`.run_as`)."""
        self.run_as = run_as
        self.spec = require_kernel(kernel_name)
        self.kernel_name = kernel_name
        self.cwd = str(cwd) if cwd else os.getcwd()
        self.extra_env = dict(env or {})
        self.inherit_env = inherit_env
        self.kernel_env = dict(kernel_env or {})
        self.startup_timeout = startup_timeout
        self.lock = asyncio.Lock()
        self.info: KernelInfo | None = None
        self.km: AsyncKernelManager | None = None
        self.kc: Any = None
        self.started_at: float | None = None
        self._stderr_path: str | None = None
        self._stderr_file: Any = None
        self._process: tuple[int, float | None] | None = None  # (pid, start time) while it lives

    # -- lifecycle ---------------------------------------------------------------------

    async def start(self, attempts: int = 2) -> KernelSession:
        """Start the kernel and wait until it answers; retry once (a port can be taken)."""
        last: Exception | None = None
        for _ in range(attempts):
            try:
                async with _boot_slot():
                    await self._launch()
                    await self._wait_ready()
                self.started_at = time.time()
                return self
            except KernelStartError as exc:
                last = exc
                await self.kill()
        assert last is not None
        raise last

    async def _launch(self) -> None:
        env = kernel_environment(self.extra_env, settings_env=self.kernel_env, inherit=self.inherit_env)
        if not os.path.isdir(self.cwd):
            raise KernelStartError(
                f"the working directory {self.cwd!r} does not exist",
                hint="pass an existing directory as cwd",
            )
        fd, self._stderr_path = tempfile.mkstemp(prefix="jk-kernel-", suffix=".log")
        self._stderr_file = os.fdopen(fd, "wb")
        self.km = UserKernelManager(
            kernel_name=self.kernel_name,
            client_class="jenkins_kernel.engine.wire.FloodSafeKernelClient",
        )
        if self.run_as is not None:
            self.km.prepare(self.run_as)
            env.update(HOME=self.cwd, USER=self.run_as.name, LOGNAME=self.run_as.name)
        try:
            await self.km.start_kernel(
                cwd=self.cwd,
                env=env,
                stdout=self._stderr_file,
                stderr=self._stderr_file,
                preexec_fn=orphans.child_setup(),  # dies with the service (Linux)
                extra_arguments=ipython_arguments(self.spec.argv),
            )
        except Exception as exc:  # a missing interpreter, a bad argv ...
            raise KernelStartError(
                f"the {self.kernel_name} kernel could not be started: {exc}",
                hint=f"check the kernelspec in {self.spec.resource_dir}",
            ) from exc
        pid = getattr(self.km.provisioner, "pid", None)
        if pid:
            self._process = pid, orphans.kernel_launched(pid, self.kernel_name)
        self.kc = self.km.client()
        self.kc.start_channels(hb=False)

    async def _wait_ready(self) -> None:
        assert self.kc is not None
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            msg_id = self.kc.kernel_info()
            reply = await self.wait_reply(msg_id, timeout=1.0)
            if reply is None:
                await self._fail_if_dead("while starting")
                continue
            # IOPub is connected once a message arrives on it
            if await recv_message_within(self.kc.iopub_channel.socket, self.kc.session, 0.5) is None:
                continue
            self.info = KernelInfo.from_reply(self.kernel_name, reply["content"])
            return
        raise KernelStartError(
            f"the {self.kernel_name} kernel did not answer within {self.startup_timeout:g} s",
            hint="the machine may be overloaded; " + self.stderr_tail(),
        )

    async def _fail_if_dead(self, when: str) -> None:
        code = await self.exit_code()
        if code is not None:
            raise KernelStartError(
                f"the {self.kernel_name} kernel {describe_exit(code)} {when}",
                hint=self.stderr_tail() or f"check the kernelspec in {self.spec.resource_dir}",
            )

    async def wait_reply(self, msg_id: str, timeout: float | None) -> dict[str, Any] | None:
        """The shell reply to ``msg_id``; None when ``timeout`` passes first."""
        assert self.kc is not None
        socket, session = self.kc.shell_channel.socket, self.kc.session
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            left = None if deadline is None else deadline - time.monotonic()
            msg = await recv_message_within(socket, session, left)
            if msg is None:
                return None
            if msg["parent_header"].get("msg_id") == msg_id:
                return msg

    def execute(self, code: str, *, store_history: bool = True, allow_stdin: bool = False) -> str:
        """Send an execute_request (the kernel goes on after an error: the engine decides); its msg_id."""
        assert self.kc is not None
        return self.kc.execute(code, store_history=store_history, allow_stdin=allow_stdin, stop_on_error=False)

    async def recv_iopub(self) -> dict[str, Any]:
        assert self.kc is not None
        return await recv_message(self.kc.iopub_channel.socket, self.kc.session)

    async def recv_stdin(self) -> dict[str, Any]:
        assert self.kc is not None
        return await recv_message(self.kc.stdin_channel.socket, self.kc.session)

    describe_exit = staticmethod(describe_exit)

    async def exit_code(self) -> int | None:
        """None while the kernel process lives; its exit code (or -signal) once it is gone."""
        if self.km is None or self.km.provisioner is None:
            return 0
        return await self.km.provisioner.poll()

    async def interrupt(self) -> None:
        if self.km is not None and await self.exit_code() is None:
            await self.km.interrupt_kernel()

    async def restart(self) -> None:
        """A fresh kernel process in place of this one: state is lost, the session lives on."""
        await self.kill()
        await self.start()

    def request_shutdown(self) -> None:
        """Ask the kernel to exit, without waiting: :meth:`close` waits and cleans up."""
        if self.km is not None and self.km.has_kernel:
            self.km.session.send(self.km._control_socket, "shutdown_request", {"restart": False})

    async def close(self, grace: float = 0.5) -> None:
        """Stop the kernel: give it ``grace`` seconds to exit on its own, then kill it."""
        if self.km is None:
            return
        deadline = time.monotonic() + grace
        pause = 0.005
        while await self.exit_code() is None and time.monotonic() < deadline:
            await asyncio.sleep(pause)
            pause = min(pause * 2, 0.1)
        await self.kill()

    async def kill(self) -> None:
        """Kill the kernel's process group at once and release its sockets and files."""
        km, kc = self.km, self.kc
        self.km = self.kc = None
        if kc is not None:
            kc.stop_channels()
        if km is not None:
            if km.has_kernel and km.provisioner is not None:
                if await km.provisioner.poll() is None:
                    await km.provisioner.kill()
                pause = 0.002
                while await km.provisioner.poll() is None:
                    await asyncio.sleep(pause)
                    pause = min(pause * 2, 0.05)
            await km.cleanup_resources()
            km.provisioner = None
        if self._process is not None:
            orphans.kernel_ended(*self._process)
            self._process = None
        if self._stderr_file is not None:
            self._stderr_file.close()
            self._stderr_file = None
        if self._stderr_path:
            Path(self._stderr_path).unlink(missing_ok=True)
            self._stderr_path = None

    def resident_bytes(self) -> int:
        """The kernel process's resident memory now (0 where it cannot be read)."""
        process = getattr(getattr(self.km, "provisioner", None), "process", None)
        try:
            status = Path(f"/proc/{process.pid}/status").read_text()  # type: ignore[union-attr]
        except (AttributeError, OSError):
            return 0
        match = re.search(r"^VmRSS:\s+(\d+) kB", status, re.MULTILINE)
        return int(match.group(1)) * 1024 if match else 0

    def stderr_tail(self, lines: int = 5) -> str:
        """The last lines the kernel process wrote to stdout/stderr (its own log)."""
        if not self._stderr_path or not os.path.exists(self._stderr_path):
            return ""
        with open(self._stderr_path, "rb") as f:
            f.seek(max(0, os.path.getsize(self._stderr_path) - 4096))
            text = f.read().decode("utf-8", "replace")
        useful = (line.strip() for line in text.splitlines() if not any(n in line for n in _LOG_NOISE))
        tail = deque((line for line in useful if line), maxlen=lines)
        return ("kernel log: " + " | ".join(tail)) if tail else ""
