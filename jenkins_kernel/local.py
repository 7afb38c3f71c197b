"""Embedded mode: run a notebook or a cell in this process, no service needed.

These are the library calls behind ``jenkins-kernel run`` and ``exec``. They install
SIGTERM/SIGINT handlers for the run's duration so that a CI abort cancels the run cleanly
(the kernel is interrupted, the reports are written, the exit code is 4).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
from collections.abc import Awaitable, Callable, Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from .engine.events import EventStream, Listener
from .engine.kernel import KernelSession
from .engine.kernelspecs import installed_kernels
from .engine.results import RunResult, finish_run
from .engine.runs import run_code
from .exceptions import JenkinsKernelError
from .notebook.images import ImageSaver

if TYPE_CHECKING:
    from nbformat import NotebookNode

    from .notebook.runner import NotebookOptions

__all__ = ["default_output_dir", "execute", "notebook_path", "origin_from_env", "run_notebook"]

T = TypeVar("T")


#: Variables a Jenkins build sets in a step's environment, and the origin field each fills.
_JENKINS_ENV = {
    "JOB_NAME": "job_name",
    "BUILD_NUMBER": "build_number",
    "BUILD_URL": "build_url",
    "GIT_COMMIT": "git_commit",
    "GIT_BRANCH": "git_branch",
    "NODE_NAME": "node_name",
}


def origin_from_env(environ: dict[str, str] | None = None) -> dict[str, str]:
    """The Jenkins build this process runs in, from the variables Jenkins sets (empty outside)."""
    environ = dict(os.environ) if environ is None else environ
    return {field: environ[var] for var, field in _JENKINS_ENV.items() if environ.get(var)}


def notebook_path(path: str | Path) -> str:
    """The notebook's path relative to the working directory (as given when it lies outside)."""
    resolved = Path(path).resolve()
    try:
        return resolved.relative_to(Path.cwd().resolve()).as_posix()
    except ValueError:
        return Path(path).as_posix()


def default_output_dir(notebook: str | Path) -> Path:
    """``reports/<notebook name>/`` under the current directory."""
    return Path("reports") / Path(notebook).stem


def run_notebook(
    path: str | Path,
    *,
    parameters: dict[str, Any] | None = None,
    parameters_file: str | Path | None = None,
    param_env: str | None = None,
    output_dir: str | Path | None = None,
    listeners: Iterable[Listener] = (),
    record: str | Path | None = None,
    notebook: NotebookNode | None = None,
    **options: Any,
) -> RunResult:
    """Run the notebook at ``path`` and write its reports; see :class:`NotebookOptions`.

    Parameters come from ``parameters_file`` (YAML), then environment variables named
    ``param_env`` + name, then ``parameters``: a later source wins. With ``record`` (a
    data dir) the run is recorded in that store, as the service records its runs; its
    id is ``result.lineage["run_id"]``. ``notebook`` runs those cells instead of the
    file's (a rerun of recorded bytes), named and placed as ``path``.

    The kernel a notebook names is started first: it boots (half a second, on a core of
    its own) while this process imports nbformat and reads, validates and parameterizes
    the notebook.
    """
    out = Path(output_dir) if output_dir is not None else default_output_dir(path)
    early = _named_kernel(path, options.get("kernel")) if notebook is None else None
    cwd = options.get("cwd") or str(Path(path).resolve().parent)  # the notebook's folder by default

    def prepare() -> tuple[NotebookNode, NotebookOptions]:
        from .notebook.loader import load_notebook
        from .notebook.parameters import collect_parameters
        from .notebook.runner import NotebookOptions

        nb = notebook if notebook is not None else load_notebook(path)
        opts = NotebookOptions(parameters=collect_parameters(nb, parameters, parameters_file, param_env), **options)
        opts.cwd = cwd
        opts.path = opts.path or notebook_path(path)
        opts.origin = opts.origin or origin_from_env()
        return nb, opts

    async def main(cancel: asyncio.Event) -> tuple[RunResult, NotebookNode, NotebookOptions]:
        session: KernelSession | None = None
        starting: asyncio.Future[Any] | None = None
        if early is not None:
            session = KernelSession(early, cwd=cwd, env=options.get("env") or {})
            starting = asyncio.ensure_future(session.start())
        try:
            nb, opts = await asyncio.to_thread(prepare)
            from .notebook.runner import resolve_kernel_name, run_notebook_async

            if session is not None and resolve_kernel_name(nb, opts.kernel) != early:
                await _discard(session, starting)  # the notebook asks for another kernel after all
                session = starting = None
            result, _ = await run_notebook_async(
                nb,
                opts,
                name=Path(path).name,
                output_dir=out,
                listeners=listeners,
                cancel=cancel,
                session=session,
                starting=starting,
            )
        except BaseException:
            if session is not None and starting is not None:
                await _discard(session, starting)
            raise
        return result, nb, opts

    result, nb, opts = _run_cancellable(main)
    if record is not None:
        from .lineage.record import record_locally

        result.lineage["run_id"] = record_locally(record, nb, path, result, opts, out)
    return result


def _named_kernel(path: str | Path, requested: str | None) -> str | None:
    """The installed kernel ``-k`` or the notebook's ``kernelspec.name`` names exactly, read
    without nbformat; None when it takes more to know (the runner then decides)."""
    name = requested
    if not name:
        try:
            spec = json.loads(Path(path).read_text(encoding="utf-8"))["metadata"]["kernelspec"]
            name = spec["name"] if isinstance(spec, dict) else None
        except (OSError, ValueError, KeyError, TypeError):
            return None
    return name if isinstance(name, str) and name in installed_kernels() else None


async def _discard(session: KernelSession, starting: asyncio.Future[Any] | None) -> None:
    """Stop a kernel started ahead that the run does not use (or that failed before it ran)."""
    if starting is not None and not starting.done():
        starting.cancel()
    with contextlib.suppress(BaseException):
        if starting is not None:
            await starting
    await session.kill()


def execute(
    code: str,
    *,
    kernel: str = "python3",
    timeout: float | None = None,
    cwd: str | None = None,
    env: dict[str, str] | None = None,
    output_dir: str | Path | None = None,
    listeners: Iterable[Listener] = (),
    interrupt_grace: float = 3.0,
) -> RunResult:
    """Run one cell of ``code`` on a new kernel; images go to ``output_dir`` if given."""
    all_listeners = list(listeners)
    if output_dir is not None:
        all_listeners.insert(0, ImageSaver(output_dir))

    async def main(cancel: asyncio.Event) -> RunResult:
        stream = EventStream(all_listeners)
        session = KernelSession(kernel, cwd=cwd, env=env)
        try:
            await session.start()
            return await run_code(
                session,
                code,
                stream,
                timeout=timeout,
                cancel=cancel,
                interrupt_grace=interrupt_grace,
                restart_when_stuck=False,
            )
        except JenkinsKernelError as exc:
            stream.emit("error", source="engine", ename=type(exc).__name__, evalue=str(exc), traceback=[])
            return finish_run(stream, RunResult(), exc.status, exc.message)
        finally:
            session.request_shutdown()
            await session.close()

    return _run_cancellable(main)


def _run_cancellable(main: Callable[[asyncio.Event], Awaitable[T]]) -> T:
    async def runner() -> T:
        cancel = asyncio.Event()
        with _cancel_on_signals(cancel):
            return await main(cancel)

    return asyncio.run(runner())


@contextlib.contextmanager
def _cancel_on_signals(cancel: asyncio.Event) -> Iterator[None]:
    """SIGTERM and a first SIGINT cancel the run; a second SIGINT stops at once."""
    loop = asyncio.get_running_loop()

    def on_interrupt() -> None:
        if cancel.is_set():
            loop.remove_signal_handler(signal.SIGINT)
            raise KeyboardInterrupt
        cancel.set()

    try:
        loop.add_signal_handler(signal.SIGTERM, cancel.set)
        loop.add_signal_handler(signal.SIGINT, on_interrupt)
    except (NotImplementedError, RuntimeError):  # not the main thread: no signals to handle
        yield
        return
    try:
        yield
    finally:
        loop.remove_signal_handler(signal.SIGTERM)
        loop.remove_signal_handler(signal.SIGINT)
