"""The gateway kernel backend on a real Jupyter Kernel Gateway: what only a gateway can do
to a kernel (drop its WebSocket, delete it) and what the service must make of it."""

from __future__ import annotations

import asyncio
import time
import urllib.request

from jenkins_kernel.engine.backends import make_backend
from jenkins_kernel.engine.executor import execute_cell
from jenkins_kernel.status import RunStatus


def _backend(gateway):
    return make_backend("gateway", gateway_url=gateway.url, gateway_auth_token=gateway.token)


def test_a_dropped_websocket_is_reopened_and_no_output_is_lost_or_repeated(kernel_gateway):
    async def scenario():
        backend = _backend(kernel_gateway)
        kernel = await backend.new_kernel("python3").start()
        texts: list[str] = []
        dropped = asyncio.Event()

        def emit(kind, **data):
            if kind == "stream":
                texts.append(data["text"])
                if not dropped.is_set():
                    dropped.set()
                    kernel._ws.stream.close()  # the TCP connection dies under the gateway's feet

        # the drop comes while the kernel sleeps: what the gateway had already written to the
        # dead connection would be lost (the protocol has no acknowledgement), what comes after
        # is kept by the gateway and replayed on the new connection
        code = (
            "import time\nprint('before', flush=True)\ntime.sleep(1.5)\nfor i in range(15):\n    print(i, flush=True)"
        )
        try:
            outcome = await execute_cell(kernel, code, emit)
            return outcome, texts
        finally:
            await kernel.close()
            await backend.close()

    outcome, texts = asyncio.run(scenario())
    assert outcome.status is RunStatus.SUCCEEDED, outcome.error
    assert "".join(texts) == "before\n" + "".join(f"{i}\n" for i in range(15))


def test_a_kernel_deleted_on_the_gateway_ends_the_run_kernel_died_within_two_seconds(kernel_gateway):
    async def scenario():
        backend = _backend(kernel_gateway)
        kernel = await backend.new_kernel("python3").start()
        errors = []
        started = asyncio.Event()

        def emit(kind, **data):
            if kind == "stream":
                started.set()
            if kind == "error":
                errors.append(data)

        run = asyncio.ensure_future(execute_cell(kernel, "print('go', flush=True); import time; time.sleep(60)", emit))
        await started.wait()
        request = urllib.request.Request(
            f"{kernel_gateway.url}/api/kernels/{kernel.kernel_id}",
            method="DELETE",
            headers={"Authorization": f"token {kernel_gateway.token}"},
        )
        await asyncio.to_thread(urllib.request.urlopen, request, timeout=30)  # as a gateway's culler would
        deleted = time.monotonic()
        outcome = await run
        seen = time.monotonic() - deleted
        await kernel.kill()
        await backend.close()
        return outcome, errors, seen

    outcome, errors, seen = asyncio.run(scenario())
    assert outcome.status is RunStatus.KERNEL_DIED and seen < 2.0
    assert errors[-1]["ename"] == "DeadKernelError" and "python3 kernel" in errors[-1]["evalue"]
