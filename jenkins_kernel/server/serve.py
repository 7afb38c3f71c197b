"""``jenkins-kernel serve``: the agent service behind waitress, a production WSGI server.

waitress is pure Python, has no C build step, runs the same on every OS Jenkins agents
run on, and serves streamed responses (the SSE endpoint) thread by thread.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
from pathlib import Path
from typing import Any

from .. import __version__
from ..exceptions import RejectedError
from .auth import ensure_token, is_loopback
from .config import Settings

__all__ = ["prepare_settings", "serve"]

log = logging.getLogger("jenkins_kernel")


def make_private(data_dir: Path, work_dir: Path) -> None:
    """Everything the service writes is its user's alone: umask 077, the folders 0700, and
    files left 0644 by an older version made 0600."""
    os.umask(0o077)
    for folder in (data_dir, work_dir):
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.chmod(folder, 0o700)
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
    import waitress

    from .app import create_app
    from .service import AgentService

    # Many threads hand work to each other (HTTP workers, the engine loop, the store
    # writer); a shorter GIL switch interval keeps each hand-off from waiting 5 ms.
    sys.setswitchinterval(0.0005)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("waitress.queue").setLevel(logging.ERROR)
    make_private(Path(settings.data_dir), settings.sessions_dir)
    notes = prepare_settings(settings)
    service = AgentService(settings)
    app = create_app(service, no_auth=settings.no_auth)
    server: Any = waitress.create_server(
        app, host=settings.host, port=settings.port, threads=settings.threads, ident="jenkins-kernel"
    )
    url = f"http://{settings.host}:{server.effective_port}"
    for note in notes:
        print(f"jenkins-kernel: {note}", file=sys.stderr)
    print(f"jenkins-kernel {__version__}: serving {url} (data in {settings.data_dir})", file=sys.stderr, flush=True)

    def stop(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    try:
        server.run()
    except KeyboardInterrupt:
        pass
    finally:
        print("jenkins-kernel: stopping: cancelling runs, shutting kernels down", file=sys.stderr, flush=True)
        server.close()
        service.close()
