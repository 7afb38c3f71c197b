"""``jenkins-kernel service status|stop``: this machine's service, as ``--server auto`` finds it."""

from __future__ import annotations

import json
import sys
import time

import click

__all__ = ["service"]

_DATA_DIR = click.option(
    "--data-dir",
    type=click.Path(file_okay=False),
    help="The service's data dir [default: JENKINS_KERNEL_DATA_DIR, else XDG data home/jenkins-kernel].",
)


@click.group("service", context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
def service() -> None:
    """Show or stop this machine's service (the one `--server auto` uses or starts)."""


@service.command("status")
@_DATA_DIR
@click.option("--json", "as_json", is_flag=True, help="Print the discovery information as JSON.")
def status_command(data_dir: str | None, as_json: bool) -> None:
    """Say whether the service runs: URL, PID, version, uptime. Exit 0 if it runs, 1 if not."""
    from .server.discovery import data_dir_in_use, read_discovery

    folder = data_dir_in_use(data_dir)
    info = read_discovery(folder)
    if as_json:
        click.echo(json.dumps(info or {"running": False, "data_dir": str(folder)}, indent=2))
    elif info is None:
        click.echo(f"no service runs for {folder}", err=True)
    else:
        uptime = time.time() - float(info.get("started") or time.time())
        click.echo(f"running: {info['url']}  pid {info['pid']}  version {info['version']}  up {uptime:.0f} s")
        click.echo(f"data dir: {info['data_dir']}  token file: {info.get('token_file') or '(configured tokens)'}")
    sys.exit(0 if info else 1)


@service.command("stop")
@_DATA_DIR
def stop_command(data_dir: str | None) -> None:
    """Stop the service: its runs are cancelled and its kernels shut down. Exit 0 (also if none ran)."""
    from .server.discovery import data_dir_in_use, stop_service

    folder = data_dir_in_use(data_dir)
    info = stop_service(folder)
    click.echo(f"stopped the service at {info['url']} (pid {info['pid']})" if info else f"no service ran for {folder}")
