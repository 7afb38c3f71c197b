"""What a POST /runs or /sessions body may say: a spec per field (see :mod:`.validation`).

Parsing is pure (no kernel, no store): a bad request is rejected before anything exists.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nbformat import NotebookNode

from ..exceptions import RejectedError
from ..lineage.git import GIT_FIELDS
from ..notebook.loader import notebook_kernel_name, parse_notebook
from ..notebook.parameters import check_parameters
from ..notebook.translators import NAME_PATTERN
from .validation import AnyJson, Field, Flag, Number, Text, TextMap, bad_field, check_body, check_value

__all__ = ["RUN_FIELDS", "RUN_SPEC", "SESSION_SPEC", "Forbidden", "RunRequest", "check_cwd", "parse_run_request"]

RUN_FIELDS = {
    "code": "the code of one cell",
    "notebook": "a notebook, as nbformat JSON",
    "notebook_name": "the notebook's file name, for reports and the log",
    "notebook_path": "the notebook's path relative to the client's working directory (JUnit classname)",
    "kernel": "kernelspec name; default: the session's, the notebook's, or the service's default",
    "session": "id of a live session to run on",
    "session_name": "name of a session to create or reuse (a Jenkins build uses BUILD_TAG)",
    "timeout": "seconds the whole run may take",
    "cell_timeout": "seconds any one cell may take (notebooks)",
    "allow_errors": "run every cell even after an error (notebooks; exit code still 1)",
    "parameters": "notebook parameters, injected papermill-style",
    "allow_unknown_parameters": "inject parameters the notebook's parameters cell does not declare (else 400)",
    "cwd": "kernel working directory, inside the service's allowed roots (new sessions only)",
    "env": "extra environment variables for the kernel (new sessions only)",
    "jenkins": "the build this run belongs to: job_name, build_number, build_url, git_commit",
    "git": "the notebook's repository, as the client saw it: commit, branch, remote, dirty",
}


class Forbidden(RejectedError):
    code = "path_forbidden"
    http_status = 403


@dataclass
class RunRequest:
    kind: str
    code: str | None = None
    notebook: NotebookNode | None = None
    notebook_name: str = "notebook.ipynb"
    notebook_path: str | None = None
    allow_unknown_parameters: bool = False
    kernel: str | None = None
    session: str | None = None
    session_name: str | None = None
    timeout: float | None = None
    cell_timeout: float | None = None
    allow_errors: bool = False
    parameters: dict[str, Any] = field(default_factory=dict)
    cwd: str | None = None
    env: dict[str, str] = field(default_factory=dict)
    jenkins: dict[str, Any] = field(default_factory=dict)
    git: dict[str, Any] = field(default_factory=dict)
    input_sha256: str = ""
    fingerprint: str = ""  # of the whole request: a reused Idempotency-Key must come with the same one

    @property
    def wanted_kernel(self) -> str | None:
        """The kernel the request names, directly or through its notebook."""
        if self.kernel:
            return self.kernel
        return notebook_kernel_name(self.notebook) if self.notebook is not None else None

    def options(self) -> dict[str, Any]:
        """How the run was asked to run, kept so that ``rerun`` can ask the same."""
        options = {"timeout": self.timeout, "cell_timeout": self.cell_timeout, "allow_errors": self.allow_errors}
        if self.allow_unknown_parameters:
            options["allow_unknown_parameters"] = True
        if self.cwd:
            options["cwd"] = self.cwd
        return options


def _bad(message: str, code: str = "bad_request", hint: str = "") -> RejectedError:
    return RejectedError(message, code=code, hint=hint)


#: A kernelspec name, as jupyter_client allows them.
KERNEL_NAME = Text(max_length=100, pattern=r"[A-Za-z0-9._-]+", help="a kernelspec name, e.g. python3")
#: A session's name or id: printable, no slash (it goes in URLs), e.g. a Jenkins BUILD_TAG.
SESSION_NAME = Text(
    max_length=200, pattern=r"[^\x00-\x1f\x7f-\x9f/\u2028\u2029]+", help="printable text without '/', e.g. BUILD_TAG"
)
SECONDS = Number(0, 7 * 24 * 3600, exclusive_low=True, help="a positive number of seconds", code="bad_timeout")
PATH = Text(max_length=4096)
ENV = TextMap(help="environment variable names: letters, digits and underscores")


@dataclass(frozen=True)
class _BuildNumber(Field):
    """A build number as Jenkins gives it: a whole number, or its digits as text."""

    def check(self, name: str, value: Any) -> int | str:
        if isinstance(value, str):
            return Text(max_length=18, pattern=r"[0-9]+").check(name, value)
        return Number(0, 2**53, integer=True).check(name, value)


_JENKINS_TEXT = Text(min_length=0, max_length=2048)
JENKINS_SPEC: dict[str, Field] = {
    "job_name": _JENKINS_TEXT,
    "build_number": _BuildNumber(),
    "build_url": _JENKINS_TEXT,
    "git_commit": _JENKINS_TEXT,
    "node_name": _JENKINS_TEXT,
    "step": _JENKINS_TEXT,
}


@dataclass(frozen=True)
class _Jenkins(Field):
    def check(self, name: str, value: Any) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise bad_field(name, "must be an object")
        unknown = sorted(set(value) - set(JENKINS_SPEC))
        if unknown:
            raise bad_field(name, f"unknown key(s) {', '.join(repr(u)[:40] for u in unknown[:5])}")
        checked = {k: JENKINS_SPEC[k].check(f"{name}.{k}", v) for k, v in value.items() if v is not None}
        return {k: v for k, v in checked.items() if v != ""}


@dataclass(frozen=True)
class _Parameters(Field):
    def check(self, name: str, value: Any) -> dict[str, Any]:
        AnyJson(object_only=True, allow_nul=False).check(name, value)
        for key in value:
            if not NAME_PATTERN.fullmatch(key):
                raise bad_field(
                    f"{name}.{key[:40]}",
                    "is not a valid parameter name",
                    code="invalid_parameter",
                    hint="use ASCII letters, digits and underscores, not starting with a digit",
                )
        return value


@dataclass(frozen=True)
class _Notebook(Field):
    def check(self, name: str, value: Any) -> Any:
        if not isinstance(value, dict):
            raise bad_field(name, "must be a notebook as a JSON object", code="invalid_notebook")
        check_value(name, value)
        return value


@dataclass(frozen=True)
class _Git(Field):
    """The notebook's repository as the client saw it: texts, and ``dirty`` a boolean."""

    def check(self, name: str, value: Any) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise bad_field(name, "must be an object")
        unknown = sorted(set(value) - set(GIT_FIELDS))
        if unknown:
            raise bad_field(name, f"unknown key(s) {', '.join(repr(u)[:40] for u in unknown[:5])}")
        checked = {}
        for key, item in value.items():
            if item is None:
                continue
            field_ = Flag() if key == "dirty" else _JENKINS_TEXT
            checked[key] = field_.check(f"{name}.{key}", item)
        return checked


#: POST /runs: every field, its rule and what it means (the OpenAPI document says the same).
RUN_SPEC: dict[str, Field] = {
    "code": Text(min_length=0, max_length=2**31, allow_nul=True, help="the code of one cell"),
    "notebook": _Notebook(help="a notebook, as nbformat JSON"),
    "notebook_name": Text(
        max_length=255, pattern=r"[^./\x00-\x1f\x7f][^/\x00-\x1f\x7f]*", help="a plain file name, e.g. train.ipynb"
    ),
    "kernel": KERNEL_NAME,
    "session": SESSION_NAME,
    "session_name": SESSION_NAME,
    "timeout": SECONDS,
    "cell_timeout": SECONDS,
    "allow_errors": Flag(),
    "parameters": _Parameters(),
    "allow_unknown_parameters": Flag(),
    "notebook_path": Text(
        max_length=1024,
        pattern=r"(?!/)(?!(?:.*/)?\.\.(?:/|$))[^\x00]+",
        help="a relative path without '..', e.g. notebooks/train.ipynb",
    ),
    "cwd": PATH,
    "env": ENV,
    "jenkins": _Jenkins(),
    "git": _Git(),
}
#: POST /sessions.
SESSION_SPEC: dict[str, Field] = {"kernel": KERNEL_NAME, "name": SESSION_NAME, "cwd": PATH, "env": ENV}


def parse_run_request(body: Any) -> RunRequest:
    values = check_body(body, RUN_SPEC)
    has_code, has_notebook = "code" in values, "notebook" in values
    if has_code == has_notebook:
        which = "both code and notebook" if has_code else "neither code nor notebook"
        raise _bad(f"the request has {which}", "code_or_notebook", hint="send exactly one of code and notebook")
    if "session" in values and "session_name" in values:
        raise _bad("give session or session_name, not both", "session_or_name")
    req = RunRequest(kind="code" if has_code else "notebook")
    req.fingerprint = hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()
    if has_code:
        req.code = values["code"]
        req.input_sha256 = hashlib.sha256(values["code"].encode()).hexdigest()
    else:
        raw = values["notebook"]
        req.notebook = parse_notebook(raw, source="the notebook")
        req.input_sha256 = hashlib.sha256(json.dumps(raw, sort_keys=True).encode()).hexdigest()
        req.notebook_name = values.get("notebook_name", req.notebook_name)
    for name in (
        "kernel",
        "session",
        "session_name",
        "timeout",
        "cell_timeout",
        "allow_errors",
        "cwd",
        "notebook_path",
        "allow_unknown_parameters",
    ):
        if name in values:
            setattr(req, name, values[name])
    req.parameters = values.get("parameters", {})
    req.env = values.get("env", {})
    req.jenkins = values.get("jenkins", {})
    req.git = values.get("git", {})
    notebook_only = [
        n for n in ("parameters", "notebook_name", "notebook_path", "allow_unknown_parameters") if n in values
    ]
    if req.kind == "code" and notebook_only:
        raise bad_field(notebook_only[0], "applies to notebooks; set variables in the code instead")
    if req.notebook is not None:  # the same rule as the CLI's, checked before anything starts
        check_parameters(req.notebook, req.parameters, req.allow_unknown_parameters)
    return req


def check_cwd(cwd: str, allowed_roots: list[Path]) -> str:
    """``cwd`` resolved, if it lies inside one of the allowed roots; else :class:`Forbidden`."""
    path = Path(cwd)
    if not path.is_absolute():
        raise _bad(f"cwd must be an absolute path, not {cwd!r}")
    resolved = Path(os.path.realpath(path))
    for root in allowed_roots:
        real_root = Path(os.path.realpath(root))
        if resolved == real_root or real_root in resolved.parents:
            if not resolved.is_dir():
                raise _bad(f"cwd {cwd} is not an existing directory", "bad_cwd")
            return str(resolved)
    roots = ", ".join(str(r) for r in allowed_roots) or "none"
    raise Forbidden(
        f"cwd {cwd} is outside the allowed roots ({roots})",
        hint="use a folder inside an allowed root, or add one with the allowed_roots setting",
    )
