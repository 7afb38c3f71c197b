"""Service settings: defaults, then a YAML file, then JENKINS_KERNEL_* variables, then flags.

Every setting is declared once, with its help text, in :data:`SETTINGS`; the README's
table and ``jenkins-kernel serve --help`` come from the same names.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import yaml

from ..engine.pool import parse_warm_spec
from ..exceptions import RejectedError
from .auth import WRITE, Token

__all__ = ["SETTINGS_HELP", "Settings", "default_data_dir", "load_settings"]


def default_data_dir() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or os.path.join(os.path.expanduser("~"), ".local", "share")
    return Path(base) / "jenkins-kernel"


@dataclass
class Settings:
    host: str = "127.0.0.1"
    port: int = 8765
    data_dir: Path = field(default_factory=default_data_dir)
    tokens: dict[str, str] = field(default_factory=dict)
    no_auth: bool = False
    warm: dict[str, int] = field(default_factory=dict)
    warm_memory_mb: int = 2048
    warm_idle_timeout: float = 600.0
    max_sessions: int = 32
    session_idle_timeout: float = 3600.0
    max_body_bytes: int = 32 * 1024 * 1024
    allowed_roots: list[str] = field(default_factory=list)
    threads: int = 32
    max_run_output_bytes: int = 64 * 1024 * 1024
    max_output_bytes: int = 10 * 1024 * 1024
    idempotency_ttl: float = 24 * 3600.0
    interrupt_grace: float = 3.0
    default_kernel: str = "python3"
    retention_days: float = 30.0
    max_runs: int = 0
    prune_interval: float = 3600.0
    kernel_env: dict[str, str] = field(default_factory=dict)
    work_dir: str = ""
    kernel_user: str = ""

    @property
    def sessions_dir(self) -> Path:
        """Where sessions get their scratch folders: beside the data dir, not in it, so that no
        relative path from a cell's folder leads to the token or the database."""
        data_dir = Path(self.data_dir)
        return Path(self.work_dir) if self.work_dir else data_dir.with_name(data_dir.name + "-sessions")

    mlflow_tracking_uri: str = ""
    kernel_backend: str = "local"
    gateway_url: str = ""
    gateway_auth_token: str = ""
    gateway_headers: dict[str, str] = field(default_factory=dict)
    gateway_kernel_env: dict[str, str] = field(default_factory=dict)
    gateway_request_timeout: float = 30.0
    gateway_connect_timeout: float = 10.0


SETTINGS_HELP = {
    "host": "Address to bind; anything but loopback needs tokens (never --no-auth).",
    "port": "TCP port (0 picks a free one and prints it).",
    "data_dir": "SQLite database, run logs, artifacts and session folders [XDG data home/jenkins-kernel].",
    "tokens": (
        "Bearer tokens by name ({name: token}, or {name: {token: ..., role: read}} for a token that may"
        " look but not act); JENKINS_KERNEL_TOKEN adds one named 'env'."
    ),
    "no_auth": "Serve without tokens (refused unless bound to loopback).",
    "warm": "Kernels kept started and ready, e.g. python3=2,bash=1 (the floor; the pool grows toward recent bursts).",
    "warm_memory_mb": "Memory all warm kernels together may use (MB); bounds how far the pool grows.",
    "warm_idle_timeout": "Seconds without new sessions of a kernel before its pool shrinks back to the floor.",
    "max_sessions": "Live sessions at most; one more gets 429.",
    "session_idle_timeout": "Seconds an idle session lives before it is shut down.",
    "max_body_bytes": "Largest request body (a notebook upload); larger gets 413.",
    "allowed_roots": "Folders a request's cwd may be in (each session also gets its own scratch folder).",
    "threads": "HTTP worker threads (long-polls and ?wait hold one each).",
    "max_run_output_bytes": "Output stored per run (events and log); the rest is dropped with a marker.",
    "max_output_bytes": "Output kept per cell in executed.ipynb.",
    "idempotency_ttl": "Seconds an Idempotency-Key is remembered.",
    "interrupt_grace": "Seconds a kernel has to stop after an interrupt before it is restarted.",
    "default_kernel": "Kernel of a run that names neither kernel nor session.",
    "retention_days": "Days a finished run (events, log, artifacts), audit row or closed session is kept (0: forever).",
    "max_runs": "Finished runs kept at most, the newest first; 0 means no limit.",
    "prune_interval": "Seconds between two retention passes (the first runs at start).",
    "work_dir": "Where sessions get their scratch folders [DATA_DIR-sessions, beside the data dir, not in it].",
    "kernel_user": "Run kernels as this Unix user (the service must run as root); cells then cannot read the data dir.",
    "kernel_env": "Variables every kernel gets, {NAME: value}, on top of the allowlist of the service's own.",
    "mlflow_tracking_uri": "Also log every notebook run to this MLflow tracking URI (needs jenkins-kernel[mlflow]).",
    "kernel_backend": "Where kernels run: local (processes here) or gateway (a Kernel/Enterprise Gateway).",
    "gateway_url": "The gateway's base URL, e.g. http://enterprise-gateway:8888 (kernel_backend gateway).",
    "gateway_auth_token": "Token sent to the gateway as 'Authorization: token T' (its auth_token).",
    "gateway_headers": "Extra HTTP headers for the gateway ({name: value}), e.g. a proxy's auth header.",
    "gateway_kernel_env": "KERNEL_* variables sent with every kernel start, e.g. {KERNEL_NAMESPACE: ml}.",
    "gateway_request_timeout": "Seconds a gateway REST request may take (a kernel start on a cluster is slow).",
    "gateway_connect_timeout": "Seconds to connect to the gateway (REST and WebSocket).",
}


def _coerce(name: str, value: Any) -> Any:
    kind = {f.name: f.type for f in fields(Settings)}[name]
    try:
        if name == "data_dir":
            return Path(os.path.expanduser(str(value)))
        if name == "warm":
            return parse_warm_spec(value)
        if name == "tokens":
            return _tokens(value)
        if name == "kernel_env" or kind.startswith("dict[str, str]"):  # gateway_headers, gateway_kernel_env
            return _text_map(value)
        if name == "allowed_roots":
            return (
                [str(v) for v in value] if isinstance(value, list) else [p for p in str(value).split(os.pathsep) if p]
            )
        if kind == "bool":
            return value if isinstance(value, bool) else str(value).lower() in ("1", "true", "yes", "on")
        if kind == "int":
            return int(value)
        if kind == "float":
            return float(value)
        return str(value)
    except (TypeError, ValueError, KeyError) as exc:
        raise RejectedError(f"setting {name}: {exc}", code="bad_setting") from exc


def _text_map(value: Any) -> dict[str, str]:
    if isinstance(value, str):  # NAME=value,NAME2=value from JENKINS_KERNEL_KERNEL_ENV
        value = dict(item.split("=", 1) for item in value.split(",") if item)
    if not isinstance(value, dict):
        raise ValueError("must map variable names to values")
    return {str(k): str(v) for k, v in value.items()}


def _tokens(value: Any) -> dict[str, str]:
    """``{name: token}`` or ``{name: {token: ..., role: read}}``, or a list of ``{name, token, role?}``."""
    if isinstance(value, dict):
        return {str(k): _token(k, v) for k, v in value.items()}
    if isinstance(value, list):
        return {str(item["name"]): _token(item["name"], item) for item in value}
    raise ValueError("tokens must map names to tokens")


def _token(name: Any, value: Any) -> Token:
    if isinstance(value, dict):
        if not value.get("token"):
            raise ValueError(f"token {name!r} has no 'token' field")
        return Token(str(value["token"]), str(value.get("role") or WRITE))
    return Token(str(value))


def load_settings(
    config_file: str | Path | None = None,
    environ: dict[str, str] | None = None,
    **flags: Any,
) -> Settings:
    """Settings from the file, the environment and the flags given (None means unset)."""
    environ = dict(os.environ if environ is None else environ)
    settings = Settings()
    names = [f.name for f in fields(Settings)]
    if config_file:
        try:
            data = yaml.safe_load(Path(config_file).read_text(encoding="utf-8")) or {}
        except (OSError, yaml.YAMLError) as exc:
            raise RejectedError(f"cannot read the config file {config_file}: {exc}", code="bad_config") from exc
        if not isinstance(data, dict):
            raise RejectedError(f"the config file {config_file} must be a mapping of settings", code="bad_config")
        unknown = sorted(set(data) - set(names))
        if unknown:
            raise RejectedError(
                f"unknown settings in {config_file}: {', '.join(unknown)}",
                code="bad_config",
                hint=f"known settings: {', '.join(names)}",
            )
        for name, value in data.items():
            setattr(settings, name, _coerce(name, value))
    for name in names:
        value = environ.get(f"JENKINS_KERNEL_{name.upper()}")
        if value is not None and name != "tokens":
            setattr(settings, name, _coerce(name, value))
    if environ.get("JENKINS_KERNEL_TOKEN"):
        settings.tokens = {**settings.tokens, "env": environ["JENKINS_KERNEL_TOKEN"]}
    for name, value in flags.items():
        if value is not None:
            setattr(settings, name, _coerce(name, value))
    root = workspace_root(environ)
    if root and root not in settings.allowed_roots:
        settings.allowed_roots.append(root)
    return settings


def workspace_root(environ: dict[str, str]) -> str | None:
    """The Jenkins agent's workspace root (``$WORKSPACE``'s parent) when serve is started by a
    build step: every job's workspace on this agent, so notebooks there run in place."""
    workspace = environ.get("WORKSPACE")
    return str(Path(workspace).resolve().parent) if workspace else None
