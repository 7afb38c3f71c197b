"""``jenkins-kernel runs``, ``show``, ``diff`` and ``rerun``: look back at recorded runs,
compare two, repeat one. On the service with ``--server`` (or JENKINS_KERNEL_URL); without,
on the local data dir's record (runs made with ``run --record``)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from .exceptions import JenkinsKernelError

__all__ = ["register"]


def history_options(func: Any) -> Any:
    func = click.option(
        "--data-dir",
        type=click.Path(file_okay=False),
        envvar="JENKINS_KERNEL_DATA_DIR",
        help="Without --server: the local record [default: the service's data dir, XDG data home].",
    )(func)
    func = click.option("--token", envvar="JENKINS_KERNEL_TOKEN", help="The service's token.")(func)
    func = click.option(
        "--server", envvar="JENKINS_KERNEL_URL", metavar="URL", help="Read the service's record at URL."
    )(func)
    return func


def _history(server: str | None, token: str | None, data_dir: str | None) -> Any:
    from .lineage.history import LocalHistory, RemoteHistory

    if server:
        from .client import Client

        return RemoteHistory(Client(server, token, retry_for=15))
    from .server.config import default_data_dir

    return LocalHistory(data_dir or default_data_dir())


def _read(server: str | None, token: str | None, data_dir: str | None, read: Any) -> Any:
    """``read(history)``; a rejected request exits with its message and code."""
    try:
        history = _history(server, token, data_dir)
        try:
            return read(history)
        finally:
            history.close()
    except JenkinsKernelError as exc:
        _fail(exc)


def _fail(exc: JenkinsKernelError) -> None:
    click.echo(f"[jenkins-kernel] {exc.status.value}: {exc.message}", err=True)
    if exc.hint:
        click.echo(f"[jenkins-kernel]   hint: {exc.hint}", err=True)
    sys.exit(exc.exit_code)


@click.command("runs")
@click.option("--status", help="Only runs that ended so (succeeded, failed, ...).")
@click.option("--kernel", help="Only runs on this kernel.")
@click.option("--job", help="Only runs of this Jenkins job.")
@click.option("--session", help="Only runs on this session (id or name).")
@click.option("--limit", type=click.IntRange(1, 1000), default=20, show_default=True, help="The latest N runs.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@history_options
def runs_command(
    status: str | None,
    kernel: str | None,
    job: str | None,
    session: str | None,
    limit: int,
    as_json: bool,
    server: str | None,
    token: str | None,
    data_dir: str | None,
) -> None:
    """List recorded runs, newest first."""
    from .lineage.render import render_runs

    rows = _read(
        server, token, data_dir, lambda h: h.runs(status=status, kernel=kernel, job=job, session=session, limit=limit)
    )
    click.echo(json.dumps(rows, indent=2, default=str) if as_json else render_runs(rows), nl=as_json)


@click.command("show")
@click.argument("run_id", metavar="RUN")
@click.option("--json", "as_json", is_flag=True, help="Print the lineage document as JSON.")
@history_options
def show_command(run_id: str, as_json: bool, server: str | None, token: str | None, data_dir: str | None) -> None:
    """Everything recorded about RUN (an id, or a unique prefix of one)."""
    from .lineage.render import render_show

    doc = _read(server, token, data_dir, lambda h: h.document(run_id))
    click.echo(json.dumps(doc, indent=2) if as_json else render_show(doc), nl=as_json)


@click.command("diff")
@click.argument("run_a", metavar="RUN_A")
@click.argument("run_b", metavar="RUN_B")
@click.option("--json", "as_json", is_flag=True, help="Print the differences as JSON.")
@history_options
def diff_command(
    run_a: str, run_b: str, as_json: bool, server: str | None, token: str | None, data_dir: str | None
) -> None:
    """What differs between two runs: parameters, code, inputs, packages, metrics, outputs."""
    from .lineage.document import diff_documents
    from .lineage.render import render_diff

    diff = _read(server, token, data_dir, lambda h: diff_documents(h.document(run_a), h.document(run_b)))
    click.echo(json.dumps(diff, indent=2) if as_json else render_diff(diff), nl=as_json)


@click.command("rerun")
@click.argument("run_id", metavar="RUN")
@click.option(
    "-o", "--output-dir", type=click.Path(file_okay=False, path_type=Path), help="Where the new run's reports go."
)
@click.option("-q", "--quiet", is_flag=True, help="Print only errors, the warnings and the diff.")
@history_options
def rerun_command(
    run_id: str, output_dir: Path | None, quiet: bool, server: str | None, token: str | None, data_dir: str | None
) -> None:
    """Run RUN again: the same notebook bytes, parameters and kernel (on the same service,
    or embedded and recorded locally). Warns first when the environment or an input
    differs; ends with the diff against RUN. Exit code as `run`."""
    from .cli import _writer
    from .lineage.document import diff_documents
    from .lineage.render import input_warnings, render_diff

    writer = _writer(quiet, "auto", False, images_saved=True)
    try:
        history = _history(server, token, data_dir)
        old = history.document(run_id)
        if old["run"]["kind"] != "notebook":
            raise JenkinsKernelError("only notebook runs can be rerun", hint="repeat a cell with jenkins-kernel exec")
        nb = history.notebook(run_id)
        options = old["run"].get("options") or {}
        kernel, cwd = old["run"]["kernel"], options.get("cwd")
        for warning in input_warnings(old, history.environment(kernel, cwd)):
            click.echo(f"[jenkins-kernel] warning: {warning}", err=True)
        name = old["code"]["notebook_name"] or "notebook.ipynb"
        path = Path(cwd or ".") / name
        out = output_dir or Path("reports") / f"{Path(name).stem}-rerun"
        common = {
            "parameters": old["code"]["parameters"],
            "output_dir": out,
            "listeners": [writer],
            "kernel": kernel,
            "timeout": options.get("timeout"),
            "cell_timeout": options.get("cell_timeout"),
            "allow_errors": bool(options.get("allow_errors")),
            "cwd": cwd,
            "notebook": nb,
        }
        if server:
            from .remote import run_notebook_remote

            run = run_notebook_remote(history.client, path, **common)
            new_id, exit_code = run["id"], run["exit_code"]
        else:
            from .local import run_notebook

            result = run_notebook(path, record=history.store.data_dir, **common)
            new_id, exit_code = result.lineage["run_id"], result.exit_code
        diff = diff_documents(old, history.document(new_id))
        history.close()
    except JenkinsKernelError as exc:
        _fail(exc)
    click.echo(render_diff(diff), nl=False)
    sys.exit(exit_code)


def register(main: click.Group) -> None:
    for command in (runs_command, show_command, diff_command, rerun_command):
        main.add_command(command)
