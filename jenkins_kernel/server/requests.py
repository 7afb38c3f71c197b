"""What a POST /runs body may say, checked field by field with errors that say how to fix it.

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
from ..notebook.loader import notebook_kernel_name, parse_notebook
from ..notebook.parameters import check_parameters

__all__ = ["RUN_FIELDS", "Forbidden", "RunRequest", "check_cwd", "parse_run_request"]

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
}
JENKINS_FIELDS = ("job_name", "build_number", "build_url", "git_commit", "node_name", "step")


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
    input_sha256: str = ""
    fingerprint: str = ""  # of the whole request: a reused Idempotency-Key must come with the same one

    @property
    def wanted_kernel(self) -> str | None:
        """The kernel the request names, directly or through its notebook."""
        if self.kernel:
            return self.kernel
        return notebook_kernel_name(self.notebook) if self.notebook is not None else None

    def options(self) -> dict[str, Any]:
        options = {"timeout": self.timeout, "cell_timeout": self.cell_timeout, "allow_errors": self.allow_errors}
        if self.allow_unknown_parameters:
            options["allow_unknown_parameters"] = True
        return options


def _bad(message: str, code: str = "bad_request", hint: str = "") -> RejectedError:
    return RejectedError(message, code=code, hint=hint)


def _seconds(body: dict[str, Any], name: str) -> float | None:
    value = body.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
        raise _bad(f"{name} must be a positive number of seconds, not {value!r}", "bad_timeout")
    return float(value)


def _string(body: dict[str, Any], name: str) -> str | None:
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, str) or not value:
        raise _bad(f"{name} must be a non-empty string, not {value!r}")
    return value


def parse_run_request(body: Any) -> RunRequest:
    if not isinstance(body, dict):
        raise _bad("the request body must be a JSON object", hint='e.g. {"code": "print(1)", "kernel": "python3"}')
    unknown = sorted(set(body) - set(RUN_FIELDS))
    if unknown:
        raise _bad(
            f"unknown field(s): {', '.join(unknown)}", "unknown_field", hint=f"known fields: {', '.join(RUN_FIELDS)}"
        )
    has_code, has_notebook = body.get("code") is not None, body.get("notebook") is not None
    if has_code == has_notebook:
        which = "both code and notebook" if has_code else "neither code nor notebook"
        raise _bad(f"the request has {which}", "code_or_notebook", hint="send exactly one of code and notebook")
    if body.get("session") and body.get("session_name"):
        raise _bad("give session or session_name, not both", "session_or_name")
    req = RunRequest(kind="code" if has_code else "notebook")
    req.fingerprint = hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()
    if has_code:
        if not isinstance(body["code"], str):
            raise _bad("code must be a string")
        req.code = body["code"]
        req.input_sha256 = hashlib.sha256(req.code.encode()).hexdigest()
    else:
        raw = body["notebook"]
        req.notebook = parse_notebook(raw if isinstance(raw, (str, dict)) else json.dumps(raw), source="the notebook")
        canonical = json.dumps(raw, sort_keys=True) if isinstance(raw, dict) else raw
        req.input_sha256 = hashlib.sha256(canonical.encode()).hexdigest()
        req.notebook_name = _string(body, "notebook_name") or req.notebook_name
        if "/" in req.notebook_name or req.notebook_name.startswith("."):
            raise _bad("notebook_name must be a plain file name", hint="e.g. train.ipynb")
        req.notebook_path = _string(body, "notebook_path")
        if req.notebook_path is not None and (
            req.notebook_path.startswith("/") or ".." in req.notebook_path.split("/") or len(req.notebook_path) > 1024
        ):
            raise _bad("notebook_path must be a relative path without '..'", hint="e.g. notebooks/train.ipynb")
    req.kernel = _string(body, "kernel")
    req.session = _string(body, "session")
    req.session_name = _string(body, "session_name")
    req.timeout = _seconds(body, "timeout")
    req.cell_timeout = _seconds(body, "cell_timeout")
    req.allow_errors = bool(body.get("allow_errors", False))
    req.cwd = _string(body, "cwd")
    for name in ("parameters", "env", "jenkins"):
        value = body.get(name) or {}
        if not isinstance(value, dict):
            raise _bad(f"{name} must be a JSON object")
        setattr(req, name, value)
    if any(not isinstance(v, str) for v in req.env.values()):
        raise _bad("env values must be strings")
    if req.parameters and req.kind == "code":
        raise _bad("parameters apply to notebooks; set variables in the code instead")
    req.allow_unknown_parameters = bool(body.get("allow_unknown_parameters", False))
    if req.notebook is not None:  # the same rule as the CLI's, checked before anything starts
        check_parameters(req.notebook, req.parameters, req.allow_unknown_parameters)
    req.jenkins = {k: v for k, v in req.jenkins.items() if k in JENKINS_FIELDS and v not in (None, "")}
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
