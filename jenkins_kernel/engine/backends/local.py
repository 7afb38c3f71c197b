"""Kernels as processes on this machine: jupyter_client over ZeroMQ.

The kernel itself is :class:`~jenkins_kernel.engine.kernel.KernelSession` (kept where it
was, so its process handling can change without moving); this module only names it as
one backend of :mod:`.base`.
"""

from __future__ import annotations

from typing import Any

from ..kernel import KernelSession
from ..kernelspecs import KernelSpecInfo, installed_kernels, require_kernel

__all__ = ["LocalBackend"]


class LocalBackend:
    name = "local"

    def kernelspecs(self) -> dict[str, KernelSpecInfo]:
        return installed_kernels()

    def require_kernel(self, name: str) -> KernelSpecInfo:
        return require_kernel(name)

    def new_kernel(
        self,
        name: str,
        *,
        cwd: str | None = None,
        env: dict[str, str] | None = None,
        startup_timeout: float = 60.0,
        **options: Any,
    ) -> KernelSession:
        """``options``: KernelSession's own (inherit_env, kernel_env, run_as)."""
        return KernelSession(name, cwd=cwd, env=env, startup_timeout=startup_timeout, **options)

    async def close(self) -> None:
        """Nothing to release: each kernel owns its process and sockets."""
