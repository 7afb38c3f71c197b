"""Notebook jobs on a Jenkins controller, through python-jenkins.

- :func:`apply` creates or updates the jobs of a jobs YAML file (see
  :mod:`jenkins_kernel.jenkins_jobs`), idempotently, or says what it would change;
- :func:`build` triggers a job, waits through the queue, follows the console through
  ``progressiveText`` and returns the exit code of the build's result (0, 1 or 4).

Errors are :class:`~jenkins_kernel.exceptions.JenkinsKernelError` with one-line messages.
"""

from __future__ import annotations

import codecs
import difflib
import functools
import os
import re
import signal
import sys
import threading
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO
from urllib.parse import quote, urlencode

import jenkins as python_jenkins
import requests
import yaml

from .exceptions import InvalidParameterError, JenkinsKernelError, RejectedError
from .jenkins_jobs import (
    NotebookJob,
    Parameter,
    groovy_string,
    job_config_xml,
    load_jobs,
    normalised_config,
    parse_jobs,
    pipeline_script,
)
from .jenkins_preflight import check_notebooks, print_scripts
from .status import RunStatus

__all__ = [
    "Connection",
    "JenkinsError",
    "JobChange",
    "NotebookJob",
    "Parameter",
    "apply",
    "build",
    "connect",
    "default_config_path",
    "groovy_string",
    "job_config_xml",
    "load_jobs",
    "normalised_config",
    "parse_jobs",
    "parse_parameter_pairs",
    "pipeline_script",
    "resolve_connection",
]

PREFIX = "[jenkins-kernel]"
RESULT_STATUS = {
    "SUCCESS": RunStatus.SUCCEEDED,
    "UNSTABLE": RunStatus.FAILED,
    "FAILURE": RunStatus.FAILED,
    "NOT_BUILT": RunStatus.FAILED,
    "ABORTED": RunStatus.CANCELLED,
}


class JenkinsError(JenkinsKernelError):
    """Jenkins could not be reached, refused the credentials, or answered an error."""

    code = "jenkins_error"


# -- connection ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Connection:
    url: str
    user: str = ""
    api_token: str = ""


def default_config_path() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config"
    return Path(base) / "jenkins-kernel" / "jenkins.yaml"


def resolve_connection(
    url: str | None = None,
    user: str | None = None,
    api_token: str | None = None,
    config_file: str | Path | None = None,
    env: Mapping[str, str] | None = None,
) -> Connection:
    """Flags first, then JENKINS_URL / JENKINS_USER_ID / JENKINS_API_TOKEN, then the config file.

    The file's user and token are used only for the file's own URL, so a token never goes
    to a controller it was not written down for.
    """
    env = os.environ if env is None else env
    saved = _read_config_file(config_file)
    url = url or env.get("JENKINS_URL") or saved.get("url", "")
    if not url:
        raise RejectedError(
            "no Jenkins URL given",
            hint=f"pass --url, set JENKINS_URL, or write url: in {default_config_path()}",
            code="jenkins_not_configured",
        )
    if not url.startswith(("http://", "https://")):
        raise RejectedError(f"the Jenkins URL must start with http:// or https://, not {url!r}")
    if saved.get("url", url).rstrip("/") != url.rstrip("/"):
        saved = {}
    user = user or env.get("JENKINS_USER_ID") or saved.get("user", "")
    api_token = api_token or env.get("JENKINS_API_TOKEN") or saved.get("api_token", "")
    if bool(user) != bool(api_token):
        missing = "an API token (--api-token, JENKINS_API_TOKEN)" if user else "a user (--user, JENKINS_USER_ID)"
        raise RejectedError(f"Jenkins credentials need a user and an API token; {missing} is missing")
    return Connection(url.rstrip("/") + "/", user, api_token)


def _read_config_file(config_file: str | Path | None) -> dict[str, str]:
    path = Path(config_file) if config_file else default_config_path()
    if not path.is_file():
        if config_file:
            raise RejectedError(f"the Jenkins config file {path} does not exist")
        return {}
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise RejectedError(f"cannot read the Jenkins config file {path}: {str(exc).splitlines()[0]}") from None
    if not isinstance(data, dict) or set(data) - {"url", "user", "api_token"}:
        raise RejectedError(f"{path}: expected a mapping with only the keys url, user, api_token")
    return {k: str(v) for k, v in data.items() if v is not None}


def connect(connection: Connection, timeout: float = 30.0) -> python_jenkins.Jenkins:
    """A python-jenkins handle; nothing is sent until the first call."""
    return python_jenkins.Jenkins(
        connection.url, connection.user or None, connection.api_token or None, timeout=timeout
    )


@contextmanager
def _translated_errors(server: python_jenkins.Jenkins) -> Iterator[None]:
    """Turn what requests and python-jenkins raise into one-line JenkinsErrors."""
    url = server.server
    try:
        yield
    except requests.exceptions.ConnectionError as exc:
        reason = re.search(r"\[Errno -?\d+\] ([^'\")]+)", str(exc))
        detail = reason.group(1).strip() if reason else type(exc).__name__
        raise JenkinsError(f"cannot reach Jenkins at {url}: {detail}", code="jenkins_unreachable") from None
    except (requests.exceptions.Timeout, python_jenkins.TimeoutException):
        raise JenkinsError(f"Jenkins at {url} did not answer in time", code="jenkins_timeout") from None
    except requests.exceptions.HTTPError as exc:
        response = exc.response
        detail = response.headers.get("X-Error") or (response.text.strip().splitlines() or [response.reason])[0]
        where = response.request.method + " " + response.url.replace(url, "/", 1)
        raise JenkinsError(f"Jenkins at {url} answered {response.status_code} to {where}: {detail[:200]}") from None
    except python_jenkins.JenkinsException as exc:
        raise _jenkins_exception(url, exc) from None


def _jenkins_exception(url: str, exc: Exception) -> JenkinsError:
    text = str(exc)
    status = re.search(r"\[(\d{3})\]", text)
    code = status.group(1) if status else ""
    if code == "401":
        message = "refused the credentials (401): check the user and API token (--user/--api-token)"
        return JenkinsError(f"Jenkins at {url} {message}", code="jenkins_unauthorized")
    if code == "403":
        message = "denied access (403): the user lacks a permission, or no credentials were given"
        return JenkinsError(f"Jenkins at {url} {message}", code="jenkins_forbidden")
    if code == "500":
        return JenkinsError(f"Jenkins at {url} failed with an internal error (500): see the controller's log")
    return JenkinsError(f"Jenkins at {url}: {text.splitlines()[0]}")


def _speaks_jenkins(func: Callable[..., Any]) -> Callable[..., Any]:
    """Run ``func`` with the errors of its python-jenkins handle (an argument) translated."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        server = next(a for a in (*args, *kwargs.values()) if isinstance(a, python_jenkins.Jenkins))
        with _translated_errors(server):
            return func(*args, **kwargs)

    return wrapper


def _job_url(server: python_jenkins.Jenkins, name: str) -> str:
    return server.server + "".join(f"job/{quote(part, safe='')}/" for part in name.split("/"))


# -- apply ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class JobChange:
    name: str
    action: str  # created, updated, unchanged
    diff: tuple[str, ...] = ()


def apply(
    jobs_yaml: str | Path,
    server: python_jenkins.Jenkins | None,
    dry_run: bool = False,
    out: TextIO | None = None,
    err: TextIO | None = None,
    max_diff_lines: int = 40,
) -> list[JobChange]:
    """Create missing jobs and update changed ones; with ``dry_run`` only say what would change.

    Each notebook must exist and declare the job's parameters (checked first, exit 5). A job
    is compared with its current config.xml after normalising both (see
    :func:`normalised_config`), so applying the same file twice changes nothing. A dry run
    prints each generated Pipeline script, and works without Jenkins (``server`` None, or
    unreachable): then nothing is compared.
    """
    out, err = out or sys.stdout, err or sys.stderr
    jobs = load_jobs(jobs_yaml)
    check_notebooks(jobs, Path(jobs_yaml))
    if server is not None:
        try:
            changes = _apply(jobs, server, dry_run, out, max_diff_lines)
        except JenkinsError as exc:
            if not dry_run or exc.code not in ("jenkins_unreachable", "jenkins_timeout"):
                raise
            print(f"{PREFIX} {exc.message}: showing the generated scripts without comparing", file=err)
        else:
            if dry_run:
                print_scripts(jobs, out)
            return changes
    if not dry_run:
        raise RejectedError("apply needs a Jenkins to apply to", code="jenkins_not_configured")
    changes = [JobChange(job.name, "not compared") for job in jobs]
    for change in changes:
        _report(change, dry_run, out, max_diff_lines)
    print_scripts(jobs, out)
    print(f"{len(changes)} job{'s' * (len(changes) != 1)}: not compared with Jenkins (dry run)", file=out)
    return changes


@_speaks_jenkins
def _apply(
    jobs: list[NotebookJob], server: python_jenkins.Jenkins, dry_run: bool, out: TextIO, max_diff_lines: int
) -> list[JobChange]:
    changes = []
    for job in jobs:
        desired = job_config_xml(job)
        current = _job_config(server, job.name)
        change = JobChange(job.name, *(_compare(current, desired) if current is not None else ("created", ())))
        if not dry_run and change.action == "created":
            server.create_job(job.name, desired)
        elif not dry_run and change.action == "updated":
            server.reconfig_job(job.name, desired)
        changes.append(change)
        _report(change, dry_run, out, max_diff_lines)
    counts = {a: sum(c.action == a for c in changes) for a in ("created", "updated", "unchanged")}
    verb = "would be " if dry_run else ""
    summary = ", ".join(f"{n} {verb if a != 'unchanged' else ''}{a}" for a, n in counts.items())
    print(f"{len(changes)} job{'s' * (len(changes) != 1)}: {summary}" + (" (dry run)" if dry_run else ""), file=out)
    return changes


def _job_config(server: python_jenkins.Jenkins, name: str) -> bytes | None:
    """The job's config.xml as bytes (the XML declares its encoding), or None if there is no job."""
    try:
        response = server.jenkins_request(requests.Request("GET", _job_url(server, name) + "config.xml"))
    except python_jenkins.NotFoundException:
        return None
    try:
        kind = ET.fromstring(response.content).tag
    except ET.ParseError:
        kind = "flow-definition"  # not comparable: _compare says so and apply replaces it
    if kind != "flow-definition":
        raise JenkinsError(
            f"job {name!r} exists on {server.server} as a {kind} job, not a Pipeline",
            hint="rename the job in the YAML, or delete or rename the existing job",
        )
    return response.content


def _compare(current: bytes, desired: str) -> tuple[str, tuple[str, ...]]:
    """("unchanged", ()) or ("updated", unified diff lines) of the normalised configs."""
    wanted = normalised_config(desired)
    try:
        have = normalised_config(current)
    except ET.ParseError as exc:  # e.g. an XML 1.1 character reference Jenkins wrote
        return "updated", (f"(the current config.xml cannot be compared: {exc}; it will be replaced)",)
    if have == wanted:
        return "unchanged", ()
    diff = difflib.unified_diff(have.splitlines(), wanted.splitlines(), "Jenkins", "jobs YAML", n=1, lineterm="")
    return "updated", tuple(diff)


def _report(change: JobChange, dry_run: bool, out: TextIO, max_diff_lines: int) -> None:
    action = f"would be {change.action}" if dry_run and change.action in ("created", "updated") else change.action
    print(f"{action:<16} {change.name}", file=out)
    for line in change.diff[:max_diff_lines]:
        print(f"    {line}", file=out)
    if len(change.diff) > max_diff_lines:
        print(f"    ... {len(change.diff) - max_diff_lines} more diff lines", file=out)


# -- build ---------------------------------------------------------------------------------


def parse_parameter_pairs(pairs: Sequence[str]) -> dict[str, str]:
    """``["alpha=0.1", "name=run 7"]`` -> ``{"alpha": "0.1", "name": "run 7"}`` (Jenkins types them)."""
    values = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name.strip():
            raise InvalidParameterError(f"-p {pair!r}: expected NAME=VALUE", hint="e.g. -p learning_rate=0.1")
        values[name.strip()] = value
    return values


class _StopRequest:
    """Set by SIGINT/SIGTERM while following: stop the build (a second signal stops waiting)."""

    def __init__(self) -> None:
        self.requested = False


@contextmanager
def _stop_on_signals() -> Iterator[_StopRequest]:
    stop = _StopRequest()
    if threading.current_thread() is not threading.main_thread():
        yield stop
        return

    def handler(signum: int, frame: Any) -> None:
        if stop.requested:
            raise KeyboardInterrupt
        stop.requested = True

    previous = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield stop
    finally:
        for s, h in previous.items():
            signal.signal(s, h)


@_speaks_jenkins
def build(
    server: python_jenkins.Jenkins,
    job: str,
    params: Mapping[str, str] | None = None,
    follow: bool = False,
    out: TextIO | None = None,
    err: TextIO | None = None,
    poll_interval: float = 1.0,
) -> int:
    """Trigger ``job``; with ``follow``, stream its console and return its result's exit code.

    Without ``follow`` the queue item's URL is printed and 0 returned. While following,
    SIGINT or SIGTERM stops the build (Jenkins abort) and following goes on to its end.
    """
    out, err = out or sys.stdout, err or sys.stderr

    def note(text: str) -> None:
        print(f"{PREFIX} {text}", file=err, flush=True)

    try:
        info = server.get_job_info(job)
    except python_jenkins.JenkinsException as exc:
        if "does not exist" not in str(exc):
            raise
        raise RejectedError(f"there is no job {job!r} on {server.server}", code="unknown_job") from None
    values = dict(params or {})
    definitions = _check_parameters(job, info, values)
    queue_id = _trigger(server, job, values, parameterized=bool(definitions))
    queue_url = f"{server.server}queue/item/{queue_id}/"
    if not follow:
        print(queue_url, file=out, flush=True)
        return 0
    note(f"queued {job}: {queue_url}")
    with _stop_on_signals() as stop:
        executable = _wait_for_executable(server, queue_id, stop, poll_interval, note)
        if executable is None:
            note(f"{job}: the queue item was cancelled: ABORTED")
            return RunStatus.CANCELLED.exit_code or 4
        number = int(executable["number"])
        note(f"{job} #{number} started: {executable.get('url') or _job_url(server, job) + str(number) + '/'}")
        _follow_console(server, job, number, out, stop, poll_interval, note)
        result = _wait_for_result(server, job, number, poll_interval)
    status = RESULT_STATUS.get(result, RunStatus.FAILED)
    note(f"{job} #{number} finished: {result} (exit {status.exit_code})")
    return status.exit_code or 0


def _check_parameters(job: str, info: Mapping[str, Any], values: Mapping[str, str]) -> dict[str, str]:
    """The job's parameter kinds by name; unknown names and non-boolean booleans are rejected."""
    definitions = {
        d["name"]: d.get("type", "")
        for prop in info.get("property") or []
        for d in prop.get("parameterDefinitions") or []
        if "name" in d
    }
    for name, value in values.items():
        if name not in definitions:
            known = ", ".join(definitions) or "none"
            raise InvalidParameterError(f"job {job!r} has no parameter {name!r} (its parameters: {known})")
        if definitions[name] == "BooleanParameterDefinition" and value.lower() not in ("true", "false"):
            raise InvalidParameterError(f"parameter {name!r} of job {job!r} is true or false, not {value!r}")
    return definitions


def _trigger(server: python_jenkins.Jenkins, job: str, values: Mapping[str, str], parameterized: bool) -> int:
    """POST build or buildWithParameters (no quiet period); the queue item's number."""
    endpoint = "buildWithParameters" if parameterized else "build"
    url = f"{_job_url(server, job)}{endpoint}?{urlencode({**values, 'delay': '0sec'})}"
    response = server.jenkins_request(requests.Request("POST", url))
    location = response.headers.get("Location", "")
    match = re.search(r"/queue/item/(\d+)/?$", location)
    if not match:
        raise JenkinsError(f"Jenkins did not queue {job!r}: no queue item in its answer (Location: {location!r})")
    return int(match.group(1))


def _wait_for_executable(
    server: python_jenkins.Jenkins, queue_id: int, stop: _StopRequest, poll: float, note: Callable[[str], None]
) -> dict[str, Any] | None:
    """Poll the queue item until it has a build (its ``executable``), or None if it was cancelled."""
    last_why, cancelled = None, False
    while True:
        item = server.get_queue_item(queue_id)
        if item.get("cancelled"):
            return None
        if item.get("executable"):
            return item["executable"]
        if item.get("why") and item["why"] != last_why:
            last_why = item["why"]
            note(f"waiting: {last_why}")
        if stop.requested and not cancelled:
            note("cancelling the queued build")
            server.cancel_queue(queue_id)
            cancelled = True
        time.sleep(poll)


def _follow_console(
    server: python_jenkins.Jenkins,
    job: str,
    number: int,
    out: TextIO,
    stop: _StopRequest,
    poll: float,
    note: Callable[[str], None],
) -> None:
    """Print the console from byte 0 as it grows (progressiveText), each byte once."""
    url = f"{_job_url(server, job)}{number}/logText/progressiveText"
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    start, stopping = 0, False
    while True:
        if stop.requested and not stopping:
            note(f"stopping {job} #{number}")
            server.stop_build(job, number)
            stopping = True
        response = server.jenkins_request(requests.Request("GET", url, params={"start": start}), add_crumb=False)
        chunk = response.content
        if chunk:
            out.write(decoder.decode(chunk))
            out.flush()
        start = int(response.headers.get("X-Text-Size") or start + len(chunk))
        if response.headers.get("X-More-Data", "").lower() != "true":
            break
        if not chunk:
            time.sleep(poll)
    out.write(decoder.decode(b"", final=True))
    out.flush()


def _wait_for_result(server: python_jenkins.Jenkins, job: str, number: int, poll: float) -> str:
    while True:
        info = server.get_build_info(job, number)
        if not info.get("building") and info.get("result"):
            return str(info["result"])
        time.sleep(poll)
