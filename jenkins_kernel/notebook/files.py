"""The files of a report folder: written whole or not at all, and the previous run's removed.

A report folder is often reused (``reports/<notebook>/`` in a Jenkins workspace), and by
another notebook too: what the last run wrote there must not show up as this run's.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import tempfile
from pathlib import Path

__all__ = ["OWN_FILES", "atomic_write", "clean_output_dir", "own_files"]

#: Files a run always writes at these names.
OWN_FILES = (
    "executed.ipynb",
    "junit.xml",
    "report.html",
    "report.css",
    "summary.json",
    "metrics.json",
    "metrics.csv",
)
#: Images a run writes (images.ImageSaver, html.ReportImages); nobody else names files so.
_OWN_IMAGE = re.compile(r"^images/(cell\d+_\d+|output_\d+|[0-9a-f]{16})\.(png|jpg|gif|svg)$")
_UMASK = os.umask(0o022)
os.umask(_UMASK)


def atomic_write(path: Path, data: str | bytes) -> Path:
    """Write ``path`` through a temporary file and a rename: a reader never sees half of it."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data.encode("utf-8") if isinstance(data, str) else data)
        os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp makes 0600; reports are for everyone
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def clean_output_dir(folder: Path) -> list[str]:
    """Remove what an earlier run wrote in ``folder``: the files its summary.json lists,
    our fixed report names, and images named as we name them. Nothing else is touched
    (no symlink is followed). Returns the names removed."""
    if not folder.is_dir():
        return []
    names = set(OWN_FILES)
    with contextlib.suppress(OSError, ValueError, TypeError, AttributeError):
        listed = json.loads((folder / "summary.json").read_text(encoding="utf-8")).get("files", [])
        names.update(n for n in listed if isinstance(n, str) and (n in OWN_FILES or _OWN_IMAGE.match(n)))
    images = folder / "images"
    if images.is_dir() and not images.is_symlink():
        names.update(f"images/{p.name}" for p in images.iterdir() if _OWN_IMAGE.match(f"images/{p.name}"))
    removed = []
    for name in sorted(names):
        path = folder / name
        if path.is_symlink() or path.is_file():
            path.unlink()
            removed.append(name)
    with contextlib.suppress(OSError):
        if images.is_dir() and not images.is_symlink():
            images.rmdir()  # only when empty
    return removed


def own_files(folder: Path, also: list[str] | None = None) -> list[str]:
    """The files of ours in ``folder`` (report names and our images), sorted, plus ``also``."""
    names = {n for n in OWN_FILES if (folder / n).is_file()} | set(also or [])
    images = folder / "images"
    if images.is_dir() and not images.is_symlink():
        names.update(f"images/{p.name}" for p in images.iterdir() if _OWN_IMAGE.match(f"images/{p.name}"))
    return sorted(names)
