"""A real Jupyter Kernel Gateway (jupyter_kernel_gateway from PyPI) on a free loopback port
with token auth, for the tests that run the service with ``kernel_backend: gateway``."""

from __future__ import annotations

import json
import os
import queue
import re
import socket
import subprocess
import sys
import threading
from pathlib import Path

GATEWAY_TOKEN = "gateway-token-456"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class KernelGatewayProcess:
    """``jupyter kernelgateway`` in its own folder; its kernels are the venv's kernelspecs.

    The restarter looks at its kernels every 0.5 s (``KernelRestarter.time_to_dead``, 3 s by
    default): a kernel that dies is then reported within the 2 s the service promises.
    """

    program = [sys.executable, "-m", "kernel_gateway"]
    app = "KernelGatewayApp"
    kernel_env: dict[str, str] = {}

    def __init__(self, workdir: Path, *extra: str) -> None:
        self.workdir, self.extra = workdir, extra
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.token = GATEWAY_TOKEN
        self.lines: list[str] = []
        self.proc: subprocess.Popen[str] | None = None

    def start(self, timeout: float = 60) -> KernelGatewayProcess:
        cmd = [
            *self.program, "--ip=127.0.0.1", f"--port={self.port}",
            f"--{self.app}.auth_token={self.token}", "--KernelRestarter.time_to_dead=0.5",
            *self.extra,
        ]  # fmt: skip
        env = {**os.environ, "JUPYTER_RUNTIME_DIR": str(self.workdir / "runtime")}
        env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env["PATH"]  # kernels: the project's python
        self.proc = subprocess.Popen(
            cmd, cwd=self.workdir, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
        )
        seen: queue.Queue[str] = queue.Queue()

        def drain() -> None:
            assert self.proc is not None and self.proc.stderr is not None
            for line in self.proc.stderr:
                self.lines.append(line)
                seen.put(line)
            seen.put("")

        threading.Thread(target=drain, daemon=True).start()
        while True:
            line = seen.get(timeout=timeout)
            if not line:
                raise RuntimeError("the kernel gateway exited:\n" + "".join(self.lines))
            if re.search(r"is available at http://127\.0\.0\.1:\d+", line):
                return self

    def settings(self) -> str:
        """The service's YAML settings that use this gateway."""
        text = f"kernel_backend: gateway\ngateway_url: {self.url}\ngateway_auth_token: {self.token}\n"
        return text + (f"gateway_kernel_env: {json.dumps(self.kernel_env)}\n" if self.kernel_env else "")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()


#: Enterprise Gateway pins jupyter_client 6 and jupyter_server 1, so it lives in its own
#: virtual environment, made by `make venv` (and so by .ci/run).
EG_VENV = Path(__file__).resolve().parents[1] / ".venv-eg"


class EnterpriseGatewayProcess(KernelGatewayProcess):
    """``jupyter enterprisegateway`` with its local process proxy (kernels as local processes)."""

    program = [str(EG_VENV / "bin" / "python"), "-m", "enterprise_gateway"]
    app = "EnterpriseGatewayApp"
    kernel_env = {"KERNEL_USERNAME": "jenkins"}  # it refuses kernels for root, which CI is
