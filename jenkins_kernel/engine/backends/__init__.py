"""Kernel backends: where a session's kernel runs (see :mod:`.base` for the interface).

``local`` starts kernels as processes here (jupyter_client); ``gateway`` asks a Jupyter
Kernel Gateway or Enterprise Gateway for them (REST + WebSocket).
"""

from __future__ import annotations

from ...exceptions import RejectedError
from .base import Kernel, KernelBackend
from .local import LocalBackend

__all__ = ["BACKENDS", "Kernel", "KernelBackend", "LocalBackend", "make_backend"]

BACKENDS = ("local", "gateway")


def make_backend(
    name: str = "local",
    *,
    gateway_url: str = "",
    gateway_auth_token: str = "",
    gateway_headers: dict[str, str] | None = None,
    gateway_kernel_env: dict[str, str] | None = None,
    gateway_request_timeout: float = 30.0,
    gateway_connect_timeout: float = 10.0,
) -> KernelBackend:
    """The backend called ``name``, or a clear error for an unknown one or a missing URL."""
    if name == "local":
        return LocalBackend()
    if name != "gateway":
        raise RejectedError(
            f"unknown kernel_backend {name!r}", code="bad_setting", hint=f"one of: {', '.join(BACKENDS)}"
        )
    if not gateway_url.startswith(("http://", "https://")):
        raise RejectedError(
            "kernel_backend gateway needs gateway_url (http:// or https://)",
            code="bad_setting",
            hint="e.g. gateway_url: http://enterprise-gateway.jupyter:8888",
        )
    from .gateway import GatewayBackend
    from .gateway_rest import GatewayConfig

    return GatewayBackend(
        GatewayConfig(
            url=gateway_url,
            auth_token=gateway_auth_token,
            headers=dict(gateway_headers or {}),
            kernel_env=dict(gateway_kernel_env or {}),
            request_timeout=gateway_request_timeout,
            connect_timeout=gateway_connect_timeout,
        )
    )
