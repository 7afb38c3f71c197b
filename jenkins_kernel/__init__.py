"""jenkins-kernel: run Jupyter notebooks and cells as Jenkins build tasks, in any kernel."""

from __future__ import annotations

from .engine.events import Event
from .engine.results import CellResult, RunResult
from .exceptions import (
    InvalidNotebookError,
    InvalidParameterError,
    JenkinsKernelError,
    KernelStartError,
    RejectedError,
    UnknownKernelError,
)
from .status import RunStatus

__version__ = "0.1.0"


def __getattr__(name: str) -> object:
    """``run_notebook`` and ``execute`` load the engine (jupyter_client, nbformat) on first
    use, so commands that do not run kernels start quickly."""
    if name in ("run_notebook", "execute"):
        from . import local

        return getattr(local, name)
    raise AttributeError(f"module 'jenkins_kernel' has no attribute {name!r}")


__all__ = [
    "CellResult",
    "Event",
    "InvalidNotebookError",
    "InvalidParameterError",
    "JenkinsKernelError",
    "KernelStartError",
    "RejectedError",
    "RunResult",
    "RunStatus",
    "UnknownKernelError",
    "__version__",
    "execute",
    "run_notebook",
]
