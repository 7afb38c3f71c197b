"""``jenkins-kernel``: run notebooks and cells from a shell or a Jenkins ``sh`` step.

The commands only parse their options and call one library function each.
"""

from __future__ import annotations

import itertools
import json
import os
import sys
from pathlib import Path
from typing import Any, TextIO

import click

from . import __version__
from .buildenv import build_environment, parse_env_pairs
from .console import PREFIX, ConsoleRenderer
from .engine.events import Event
from .exceptions import JenkinsKernelError
from .status import RunStatus

__all__ = ["main"]


class ConsoleWriter:
    """A listener that prints events for people (rendered) or machines (JSON lines)."""

    def __init__(self, renderer: ConsoleRenderer | None, out: TextIO, err: TextIO) -> None:
        self.renderer = renderer
        self.out, self.err = out, err

    def __call__(self, event: Event) -> None:
        if self.renderer is None:
            self.out.write(json.dumps(event.to_dict()) + "\n")
            self.out.flush()
            return
        for name, text in self.renderer.render(event):
            target = self.out if name == "stdout" else self.err
            target.write(text)
            target.flush()

    def note(self, text: str) -> None:
        if self.renderer is not None and not self.renderer.quiet:
            self.err.write(f"{PREFIX} {text}\n")
            self.err.flush()


def _use_color(choice: str) -> bool:
    if choice == "always":
        return True
    if choice == "never" or os.environ.get("NO_COLOR"):
        return False
    return sys.stderr.isatty()


def output_options(func: Any) -> Any:
    """--quiet, --color and --json, shared by run and exec."""
    func = click.option(
        "--json", "as_json", is_flag=True, help="Print one JSON event per line on stdout, nothing else."
    )(func)
    func = click.option(
        "--color",
        type=click.Choice(["auto", "always", "never"]),
        default="auto",
        show_default=True,
        help="ANSI colours in the console (auto: when stderr is a terminal and NO_COLOR is unset).",
    )(func)
    func = click.option("-q", "--quiet", is_flag=True, help="Print only errors and the final status line.")(func)
    return func


def server_options(func: Any) -> Any:
    """--server, --token, --session and --retry-for: run on the agent service, not in this process."""
    func = click.option(
        "--session",
        "session_name",
        metavar="NAME",
        help="With --server: run on the session of this name, created if needed, so that "
        "steps share a kernel (a Jenkins build passes $BUILD_TAG).",
    )(func)
    func = click.option(
        "--retry-for",
        type=click.FloatRange(min=0),
        default=120.0,
        show_default=True,
        envvar="JENKINS_KERNEL_RETRY_FOR",
        help="Seconds to keep retrying while a service that answered before cannot be reached (it restarts).",
    )(func)
    func = click.option(
        "--connect-timeout",
        type=click.FloatRange(min=0),
        default=10.0,
        show_default=True,
        envvar="JENKINS_KERNEL_CONNECT_TIMEOUT",
        help="Seconds to keep trying a service that has not answered yet in this command.",
    )(func)
    func = click.option(
        "--token", envvar="JENKINS_KERNEL_TOKEN", help="The service's token [env JENKINS_KERNEL_TOKEN]."
    )(func)
    func = click.option(
        "--server",
        envvar="JENKINS_KERNEL_URL",
        metavar="URL",
        help="Run on the agent service at URL instead of in-process; 'auto': this machine's service, "
        "started (detached) if none runs [env JENKINS_KERNEL_URL].",
    )(func)
    func = click.option(
        "--env",
        "env_pairs",
        multiple=True,
        metavar="NAME=VALUE",
        help="An environment variable for the kernel (repeatable); with --server the build's "
        "Jenkins variables are sent too.",
    )(func)
    return func


def _client(
    server: str, token: str | None, retry_for: float, connect_for: float, writer: ConsoleWriter, kernel: str | None
) -> Any:
    from .client import Client

    if server == "auto":
        from .server.discovery import ensure_service

        server, token = ensure_service(token=token, warm_kernel=kernel or "python3", note=writer.note)
    client = Client(server, token, retry_for=retry_for, connect_for=connect_for)
    client.on_retry = writer.note
    return client


def _check_session(session_name: str | None, server: str | None) -> None:
    if session_name and not server:
        raise click.UsageError("--session needs --server (or JENKINS_KERNEL_URL): sessions live in the service")


def _writer(quiet: bool, color: str, as_json: bool, images_saved: bool) -> ConsoleWriter:
    renderer = None if as_json else ConsoleRenderer(color=_use_color(color), quiet=quiet, images_saved=images_saved)
    return ConsoleWriter(renderer, sys.stdout, sys.stderr)


def _reject(exc: JenkinsKernelError, as_json: bool) -> None:
    """Print why the request cannot run and exit with its code (5 for bad input)."""
    if as_json:
        data = {"status": exc.status.value, "exit_code": exc.exit_code, "message": exc.message, "hint": exc.hint}
        click.echo(json.dumps({"seq": 0, "type": "status", "time": 0, "data": data}))
    else:
        click.echo(f"{PREFIX} {exc.status.value}: {exc.message}", err=True)
        if exc.hint:
            click.echo(f"{PREFIX}   hint: {exc.hint}", err=True)
    sys.exit(exc.exit_code)


def _usage_hint(error: click.UsageError, args: list[str]) -> str:
    """How to fix a usage error, in one line; ``-p a=1`` gets its own."""
    for flag, value in itertools.pairwise(args):
        if args[:1] == ["run"] and flag in ("-p", "--parameter") and "=" in value and not value.startswith("="):
            name, _, val = value.partition("=")
            return f"a parameter is two words, -p NAME VALUE: write -p {name} {val or 'VALUE'}"
    command = error.ctx.command_path if error.ctx is not None else "jenkins-kernel"
    return f"see `{command} --help`"


class JenkinsKernelGroup(click.Group):
    """click's group, with the project's exit codes: a usage error is a rejected request
    (exit 5, one line and a hint), not click's exit 2, which here means timed_out."""

    def main(self, args: Any = None, prog_name: str | None = None, *rest: Any, **extra: Any) -> Any:
        if extra.get("standalone_mode", True) is False or rest:
            return super().main(args, prog_name, *rest, **extra)
        skip_slow_optional_imports()
        argv = list(sys.argv[1:] if args is None else args)
        extra["standalone_mode"] = False
        try:
            code = super().main(argv, prog_name, **extra)
        except click.UsageError as exc:
            if type(exc).__name__ == "NoArgsIsHelpError":  # a bare group name: its help, as before click 8.2
                click.echo(exc.format_message())
                sys.exit(0)
            message = " ".join(exc.format_message().split())
            click.echo(f"{PREFIX} rejected: {message}", err=True)
            click.echo(f"{PREFIX}   hint: {_usage_hint(exc, argv)}", err=True)
            sys.exit(RunStatus.REJECTED.exit_code)
        except click.ClickException as exc:
            exc.show()
            sys.exit(RunStatus.REJECTED.exit_code)
        except click.Abort:
            click.echo("Aborted!", err=True)
            sys.exit(RunStatus.CANCELLED.exit_code)
        sys.exit(code if isinstance(code, int) else 0)


#: Optional modules that cost a command far more to import than they give it.
#: ``rfc3987_syntax`` (installed with jupyter_server) is what jsonschema, under nbformat,
#: checks the "iri" string format with; it builds a grammar when imported: 1.2-1.4 s here,
#: a third of a notebook run (python-jsonschema/jsonschema#1428). Notebook schemas use no
#: such format, so the command tells jsonschema it is not there.
SLOW_OPTIONAL_IMPORTS = ("rfc3987_syntax",)


def skip_slow_optional_imports() -> None:
    for name in SLOW_OPTIONAL_IMPORTS:
        sys.modules.setdefault(name, None)  # type: ignore[arg-type]  # None: "not installed"


@click.group(
    cls=JenkinsKernelGroup,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
@click.version_option(__version__, prog_name="jenkins-kernel")
def main() -> None:
    """Run Jupyter notebooks and cells as CI build steps, in any kernel."""


@main.command("run")
@click.argument("notebook", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "-p",
    "--parameter",
    "pairs",
    nargs=2,
    multiple=True,
    metavar="NAME VALUE",
    help="Set a parameter (two words); VALUE is typed like YAML 1.2 core (007 is 7, 0x1f, 0.5, true, null, text).",
)
@click.option(
    "-f", "--parameters-file", type=click.Path(dir_okay=False, path_type=Path), help="A YAML file of parameters."
)
@click.option(
    "--param-env",
    metavar="PREFIX",
    help="Take parameters from environment variables named PREFIX<name> (only the names the "
    "notebook's parameters cell declares, when it has one).",
)
@click.option(
    "--allow-unknown-parameters",
    is_flag=True,
    help="Inject a parameter the notebook's parameters cell does not declare (a warning, not exit 5).",
)
@click.option("-k", "--kernel", help="Kernel to run on (default: the notebook's own).")
@click.option("--timeout", type=click.FloatRange(min=0, min_open=True), help="Seconds the whole run may take.")
@click.option("--cell-timeout", type=click.FloatRange(min=0, min_open=True), help="Seconds any one cell may take.")
@click.option("--allow-errors", is_flag=True, help="Run every cell even after an error (the exit code is still 1).")
@click.option(
    "-o",
    "--output-dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Where the reports go [default: reports/<notebook name>].",
)
@click.option(
    "--cwd",
    type=click.Path(file_okay=False, exists=True, resolve_path=True),
    help="Kernel working directory [default: the notebook's folder].",
)
@click.option(
    "--input",
    "inputs",
    multiple=True,
    metavar="GLOB",
    help="With --server on another machine: files (relative to the run's folder) sent with the notebook.",
)
@click.option(
    "--output-file",
    "outputs",
    multiple=True,
    metavar="GLOB",
    help="With --server on another machine: files the notebook writes, brought back into the run's folder.",
)
@click.option(
    "--max-output-bytes",
    type=click.IntRange(min=1024),
    default=10 * 1024 * 1024,
    show_default=True,
    help="Output kept per cell in executed.ipynb.",
)
@click.option(
    "--record",
    is_flag=True,
    help="Record the run (lineage, metrics, reports) in the local data dir, for runs/show/diff/rerun.",
)
@click.option(
    "--data-dir",
    type=click.Path(file_okay=False),
    envvar="JENKINS_KERNEL_DATA_DIR",
    help="With --record: the record's folder [default: the service's data dir].",
)
@click.option(
    "--mlflow-tracking-uri",
    metavar="URI",
    envvar="JENKINS_KERNEL_MLFLOW_TRACKING_URI",
    help="Also log the run to MLflow: params, metrics, tags, executed.ipynb, report.html (jenkins-kernel[mlflow]).",
)
@output_options
@server_options
def run_command(
    notebook: Path,
    pairs: tuple[tuple[str, str], ...],
    parameters_file: Path | None,
    param_env: str | None,
    allow_unknown_parameters: bool,
    kernel: str | None,
    timeout: float | None,
    cell_timeout: float | None,
    allow_errors: bool,
    output_dir: Path | None,
    cwd: str | None,
    max_output_bytes: int,
    record: bool,
    data_dir: str | None,
    mlflow_tracking_uri: str | None,
    quiet: bool,
    color: str,
    as_json: bool,
    server: str | None,
    env_pairs: tuple[str, ...],
    token: str | None,
    retry_for: float,
    connect_timeout: float,
    session_name: str | None,
    inputs: tuple[str, ...],
    outputs: tuple[str, ...],
) -> None:
    """Run a whole NOTEBOOK; write executed.ipynb, junit.xml, report.html, summary.json,
    metrics.json and metrics.csv.

    Exit codes: 0 succeeded, 1 a cell failed, 2 timed out, 3 the kernel died, 4 cancelled,
    5 rejected (bad notebook, unknown kernel, bad parameter).
    """
    from .local import default_output_dir, run_notebook
    from .notebook.parameters import parameters_from_pairs

    _check_session(session_name, server)
    if (inputs or outputs) and not server:
        raise click.UsageError("--input and --output-file need --server: embedded runs read the workspace itself")
    writer = _writer(quiet, color, as_json, images_saved=True)
    out = output_dir or default_output_dir(notebook)
    common = {
        "parameters": parameters_from_pairs(pairs),
        "parameters_file": parameters_file,
        "param_env": param_env,
        "output_dir": out,
        "listeners": [writer],
        "kernel": kernel,
        "timeout": timeout,
        "cell_timeout": cell_timeout,
        "allow_errors": allow_errors,
        "allow_unknown_parameters": allow_unknown_parameters,
        "cwd": cwd,
    }
    try:
        env = parse_env_pairs(env_pairs)
        if server:
            from .remote import run_notebook_remote

            client = _client(server, token, retry_for, connect_timeout, writer, kernel)
            run = run_notebook_remote(
                client, notebook, session_name=session_name, env=env, inputs=inputs, outputs=outputs, **common
            )
            exit_code, run_id = run["exit_code"], run["id"]
        else:
            from .server.config import default_data_dir

            record_to = (data_dir or default_data_dir()) if record else None
            result = run_notebook(
                notebook,
                max_output_bytes=max_output_bytes,
                record=record_to,
                env=build_environment(os.environ, env),
                **common,
            )
            exit_code, run_id = result.exit_code, result.lineage.get("run_id")
            if record_to is not None:
                writer.note(f"recorded as run {run_id} in {record_to}")
        if mlflow_tracking_uri:
            _export_to_mlflow(mlflow_tracking_uri, out, notebook, run_id, writer)
    except JenkinsKernelError as exc:
        _reject(exc, as_json)
    writer.note(f"reports in {out}/")
    sys.exit(exit_code)


def _export_to_mlflow(uri: str, reports: Path, notebook: Path, run_id: str | None, writer: ConsoleWriter) -> None:
    """Log the finished run to MLflow; a failure is said, the run's exit code stays."""
    from .lineage.git import git_info
    from .lineage.mlflow_export import export_run

    try:
        mlflow_id = export_run(uri, reports, git=git_info(notebook), run_id=run_id)
        writer.note(f"logged to MLflow as run {mlflow_id} at {uri}")
    except Exception as exc:
        writer.note(f"warning: the run could not be logged to MLflow at {uri}: {exc}")


@main.command("exec")
@click.argument("source", required=False, type=click.File("r"))
@click.option("-c", "--code", help="The code to run.")
@click.option("-f", "--file", "code_file", type=click.File("r"), help="A file whose content is the code.")
@click.option("-k", "--kernel", help="Kernel to run on [default: python3, or the --session's kernel].")
@click.option("--timeout", type=click.FloatRange(min=0, min_open=True), help="Seconds the cell may take.")
@click.option(
    "--cwd",
    type=click.Path(file_okay=False, exists=True, resolve_path=True),
    help="Kernel working directory [default: the current one].",
)
@click.option(
    "-o", "--output-dir", type=click.Path(file_okay=False, path_type=Path), help="Save images the cell displays here."
)
@output_options
@server_options
def exec_command(
    source: TextIO | None,
    code: str | None,
    code_file: TextIO | None,
    kernel: str | None,
    timeout: float | None,
    cwd: str | None,
    output_dir: Path | None,
    quiet: bool,
    color: str,
    as_json: bool,
    server: str | None,
    env_pairs: tuple[str, ...],
    token: str | None,
    retry_for: float,
    connect_timeout: float,
    session_name: str | None,
) -> None:
    """Run one cell: -c CODE, -f FILE, or - to read the code from stdin."""
    from .local import execute

    given = [x for x in (code, code_file, source) if x is not None]
    if len(given) != 1:
        raise click.UsageError("give the code exactly one way: -c CODE, -f FILE, or - for stdin")
    text = code if code is not None else given[0].read()  # type: ignore[union-attr]
    _check_session(session_name, server)
    writer = _writer(quiet, color, as_json, images_saved=output_dir is not None)
    try:
        env = parse_env_pairs(env_pairs)
        if server:
            from .remote import execute_remote

            client = _client(server, token, retry_for, connect_timeout, writer, kernel)
            options = {"kernel": kernel, "timeout": timeout, "cwd": cwd, "session_name": session_name, "env": env}
            exit_code = execute_remote(client, text, listeners=[writer], **options)["exit_code"]
        else:
            exit_code = execute(
                text,
                kernel=kernel or "python3",
                timeout=timeout,
                cwd=cwd,
                env=build_environment(os.environ, env),
                output_dir=output_dir,
                listeners=[writer],
            ).exit_code
    except JenkinsKernelError as exc:
        _reject(exc, as_json)
    sys.exit(exit_code)


@main.command("kernels")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.option("--no-probe", is_flag=True, help="Do not start each kernel to ask its language version.")
def kernels_command(as_json: bool, no_probe: bool) -> None:
    """List the installed kernels: name, language and version."""
    from .engine.kernelspecs import installed_kernels
    from .engine.probe import probe_versions

    kernels = installed_kernels()
    versions = {} if no_probe else probe_versions(list(kernels))
    rows = [{**k.to_dict(), "version": versions.get(name, "")} for name, k in kernels.items()]
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    if not rows:
        click.echo("no kernels installed; see `make kernels`", err=True)
        sys.exit(RunStatus.REJECTED.exit_code)
    columns = [[r["name"], r["language"], r["version"] or "-", r["display_name"]] for r in rows]
    widths = [max(len(row[i]) for row in columns) for i in range(3)]
    for row in columns:
        click.echo("  ".join(cell.ljust(width) for cell, width in zip(row, widths)) + "  " + row[3])


@main.command("serve")
@click.option("--host", help="Address to bind [default: 127.0.0.1].")
@click.option("--port", type=int, help="Port [default: 8765; 0 picks a free one].")
@click.option("--data-dir", type=click.Path(file_okay=False), help="Where runs are recorded [default: XDG data home].")
@click.option("--config", "config_file", type=click.Path(dir_okay=False, exists=True), help="A YAML file of settings.")
@click.option("--warm", help="Kernels to keep started, e.g. python3=2,bash=1.")
@click.option(
    "--token",
    help="Accept this bearer token (named 'cli'); visible in ps: prefer --token-file or JENKINS_KERNEL_TOKEN.",
)
@click.option(
    "--token-file", type=click.Path(dir_okay=False, exists=True), help="Accept the token in this file (named 'file')."
)
@click.option("--token-fd", type=int, hidden=True)
@click.option("--no-auth", is_flag=True, default=None, help="No tokens (loopback only; a warning is printed).")
@click.option("--max-sessions", type=int, help="Live sessions at most [default: 32].")
@click.option("--allowed-root", "allowed_roots", multiple=True, help="A folder a run's cwd may be in (repeatable).")
@click.option("--detach", is_flag=True, help="Start in the background, surviving this shell and the Jenkins build.")
def serve_command(
    host: str | None,
    port: int | None,
    data_dir: str | None,
    config_file: str | None,
    warm: str | None,
    token: str | None,
    token_file: str | None,
    token_fd: int | None,
    no_auth: bool | None,
    max_sessions: int | None,
    allowed_roots: tuple[str, ...],
    detach: bool,
) -> None:
    """Start the agent service: the HTTP API that Jenkins, the CLI and curl call.

    Settings come from the config file, then JENKINS_KERNEL_* variables, then these flags.
    """
    from .server import secrets
    from .server.config import load_settings
    from .server.serve import serve

    try:
        if token_fd is not None:
            given = secrets.read_token_fd(token_fd)
        else:
            if token:
                click.echo(
                    "jenkins-kernel: WARNING: --token is visible to local users (ps, /proc/PID/cmdline) until the "
                    "service restarts itself without it; use --token-file or JENKINS_KERNEL_TOKEN",
                    err=True,
                )
            given = {"cli": token} if token else {}
            if os.environ.get(secrets.TOKEN_ENV):
                given["env"] = os.environ[secrets.TOKEN_ENV]
            secrets.reexec_without_tokens(given, sys.argv[1:])  # returns only where /proc does not exist
        os.environ.pop(secrets.TOKEN_ENV, None)
        if token_file:
            given["file"] = secrets.read_token_file(token_file)
        settings = load_settings(
            config_file,
            host=host,
            port=port,
            data_dir=data_dir,
            warm=warm,
            no_auth=no_auth,
            max_sessions=max_sessions,
            allowed_roots=list(allowed_roots) or None,
        )
        if detach:
            from .server.discovery import detach_serve

            secret = given.get("cli") or given.get("env")  # to the child by its environment only
            click.echo(detach_serve(settings, click.get_current_context().params, secret))
            return
        settings.tokens = {**settings.tokens, **given}
        serve(settings)
    except JenkinsKernelError as exc:
        _reject(exc, False)


@main.command("prune")
@click.option("--data-dir", type=click.Path(file_okay=False), help="The service's data dir [default: XDG data home].")
@click.option("--config", "config_file", type=click.Path(dir_okay=False, exists=True), help="A YAML file of settings.")
@click.option("--retention-days", type=click.FloatRange(min=0), help="Keep finished runs this many days [default: 30].")
@click.option("--max-runs", type=click.IntRange(min=0), help="Keep this many finished runs at most [0: no limit].")
@click.option("--dry-run", is_flag=True, help="Only say what would be deleted.")
def prune_command(
    data_dir: str | None, config_file: str | None, retention_days: float | None, max_runs: int | None, dry_run: bool
) -> None:
    """Delete old runs (events, logs, artifacts), expired idempotency keys and old audit
    rows, as the service's retention pass does; never a queued or running run."""
    from .retention import prune
    from .server.config import load_settings
    from .store import Store

    try:
        settings = load_settings(config_file, data_dir=data_dir, retention_days=retention_days, max_runs=max_runs)
    except JenkinsKernelError as exc:
        _reject(exc, False)
    if not (Path(settings.data_dir) / "jenkins-kernel.sqlite3").exists():
        _reject(JenkinsKernelError(f"no jenkins-kernel database in {settings.data_dir}", code="no_data_dir"), False)
    store = Store(settings.data_dir)
    try:
        report = prune(
            store,
            retention_days=settings.retention_days,
            max_runs=settings.max_runs,
            idempotency_ttl=settings.idempotency_ttl,
            dry_run=dry_run,
        )
    finally:
        store.close()
    click.echo(report.describe(dry_run))


def _register_jenkins_group() -> None:
    from .history_cli import register
    from .jenkins_cli import jenkins
    from .service_cli import service

    main.add_command(jenkins)
    main.add_command(service)
    register(main)


_register_jenkins_group()

if __name__ == "__main__":  # pragma: no cover
    main()
