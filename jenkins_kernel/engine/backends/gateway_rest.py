"""The REST half of a Jupyter Kernel Gateway / Enterprise Gateway: kernelspecs and kernels.

Both gateways serve the same API (``/api/kernelspecs``, ``/api/kernels[/ID[/interrupt]]``)
and take a token as ``Authorization: token T``. Requests from the engine loop go through
tornado's asyncio HTTP client (tornado comes with jupyter_client); the kernelspec list is
also read from the service's HTTP threads, with the standard library, and kept a few
seconds.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from typing import Any

from tornado.httpclient import AsyncHTTPClient, HTTPClientError, HTTPRequest

from ...exceptions import KernelStartError, UnknownKernelError
from ..kernelspecs import KernelSpecInfo

__all__ = ["GatewayConfig", "GatewayError", "GatewayRest"]

#: Seconds a kernelspec list is reused (as the local backend does).
SPECS_CACHE_SECONDS = 5.0


class GatewayError(KernelStartError):
    """The gateway could not be reached or refused a request (503, exit 3)."""

    code = "gateway_error"


@dataclass(frozen=True)
class GatewayConfig:
    """Where the gateway is and how to talk to it (the service's ``gateway_*`` settings)."""

    url: str
    auth_token: str = ""
    headers: dict[str, str] = field(default_factory=dict)
    kernel_env: dict[str, str] = field(default_factory=dict)
    request_timeout: float = 30.0
    connect_timeout: float = 10.0

    def http_headers(self) -> dict[str, str]:
        headers = dict(self.headers)
        if self.auth_token:
            headers.setdefault("Authorization", f"token {self.auth_token}")
        return headers

    def api(self, *parts: str) -> str:
        return self.url.rstrip("/") + "/api/" + "/".join(urllib.parse.quote(p, safe="") for p in parts)

    def ws_url(self, kernel_id: str, session_id: str) -> str:
        base = self.api("kernels", kernel_id, "channels")
        scheme, rest = base.split("://", 1)
        query = urllib.parse.urlencode({"session_id": session_id})
        return ("wss" if scheme == "https" else "ws") + "://" + rest + "?" + query


class GatewayRest:
    """The gateway's REST API, as the engine needs it."""

    def __init__(self, config: GatewayConfig) -> None:
        self.config = config
        self._specs: tuple[float, dict[str, KernelSpecInfo]] | None = None
        self._specs_lock = threading.Lock()

    # -- kernelspecs (any thread) ----------------------------------------------------

    def kernelspecs(self) -> dict[str, KernelSpecInfo]:
        """The gateway's kernelspecs by name, kept ``SPECS_CACHE_SECONDS``."""
        with self._specs_lock:
            now = time.monotonic()
            if self._specs is None or now - self._specs[0] > SPECS_CACHE_SECONDS:
                self._specs = (now, self._fetch_specs())
            return dict(self._specs[1])

    def require_kernel(self, name: str) -> KernelSpecInfo:
        specs = self.kernelspecs()
        if name not in specs:
            error = UnknownKernelError(name, specs)
            error.hint = f"name one of the gateway's kernelspecs ({self.config.url}/api/kernelspecs)"
            raise error
        return specs[name]

    def _fetch_specs(self) -> dict[str, KernelSpecInfo]:
        req = urllib.request.Request(self.config.api("kernelspecs"), headers=self.config.http_headers())
        try:
            with urllib.request.urlopen(req, timeout=self.config.request_timeout) as resp:
                body = json.loads(resp.read())
        except (OSError, ValueError) as exc:
            raise self._error("listing its kernelspecs", exc) from exc
        found = {}
        for name, entry in sorted((body.get("kernelspecs") or {}).items()):
            spec = entry.get("spec") or {}
            found[name] = KernelSpecInfo(
                name=name,
                language=str(spec.get("language", "")),
                display_name=str(spec.get("display_name", name)),
                resource_dir=self.config.api("kernelspecs", name),
            )
        return found

    # -- kernels (engine loop) -------------------------------------------------------

    async def request(self, method: str, *path: str, body: Any = None, ok404: bool = False) -> Any:
        """One REST call; its JSON answer (None for an empty one, or a 404 when ``ok404``)."""
        req = HTTPRequest(
            self.config.api(*path),
            method=method,
            headers={**self.config.http_headers(), "Content-Type": "application/json"},
            body=None if body is None and method != "POST" else json.dumps(body or {}),
            request_timeout=self.config.request_timeout,
            connect_timeout=self.config.connect_timeout,
        )
        try:
            response = await AsyncHTTPClient().fetch(req)
        except HTTPClientError as exc:
            if ok404 and exc.code == 404:
                return None
            raise self._error(f"{method} {req.url}", exc) from exc
        except OSError as exc:
            raise self._error(f"{method} {req.url}", exc) from exc
        return json.loads(response.body) if response.body else None

    def _error(self, doing: str, exc: Exception) -> GatewayError:
        detail = str(exc)
        if isinstance(exc, urllib.error.HTTPError) and exc.code in (401, 403):
            detail = f"HTTP {exc.code}: the gateway refused the token"
        if isinstance(exc, HTTPClientError) and exc.response is not None and exc.response.body:
            try:
                answer = json.loads(exc.response.body)
                detail = f"HTTP {exc.code}: {answer.get('message') or answer.get('reason') or ''}".strip()
            except ValueError:
                pass
        return GatewayError(
            f"the kernel gateway at {self.config.url} failed while {doing}: {detail}",
            hint="check gateway_url, gateway_auth_token and that the gateway runs",
        )
