"""Client mode: the CLI's ``run`` and ``exec`` on the agent service instead of in-process.

Same console output as embedded mode (the events are rendered here by the same renderer),
same exit codes, the reports downloaded into the output directory. SIGTERM or Ctrl-C
cancels the run on the service, then following goes on until the run ends cancelled.
"""

from __future__ import annotations

import contextlib
import signal
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from .client import Client
from .engine.events import Event, Listener
from .lineage.git import git_info
from .notebook.files import clean_output_dir
from .notebook.loader import load_notebook
from .notebook.parameters import collect_parameters

__all__ = ["execute_remote", "follow_run", "run_notebook_remote"]


def run_notebook_remote(
    client: Client,
    path: str | Path,
    *,
    output_dir: Path,
    listeners: Iterable[Listener] = (),
    parameters: dict[str, Any] | None = None,
    parameters_file: str | Path | None = None,
    param_env: str | None = None,
    notebook: Any = None,
    **options: Any,
) -> dict[str, Any]:
    """Upload the notebook, follow its run, download its reports; the finished run.

    The output folder is cleaned of the previous run's files as in embedded mode, and the
    request carries what embedded mode knows locally: the notebook's relative path (JUnit
    classname), the Jenkins build from the environment, and the notebook repository's git
    commit (taken here, where the workspace is). ``notebook``: these cells instead of the
    file's (a rerun), named as ``path``.
    """
    from .local import notebook_path, origin_from_env

    nb = notebook if notebook is not None else load_notebook(path)
    body = {
        "notebook": nb,
        "notebook_name": Path(path).name,
        "notebook_path": notebook_path(path),
        "parameters": collect_parameters(nb, parameters, parameters_file, param_env),
        "git": git_info(path),
        **{k: v for k, v in options.items() if v not in (None, False)},
    }
    origin = origin_from_env()
    if origin and "jenkins" not in body:
        body["jenkins"] = origin
    clean_output_dir(output_dir)
    run = follow_run(client, client.start_run(body), listeners)
    for artifact in client.artifacts(run["id"]):
        if not artifact["name"].startswith("input."):
            client.download(run["id"], artifact["name"], output_dir / artifact["name"])
    return run


def execute_remote(client: Client, code: str, *, listeners: Iterable[Listener] = (), **options: Any) -> dict[str, Any]:
    body = {"code": code, **{k: v for k, v in options.items() if v is not None}}
    return follow_run(client, client.start_run(body), listeners)


def follow_run(client: Client, run: dict[str, Any], listeners: Iterable[Listener]) -> dict[str, Any]:
    """Hand every event of the run to the listeners until it ends; the finished run."""
    listeners = list(listeners)
    with _cancel_on_signals(client, run["id"]):
        for raw in client.follow(run["id"]):
            event = Event.from_dict(raw)
            for listener in listeners:
                listener(event)
    run = client.get_run(run["id"])
    if run.get("dashboard_url"):  # the run's page, for a person reading the build log
        for listener in listeners:
            note = getattr(listener, "note", None)
            if note is not None:
                note(f"dashboard: {run['dashboard_url']}")
    return run


@contextlib.contextmanager
def _cancel_on_signals(client: Client, run_id: str) -> Iterator[None]:
    asked = False

    def cancel(signum: int, frame: Any) -> None:
        nonlocal asked
        if asked:
            raise KeyboardInterrupt
        asked = True
        with contextlib.suppress(Exception):
            client.cancel(run_id)

    previous = {sig: signal.signal(sig, cancel) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
