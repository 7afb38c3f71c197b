"""The package set of a kernel's environment, cached until the environment changes.

Reading every installed distribution takes 50-500 ms; a run must not pay that each time.
So the package set is cached under a key made of the folders it was read from and their
modification times: installing, upgrading or removing a package adds or removes an entry
in one of those folders, which changes its mtime, which misses the cache. Checking the key
costs one ``stat`` per folder. The cache lives in memory and in a small JSON file, so an
embedded CLI run (a new process each time) finds it warm too.

Per language: Python, every distribution on the kernel's ``sys.path`` (asked of the
kernel itself, see :mod:`.inputs`); R, every package in ``.libPaths()`` (its DESCRIPTION);
JavaScript, the node version and the globally installed packages; bash and others, the
kernel's own version (best effort).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
import threading
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

__all__ = [
    "Environment",
    "EnvironmentCache",
    "current_environment",
    "environment_cache",
    "environment_sha256",
    "folders_for",
    "kernel_argv",
]

_KEEP = 32  # environments kept in the cache file


@dataclass
class Environment:
    kernel: str
    language: str
    packages: dict[str, str] = field(default_factory=dict)
    sha256: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"sha256": self.sha256, "kernel": self.kernel, "language": self.language, "packages": self.packages}


def environment_sha256(language: str, packages: dict[str, str]) -> str:
    """The content address: the same packages give the same hash whatever the kernel's name."""
    text = json.dumps({"language": language, "packages": packages}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()


def _cache_file() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "jenkins-kernel" / "environments.json"


def _stamp(folders: list[str]) -> list[tuple[str, int]]:
    stamps = []
    for folder in folders:
        try:
            stamps.append((folder, os.stat(folder).st_mtime_ns))
        except OSError:
            continue
    return stamps


class EnvironmentCache:
    """Package sets by (kernel, folders and their mtimes); thread-safe, persisted."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or _cache_file()
        self._lock = threading.Lock()
        self._entries: dict[str, dict[str, Any]] | None = None
        self.misses = 0

    def _load(self) -> dict[str, dict[str, Any]]:
        if self._entries is None:
            try:
                self._entries = json.loads(self.path.read_text())["environments"]
            except (OSError, ValueError, KeyError, TypeError):
                self._entries = {}
        return self._entries

    def _save(self) -> None:
        entries = self._load()
        if len(entries) > _KEEP:
            for key in sorted(entries, key=lambda k: entries[k].get("used", 0))[: len(entries) - _KEEP]:
                del entries[key]
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.path.with_suffix(f".{os.getpid()}.tmp")
            tmp.write_text(json.dumps({"environments": entries}))
            os.replace(tmp, self.path)
        except OSError:
            pass  # a read-only home: the memory cache still works

    def cached(self, kernel: str, language: str, folders: list[str]) -> Environment | None:
        """The environment if the folders have not changed since it was read (a few stats)."""
        key = json.dumps([kernel, language, _stamp(folders)])
        with self._lock:
            entry = self._load().get(key)
        return Environment(kernel, language, dict(entry["packages"]), entry["sha256"]) if entry else None

    def get(self, kernel: str, language: str, folders: list[str]) -> Environment:
        """The environment of ``kernel`` whose packages live in ``folders``. The kernel's
        and language's versions are the run's ``kernel_info``, not part of this."""
        found = self.cached(kernel, language, folders)
        if found is not None:
            return found
        key = json.dumps([kernel, language, _stamp(folders)])
        self.misses += 1
        packages = read_packages(language, folders)
        entry = {"packages": packages, "sha256": environment_sha256(language, packages)}
        with self._lock:
            entries = self._load()
            entries[key] = entry
            entry["used"] = max((e.get("used", 0) for e in entries.values()), default=0) + 1
            self._save()
        return Environment(kernel, language, dict(packages), entry["sha256"])


# -- reading package sets ------------------------------------------------------------------


def read_packages(language: str, folders: list[str]) -> dict[str, str]:
    lang = language.lower()
    if lang == "python":
        return _python_packages(folders)
    if lang == "r":
        return _r_packages(folders)
    if lang in ("javascript", "typescript"):
        return _node_packages(folders)
    return {}


def _python_packages(folders: list[str]) -> dict[str, str]:
    found: dict[str, str] = {}
    for dist in metadata.distributions(path=folders):
        name = dist.metadata["Name"]
        if name:
            found.setdefault(re.sub(r"[-_.]+", "-", name).lower(), dist.version)  # the first on the path wins
    return found


def _r_packages(folders: list[str]) -> dict[str, str]:
    found: dict[str, str] = {}
    for folder in folders:
        for description in sorted(Path(folder).glob("*/DESCRIPTION")):
            try:
                text = description.read_text(errors="replace")
            except OSError:
                continue
            match = re.search(r"^Version:\s*(\S+)", text, re.M)
            if match:
                found.setdefault(description.parent.name, match.group(1))
    return found


def _node_packages(folders: list[str]) -> dict[str, str]:
    found: dict[str, str] = {}
    for folder in folders:
        for manifest in sorted([*Path(folder).glob("*/package.json"), *Path(folder).glob("@*/*/package.json")]):
            try:
                data = json.loads(manifest.read_text())
            except (OSError, ValueError):
                continue
            if isinstance(data, dict) and data.get("name"):
                found.setdefault(str(data["name"]), str(data.get("version", "")))
    return found


def kernel_argv(resource_dir: str) -> list[str]:
    """The kernelspec's command line; a bare ``python`` is the interpreter that starts it
    (as jupyter_client does)."""
    try:
        argv = [str(a) for a in json.loads((Path(resource_dir) / "kernel.json").read_text()).get("argv", [])]
    except (OSError, ValueError, AttributeError):
        return []
    if argv and argv[0] in ("python", "python3"):
        argv[0] = sys.executable
    return argv


def current_environment(kernel: str, language: str, resource_dir: str, cwd: str = "") -> Environment:
    """The environment a new ``kernel`` would have now, without starting it: for Python
    its interpreter is asked for ``sys.path`` (one short process)."""
    argv = kernel_argv(resource_dir)
    python_path = None
    if language.lower() == "python" and argv:
        try:
            out = subprocess.run(
                [argv[0], "-c", "import json, sys; print(json.dumps(sys.path))"],
                capture_output=True,
                text=True,
                timeout=30,
                check=True,
                cwd=cwd or None,
            ).stdout
            python_path = json.loads(out)
        except (OSError, ValueError, subprocess.SubprocessError):
            python_path = []
    folders = folders_for(language, argv, python_path=python_path, cwd=cwd)
    return environment_cache().get(kernel, language, folders)


_cache: EnvironmentCache | None = None


def environment_cache() -> EnvironmentCache:
    """The process's cache (one per process: the service, or one CLI run)."""
    global _cache
    if _cache is None:
        _cache = EnvironmentCache()
    return _cache


# -- where a kernel's packages live ----------------------------------------------------------

_R_PATHS: dict[str, list[str]] = {}


def folders_for(language: str, argv: list[str], *, python_path: list[str] | None = None, cwd: str = "") -> list[str]:
    """The folders whose content is the kernel's package set.

    Python: the kernel's own ``sys.path`` minus its working directory (a notebook writing
    files there must not look like a changed environment). R: ``.libPaths()`` of the R
    that runs the kernel (asked once per process). Node: the global ``node_modules``
    beside the node binary, or under ``NPM_CONFIG_PREFIX``.
    """
    lang = language.lower()
    if lang == "python":
        skip = {"", cwd, os.path.realpath(cwd) if cwd else ""}
        return [p for p in python_path or [] if p not in skip]
    if lang == "r" and argv:
        return _r_lib_paths(argv[0])
    if lang in ("javascript", "typescript") and argv:
        prefix = os.environ.get("NPM_CONFIG_PREFIX") or str(Path(os.path.realpath(argv[0])).parent.parent)
        return [str(Path(prefix) / "lib" / "node_modules")]
    return []


def _r_lib_paths(r_binary: str) -> list[str]:
    if r_binary not in _R_PATHS:
        rscript = Path(r_binary).with_name("Rscript")
        try:
            out = subprocess.run(
                [str(rscript if rscript.exists() else "Rscript"), "-e", 'cat(.libPaths(), sep="\\n")'],
                capture_output=True,
                text=True,
                timeout=30,
                check=False,
            ).stdout
        except (OSError, subprocess.SubprocessError):
            out = ""
        _R_PATHS[r_binary] = [line for line in out.splitlines() if line.strip()]
    return _R_PATHS[r_binary]
