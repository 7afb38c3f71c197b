"""The run statuses and what each means to a process, an HTTP client and Jenkins.

One table (DESIGN.md "Exit codes") kept in one place: the CLI's exit code, the API's
``exit_code`` and the plugin's build result all come from here.
"""

from __future__ import annotations

from enum import Enum

__all__ = ["RunStatus"]


class RunStatus(str, Enum):
    """Where a run is, or how it ended."""

    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    TIMED_OUT = "timed_out"
    KERNEL_DIED = "kernel_died"
    CANCELLED = "cancelled"
    REJECTED = "rejected"
    LOST = "lost"

    def __str__(self) -> str:
        return self.value

    @property
    def finished(self) -> bool:
        """True once the run can change no more."""
        return self not in (RunStatus.QUEUED, RunStatus.RUNNING)

    @property
    def exit_code(self) -> int | None:
        """The process exit code of a finished run; None while it goes on."""
        return _EXIT_CODES.get(self)

    @property
    def jenkins_result(self) -> str | None:
        """The Jenkins build result this status maps to."""
        code = self.exit_code
        if code is None:
            return None
        if code == 0:
            return "SUCCESS"
        return "ABORTED" if self is RunStatus.CANCELLED else "FAILURE"

    @classmethod
    def from_exit_code(cls, code: int) -> RunStatus:
        for status, value in _EXIT_CODES.items():
            if value == code:
                return status
        raise ValueError(f"no run status has exit code {code}")


_EXIT_CODES = {
    RunStatus.SUCCEEDED: 0,
    RunStatus.FAILED: 1,
    RunStatus.TIMED_OUT: 2,
    RunStatus.KERNEL_DIED: 3,
    RunStatus.CANCELLED: 4,
    RunStatus.REJECTED: 5,
    RunStatus.LOST: 6,
}
