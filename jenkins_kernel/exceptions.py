"""One small tree of errors, rooted at :class:`JenkinsKernelError`.

Each error knows the run status it stands for, a machine-readable ``code`` and a ``hint``
that says how to fix it. They are turned into an exit code, an HTTP status or a Jenkins
result only at the edges (the CLI and the server).
"""

from __future__ import annotations

from collections.abc import Iterable

from .status import RunStatus

__all__ = [
    "InvalidNotebookError",
    "InvalidParameterError",
    "JenkinsKernelError",
    "KernelStartError",
    "RejectedError",
    "StorageError",
    "UnknownKernelError",
]


class JenkinsKernelError(Exception):
    """Base of every error this project raises on purpose."""

    code = "error"
    status = RunStatus.REJECTED
    http_status = 400

    def __init__(self, message: str, *, hint: str = "", code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        if code:
            self.code = code

    @property
    def exit_code(self) -> int:
        return self.status.exit_code or 1

    def to_dict(self) -> dict[str, str]:
        body = {"code": self.code, "message": self.message}
        if self.hint:
            body["hint"] = self.hint
        return body

    def __str__(self) -> str:
        return f"{self.message}\n  hint: {self.hint}" if self.hint else self.message


class RejectedError(JenkinsKernelError):
    """The request cannot run as given (exit 5): bad input, not a broken kernel."""

    code = "bad_request"


class UnknownKernelError(RejectedError):
    code = "unknown_kernel"

    def __init__(self, name: str, installed: Iterable[str]) -> None:
        self.installed = sorted(installed)
        listed = ", ".join(self.installed) or "none"
        super().__init__(
            f"no kernel named {name!r} is installed (installed: {listed})",
            hint="name an installed kernel (jenkins-kernel kernels, GET /api/v1/kernelspecs), or install it there",
        )


class InvalidNotebookError(RejectedError):
    code = "invalid_notebook"


class InvalidParameterError(RejectedError):
    code = "invalid_parameter"


class KernelStartError(JenkinsKernelError):
    """A kernel that exists by name but would not start or answer (exit 3)."""

    code = "kernel_start_failed"
    status = RunStatus.KERNEL_DIED
    http_status = 503


class StorageError(JenkinsKernelError):
    """The data dir cannot be written (disk full, permissions taken away, I/O error).

    The run that was writing ends ``failed`` once the store works again; new requests get
    503 meanwhile, and the service recovers by itself when the cause goes away.
    """

    code = "storage_unavailable"
    status = RunStatus.FAILED
    http_status = 503
