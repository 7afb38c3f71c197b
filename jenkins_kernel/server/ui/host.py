"""Facts about the machine the dashboard shows: a kernel's memory, the data dir's size.

No psutil: a kernel's resident memory is ``VmRSS`` in ``/proc/<pid>/status`` (Linux,
where the service's kernels run); elsewhere it is simply not shown.
"""

from __future__ import annotations

import os
import shutil
import threading
import time
from pathlib import Path
from typing import Any

__all__ = ["DiskUse", "kernel_pid", "resident_bytes"]


def kernel_pid(kernel_session: Any) -> int | None:
    """The kernel process id when the kernel is a local process (a gateway kernel has none)."""
    provisioner = getattr(getattr(kernel_session, "km", None), "provisioner", None)
    pid = getattr(provisioner, "pid", None)
    return pid if isinstance(pid, int) else None


def resident_bytes(pid: int | None) -> int | None:
    if not pid:
        return None
    try:
        with open(f"/proc/{pid}/status", encoding="ascii", errors="replace") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


class DiskUse:
    """The data dir's size, measured at most once a minute (walking 100,000 run folders takes a while)."""

    def __init__(self, folder: Path, every: float = 60.0) -> None:
        self.folder, self.every = folder, every
        self._lock = threading.Lock()
        self._measured: tuple[float, dict[str, Any]] | None = None

    def get(self) -> dict[str, Any]:
        with self._lock:
            if self._measured is None or time.monotonic() - self._measured[0] > self.every:
                self._measured = (time.monotonic(), self._measure())
            return self._measured[1]

    def _measure(self) -> dict[str, Any]:
        sizes = {"database": 0, "runs": 0, "work": 0}
        for path in self.folder.glob("jenkins-kernel.sqlite3*"):
            sizes["database"] += path.stat().st_size
        for name in ("runs", "work"):
            sizes[name] = _tree_size(self.folder / name)
        usage = shutil.disk_usage(self.folder)
        return {**sizes, "total": sum(sizes.values()), "disk_free": usage.free, "disk_size": usage.total}


def _tree_size(folder: Path) -> int:
    total = 0
    stack = [str(folder)]
    while stack:
        try:
            with os.scandir(stack.pop()) as entries:
                for entry in entries:
                    if entry.is_dir(follow_symlinks=False):
                        stack.append(entry.path)
                    elif entry.is_file(follow_symlinks=False):
                        total += entry.stat(follow_symlinks=False).st_size
        except OSError:
            continue
    return total
