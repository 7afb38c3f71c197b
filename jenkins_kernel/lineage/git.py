"""The notebook's repository: commit, branch, remote URL and whether the tree is dirty.

Taken on the client side, where the workspace is (the service may be on another machine).
Best effort: outside a repository, or without git, the answer is empty.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

__all__ = ["GIT_FIELDS", "git_info"]

GIT_FIELDS = ("commit", "branch", "remote", "dirty")
_CREDENTIALS = re.compile(r"(?<=://)[^/@]+@")


def _git(folder: Path, *args: str) -> str | None:
    try:
        proc = subprocess.run(
            ["git", "-C", str(folder), *args], capture_output=True, text=True, timeout=10, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return proc.stdout.strip() if proc.returncode == 0 else None


def git_info(path: str | Path) -> dict[str, Any]:
    """``{commit, branch, remote, dirty}`` of the repository holding ``path`` ({} if none).

    A remote URL's user and password (``https://user:token@host``) are dropped: the record
    is readable by anyone with a token."""
    folder = Path(path).resolve()
    folder = folder if folder.is_dir() else folder.parent
    commit = _git(folder, "rev-parse", "HEAD")
    if not commit:
        return {}
    info: dict[str, Any] = {"commit": commit}
    branch = _git(folder, "rev-parse", "--abbrev-ref", "HEAD")
    if branch and branch != "HEAD":
        info["branch"] = branch
    remote = _git(folder, "config", "--get", "remote.origin.url")
    if remote:
        info["remote"] = _CREDENTIALS.sub("", remote)
    status = _git(folder, "status", "--porcelain", "--untracked-files=no")
    if status is not None:
        info["dirty"] = bool(status)
    return info
