"""Notebook jobs as code: the jobs YAML, and the Pipeline job config.xml made from it.

- :func:`load_jobs` reads a jobs YAML file into :class:`NotebookJob` specs and names the job
  and field of any mistake;
- :func:`job_config_xml` turns a spec into a Pipeline job whose script calls the plugin's
  ``jupyterNotebook`` step; :func:`normalised_config` is what ``apply`` compares.

Pure: no network. :mod:`jenkins_kernel.jenkins` talks to the controller.
"""

from __future__ import annotations

import difflib
import math
import re
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

import yaml

from .exceptions import InvalidParameterError, RejectedError

__all__ = [
    "GitSource",
    "NotebookJob",
    "Parameter",
    "groovy_string",
    "job_config_xml",
    "load_jobs",
    "normalised_config",
    "parse_jobs",
    "pipeline_script",
]

REPORTS_DIR = "reports"
_INDENT = "    "
MANAGED_NOTE = (
    "Managed by jenkins-kernel (jobs as code): edit the jobs YAML file and run "
    "`jenkins-kernel jenkins apply`; changes made here are overwritten."
)


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
    timeout: int | None = None  # whole seconds, as the step takes them
    cell_timeout: int | None = None
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


def _duration(data: Mapping[str, Any], key: str, source: str, where: str) -> int | None:
    """Whole seconds (rounded up) from 90, 90s, 30m or 2h."""
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
    return math.ceil(seconds)


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


def _parameter(parameter: Parameter) -> str:
    """The step's ``notebookParameter``: the build parameter as text (a boolean one spelled
    ``true``/``false``), typed on the agent like ``-p`` does; no Groovy conversion that fails
    on a value that is not a number."""
    value = f"params.{parameter.name}" + (".toString()" if isinstance(parameter.default, bool) else "")
    return f"notebookParameter(name: {groovy_string(parameter.name)}, value: {value})"


def pipeline_script(job: NotebookJob) -> str:
    """The declarative Pipeline that runs the job's notebook through ``jupyterNotebook``."""
    step = [f"path: {groovy_string(job.notebook)}"]
    if job.kernel:
        step.append(f"kernel: {groovy_string(job.kernel)}")
    if job.parameters:
        items = ",\n".join(f"{_INDENT * 6}{_parameter(p)}" for p in job.parameters)
        step.append(f"parameters: [\n{items}\n{_INDENT * 5}]")
    if job.timeout:
        step.append(f"timeout: {job.timeout}")
    if job.cell_timeout:
        step.append(f"cellTimeout: {job.cell_timeout}")
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
