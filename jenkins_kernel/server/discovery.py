"""This machine's service, found or started: ``--server auto``, ``serve --detach``, ``service status|stop``.

A running service publishes itself in ``DATA_DIR/service.json`` (mode 0600): its URL, PID,
version and the file its token is in. A client with ``--server auto`` reads it, checks the
service answers, and else starts one detached: double fork and ``setsid``, so that it
outlives the build step that started it, with ``BUILD_ID`` and ``JENKINS_NODE_COOKIE`` set
to ``dontKillMe`` so that Jenkins' ProcessTreeKiller leaves it alone when the build ends.
The next steps, and the next builds, then get its warm kernels.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import signal
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..exceptions import RejectedError

if TYPE_CHECKING:
    from .config import Settings

__all__ = [
    "DISCOVERY_FILE",
    "data_dir_in_use",
    "detach_serve",
    "ensure_service",
    "publish",
    "read_discovery",
    "start_detached",
    "stop_service",
    "withdraw",
]

DISCOVERY_FILE = "service.json"
LOG_FILE = "service.log"
#: What Jenkins' ProcessTreeKiller looks for to leave a process alive after its build.
KEEP_ALIVE_ENV = {"BUILD_ID": "dontKillMe", "JENKINS_NODE_COOKIE": "dontKillMe"}


def data_dir_in_use(data_dir: str | Path | None = None) -> Path:
    """The data dir a client means: the argument, JENKINS_KERNEL_DATA_DIR, or the default
    (as the service's settings say; repeated here: the engine is not loaded for this)."""
    base = os.environ.get("XDG_DATA_HOME") or os.path.join(os.path.expanduser("~"), ".local", "share")
    return Path(
        os.path.expanduser(data_dir or os.environ.get("JENKINS_KERNEL_DATA_DIR") or Path(base) / "jenkins-kernel")
    )


# -- the service's side -------------------------------------------------------------------


def publish(data_dir: Path, url: str, token_file: Path | None) -> Path:
    """Write the discovery file (0600, replaced atomically) for the service in this process."""
    from .. import __version__

    info = {
        "url": url,
        "pid": os.getpid(),
        "token_file": str(token_file) if token_file else None,
        "version": __version__,
        "data_dir": str(data_dir),
        "started": time.time(),
    }
    path = data_dir / DISCOVERY_FILE
    tmp = path.with_name(f".{DISCOVERY_FILE}.{os.getpid()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump(info, f)
    os.replace(tmp, path)
    return path


def token_file_of(data_dir: Path, tokens: dict[str, str]) -> Path | None:
    """The generated token's file, when that is the token the service accepts (clients with
    ``--server auto`` read it there); None when the tokens come from the settings."""
    path = data_dir / "token"
    with contextlib.suppress(OSError):
        if list(tokens) == ["default"] and path.read_text(encoding="utf-8").strip() == tokens["default"]:
            return path
    return None


def withdraw(data_dir: Path) -> None:
    """Remove the discovery file if it is this process's."""
    info = _read_file(data_dir)
    if info is not None and info.get("pid") == os.getpid():
        (data_dir / DISCOVERY_FILE).unlink(missing_ok=True)


# -- a client's side ------------------------------------------------------------------------


def _read_file(data_dir: Path) -> dict[str, Any] | None:
    try:
        info = json.loads((data_dir / DISCOVERY_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return info if isinstance(info, dict) and isinstance(info.get("pid"), int) else None


def _alive(pid: int) -> bool:
    """The process runs (a zombie does not: in a container, PID 1 may never reap it)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    with contextlib.suppress(OSError, IndexError):
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat.rsplit(")", 1)[1].split()[0] != "Z"
    return True


def _healthy(url: str, timeout: float = 2.0) -> dict[str, Any] | None:
    try:
        with urllib.request.urlopen(url.rstrip("/") + "/api/v1/health", timeout=timeout) as response:
            return json.loads(response.read())
    except (OSError, ValueError, urllib.error.URLError):
        return None


def read_discovery(data_dir: Path) -> dict[str, Any] | None:
    """The running service of ``data_dir`` (its discovery info and health), or None.

    A file left by a service that died is ignored (and removed)."""
    info = _read_file(data_dir)
    if info is None:
        return None
    if not _alive(info["pid"]):
        (data_dir / DISCOVERY_FILE).unlink(missing_ok=True)
        return None
    health = _healthy(str(info.get("url", "")))
    return {**info, "health": health} if health else None


def _token(info: dict[str, Any], fallback: str | None) -> str | None:
    token_file = info.get("token_file")
    if token_file:
        with contextlib.suppress(OSError):
            return Path(token_file).read_text(encoding="utf-8").strip()
    return fallback


@contextlib.contextmanager
def _start_lock(data_dir: Path) -> Iterator[None]:
    """One client at a time decides whether to start the service (two builds at once)."""
    data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(data_dir / "service.start.lock", os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def ensure_service(
    *,
    token: str | None = None,
    data_dir: str | Path | None = None,
    warm_kernel: str = "python3",
    note: Callable[[str], None] = lambda text: None,
    timeout: float = 60.0,
) -> tuple[str, str | None]:
    """(URL, token) of this machine's service, started detached if none runs."""
    folder = data_dir_in_use(data_dir)
    with _start_lock(folder):
        info = read_discovery(folder)
        if info is None:
            args = ["--data-dir", str(folder), "--port", "0", "--warm", f"{warm_kernel}=1"]
            if not os.environ.get("WORKSPACE"):  # under Jenkins, serve allows the workspace root itself
                args += ["--allowed-root", os.getcwd()]
            info = start_detached(args, folder, timeout=timeout)
            note(f"started this machine's service at {info['url']}; stop: jenkins-kernel service stop")
    return str(info["url"]), _token(info, token)


def detach_serve(settings: Settings, flags: dict[str, Any], token: str | None) -> str:
    """``serve --detach``: the same serve, detached; the line saying where it serves."""
    args = ["--data-dir", str(Path(settings.data_dir).resolve())]  # the child runs in /
    for name in ("host", "port", "warm", "max_sessions"):
        if flags.get(name) is not None:
            args += [f"--{name.replace('_', '-')}", str(flags[name])]
    if flags.get("config_file"):
        args += ["--config", str(Path(flags["config_file"]).resolve())]
    if flags.get("token_file"):
        args += ["--token-file", str(Path(flags["token_file"]).resolve())]
    if flags.get("no_auth"):
        args.append("--no-auth")
    for root in flags.get("allowed_roots") or ():
        args += ["--allowed-root", str(Path(root).resolve())]
    # by environment, never on a command line (the child's serve scrubs it from its environment)
    info = start_detached(args, Path(settings.data_dir), {"JENKINS_KERNEL_TOKEN": token} if token else {})
    return f"jenkins-kernel: serving {info['url']} in the background (pid {info['pid']}; log {info['log']})"


def start_detached(
    serve_args: list[str], data_dir: Path, extra_env: dict[str, str] | None = None, timeout: float = 60.0
) -> dict[str, Any]:
    """Start ``jenkins-kernel serve SERVE_ARGS`` detached from this process; its discovery info
    once it answers. Its output goes to ``DATA_DIR/service.log``."""
    data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    log_path = data_dir / LOG_FILE
    env = {k: v for k, v in os.environ.items() if k != "JENKINS_KERNEL_TOKEN"}  # no secret it was not given
    env.update(extra_env or {})
    env.update(KEEP_ALIVE_ENV)
    argv = [sys.executable, "-m", "jenkins_kernel", "serve", *serve_args]
    previous = _read_file(data_dir)
    pid = _double_fork(argv, env, log_path)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        info = _read_file(data_dir)
        if info is not None and info != previous and info["pid"] == pid:
            health = _healthy(str(info["url"]))
            if health:
                return {**info, "health": health, "log": str(log_path)}
        if not _alive(pid):
            break
        time.sleep(0.05)
    tail = log_path.read_text(encoding="utf-8", errors="replace")[-2000:] if log_path.exists() else ""
    raise RejectedError(
        f"the detached service did not come up within {timeout:g} s",
        code="service_start_failed",
        hint=f"its log ({log_path}): {tail.strip()[-500:]}",
    )


def _double_fork(argv: list[str], env: dict[str, str], log_path: Path) -> int:
    """Run ``argv`` as a grandchild in its own session (no controlling terminal, reparented to
    init); its PID."""
    read_end, write_end = os.pipe()
    child = os.fork()
    if child == 0:  # pragma: no cover - runs in the forked child
        try:
            os.close(read_end)
            os.setsid()
            if os.fork() != 0:
                os._exit(0)
            os.write(write_end, str(os.getpid()).encode())
            os.close(write_end)
            null = os.open(os.devnull, os.O_RDONLY)
            log = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            os.dup2(null, 0)
            os.dup2(log, 1)
            os.dup2(log, 2)
            os.umask(0o077)
            os.chdir("/")
            os.execve(argv[0], argv, env)
        finally:
            os._exit(127)
    os.close(write_end)
    os.waitpid(child, 0)
    with os.fdopen(read_end, "rb") as pipe:
        data = pipe.read()
    if not data:
        raise RejectedError("could not start the detached service (fork failed)", code="service_start_failed")
    return int(data)


def stop_service(data_dir: Path, timeout: float = 30.0) -> dict[str, Any] | None:
    """Stop the data dir's running service (SIGTERM: it cancels its runs and shuts its kernels
    down); its discovery info, or None if none ran."""
    info = _read_file(data_dir)
    if info is None or not _alive(info["pid"]):
        (data_dir / DISCOVERY_FILE).unlink(missing_ok=True)
        return None
    os.kill(info["pid"], signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while _alive(info["pid"]) and time.monotonic() < deadline:
        time.sleep(0.05)
    if _alive(info["pid"]):
        os.kill(info["pid"], signal.SIGKILL)
    (data_dir / DISCOVERY_FILE).unlink(missing_ok=True)
    return info
