"""No orphan kernels: each local kernel dies with its parent, and what a crashed service
left behind is killed at the next start.

Every kernel runs in its own process group (jupyter_client starts it in a new session).
On Linux it also gets a parent-death signal, so it dies when the thread that started it
does. Some kernels start children of their own (ijavascript runs a second node process)
that no parent-death signal reaches: for those, the service records each kernel's PID and
start time (through a :class:`ProcessLedger`) and, at its next start, kills what is left
of each recorded process group. The start time is compared first, so a PID that the OS
has given to another process since is never hit.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import sys
from collections.abc import Callable, Iterable
from typing import Protocol

import psutil

__all__ = ["ProcessLedger", "child_setup", "kernel_ended", "kernel_launched", "reap", "set_ledger"]

_PR_SET_PDEATHSIG = 1
_LIBC = ctypes.CDLL(None, use_errno=True) if sys.platform.startswith("linux") else None
#: Two start times of one process, read twice, differ by less than this (clock ticks).
_SAME_START = 0.05


class ProcessLedger(Protocol):
    """Where kernel processes are recorded while they live (the service's store)."""

    def kernel_started(self, pid: int, started: float, kernel: str) -> None: ...

    def kernel_stopped(self, pid: int, started: float) -> None: ...


_ledger: ProcessLedger | None = None


def set_ledger(ledger: ProcessLedger | None) -> None:
    """Record kernel processes from now on in ``ledger`` (None: stop recording)."""
    global _ledger
    _ledger = ledger


def child_setup() -> Callable[[], None] | None:
    """A ``preexec_fn`` that gives the kernel a parent-death signal (Linux), or None."""
    if _LIBC is None:
        return None
    parent = os.getpid()

    def die_with_parent() -> None:
        _LIBC.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
        if os.getppid() != parent:  # the parent died before the signal was armed
            os.kill(os.getpid(), signal.SIGKILL)

    return die_with_parent


def start_time(pid: int) -> float | None:
    with contextlib.suppress(psutil.Error):
        return psutil.Process(pid).create_time()
    return None


def kernel_launched(pid: int, kernel: str) -> float | None:
    """Record a new kernel process; its start time (None if it is already gone)."""
    started = start_time(pid)
    if started is not None and _ledger is not None:
        _ledger.kernel_started(pid, started, kernel)
    return started


def kernel_ended(pid: int, started: float | None) -> None:
    if started is not None and _ledger is not None:
        _ledger.kernel_stopped(pid, started)


def reap(recorded: Iterable[tuple[int, float]]) -> list[int]:
    """Kill what is left of recorded kernels (pid, start time); the PIDs killed.

    A recorded PID whose process started at another time belongs to someone else now and
    is left alone; a process of the recorded group counts only if it started after the
    kernel did (a group cannot outlive its last member, so the group is the kernel's).
    """
    wanted = dict(recorded)
    for pid, started in list(wanted.items()):
        now = start_time(pid)
        if now is not None and abs(now - started) > _SAME_START:
            del wanted[pid]  # the PID was given to another process: its group is not ours
    victims: list[psutil.Process] = []
    for proc in psutil.process_iter(["create_time"]):
        with contextlib.suppress(psutil.Error, OSError):
            started = wanted.get(os.getpgid(proc.pid))
            if started is not None and proc.info["create_time"] + _SAME_START >= started:
                victims.append(proc)
    killed = []
    for proc in victims:
        with contextlib.suppress(psutil.Error, OSError):
            proc.kill()
            killed.append(proc.pid)
    psutil.wait_procs(victims, timeout=5)
    return killed
