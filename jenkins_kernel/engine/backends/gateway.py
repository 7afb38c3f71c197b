"""Kernels on a Jupyter Kernel Gateway or Enterprise Gateway: REST to start and stop them,
one WebSocket (the gateway's ``/api/kernels/ID/channels``) for their messages.

The WebSocket carries every channel as JSON text frames tagged with ``channel`` (the
gateways' default protocol); a reader task sorts them into one queue per channel, so the
executor reads IOPub and shell replies as it does from ZeroMQ. Messages are built with
jupyter_client's :class:`~jupyter_client.session.Session`, as any Jupyter client does.

A dropped WebSocket is reopened with the same ``session_id``: the gateway buffers what
the kernel sent meanwhile and replays it, so no output is lost or repeated. The kernel
counts as dead when the gateway says so (an IOPub ``restarting``/``dead`` status from its
restarter, or the kernel gone from ``GET /api/kernels/ID``) or when the WebSocket cannot be
reopened within :data:`RECONNECT_FOR` seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import getpass
import json
import logging
import struct
import time
from typing import Any

from jupyter_client.jsonutil import json_default
from jupyter_client.session import Session
from tornado.httpclient import HTTPClientError, HTTPRequest
from tornado.websocket import WebSocketClientConnection, WebSocketClosedError, websocket_connect

from ...exceptions import KernelStartError
from ..kernel import KernelInfo
from ..kernelspecs import KernelSpecInfo
from .gateway_rest import GatewayConfig, GatewayError, GatewayRest

__all__ = ["GatewayBackend", "GatewayKernel"]

log = logging.getLogger(__name__)
#: Seconds a dropped WebSocket may take to reopen before the kernel counts as dead.
RECONNECT_FOR = 1.5
#: Seconds between asking the gateway whether the kernel still exists.
MODEL_POLL = 1.0
#: Largest message accepted from the gateway (a flood of output arrives as one message).
MAX_MESSAGE = 512 * 1024 * 1024
_CHANNELS = ("shell", "iopub", "stdin", "control")


def decode_frame(raw: str | bytes) -> dict[str, Any]:
    """A message from a WebSocket frame: JSON text, or the binary form used when a message
    carries buffers (a count, offsets, then the JSON part and the buffers)."""
    if isinstance(raw, bytes):
        (count,) = struct.unpack("!I", raw[:4])
        offsets = struct.unpack("!" + "I" * count, raw[4 : 4 + 4 * count])
        raw = raw[offsets[0] : offsets[1] if count > 1 else None]
    msg = json.loads(raw)
    msg.setdefault("msg_type", msg.get("header", {}).get("msg_type"))
    msg.setdefault("msg_id", msg.get("header", {}).get("msg_id"))
    return msg


class GatewayKernel:
    """One kernel on a gateway (see :class:`~.base.Kernel` for the contract)."""

    def __init__(
        self,
        rest: GatewayRest,
        kernel_name: str,
        *,
        cwd: str | None = None,
        env: dict[str, str] | None = None,
        startup_timeout: float = 60.0,
    ) -> None:
        self.rest = rest
        self.spec: KernelSpecInfo = rest.require_kernel(kernel_name)
        self.kernel_name = kernel_name
        self.cwd = str(cwd or "")  # on this machine: where images and reports go, not the kernel's
        self.extra_env = dict(env or {})
        self.startup_timeout = startup_timeout
        self.lock = asyncio.Lock()
        self.info: KernelInfo | None = None
        self.started_at: float | None = None
        self.kernel_id: str | None = None
        self._session = Session(key=b"", username="jenkins-kernel")
        self._ws: WebSocketClientConnection | None = None
        self._queues: dict[str, asyncio.Queue[dict[str, Any]]] = {c: asyncio.Queue() for c in _CHANNELS}
        self._outbox: list[str] = []
        self._tasks: list[asyncio.Task[None]] = []
        self._deleting: asyncio.Future[None] | None = None
        self._dead: str | None = None
        self._closing = False

    # -- lifecycle ---------------------------------------------------------------------

    async def start(self, attempts: int = 2) -> GatewayKernel:
        last: Exception | None = None
        for _ in range(attempts):
            try:
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
        self._dead, self._closing = None, False
        self._queues = {c: asyncio.Queue() for c in _CHANNELS}
        self._session = Session(key=b"", username="jenkins-kernel")  # a new session_id: nothing to replay
        # KERNEL_USERNAME: who the kernel runs for (Enterprise Gateway refuses root by default)
        env = {"KERNEL_USERNAME": getpass.getuser(), **self.rest.config.kernel_env, **self.extra_env}
        model = await self.rest.request("POST", "kernels", body={"name": self.kernel_name, "env": env})
        self.kernel_id = str(model["id"])
        self._ws = await self._connect(self.rest.config.connect_timeout)
        loop = asyncio.get_running_loop()
        self._tasks = [loop.create_task(self._read()), loop.create_task(self._watch_model())]

    async def _connect(self, timeout: float) -> WebSocketClientConnection:
        assert self.kernel_id is not None
        config = self.rest.config
        request = HTTPRequest(
            config.ws_url(self.kernel_id, self._session.session),
            headers=config.http_headers(),
            connect_timeout=timeout,
            request_timeout=max(timeout, config.request_timeout),
        )
        try:
            return await websocket_connect(request, max_message_size=MAX_MESSAGE)
        except (HTTPClientError, OSError, WebSocketClosedError) as exc:
            raise GatewayError(
                f"the kernel gateway at {config.url} did not open the channels of kernel {self.kernel_id}: {exc}",
                hint="check gateway_url and gateway_auth_token; a proxy in between must pass WebSockets",
            ) from exc

    async def _wait_ready(self) -> None:
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            msg_id = self._send("shell", "kernel_info_request", {})
            reply = await self.wait_reply(msg_id, timeout=1.0)
            if reply is None:
                if self._dead:
                    raise KernelStartError(f"the {self.kernel_name} kernel {self._dead} while starting")
                continue
            with contextlib.suppress(asyncio.TimeoutError):  # IOPub works once a message arrives on it
                await asyncio.wait_for(self.recv_iopub(), 0.5)
                self.info = KernelInfo.from_reply(self.kernel_name, reply["content"])
                return
        raise KernelStartError(
            f"the {self.kernel_name} kernel on the gateway did not answer within {self.startup_timeout:g} s",
            hint=f"the gateway at {self.rest.config.url} may be overloaded, or still pulling the kernel's image",
        )

    async def restart(self) -> None:
        await self.kill()
        await self.start()

    def request_shutdown(self) -> None:
        """Ask the gateway to shut the kernel down; :meth:`close` waits for its answer."""
        if self.kernel_id is not None and not self._closing:
            self._closing = True
            self._deleting = asyncio.ensure_future(self._delete(self.kernel_id))
            self.kernel_id = None  # deleted once: kill() need not ask again

    async def close(self, grace: float = 0.5) -> None:
        self.request_shutdown()
        if self._deleting is not None:
            await asyncio.wait([self._deleting], timeout=grace + 1.0)
        await self.kill()

    async def kill(self) -> None:
        """Close the channels and delete the kernel on the gateway (in the background)."""
        self._closing = True
        for task in self._tasks:
            task.cancel()
        self._tasks = []
        if self._ws is not None:
            self._ws.close()
            self._ws = None
        if self.kernel_id is not None:
            _background(self._delete(self.kernel_id))
            self.kernel_id = None

    async def _delete(self, kernel_id: str) -> None:
        """Delete the kernel; once more a second later if the gateway fails (jupyter_client
        can fail a DELETE that comes while its restarter replaces a dead kernel)."""
        for attempt in range(2):
            try:
                await self.rest.request("DELETE", "kernels", kernel_id, ok404=True)
                return
            except GatewayError as exc:
                if attempt:
                    log.warning("could not delete kernel %s on the gateway: %s", kernel_id, exc.message)
                else:
                    await asyncio.sleep(1.0)

    # -- messages ----------------------------------------------------------------------

    def _send(self, channel: str, msg_type: str, content: dict[str, Any]) -> str:
        msg = self._session.msg(msg_type, content)
        msg["channel"] = channel
        data = json.dumps(msg, default=json_default)
        if self._ws is None or self._outbox:
            self._outbox.append(data)  # sent once the WebSocket is back
        else:
            self._write(data)
        return str(msg["header"]["msg_id"])

    def _write(self, data: str) -> None:
        assert self._ws is not None
        try:
            future = self._ws.write_message(data)
        except WebSocketClosedError:
            self._outbox.append(data)
            return
        future.add_done_callback(lambda f: f.exception())  # a close is seen by the reader

    def execute(self, code: str, *, store_history: bool = True, allow_stdin: bool = False) -> str:
        content = {
            "code": code,
            "silent": False,
            "store_history": store_history,
            "user_expressions": {},
            "allow_stdin": allow_stdin,
            "stop_on_error": False,
        }
        return self._send("shell", "execute_request", content)

    async def recv_iopub(self) -> dict[str, Any]:
        return await self._queues["iopub"].get()

    async def recv_stdin(self) -> dict[str, Any]:
        return await self._queues["stdin"].get()

    async def wait_reply(self, msg_id: str, timeout: float | None) -> dict[str, Any] | None:
        deadline = None if timeout is None else time.monotonic() + timeout
        queue = self._queues["shell"]
        while True:
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            try:
                msg = await asyncio.wait_for(queue.get(), left)
            except asyncio.TimeoutError:
                return None
            if msg["parent_header"].get("msg_id") == msg_id:
                return msg

    async def _read(self) -> None:
        """Sort the gateway's frames into channel queues; reopen a dropped WebSocket."""
        while not self._closing:
            ws = self._ws
            raw = await ws.read_message() if ws is not None else None
            if raw is None:
                if self._closing or not await self._reconnect():
                    return
                continue
            msg = decode_frame(raw)
            channel = msg.pop("channel", "iopub")
            state = msg["content"].get("execution_state") if msg["msg_type"] == "status" else None
            if state in ("restarting", "dead") and not msg["parent_header"]:
                self._dead = "died (the gateway saw its process end)"
            if channel in self._queues:
                self._queues[channel].put_nowait(msg)

    async def _reconnect(self) -> bool:
        """Reopen the WebSocket with the same session id (the gateway replays what it kept)."""
        self._ws = None
        end = time.monotonic() + RECONNECT_FOR
        pause = 0.05
        while not self._closing and time.monotonic() < end:
            try:
                self._ws = await self._connect(max(0.2, end - time.monotonic()))
            except GatewayError:
                await asyncio.sleep(pause)
                pause = min(pause * 2, 0.4)
                continue
            outbox, self._outbox = self._outbox, []
            for data in outbox:
                self._write(data)
            log.info("kernel %s: WebSocket to the gateway reopened", self.kernel_id)
            return True
        if not self._closing:
            self._dead = f"lost its WebSocket to the gateway, which did not reopen within {RECONNECT_FOR:g} s"
        return False

    async def _watch_model(self) -> None:
        """Notice a kernel the gateway no longer has (deleted, culled, its pod gone)."""
        kernel_id = self.kernel_id
        assert kernel_id is not None
        while not self._closing and self._dead is None:
            await asyncio.sleep(MODEL_POLL)
            try:
                model = await self.rest.request("GET", "kernels", kernel_id, ok404=True)
            except GatewayError:
                continue  # the WebSocket's fate decides
            if model is None:
                self._dead = "is gone from the gateway (deleted or culled there)"
            elif model.get("execution_state") == "dead":
                self._dead = "died (the gateway reports it dead)"

    # -- state -------------------------------------------------------------------------

    async def exit_code(self) -> int | None:
        """None while the kernel lives; 1 once it died or was stopped (gateways keep no exit code)."""
        if self._dead is not None or self.kernel_id is None:
            return 1
        return None

    def describe_exit(self, code: int | None) -> str:
        return self._dead or "was stopped"

    async def interrupt(self) -> None:
        if self.kernel_id is not None and self._dead is None:
            try:
                await self.rest.request("POST", "kernels", self.kernel_id, "interrupt")
            except GatewayError as exc:
                log.warning("interrupting kernel %s: %s", self.kernel_id, exc.message)

    def resident_bytes(self) -> int:
        """The kernel's memory is the cluster's, not this machine's: it costs the warm pool nothing here."""
        return 0

    def stderr_tail(self, lines: int = 5) -> str:
        """A gateway keeps the kernel's own log to itself: say where to look."""
        if self.kernel_id is None:
            return ""
        return f"the gateway's log for kernel {self.kernel_id} ({self.rest.config.url}) says why"


_BACKGROUND: set[asyncio.Task[None]] = set()


def _background(coro: Any) -> None:
    task = asyncio.ensure_future(coro)
    _BACKGROUND.add(task)
    task.add_done_callback(_BACKGROUND.discard)


class GatewayBackend:
    """Kernels on a gateway; kernelspecs are the gateway's ``GET /api/kernelspecs``."""

    name = "gateway"

    def __init__(self, config: GatewayConfig) -> None:
        self.rest = GatewayRest(config)

    def kernelspecs(self) -> dict[str, KernelSpecInfo]:
        return self.rest.kernelspecs()

    def require_kernel(self, name: str) -> KernelSpecInfo:
        return self.rest.require_kernel(name)

    def new_kernel(
        self,
        name: str,
        *,
        cwd: str | None = None,
        env: dict[str, str] | None = None,
        startup_timeout: float = 60.0,
        **options: Any,
    ) -> GatewayKernel:
        """``options``: only ``kernel_env`` means something on a gateway (sent with the start)."""
        env = {**(options.get("kernel_env") or {}), **(env or {})}
        return GatewayKernel(self.rest, name, cwd=cwd, env=env, startup_timeout=startup_timeout)

    async def close(self) -> None:
        """Wait (a little) for the kernels being deleted on the gateway."""
        if _BACKGROUND:
            await asyncio.wait(list(_BACKGROUND), timeout=10)
