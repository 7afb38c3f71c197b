"""``jenkins-kernel serve``: the agent service behind waitress, a production WSGI server.

waitress is pure Python, has no C build step, runs the same on every OS Jenkins agents
run on, and serves streamed responses (the SSE endpoint) thread by thread.
"""

from __future__ import annotations

import logging
import signal
import sys
from pathlib import Path
from typing import Any

from .. import __version__
from ..exceptions import RejectedError
from .auth import ensure_token, is_loopback
from .config import Settings
from .discovery import publish, token_file_of, withdraw

__all__ = ["prepare_settings", "serve"]

log = logging.getLogger("jenkins_kernel")


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
