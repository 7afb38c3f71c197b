"""``jenkins-kernel jenkins ...``: notebook jobs as code on a Jenkins controller.

The commands only parse their options and call :mod:`jenkins_kernel.jenkins`.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from .exceptions import JenkinsKernelError

__all__ = ["jenkins"]

PREFIX = "[jenkins-kernel]"


def connection_options(func: Any) -> Any:
    """--url, --user, --api-token, --config: which controller, as whom."""
    func = click.option(
        "--config",
        "config_file",
        type=click.Path(dir_okay=False, path_type=Path),
        help="A YAML file with url, user, api_token [default: ~/.config/jenkins-kernel/jenkins.yaml].",
    )(func)
    func = click.option(
        "--api-token", metavar="TOKEN", help="The user's API token; prefer the variable [env JENKINS_API_TOKEN]."
    )(func)
    func = click.option("--user", metavar="USER", help="Jenkins user id [env JENKINS_USER_ID].")(func)
    func = click.option("--url", metavar="URL", help="The Jenkins controller [env JENKINS_URL].")(func)
    return func


def _fail(exc: JenkinsKernelError) -> None:
    click.echo(f"{PREFIX} error: {exc.message}", err=True)
    if exc.hint:
        click.echo(f"{PREFIX}   hint: {exc.hint}", err=True)
    sys.exit(exc.exit_code)


def _server(url: str | None, user: str | None, api_token: str | None, config_file: Path | None) -> Any:
    from .jenkins import connect, resolve_connection

    return connect(resolve_connection(url, user, api_token, config_file))


@click.group("jenkins", context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
def jenkins() -> None:
    """Keep notebook jobs in a YAML file and run them on Jenkins (python-jenkins).

    The controller comes from --url/--user/--api-token, else JENKINS_URL, JENKINS_USER_ID and
    JENKINS_API_TOKEN (the variables of Jenkins' own CLI), else the config file.
    """


@jenkins.command("apply")
@click.argument("jobs_yaml", metavar="JOBS.yaml", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--dry-run", is_flag=True, help="Show what would be created or updated (with a diff); change nothing.")
@connection_options
def apply_command(
    jobs_yaml: Path,
    dry_run: bool,
    url: str | None,
    user: str | None,
    api_token: str | None,
    config_file: Path | None,
) -> None:
    """Create or update the Pipeline jobs declared in JOBS.yaml; unchanged jobs are left alone.

    Each notebook must exist (paths from the repository root) and declare the job's parameters
    in its parameters cell. --dry-run prints each generated Pipeline script, and works without a
    reachable Jenkins (then nothing is compared).

    Exit codes: 0 applied (or shown, with --dry-run), 5 a bad jobs file, a missing notebook or
    parameter, bad credentials or an unreachable controller.
    """
    from .jenkins import apply, load_jobs

    try:
        load_jobs(jobs_yaml)  # a bad file is reported before any connection is made
        try:
            server = _server(url, user, api_token, config_file)
        except JenkinsKernelError as exc:
            if not dry_run or exc.code != "jenkins_not_configured":
                raise
            server = None  # a dry run shows the scripts without a Jenkins
        apply(jobs_yaml, server, dry_run=dry_run)
    except JenkinsKernelError as exc:
        _fail(exc)


@jenkins.command("build")
@click.argument("job")
@click.option("-p", "--parameter", "pairs", multiple=True, metavar="NAME=VALUE", help="A build parameter (repeat).")
@click.option("-f", "--follow", is_flag=True, help="Wait for the build, stream its console, exit with its result.")
@click.option(
    "--poll-interval",
    type=click.FloatRange(min=0),
    metavar="SECONDS",
    default=1.0,
    show_default=True,
    help="Seconds between polls of the queue and the console while nothing new arrives.",
)
@connection_options
def build_command(
    job: str,
    pairs: tuple[str, ...],
    follow: bool,
    poll_interval: float,
    url: str | None,
    user: str | None,
    api_token: str | None,
    config_file: Path | None,
) -> None:
    """Trigger JOB; without --follow print its queue item URL and exit 0.

    With --follow: exit 0 for SUCCESS, 1 for FAILURE or UNSTABLE, 4 for ABORTED (Ctrl-C or
    SIGTERM aborts the build and waits for its end; a second one stops waiting), 5 for a bad
    parameter, bad credentials or an unreachable controller.
    """
    from .jenkins import build, parse_parameter_pairs

    try:
        params = parse_parameter_pairs(pairs)
        exit_code = build(
            _server(url, user, api_token, config_file), job, params, follow=follow, poll_interval=poll_interval
        )
    except JenkinsKernelError as exc:
        _fail(exc)
    except KeyboardInterrupt:
        click.echo(f"{PREFIX} stopped waiting; the build may still be running", err=True)
        sys.exit(130)
    sys.exit(exit_code)


if __name__ == "__main__":  # pragma: no cover
    jenkins()
