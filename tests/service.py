"""A real agent service in a subprocess on a free loopback port, for tests.

Started the way a user starts it (`jenkins-kernel serve`); killed for real in fault tests.
"""

from __future__ import annotations

import json
import os
import queue
import re
import signal
import subprocess
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from conftest import JK

TOKEN = "test-token-123"


class ServiceProcess:
    def __init__(
        self,
        data_dir: Path,
        *args: str,
        token: str = TOKEN,
        port: int = 0,
        prefix: list[str] | None = None,
        env: dict[str, str] | None = None,
        preexec_fn: Any = None,
        python: str | None = None,
    ) -> None:
        """``prefix`` runs the service under another command (e.g. setpriv as another user),
        ``python`` with another interpreter than the tests' own."""
        self.data_dir, self.args, self.token, self.port = data_dir, args, token, port
        self.prefix, self.env, self.preexec_fn = prefix or [], env or {}, preexec_fn
        self.command = [python, *JK[1:]] if python else JK
        self.proc: subprocess.Popen[str] | None = None
        self.lines: list[str] = []
        self.url = ""

    def start(self, timeout: float = 30) -> ServiceProcess:
        where = ["--port", str(self.port), "--data-dir", str(self.data_dir)]
        cmd = [*self.prefix, *self.command, "serve", *where, *self.args]
        env = {**os.environ, "JENKINS_KERNEL_TOKEN": self.token, **self.env}
        self.proc = subprocess.Popen(
            cmd,
            stderr=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            text=True,
            env=env,
            preexec_fn=self.preexec_fn,
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
                raise RuntimeError("the service exited:\n" + "".join(self.lines))
            match = re.search(r"serving (http://[\d.]+:(\d+))", line)
            if match:
                self.url, self.port = match.group(1), int(match.group(2))
                return self

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        token: str | None = "default",
        headers: dict[str, str] | None = None,
        raw: bytes | None = None,
        timeout: float = 60,
    ) -> tuple[int, Any, Any]:
        """(status, headers, JSON or bytes); errors are returned, not raised."""
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        req = urllib.request.Request(self.url + path, data=data, method=method)
        if token == "default":
            token = self.token
        if token:
            req.add_header("Authorization", f"Bearer {token}")
        for key, value in (headers or {}).items():
            req.add_header(key, value)
        try:
            with urllib.request.urlopen(req, timeout=timeout) as resp:
                status, hdrs, payload = resp.status, resp.headers, resp.read()
        except urllib.error.HTTPError as exc:
            status, hdrs, payload = exc.code, exc.headers, exc.read()
        if (hdrs.get("Content-Type") or "").startswith("application/json"):
            return status, hdrs, json.loads(payload)
        return status, hdrs, payload

    def run(self, body: dict[str, Any], wait: float = 60, **kwargs: Any) -> dict[str, Any]:
        status, _, run = self.request("POST", f"/api/v1/runs?wait={wait}", body, **kwargs)
        assert status in (200, 201), run
        return run

    def wait_for(self, predicate: Any, timeout: float = 60, what: str = "a condition") -> Any:
        """Poll ``predicate()`` until it returns something true; that value."""
        deadline = time.monotonic() + timeout
        while True:
            value = predicate()
            if value:
                return value
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out after {timeout} s waiting for {what}")
            time.sleep(0.05)
