"""Kernels as another Unix user (the ``kernel_user`` setting), when the service runs as root.

Then a cell cannot read the service's token, database or other runs: they are 0600 and
root's. Three things must be the kernel user's for a kernel to start: its working folder
(a session's scratch folder, handed over by :func:`give`), its connection file
(jupyter_client writes it before the launch, so :class:`UserKernelManager` puts it in a
private folder of that user's and hands it over), and the process itself (``Popen``'s
``user``/``group``, which jupyter_client passes through).
"""

from __future__ import annotations

import os
import pwd
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jupyter_client.manager import AsyncKernelManager

from ..exceptions import KernelStartError

__all__ = ["KernelUser", "UserKernelManager", "give", "kernel_user"]


@dataclass(frozen=True)
class KernelUser:
    name: str
    uid: int
    gid: int


def kernel_user(name: str) -> KernelUser | None:
    """The user kernels run as, or None (run as the service's own user)."""
    if not name:
        return None
    try:
        entry = pwd.getpwnam(name)
    except KeyError:
        raise KernelStartError(f"kernel_user {name!r} is not a user of this machine") from None
    if os.geteuid() != 0:
        raise KernelStartError(
            f"kernel_user {name!r} needs the service to run as root (it runs as uid {os.geteuid()})",
            hint="start the service as root, or leave kernel_user unset",
        )
    return KernelUser(name, entry.pw_uid, entry.pw_gid)


def give(path: str | os.PathLike[str], user: KernelUser | None) -> None:
    """Hand a folder the service made (a scratch folder) to the kernel user."""
    if user is not None:
        os.chown(path, user.uid, user.gid)


class UserKernelManager(AsyncKernelManager):
    """Starts its kernel as :attr:`run_as`, with a connection file that user can read."""

    run_as: KernelUser | None = None
    _private: str | None = None

    def prepare(self, user: KernelUser) -> None:
        self.run_as = user
        self._private = tempfile.mkdtemp(prefix="jk-kernel-")
        give(self._private, user)
        self.connection_file = str(Path(self._private) / "kernel.json")

    async def _async_launch_kernel(self, kernel_cmd: list[str], **kw: Any) -> None:
        if self.run_as is not None:
            give(self.connection_file, self.run_as)
            kw.update(user=self.run_as.uid, group=self.run_as.gid, extra_groups=[])
        await super()._async_launch_kernel(kernel_cmd, **kw)

    async def cleanup_resources(self, restart: bool = False) -> None:  # type: ignore[override]
        await super().cleanup_resources(restart=restart)
        if self._private and not restart:
            shutil.rmtree(self._private, ignore_errors=True)
