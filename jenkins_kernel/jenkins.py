"""Notebook jobs on a Jenkins controller, through python-jenkins.

- :func:`load_jobs` reads a jobs YAML file into :class:`NotebookJob` specs and names the job
  and field of any mistake;
- :func:`job_config_xml` turns a spec into a Pipeline job whose script calls the plugin's
  ``jupyterNotebook`` step; :func:`apply` creates or updates the jobs, idempotently;
- :func:`build` triggers a job, waits through the queue, follows the console through
  ``progressiveText`` and returns the exit code of the build's result (0, 1 or 4).

Errors are :class:`~jenkins_kernel.exceptions.JenkinsKernelError` with one-line messages.
"""

from __future__ import annotations

import codecs
import difflib
import functools
import math
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
from pathlib import Path, PurePosixPath
from typing import Any, TextIO
from urllib.parse import quote, urlencode

import jenkins as python_jenkins
import requests
import yaml

from .exceptions import InvalidParameterError, JenkinsKernelError, RejectedError
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
REPORTS_DIR = "reports"
_INDENT = "    "
MANAGED_NOTE = (
    "Managed by jenkins-kernel (jobs as code): edit the jobs YAML file and run "
    "`jenkins-kernel jenkins apply`; changes made here are overwritten."
)
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


# -- jobs YAML ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Parameter:
    """A build parameter of a notebook job; its default's type decides how the step gets it."""

    name: str
    default: str | int | float | bool
    description: str = ""


@dataclass(frozen=True)
class GitSource:
    url: str
    branch: str = "main"
    credentials_id: str = ""


@dataclass(frozen=True)
class NotebookJob:
    """One job of the jobs YAML: a notebook run by the ``jupyterNotebook`` Pipeline step."""

    name: str
    notebook: str
    description: str = ""
    kernel: str = ""
    parameters: tuple[Parameter, ...] = ()
    cron: str = ""
    agent: str = ""
    timeout: float | None = None
    cell_timeout: float | None = None
    allow_errors: bool = False
    git: GitSource | None = None


JOB_FIELDS = {
    "notebook": "the notebook's path from the repository root, e.g. examples/train.ipynb",
    "description": "text shown on the job's page",
    "kernel": "the kernel to run on (default: the notebook's own)",
    "parameters": "NAME: default, or NAME: {default: ..., description: ...}",
    "cron": "a Jenkins cron spec such as 'H 2 * * *'",
    "agent": "the agent label expression to run on",
    "timeout": "seconds (or 90s, 30m, 2h) the whole notebook may take",
    "cell_timeout": "seconds (or 90s, 30m, 2h) any one cell may take",
    "allow_errors": "true to run every cell even after an error",
    "git": "{url, branch, credentials_id} of the repository to check out",
}
DEFAULT_FIELDS = set(JOB_FIELDS) - {"notebook", "parameters", "description"}
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_GROOVY_KEYWORD = re.compile(
    r"^(?:as|assert|boolean|break|byte|case|catch|char|class|const|continue|def|default|do|double|else|enum|extends|"
    r"false|final|finally|float|for|goto|if|implements|import|in|instanceof|int|interface|long|native|new|null|"
    r"package|private|protected|public|return|short|static|super|switch|synchronized|this|throw|throws|trait|"
    r"transient|true|try|var|void|volatile|while)$"
)
_BAD_NAME_CHARS = set("?*/\\%!@#$^&|<>[]:;'\"")
_DURATION = re.compile(r"^\s*([0-9]+(?:\.[0-9]+)?)\s*(s|m|h)?\s*$")


class _JobsLoader(yaml.SafeLoader):
    """YAML 1.2 core scalars (``no`` stays text, ``1e-3`` is a float, ``010`` is 10); no duplicate keys."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise yaml.constructor.ConstructorError(None, None, f"duplicate key {key!r}", key_node.start_mark)
            seen.add(key)
        return super().construct_mapping(node, deep)

    def construct_yaml_int(self, node: yaml.ScalarNode) -> int:
        return int(self.construct_scalar(node))


_CORE_TYPES = ("bool", "int", "float", "timestamp")
_JobsLoader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag.rsplit(":", 1)[-1] not in _CORE_TYPES]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_JobsLoader.add_implicit_resolver("tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), None)
_JobsLoader.add_implicit_resolver("tag:yaml.org,2002:int", re.compile(r"^[-+]?[0-9]+$"), None)
_JobsLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(
        r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"
    ),
    None,
)
_JobsLoader.add_constructor("tag:yaml.org,2002:int", _JobsLoader.construct_yaml_int)


def load_jobs(path: str | Path) -> list[NotebookJob]:
    """The jobs of a jobs YAML file, validated; a mistake raises RejectedError (exit 5)."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise RejectedError(f"cannot read the jobs file {path}: {exc}", code="invalid_jobs_file") from None
    try:
        data = yaml.load(text, Loader=_JobsLoader)  # a SafeLoader subclass
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else str(path)
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise RejectedError(f"{where}: not valid YAML: {problem}", code="invalid_jobs_file") from None
    return parse_jobs(data, source=str(path))


def parse_jobs(data: Any, source: str = "the jobs file") -> list[NotebookJob]:
    """Validate decoded jobs YAML: ``jobs`` (name -> fields) and optional ``defaults``."""
    top = _mapping(data, source, "the file", "a mapping with a 'jobs' key")
    _known_keys(top, {"jobs", "defaults"}, source, "the file")
    if not isinstance(top.get("jobs"), Mapping) or not top["jobs"]:
        raise _invalid(source, "the file", "needs 'jobs': a mapping of job name to fields", "see examples/jobs.yaml")
    defaults = _mapping(top.get("defaults") or {}, source, "defaults", "a mapping of job fields")
    _known_keys(defaults, DEFAULT_FIELDS, source, "defaults")
    jobs = []
    for name, fields in top["jobs"].items():
        where = f"job {name!r}"
        _check_job_name(name, source)
        fields = _mapping(fields, source, where, "a mapping of fields (at least 'notebook')")
        _known_keys(fields, set(JOB_FIELDS), source, where)
        jobs.append(_parse_job(name, {**defaults, **fields}, source, where))
    return jobs


def _parse_job(name: str, fields: Mapping[str, Any], source: str, where: str) -> NotebookJob:
    if "notebook" not in fields:
        raise _invalid(source, where, "missing field 'notebook'", f"notebook: {JOB_FIELDS['notebook']}")
    notebook = _text(fields, "notebook", source, where)
    path = PurePosixPath(notebook)
    if path.is_absolute() or ".." in path.parts or path.suffix != ".ipynb":
        raise _invalid(source, where, f"field 'notebook' must be a relative path to an .ipynb file, not {notebook!r}")
    kernel = _text(fields, "kernel", source, where)
    if kernel and not re.match(r"^[A-Za-z0-9._-]+$", kernel):
        raise _invalid(source, where, f"field 'kernel' is not a kernel name: {kernel!r}")
    cron = _text(fields, "cron", source, where, multiline=True)
    _check_cron(cron, source, where)
    return NotebookJob(
        name=name,
        notebook=notebook,
        description=_text(fields, "description", source, where, multiline=True),
        kernel=kernel,
        parameters=_parse_parameters(fields.get("parameters"), source, where),
        cron=cron,
        agent=_text(fields, "agent", source, where),
        timeout=_duration(fields, "timeout", source, where),
        cell_timeout=_duration(fields, "cell_timeout", source, where),
        allow_errors=_flag(fields, "allow_errors", source, where),
        git=_parse_git(fields.get("git"), source, where),
    )


def _parse_parameters(raw: Any, source: str, where: str) -> tuple[Parameter, ...]:
    if raw is None:
        return ()
    specs = _mapping(raw, source, f"{where}: field 'parameters'", "a mapping of name to default")
    parameters = []
    for name, spec in specs.items():
        at = f"{where}: parameter {name!r}"
        if not isinstance(name, str) or not _IDENTIFIER.match(name) or _GROOVY_KEYWORD.match(name):
            raise _invalid(source, at, "is not a usable name", "use letters, digits and _ (not a Groovy keyword)")
        if isinstance(spec, Mapping):
            _known_keys(spec, {"default", "description"}, source, at)
            description = _text(spec, "description", source, at, multiline=True)
            spec = spec.get("default")
        else:
            description = ""
        if spec is None:
            raise _invalid(source, at, "has no default", "give a default value; '' for an empty string")
        if not isinstance(spec, (str, int, float, bool)):
            raise _invalid(source, at, f"default must be text, a number or true/false, not {type(spec).__name__}")
        if isinstance(spec, float) and not math.isfinite(spec):
            raise _invalid(source, at, f"default must be a finite number, not {spec}")
        if isinstance(spec, str):
            _check_text(spec, source, at, multiline=False)
        parameters.append(Parameter(name, spec, description))
    return tuple(parameters)


def _parse_git(raw: Any, source: str, where: str) -> GitSource | None:
    if raw is None:
        return None
    at = f"{where}: field 'git'"
    spec = _mapping(raw, source, at, "a mapping with url, branch, credentials_id")
    _known_keys(spec, {"url", "branch", "credentials_id"}, source, at)
    url = _text(spec, "url", source, at)
    if not url:
        raise _invalid(source, at, "needs 'url', the repository to check out")
    return GitSource(url, _text(spec, "branch", source, at) or "main", _text(spec, "credentials_id", source, at))


def _invalid(source: str, where: str, problem: str, hint: str = "") -> RejectedError:
    error = InvalidParameterError if "parameter" in where else RejectedError
    return error(f"{source}: {where}: {problem}", hint=hint, code="invalid_jobs_file")


def _mapping(value: Any, source: str, where: str, expected: str) -> Mapping[Any, Any]:
    if not isinstance(value, Mapping):
        raise _invalid(source, where, f"must be {expected}, not {type(value).__name__}")
    return value


def _known_keys(data: Mapping[Any, Any], known: set[str], source: str, where: str) -> None:
    for key in data:
        if key not in known:
            close = difflib.get_close_matches(str(key), sorted(known), n=1)
            hint = f"did you mean {close[0]!r}?" if close else f"known fields: {', '.join(sorted(known))}"
            raise _invalid(source, where, f"unknown field {key!r}", hint)


def _text(data: Mapping[str, Any], key: str, source: str, where: str, multiline: bool = False) -> str:
    value = data.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise _invalid(source, where, f"field {key!r} must be text, not {type(value).__name__} ({value!r})")
    _check_text(value, source, f"{where}: field {key!r}", multiline)
    return value


def _check_text(value: str, source: str, where: str, multiline: bool) -> None:
    allowed = "\n\t" if multiline else ""
    if any((ord(c) < 32 and c not in allowed) or ord(c) == 127 for c in value):
        raise _invalid(source, where, "contains control characters" + ("" if multiline else " or a line break"))


def _flag(data: Mapping[str, Any], key: str, source: str, where: str) -> bool:
    value = data.get(key, False)
    if not isinstance(value, bool):
        raise _invalid(source, where, f"field {key!r} must be true or false, not {value!r}")
    return value


def _duration(data: Mapping[str, Any], key: str, source: str, where: str) -> float | None:
    value = data.get(key)
    if value is None:
        return None
    seconds: float | None = None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        seconds = float(value)
    elif isinstance(value, str) and (m := _DURATION.match(value)):
        seconds = float(m.group(1)) * {"s": 1, "m": 60, "h": 3600}[m.group(2) or "s"]
    if seconds is None or not math.isfinite(seconds) or seconds <= 0:
        raise _invalid(source, where, f"field {key!r} must be a positive number of seconds, or 30m, 2h, not {value!r}")
    return seconds


def _check_job_name(name: Any, source: str) -> None:
    parts = name.split("/") if isinstance(name, str) else [""]
    if any(not p or p != p.strip() or p in (".", "..") or _BAD_NAME_CHARS & set(p) for p in parts):
        raise _invalid(source, f"job {name!r}", "is not a valid Jenkins job name", "use letters, digits, - _ and .")


def _check_cron(spec: str, source: str, where: str) -> None:
    for line in spec.splitlines():
        line = line.strip()
        if not line or line.startswith("#") or line.startswith("TZ="):
            continue
        if not (line.startswith("@") or len(line.split()) == 5):
            raise _invalid(source, where, f"field 'cron' has a line that is no cron spec: {line!r}", "e.g. H 2 * * *")


# -- the Pipeline job's config.xml ---------------------------------------------------------


def groovy_string(value: str) -> str:
    """``value`` as a single-quoted Groovy string literal (no interpolation)."""
    escapes = {"\\": "\\\\", "'": "\\'", "\n": "\\n", "\r": "\\r", "\t": "\\t"}
    body = "".join(escapes.get(c) or (f"\\u{ord(c):04x}" if ord(c) < 32 else c) for c in value)
    return f"'{body}'"


def _number(seconds: float) -> str:
    return str(int(seconds)) if float(seconds).is_integer() else repr(seconds)


def _parameter_expression(parameter: Parameter) -> str:
    """How the step receives a parameter: Jenkins keeps numbers as text, the step gets them typed."""
    value = f"params.{parameter.name}"
    if isinstance(parameter.default, bool):
        return value
    if isinstance(parameter.default, int):
        return f"{value}.toLong()"
    if isinstance(parameter.default, float):
        return f"{value}.toDouble()"
    return value


def pipeline_script(job: NotebookJob) -> str:
    """The declarative Pipeline that runs the job's notebook through ``jupyterNotebook``."""
    step = [f"path: {groovy_string(job.notebook)}"]
    if job.kernel:
        step.append(f"kernel: {groovy_string(job.kernel)}")
    if job.parameters:
        items = ",\n".join(f"{_INDENT * 6}{p.name}: {_parameter_expression(p)}" for p in job.parameters)
        step.append(f"parameters: [\n{items}\n{_INDENT * 5}]")
    if job.timeout:
        step.append(f"timeout: {_number(job.timeout)}")
    if job.cell_timeout:
        step.append(f"cellTimeout: {_number(job.cell_timeout)}")
    if job.allow_errors:
        step.append("allowErrors: true")
    step.append(f"outputDir: {groovy_string(REPORTS_DIR)}")
    reports = groovy_string(REPORTS_DIR)
    lines = [
        "// Generated by jenkins-kernel from a jobs YAML file: edit the YAML and run",
        "// `jenkins-kernel jenkins apply`; changes made to this script in Jenkins are overwritten.",
        "pipeline {",
        f"    agent {{ label {groovy_string(job.agent)} }}" if job.agent else "    agent any",
        "    stages {",
    ]
    if job.git:
        git = [f"url: {groovy_string(job.git.url)}", f"branch: {groovy_string(job.git.branch)}"]
        if job.git.credentials_id:
            git.append(f"credentialsId: {groovy_string(job.git.credentials_id)}")
        lines += ["        stage('Checkout') {", "            steps {", f"                git {', '.join(git)}"]
        lines += ["            }", "        }"]
    lines += [
        f"        stage({groovy_string(PurePosixPath(job.notebook).name)}) {{",
        "            steps {",
        f"                dir({reports}) {{ deleteDir() }}",
        "                jupyterNotebook(",
        ",\n".join(f"{_INDENT * 5}{s}" for s in step),
        "                )",
        "            }",
        "        }",
        "    }",
        "    post {",
        "        always {",
        f"            junit testResults: '{REPORTS_DIR}/**/junit.xml', allowEmptyResults: true",
        f"            archiveArtifacts artifacts: '{REPORTS_DIR}/**', allowEmptyArchive: true",
        "        }",
        "    }",
        "}",
    ]
    return "\n".join(lines) + "\n"


def job_config_xml(job: NotebookJob) -> str:
    """The config.xml of the Pipeline job (flow-definition, CpsFlowDefinition in the sandbox)."""
    root = ET.Element("flow-definition")
    description = f"{job.description.strip()}\n\n{MANAGED_NOTE}" if job.description.strip() else MANAGED_NOTE
    ET.SubElement(root, "description").text = description
    ET.SubElement(root, "keepDependencies").text = "false"
    properties = ET.SubElement(root, "properties")
    if job.parameters:
        holder = ET.SubElement(properties, "hudson.model.ParametersDefinitionProperty")
        definitions = ET.SubElement(holder, "parameterDefinitions")
        for p in job.parameters:
            boolean = isinstance(p.default, bool)
            kind = "BooleanParameterDefinition" if boolean else "StringParameterDefinition"
            definition = ET.SubElement(definitions, f"hudson.model.{kind}")
            ET.SubElement(definition, "name").text = p.name
            if p.description:
                ET.SubElement(definition, "description").text = p.description
            ET.SubElement(definition, "defaultValue").text = str(p.default).lower() if boolean else _as_text(p.default)
            if not boolean:
                ET.SubElement(definition, "trim").text = "true"
    if job.cron:
        holder = ET.SubElement(properties, "org.jenkinsci.plugins.workflow.job.properties.PipelineTriggersJobProperty")
        timer = ET.SubElement(ET.SubElement(holder, "triggers"), "hudson.triggers.TimerTrigger")
        ET.SubElement(timer, "spec").text = job.cron
    definition = ET.SubElement(root, "definition", {"class": "org.jenkinsci.plugins.workflow.cps.CpsFlowDefinition"})
    ET.SubElement(definition, "script").text = pipeline_script(job)
    ET.SubElement(definition, "sandbox").text = "true"
    ET.SubElement(root, "triggers")
    ET.indent(root, space="  ")
    return "<?xml version='1.0' encoding='UTF-8'?>\n" + ET.tostring(root, encoding="unicode") + "\n"


def _as_text(value: str | int | float) -> str:
    return repr(value) if isinstance(value, float) else str(value)


def normalised_config(xml: str | bytes) -> str:
    """A config.xml as Jenkins would compare it: no plugin versions, whitespace or unmanaged parts.

    Jenkins re-serializes what it is sent (adds ``plugin="..."`` attributes, ``<actions>`` that
    Declarative records after a run, ``<disabled>``), so those never count as a change.
    """
    root = ET.fromstring(xml.encode("utf-8") if isinstance(xml, str) else xml)
    for child in list(root):
        if child.tag in ("actions", "disabled") or (child.tag == "triggers" and len(child) == 0):
            root.remove(child)
    for element in root.iter():
        element.attrib.pop("plugin", None)
        element.text = (element.text or "").strip() or None
        element.tail = None
        for child in list(element):
            if child.tag == "description" and not (child.text or "").strip() and len(child) == 0:
                element.remove(child)
    ET.indent(root, space="  ")
    return ET.tostring(root, encoding="unicode")


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


@_speaks_jenkins
def apply(
    jobs_yaml: str | Path,
    server: python_jenkins.Jenkins,
    dry_run: bool = False,
    out: TextIO | None = None,
    err: TextIO | None = None,
    max_diff_lines: int = 40,
) -> list[JobChange]:
    """Create missing jobs and update changed ones; with ``dry_run`` only say what would change.

    A job is compared with its current config.xml after normalising both (see
    :func:`normalised_config`), so applying the same file twice changes nothing.
    """
    out, err = out or sys.stdout, err or sys.stderr
    jobs = load_jobs(jobs_yaml)
    changes = []
    for job in jobs:
        for warning in _notebook_warnings(job):
            print(f"{PREFIX} warning: {warning}", file=err)
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
    action = f"would be {change.action}" if dry_run and change.action != "unchanged" else change.action
    print(f"{action:<16} {change.name}", file=out)
    for line in change.diff[:max_diff_lines]:
        print(f"    {line}", file=out)
    if len(change.diff) > max_diff_lines:
        print(f"    ... {len(change.diff) - max_diff_lines} more diff lines", file=out)


def _notebook_warnings(job: NotebookJob) -> list[str]:
    """Parameters the notebook does not assign in its ``parameters`` cell (when the file is here)."""
    if not job.parameters or not Path(job.notebook).is_file():
        return []
    from .notebook.loader import load_notebook
    from .notebook.parameters import declared_parameter_names

    try:
        declared = declared_parameter_names(load_notebook(job.notebook))
    except JenkinsKernelError as exc:
        return [f"job {job.name!r}: cannot read {job.notebook}: {exc.message}"]
    unknown = [p.name for p in job.parameters if declared and p.name not in declared]
    return [
        f"job {job.name!r}: parameter {name!r} is not set in the parameters cell of {job.notebook} "
        f"(it sets {', '.join(declared)})"
        for name in unknown
    ]


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
