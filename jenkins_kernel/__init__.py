"""jenkins-kernel: run Jupyter notebooks and cells as Jenkins build tasks, in any kernel."""

from __future__ import annotations

from .engine.events import Event
from .engine.runs import CellResult, RunResult
from .exceptions import (
    InvalidNotebookError,
    InvalidParameterError,
    JenkinsKernelError,
    KernelStartError,
    RejectedError,
    UnknownKernelError,
)
from .local import execute, run_notebook
from .status import RunStatus

__version__ = "0.1.0"

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
