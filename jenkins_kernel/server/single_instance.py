"""One service per data dir, and a clear word when the port is taken.

The data dir is locked with ``flock`` on ``service.lock``: the OS drops the lock when the
process ends, however it ends (``kill -9`` too), so there is no stale lock to clean up.
The file says who holds it (PID and URL), for the one-line refusal a second ``serve`` gets.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
from pathlib import Path

import psutil

from ..exceptions import RejectedError

__all__ = ["LOCK_FILE", "DataDirLock", "port_taken"]

LOCK_FILE = "service.lock"


class DataDirLock:
    """An exclusive lock on a data dir, held for the life of the process."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = Path(data_dir)
        self.path = self.data_dir / LOCK_FILE
        self._fd: int | None = None

    def acquire(self) -> None:
        """Take the lock, or raise (exit 5) naming the service that holds it."""
        self.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)  # not inherited by kernels (PEP 446)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            if exc.errno not in (errno.EAGAIN, errno.EACCES):
                raise
            holder = _read_holder(fd)
            os.close(fd)
            raise RejectedError(
                f"another jenkins-kernel service ({holder}) already uses the data dir {self.data_dir}: "
                "stop it first, or give this one another --data-dir",
                code="data_dir_in_use",
            ) from None
        self._fd = fd
        self.describe("")

    def describe(self, url: str) -> None:
        """Say in the lock file who holds it: this process, serving ``url``."""
        assert self._fd is not None
        data = json.dumps({"pid": os.getpid(), "url": url}).encode()
        os.ftruncate(self._fd, 0)
        os.pwrite(self._fd, data, 0)

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing drops the lock
            self._fd = None


def _read_holder(fd: int) -> str:
    with contextlib.suppress(OSError, ValueError):
        holder = json.loads(os.pread(fd, 4096, 0) or b"{}")
        url = holder.get("url") or "still starting"
        return f"PID {holder['pid']}, {url}"
    return "PID unknown"


def port_taken(host: str, port: int) -> RejectedError:
    """The refusal for a port already in use, naming the process that listens there."""
    owner = ""
    with contextlib.suppress(psutil.Error, OSError):
        for conn in psutil.net_connections(kind="tcp"):
            if conn.status == psutil.CONN_LISTEN and conn.laddr and conn.laddr.port == port and conn.pid:
                name = psutil.Process(conn.pid).name()
                owner = f" by PID {conn.pid} ({name}, http://{host}:{port})"
                break
    return RejectedError(
        f"the port {port} on {host} is already taken{owner}: stop that service, or pass another --port",
        code="port_in_use",
    )
