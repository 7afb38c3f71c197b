"""Kernels on a gateway: the service with local kernels, the service with gateway kernels,
and the gateway used directly (its REST + WebSocket, no service), in one run.

(a) a trivial cell on a live kernel / session;
(b) a 10-cell notebook on a live kernel / session (the service also writes its reports);
(c) a 10-cell notebook on a new kernel: the service takes one from its warm pool, the
    direct client starts one (POST /api/kernels, WebSocket, kernel_info) and deletes it.
Goal: the service adds at most 1.5x over the gateway used directly ((a) and (b)).

    .venv/bin/python benchmarks/bench_gateway.py [--cells N] [--repeat N] [--round-trips N]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from bench_service import Http, make_notebook, start_service, wait_for_warm
from tornado.httpclient import AsyncHTTPClient, HTTPRequest
from tornado.websocket import websocket_connect

TOKEN = "bench-gateway-token"


def start_gateway(workdir: Path) -> tuple[subprocess.Popen[str], str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cmd = [
        sys.executable,
        "-m",
        "kernel_gateway",
        "--ip=127.0.0.1",
        f"--port={port}",
        f"--KernelGatewayApp.auth_token={TOKEN}",
    ]
    env = {**os.environ, "JUPYTER_RUNTIME_DIR": str(workdir / "runtime")}
    proc = subprocess.Popen(cmd, cwd=workdir, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    assert proc.stderr is not None
    for line in proc.stderr:
        match = re.search(r"is available at (http://127\.0\.0\.1:\d+)", line)
        if match:
            return proc, match.group(1)
    raise RuntimeError("the kernel gateway did not start")


class DirectGateway:
    """The gateway used directly: the REST calls and WebSocket messages any client sends."""

    def __init__(self, url: str) -> None:
        self.url, self.headers = url, {"Authorization": f"token {TOKEN}"}
        self.http = AsyncHTTPClient()
        self.kernel_id, self.ws = "", None

    async def start(self) -> None:
        body = json.dumps({"name": "python3"})
        answer = await self.http.fetch(f"{self.url}/api/kernels", method="POST", body=body, headers=self.headers)
        self.kernel_id = json.loads(answer.body)["id"]
        ws_url = self.url.replace("http", "ws", 1) + f"/api/kernels/{self.kernel_id}/channels"
        self.ws = await websocket_connect(HTTPRequest(ws_url, headers=self.headers))
        await self.run("kernel_info_request", {})

    async def run(self, msg_type: str, content: dict[str, Any]) -> None:
        """Send a shell request; return once its reply and its idle status have come."""
        msg_id = uuid.uuid4().hex
        header = {"msg_id": msg_id, "msg_type": msg_type, "session": "bench", "username": "bench", "version": "5.3"}
        msg = {"header": header, "parent_header": {}, "metadata": {}, "content": content, "channel": "shell"}
        assert self.ws is not None
        await self.ws.write_message(json.dumps(msg))
        replied = idle = False
        while not (replied and idle):
            frame = json.loads(await self.ws.read_message())
            if frame["parent_header"].get("msg_id") != msg_id:
                continue
            replied = replied or frame["channel"] == "shell"
            idle = idle or frame["content"].get("execution_state") == "idle"

    async def cell(self, code: str) -> None:
        await self.run(
            "execute_request", {"code": code, "silent": False, "store_history": True, "user_expressions": {}}
        )

    async def stop(self) -> None:
        assert self.ws is not None
        self.ws.close()
        await self.http.fetch(f"{self.url}/api/kernels/{self.kernel_id}", method="DELETE", headers=self.headers)


def cells(n: int) -> list[str]:
    return [f"x{i} = {i}\nprint(x{i})" for i in range(n)]


def median_ms(values: list[float]) -> float:
    return statistics.median(values) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cells", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--round-trips", type=int, default=50)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="jk-bench-gateway-"))
    (work / "gw").mkdir()
    gateway, url = start_gateway(work / "gw")
    config = work / "gateway.yaml"
    config.write_text(f"kernel_backend: gateway\ngateway_url: {url}\ngateway_auth_token: {TOKEN}\n")
    procs = [gateway]
    loop = asyncio.new_event_loop()
    try:
        local_proc, local_port = start_service(work / "local", "python3=1")
        gw_proc, gw_port = start_service(work / "gateway", "python3=1", "--config", str(config))
        procs += [local_proc, gw_proc]
        services = {"service, local kernels": Http(local_port), "service, gateway kernels": Http(gw_port)}
        direct = DirectGateway(url)
        loop.run_until_complete(direct.start())
        sessions = {}
        for name, http in services.items():
            wait_for_warm(http, "python3", 1)
            sessions[name] = http.call("POST", "/api/v1/sessions", {"kernel": "python3"})["id"]
        nb = make_notebook(work / "bench.ipynb", args.cells)
        results: dict[str, dict[str, list[float]]] = {name: {} for name in [*services, "gateway directly"]}

        def cell_on(http: Http, sid: str) -> Any:
            return lambda: http.call("POST", "/api/v1/runs?wait=60", {"code": "1 + 1", "session": sid})

        def notebook_on(http: Http, sid: str) -> Any:
            body = {"notebook": nb, "notebook_name": "bench.ipynb", "session": sid}
            return lambda: http.call("POST", "/api/v1/runs?wait=60", body)

        def run_cells(client: DirectGateway) -> None:
            for code in cells(args.cells):
                loop.run_until_complete(client.cell(code))

        # the three are measured in turn, run after run, so a busy moment falls on all alike
        live = {
            name: (cell_on(http, sessions[name]), notebook_on(http, sessions[name])) for name, http in services.items()
        }
        live["gateway directly"] = (lambda: loop.run_until_complete(direct.cell("1 + 1")), lambda: run_cells(direct))
        for key, index, repeat in (("a", 0, args.round_trips), ("b", 1, args.repeat)):
            for name in live:
                results[name][key] = []
            for i in range(repeat + 3):
                for name, funcs in live.items():
                    start = time.perf_counter()
                    funcs[index]()
                    if i >= 3:  # the first runs warm everything up
                        results[name][key].append(time.perf_counter() - start)

        def new_kernel_notebook() -> None:
            client = DirectGateway(url)
            loop.run_until_complete(client.start())
            run_cells(client)
            loop.run_until_complete(client.stop())

        for name in results:
            results[name]["c"] = []
        for _ in range(args.repeat):
            for name, http in services.items():
                wait_for_warm(http, "python3", 1)  # not measured: the pool refills between runs
                start = time.perf_counter()
                run = http.call("POST", "/api/v1/runs?wait=60", {"notebook": nb, "notebook_name": "bench.ipynb"})
                results[name]["c"].append(time.perf_counter() - start)
                assert run["exit_code"] == 0, run["log"]
            start = time.perf_counter()
            new_kernel_notebook()
            results["gateway directly"]["c"].append(time.perf_counter() - start)
        loop.run_until_complete(direct.stop())

        labels = {
            "a": f"(a) trivial cell, live kernel, {args.round_trips} runs",
            "b": f"(b) {args.cells}-cell notebook, live kernel, {args.repeat} runs",
            "c": f"(c) {args.cells}-cell notebook, new kernel, {args.repeat} runs",
        }
        for key, label in labels.items():
            print(label)
            for name, by_case in results.items():
                print(f"    {name:26} median {median_ms(by_case[key]):8.1f} ms")
            ratio = median_ms(results["service, gateway kernels"][key]) / median_ms(results["gateway directly"][key])
            goal = "  (goal <= 1.5)" if key != "c" else "  (the service's warm pool against a cold start)"
            print(f"    service with gateway kernels / gateway directly: {ratio:.2f}{goal}")
    finally:
        for proc in procs:
            proc.terminate()
            proc.wait(timeout=30)
        loop.close()


if __name__ == "__main__":
    main()
