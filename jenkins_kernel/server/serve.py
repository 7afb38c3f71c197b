"""``jenkins-kernel serve``: the agent service behind waitress, a production WSGI server.

waitress is pure Python, has no C build step, runs the same on every OS Jenkins agents
run on, and serves streamed responses (the SSE endpoint) thread by thread.
"""

from __future__ import annotations

import errno
import logging
import os
import resource
import signal
import sys
from pathlib import Path
from typing import Any

from .. import __version__
from ..engine.kernelspecs import installed_kernels
from ..exceptions import RejectedError
from .auth import ensure_token, is_loopback
from .config import Settings
from .discovery import publish, token_file_of, withdraw
from .single_instance import DataDirLock, port_taken

__all__ = ["prepare_settings", "serve"]

log = logging.getLogger("jenkins_kernel")


def make_private(data_dir: Path, work_dir: Path, kernel_user: str = "") -> None:
    """Everything the service writes is its user's alone: umask 077, the folders 0700, and
    files left 0644 by an older version made 0600. With ``kernel_user`` the sessions'
    folder is 0711: that user may enter its own scratch folders, but not list the others."""
    os.umask(0o077)
    for folder in (data_dir, work_dir):
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.chmod(folder, 0o711 if kernel_user and folder == work_dir else 0o700)
    for entry in data_dir.iterdir():
        if entry.is_file() and not entry.is_symlink():
            os.chmod(entry, 0o600)


def prepare_settings(settings: Settings) -> list[str]:
    """Check the security settings and make sure a token exists; the lines to print."""
    notes = []
    if settings.no_auth:
        if not is_loopback(settings.host):
            raise RejectedError(
                f"--no-auth is refused on {settings.host}: anyone on the network could run code",
                code="insecure",
                hint="bind 127.0.0.1, or configure tokens",
            )
        notes.append("WARNING: authentication is off (--no-auth): any local process can run code here")
        return notes
    if not settings.tokens:
        token, path, created = ensure_token(settings.data_dir)
        settings.tokens = {"default": token}
        verb = "generated" if created else "kept"
        notes.append(f"no token configured: using the one {verb} in {path} (read it with: cat {path})")
    notes.append(f"tokens accepted: {', '.join(sorted(settings.tokens))}")
    return notes


def serve(settings: Settings) -> None:
    check_warm_kernels(settings)
    lock = DataDirLock(settings.data_dir)
    lock.acquire()  # before anything touches the database: one service per data dir
    umask = os.umask(0o077)
    try:
        # only once the data dir is ours: a refused serve leaves the folders of the service
        # that holds the lock alone; and the umask is given back (serve may run in-process)
        make_private(Path(settings.data_dir), settings.sessions_dir, settings.kernel_user)
        _serve_locked(settings, lock)
    finally:
        os.umask(umask)
        lock.release()


def _serve_locked(settings: Settings, lock: DataDirLock) -> None:
    import threading

    import waitress

    from ..notebook.loader import prepare_validator
    from .app import create_app
    from .service import AgentService

    # Many threads hand work to each other (HTTP workers, the engine loop, the store
    # writer); a shorter GIL switch interval keeps each hand-off from waiting 5 ms.
    sys.setswitchinterval(0.0005)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("waitress.queue").setLevel(logging.ERROR)
    notes = prepare_settings(settings)
    fd_limit = raise_fd_limit()
    apps: list[Any] = []  # the app, once the service behind it is up (after the port is ours)

    def app(environ: Any, start_response: Any) -> Any:
        return apps[0](environ, start_response)

    try:
        # poll(), not select(): each kernel costs the service ~21 file descriptors, and
        # select() fails for any descriptor past 1023 (about 45 kernels).
        server: Any = waitress.create_server(
            app,
            host=settings.host,
            port=settings.port,
            threads=settings.threads,
            ident="jenkins-kernel",
            asyncore_use_poll=True,
        )
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            raise port_taken(settings.host, settings.port) from None
        raise
    url = f"http://{settings.host}:{server.effective_port}"
    lock.describe(url)
    service = AgentService(settings)
    apps.append(create_app(service, no_auth=settings.no_auth))
    threading.Thread(target=prepare_validator, name="nbformat-validator", daemon=True).start()
    for note in notes:
        print(f"jenkins-kernel: {note}", file=sys.stderr)
    print(f"jenkins-kernel: file descriptors: up to {fd_limit}", file=sys.stderr)
    print(f"jenkins-kernel {__version__}: serving {url} (data in {settings.data_dir})", file=sys.stderr, flush=True)

    def stop(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    data_dir = Path(settings.data_dir)
    publish(data_dir, url, token_file_of(data_dir, settings.tokens))
    try:
        server.run()
    except KeyboardInterrupt:
        pass
    finally:
        print("jenkins-kernel: stopping: cancelling runs, shutting kernels down", file=sys.stderr, flush=True)
        server.close()
        service.close()
        withdraw(data_dir)


def check_warm_kernels(settings: Settings) -> None:
    """A warm pool of a kernel that is not installed is refused at start (exit 5).

    A gateway's kernelspecs are not asked here: the gateway may still be starting; the pool
    logs a kernel it cannot start."""
    if settings.kernel_backend != "local":
        return
    installed = installed_kernels()
    unknown = sorted(set(settings.warm) - set(installed))
    if unknown:
        raise RejectedError(
            f"--warm names kernels that are not installed: {', '.join(unknown)} "
            f"(installed: {', '.join(sorted(installed)) or 'none'})",
            code="unknown_kernel",
        )


def raise_fd_limit() -> int:
    """Raise the soft limit of open files to the hard limit; the limit now.

    Every live kernel holds ~21 descriptors in the service (ZeroMQ sockets and their
    context), so 300 sessions need ~6,500, past the usual soft limit of 1,024.
    """
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = hard if hard != resource.RLIM_INFINITY else max(soft, 65536)
    if soft != resource.RLIM_INFINITY and soft < wanted:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
            soft = wanted
        except (ValueError, OSError) as exc:  # macOS caps it below an infinite hard limit
            log.warning("could not raise the open files limit from %s: %s", soft, exc)
    return soft
