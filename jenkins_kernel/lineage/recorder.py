"""A run's lineage, gathered around its cells: the environment before, the files read after.

For Python kernels a silent set-up execute (``silent=True``, ``store_history=False``:
nothing in the notebook, the log or the execution count) installs an audit hook once
per kernel that notes every file opened for reading, and asks the kernel for its
``sys.path`` and working directory. After the last cell a second silent execute fetches
the paths read; those under the working directory are hashed, except the notebook's own
files (the notebook, its reports, checkpoints and bytecode).
"""

from __future__ import annotations

import ast
import asyncio
import json
import logging
import os
import platform
import socket
from pathlib import Path
from typing import Any

from .. import __version__
from ..engine.kernel import KernelSession
from .environment import Environment, environment_cache, folders_for, kernel_argv
from .files import file_record
from .metrics import MetricsCollector

__all__ = ["RunLineage", "system_info"]

log = logging.getLogger(__name__)

_SILENT_TIMEOUT = 10.0

#: Runs once per run in a Python kernel; installs the hook only once per kernel process.
_SETUP = """
def __jk_setup():
    import os, sys
    reads = getattr(sys, "_jenkins_kernel_reads", None)
    if reads is None:
        reads = sys._jenkins_kernel_reads = set()
        def hook(event, args, _reads=reads, _abspath=os.path.abspath, _mask=os.O_WRONLY | os.O_RDWR):
            if event != "open":
                return
            path, mode, flags = args
            if isinstance(path, int) or path is None:
                return
            if (mode is None and not flags & _mask) or (mode is not None and "r" in mode and "+" not in mode):
                try:
                    _reads.add(_abspath(os.fsdecode(path)))
                except Exception:
                    pass
        sys.addaudithook(hook)
    reads.clear()
__jk_setup()
del __jk_setup
"""
#: The same, once the hook is in this kernel process: clearing the set is all there is to do.
_RESET = "__import__('sys')._jenkins_kernel_reads.clear()"
_PROBE = {"jk_path": "__import__('json').dumps([__import__('sys').path, __import__('os').getcwd()])"}
_FETCH = {"jk_reads": "__import__('json').dumps(sorted(__import__('sys')._jenkins_kernel_reads))"}


def system_info() -> dict[str, str]:
    """Where the run ran: OS, machine name, the service's version."""
    return {
        "os": platform.platform(),
        "machine": socket.gethostname(),
        "service_version": __version__,
        "service_python": platform.python_version(),
    }


async def _silent(
    session: KernelSession, code: str, expressions: dict[str, str], timeout: float = _SILENT_TIMEOUT
) -> dict[str, Any]:
    """Run ``code`` unseen and return its user_expressions' values (decoded from JSON)."""
    assert session.kc is not None
    msg_id = session.kc.execute(code, silent=True, store_history=False, user_expressions=expressions)
    reply = await session.wait_reply(msg_id, timeout=timeout)
    values: dict[str, Any] = {}
    for name, result in ((reply or {}).get("content", {}).get("user_expressions") or {}).items():
        text = (result.get("data") or {}).get("text/plain") if result.get("status") == "ok" else None
        if text:
            try:
                values[name] = json.loads(ast.literal_eval(text))
            except (ValueError, SyntaxError):
                continue
    return values


class RunLineage:
    """One run's lineage: metrics (a listener), environment (:meth:`begin`, once the
    kernel is up) and files read (:meth:`finish`, after the last cell). Never fails a run:
    what cannot be found is left out."""

    def __init__(self, *, notebook_name: str = "", output_dir: Path | None = None) -> None:
        self.notebook_name = notebook_name
        self.output_dir = output_dir
        self.metrics = MetricsCollector()
        self.session: KernelSession | None = None
        self.excluded: list[Path] = []
        self.environment: Environment | None = None
        self.cwd = ""
        self.tracing = False
        self.files: list[dict[str, Any]] = []

    async def begin(self, session: KernelSession) -> None:
        self.session, self.cwd = session, session.cwd
        try:
            await self._begin(session)
        except Exception:
            log.exception("the environment of the %s kernel could not be recorded", session.kernel_name)
        own = [Path(self.cwd) / self.notebook_name] if self.notebook_name else []
        if self.output_dir is not None:
            own.append(self.output_dir if self.output_dir.is_absolute() else Path.cwd() / self.output_dir)
        self.excluded = [Path(os.path.realpath(p)) for p in own]

    async def _begin(self, session: KernelSession) -> None:
        language = session.spec.language or ""
        python_path = None
        if language.lower() == "python":
            installed = getattr(session, "_jk_audit_hook", None) == session.started_at
            probed = await _silent(session, _RESET, _PROBE) if installed else {}
            if "jk_path" not in probed:  # a new (or restarted) kernel process
                probed = await _silent(session, _SETUP, _PROBE)
                session._jk_audit_hook = session.started_at  # type: ignore[attr-defined]
            if "jk_path" in probed:
                python_path, self.cwd = probed["jk_path"]
                self.tracing = True
        argv = kernel_argv(session.spec.resource_dir)
        folders = folders_for(language, argv, python_path=python_path, cwd=self.cwd)
        cache = environment_cache()
        self.environment = cache.cached(session.kernel_name, language, folders) or await asyncio.to_thread(
            cache.get, session.kernel_name, language, folders
        )

    async def finish(self) -> None:
        """Fetch and hash the files the notebook read (Python kernels)."""
        if not self.tracing or self.session is None or await self.session.exit_code() is not None:
            return
        try:
            reads = (await _silent(self.session, "", _FETCH, timeout=3.0)).get("jk_reads") or []
        except Exception:
            log.exception("the files read by the run could not be fetched")
            return
        files = self._hash_reads(reads, cached_only=True)  # no thread hop when nothing changed
        self.files = files if files is not None else await asyncio.to_thread(self._hash_reads, reads)

    def _hash_reads(self, reads: list[str], cached_only: bool = False) -> list[dict[str, Any]] | None:
        root = Path(os.path.realpath(self.cwd))
        records = []
        for raw in reads:
            path = Path(os.path.realpath(raw))
            if root not in path.parents or self._excluded(path):
                continue
            record = file_record(path, "read", path.relative_to(root).as_posix(), cached_only=cached_only)
            if record is False:
                return None
            if record is not None:
                records.append(record)
        return records

    def _excluded(self, path: Path) -> bool:
        if path.suffix in (".ipynb", ".pyc") or "__pycache__" in path.parts or ".ipynb_checkpoints" in path.parts:
            return True
        return any(path == p or p in path.parents for p in self.excluded)

    def to_dict(self) -> dict[str, Any]:
        return {
            "environment": self.environment.to_dict() if self.environment else None,
            "system": system_info(),
            "files": self.files,
        }
