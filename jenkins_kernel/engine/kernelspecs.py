"""Which kernels are installed, and a clear error for one that is not."""

from __future__ import annotations

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

    def to_dict(self) -> dict[str, str]:
        return {"name": self.name, "language": self.language, "display_name": self.display_name}


def installed_kernels() -> dict[str, KernelSpecInfo]:
    """Every kernelspec jupyter_client can find, by name."""
    found = KernelSpecManager().get_all_specs()
    return {
        name: KernelSpecInfo(
            name=name,
            language=str(entry["spec"].get("language", "")),
            display_name=str(entry["spec"].get("display_name", name)),
            resource_dir=str(entry["resource_dir"]),
        )
        for name, entry in sorted(found.items())
    }


def require_kernel(name: str) -> KernelSpecInfo:
    """The kernelspec called ``name``, or :class:`UnknownKernelError` listing the installed ones."""
    kernels = installed_kernels()
    if name not in kernels:
        raise UnknownKernelError(name, kernels)
    return kernels[name]
