"""Ask each kernel for its language version by starting it (all at once) and stopping it."""

from __future__ import annotations

import asyncio
import tempfile

from ..exceptions import JenkinsKernelError
from .kernel import KernelSession

__all__ = ["probe_versions"]


async def _probe(name: str, timeout: float) -> str:
    with tempfile.TemporaryDirectory() as cwd:
        session = KernelSession(name, cwd=cwd, startup_timeout=timeout)
        try:
            await session.start(attempts=1)
            info = session.info
            if info is None:
                return ""
            # bash_kernel reports no language version: name the kernel's own instead
            return info.language_version or f"({info.implementation} {info.implementation_version})".strip()
        except JenkinsKernelError:
            return "(does not start)"
        finally:
            await session.kill()


async def _probe_all(names: list[str], timeout: float) -> dict[str, str]:
    versions = await asyncio.gather(*(_probe(n, timeout) for n in names))
    return dict(zip(names, versions))


def probe_versions(names: list[str], timeout: float = 20.0) -> dict[str, str]:
    """``{kernel name: language version}``; a kernel that does not start says so."""
    return asyncio.run(_probe_all(names, timeout))
