"""Which kernels are installed, and a clear error for one that is not."""

from __future__ import annotations

import time
from dataclasses import dataclass

from jupyter_client.kernelspec import KernelSpecManager

from ..exceptions import UnknownKernelError

__all__ = ["KernelSpecInfo", "installed_kernels", "require_kernel"]


@dataclass(frozen=True)
class KernelSpecInfo:
    name: str
    language: str
    display_name: str
    resource_dir: str
    argv: tuple[str, ...] = ()  # the kernelspec's command line (empty for a gateway's)

    def to_dict(self) -> dict[str, str]:
        return {"name": self.name, "language": self.language, "display_name": self.display_name}


_CACHE_SECONDS = 5.0
_cache: tuple[float, dict[str, KernelSpecInfo]] | None = None


def installed_kernels() -> dict[str, KernelSpecInfo]:
    """Every kernelspec jupyter_client can find, by name.

    Finding them reads every kernel.json on the Jupyter path; the service asks on every
    request, so the answer is kept for a few seconds (a kernel installed meanwhile shows
    up within that time).
    """
    global _cache
    now = time.monotonic()
    if _cache is None or now - _cache[0] > _CACHE_SECONDS:
        _cache = (now, _find_kernels())
    return dict(_cache[1])


def _find_kernels() -> dict[str, KernelSpecInfo]:
    found = KernelSpecManager().get_all_specs()
    return {
        name: KernelSpecInfo(
            name=name,
            language=str(entry["spec"].get("language", "")),
            display_name=str(entry["spec"].get("display_name", name)),
            resource_dir=str(entry["resource_dir"]),
            argv=tuple(str(part) for part in entry["spec"].get("argv", [])),
        )
        for name, entry in sorted(found.items())
    }


def require_kernel(name: str) -> KernelSpecInfo:
    """The kernelspec called ``name``, or :class:`UnknownKernelError` listing the installed ones."""
    kernels = installed_kernels()
    if name not in kernels:
        raise UnknownKernelError(name, kernels)
    return kernels[name]
