"""Client mode: the CLI's ``run`` and ``exec`` on the agent service instead of in-process.

Same console output as embedded mode (the events are rendered here by the same renderer),
same exit codes, the reports downloaded into the output directory. SIGTERM or Ctrl-C
cancels the run on the service, then following goes on until the run ends cancelled.
"""

from __future__ import annotations

import contextlib
import os
import signal
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from .buildenv import build_environment
from .client import ApiError, Client
from .engine.events import Event, Listener
from .lineage.git import git_info
from .notebook.files import clean_output_dir
from .notebook.loader import load_notebook
from .notebook.parameters import collect_parameters
from .transfer import check_relative, output_destination, pack_inputs

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
    cwd: str | None = None,
    env: dict[str, str] | None = None,
    inputs: Sequence[str] = (),
    outputs: Sequence[str] = (),
    notebook: Any = None,
    **options: Any,
) -> dict[str, Any]:
    """Upload the notebook, follow its run, download its reports; the finished run.

    The run's folder is ``cwd`` or the notebook's own folder, as embedded: a service on this
    machine runs the notebook there; a remote one gets the ``inputs`` files from it, and the
    ``outputs`` files it writes come back into it. The output folder is cleaned of the
    previous run's files as in embedded mode, and the request carries what embedded mode
    knows locally: the notebook's relative path (JUnit classname), the Jenkins build and its
    variables from the environment, and the notebook repository's git commit (taken here,
    where the workspace is). ``notebook``: these cells instead of the file's (a rerun),
    named as ``path``.
    """
    from .local import notebook_path

    nb = notebook if notebook is not None else load_notebook(path)
    folder = Path(cwd).resolve() if cwd else Path(path).resolve().parent
    body = {
        "notebook": nb,
        "notebook_name": Path(path).name,
        "notebook_path": notebook_path(path),
        "parameters": collect_parameters(nb, parameters, parameters_file, param_env),
        "git": git_info(path),
        **{k: v for k, v in options.items() if v not in (None, False)},
    }
    body.update(_placement(client, folder, explicit=cwd is not None, env=env, inputs=inputs, outputs=outputs))
    clean_output_dir(output_dir)
    run = follow_run(client, _start(client, body, fallback=cwd is None), listeners)
    for artifact in client.artifacts(run["id"]):
        name = artifact["name"]
        if name.startswith("input."):
            continue
        dest = output_destination(folder, name) or output_dir / name
        client.download(run["id"], name, dest)
    return run


def execute_remote(
    client: Client,
    code: str,
    *,
    listeners: Iterable[Listener] = (),
    cwd: str | None = None,
    env: dict[str, str] | None = None,
    **options: Any,
) -> dict[str, Any]:
    """Run one cell on the service; on this machine's service it runs in ``cwd`` (default: here)."""
    folder = Path(cwd or os.getcwd()).resolve()
    body = {"code": code, **{k: v for k, v in options.items() if v is not None}}
    body.update(_placement(client, folder, explicit=cwd is not None, env=env))
    return follow_run(client, _start(client, body, fallback=cwd is None), listeners)


def _placement(
    client: Client,
    folder: Path,
    *,
    explicit: bool,
    env: dict[str, str] | None,
    inputs: Sequence[str] = (),
    outputs: Sequence[str] = (),
) -> dict[str, Any]:
    """Where the run runs and what it carries: ``cwd`` in place on a local service (or when
    given), else ``inputs``/``outputs`` for a session folder; the build's environment."""
    fields: dict[str, Any] = {}
    if inputs:
        fields["inputs"] = pack_inputs(folder, inputs)
    if outputs:
        fields["outputs"] = [check_relative(o, "--output-file") for o in outputs]
    if not (inputs or outputs) and (explicit or client.is_local):
        fields["cwd"] = str(folder)
    environment = build_environment(os.environ, env)
    if environment:
        fields["env"] = environment
    from .local import origin_from_env

    origin = origin_from_env()
    if origin:
        fields["jenkins"] = origin
    return fields


def _start(client: Client, body: dict[str, Any], *, fallback: bool) -> dict[str, Any]:
    """POST the run; a folder this machine's service may not use falls back to a session folder.

    Only the folder the client chose by itself falls back (with a note): a ``--cwd`` the
    service refuses is an error.
    """
    try:
        return client.start_run(body)
    except ApiError as exc:
        if exc.code != "path_forbidden" or body.get("cwd") is None or not fallback:
            raise
    client.on_retry(
        f"{body['cwd']} is outside the service's allowed roots: running in a session folder on the service "
        "(start the service with --allowed-root, or carry files with --input)"
    )
    return client.start_run({k: v for k, v in body.items() if k != "cwd"})


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
