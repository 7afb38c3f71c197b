"""A Python client of the HTTP API (stdlib only), used by the CLI's ``--server`` mode.

Following a run survives a flaky network or a restarting service: requests that can be
repeated are retried with backoff, and following resumes after the last event seen, so
nothing is printed twice. Starting a run carries an ``Idempotency-Key``, so retrying the
POST never runs the code twice.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from .exceptions import JenkinsKernelError, RejectedError
from .status import RunStatus

__all__ = ["ApiError", "Client", "ServiceUnreachable"]

_RETRYABLE_STATUS = {502, 503, 504}


class ApiError(JenkinsKernelError):
    """The service answered with an error (its code, message and hint)."""

    def __init__(self, status: int, code: str, message: str, hint: str = "") -> None:
        super().__init__(message, hint=hint, code=code)
        self.http_status = status
        self.status = RunStatus.REJECTED


class ServiceUnreachable(JenkinsKernelError):
    """No answer from the service (refused, timed out, reset) after the retries."""

    code = "service_unreachable"
    status = RunStatus.REJECTED


class Client:
    def __init__(
        self,
        url: str,
        token: str | None = None,
        *,
        timeout: float = 30.0,
        retry_for: float = 120.0,
        connect_for: float = 10.0,
    ) -> None:
        """``retry_for``: seconds of retrying once the service has answered (it restarts);
        ``connect_for``: seconds of retrying while it never has (a wrong URL fails fast)."""
        if not url.startswith(("http://", "https://")):
            raise RejectedError(f"the service URL must start with http:// or https://, not {url!r}")
        self.url = url.rstrip("/")
        self.token = token
        self.timeout = timeout
        self.retry_for = retry_for
        self.connect_for = connect_for
        self.answered = False  # whether the service has answered once in this client's life
        self.on_retry: Callable[[str], None] = lambda message: None

    # -- plumbing --------------------------------------------------------------------

    def _request(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        params: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
        timeout: float | None = None,
    ) -> tuple[int, dict[str, str], bytes]:
        query = (
            "?" + urllib.parse.urlencode({k: v for k, v in (params or {}).items() if v is not None}) if params else ""
        )
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.url + path + query, data=data, method=method)
        request.add_header("Accept", "application/json")
        if data is not None:
            request.add_header("Content-Type", "application/json")
        if self.token:
            request.add_header("Authorization", f"Bearer {self.token}")
        for key, value in (headers or {}).items():
            request.add_header(key, value)
        try:
            with urllib.request.urlopen(request, timeout=timeout or self.timeout) as response:
                self.answered = True
                return response.status, dict(response.headers), response.read()
        except urllib.error.HTTPError as exc:
            self.answered = True
            payload = exc.read()
            if exc.code in _RETRYABLE_STATUS:
                raise ServiceUnreachable(f"{self.url} answered {exc.code}") from exc
            raise _api_error(exc.code, payload) from None
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise ServiceUnreachable(
                f"cannot reach the jenkins-kernel service at {self.url}: {reason}",
                hint="is `jenkins-kernel serve` running there? check JENKINS_KERNEL_URL",
            ) from exc

    def _json(self, method: str, path: str, **kwargs: Any) -> Any:
        _, _, payload = self._request(method, path, **kwargs)
        return json.loads(payload)

    def _retrying(self, call: Callable[[], Any], retry_for: float | None = None) -> Any:
        """``call()``, retried with backoff while the service cannot be reached: for
        ``retry_for`` once it has answered, for ``connect_for`` at most before that."""
        window = self.retry_for if retry_for is None else retry_for
        if not self.answered:
            window = min(window, self.connect_for)
        deadline = time.monotonic() + window
        pause = 0.2
        while True:
            try:
                return call()
            except ServiceUnreachable as exc:
                if time.monotonic() + pause > deadline:
                    raise
                self.on_retry(f"{exc.message}; retrying in {pause:.1f} s")
                time.sleep(pause)
                pause = min(pause * 2, 5.0)

    # -- the API -----------------------------------------------------------------------

    def health(self) -> dict[str, Any]:
        return self._json("GET", "/api/v1/health")

    def start_run(
        self, body: dict[str, Any], *, idempotency_key: str | None = None, wait: float | None = None
    ) -> dict[str, Any]:
        """POST /runs with an idempotency key, retried: the run is created exactly once."""
        key = idempotency_key or uuid.uuid4().hex
        timeout = self.timeout + (wait or 0)
        return self._retrying(
            lambda: self._json(
                "POST",
                "/api/v1/runs",
                body=body,
                params={"wait": wait},
                headers={"Idempotency-Key": key},
                timeout=timeout,
            )
        )

    def get_run(self, run_id: str) -> dict[str, Any]:
        return self._retrying(lambda: self._json("GET", f"/api/v1/runs/{run_id}"))

    def cancel(self, run_id: str) -> dict[str, Any] | None:
        try:
            return self._json("POST", f"/api/v1/runs/{run_id}/cancel")
        except ApiError as exc:
            if exc.code == "run_finished":
                return None
            raise

    def events(self, run_id: str, after: int = 0, wait: float = 0) -> dict[str, Any]:
        return self._json(
            "GET", f"/api/v1/runs/{run_id}/events", params={"after": after, "wait": wait}, timeout=self.timeout + wait
        )

    def follow(self, run_id: str, after: int = 0, wait: float = 20.0) -> Iterator[dict[str, Any]]:
        """Every event of the run after ``after``, as it happens, until the run ends."""
        while True:
            page = self._retrying(lambda after=after: self.events(run_id, after, wait))
            for event in page["events"]:
                after = event["seq"]
                yield event
            if not page["more"]:
                return

    def log(self, run_id: str, start: int = 0, wait: float = 0) -> tuple[bytes, int, bool]:
        """progressiveText: (text from ``start``, next start, more to come)."""
        _, headers, payload = self._request(
            "GET", f"/api/v1/runs/{run_id}/log", params={"start": start, "wait": wait}, timeout=self.timeout + wait
        )
        return payload, int(headers.get("X-Text-Size", start)), headers.get("X-More-Data") == "true"

    def artifacts(self, run_id: str) -> list[dict[str, Any]]:
        return self._retrying(lambda: self._json("GET", f"/api/v1/runs/{run_id}/artifacts"))["artifacts"]

    def list_runs(self, **filters: Any) -> list[dict[str, Any]]:
        return self._retrying(lambda: self._json("GET", "/api/v1/runs", params=filters))["runs"]

    def lineage(self, run_id: str) -> dict[str, Any]:
        return self._retrying(lambda: self._json("GET", f"/api/v1/runs/{run_id}/lineage"))

    def metrics(self, **filters: Any) -> list[dict[str, Any]]:
        return self._retrying(lambda: self._json("GET", "/api/v1/metrics", params=filters))["metrics"]

    def environment(self, kernel: str, cwd: str | None = None) -> dict[str, Any]:
        path = f"/api/v1/environments/{urllib.parse.quote(kernel)}"
        return self._retrying(lambda: self._json("GET", path, params={"cwd": cwd}))

    def artifact(self, run_id: str, name: str) -> bytes:
        return self._retrying(
            lambda: self._request("GET", f"/api/v1/runs/{run_id}/artifacts/{urllib.parse.quote(name)}")
        )[2]

    def download(self, run_id: str, name: str, dest: Path) -> Path:
        _, _, payload = self._retrying(
            lambda: self._request("GET", f"/api/v1/runs/{run_id}/artifacts/{urllib.parse.quote(name)}")
        )
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_bytes(payload)
        return dest


def _api_error(status: int, payload: bytes) -> ApiError:
    try:
        error = json.loads(payload)["error"]
        return ApiError(status, error.get("code", "error"), error.get("message", ""), error.get("hint", ""))
    except (ValueError, KeyError, TypeError):
        return ApiError(status, "http_error", f"the service answered {status}: {payload[:200]!r}")
