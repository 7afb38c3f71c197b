"""A run's artifacts are regular files inside its folder: no symlink is ever followed.

A cell can write into its run's folder (a notebook's images go there), so it could plant a
symlink to ``/etc/passwd`` or to the service's token. Indexing walks the folder without
following links and keeps regular files only; serving opens each path component with
``O_NOFOLLOW`` relative to the folder, so a link swapped in between is refused too.
"""

from __future__ import annotations

import hashlib
import os
import stat
from pathlib import Path
from typing import BinaryIO

__all__ = ["index_files", "open_artifact"]

_DIR_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | getattr(os, "O_DIRECTORY", 0)
_FILE_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | getattr(os, "O_NONBLOCK", 0)  # never block on a FIFO


def open_artifact(folder: Path, name: str) -> BinaryIO | None:
    """``folder/name`` opened for reading if it is a regular file reached without any link; else None."""
    parts = name.split("/")
    if any(p in ("", ".", "..") for p in parts):
        return None
    try:
        fd = os.open(folder, _DIR_FLAGS)
    except OSError:
        return None
    try:
        for part in parts[:-1]:
            next_fd = os.open(part, _DIR_FLAGS, dir_fd=fd)
            os.close(fd)
            fd = next_fd
        file_fd = os.open(parts[-1], _FILE_FLAGS, dir_fd=fd)
    except OSError:  # ELOOP: a link; ENOENT, ENOTDIR ...
        return None
    finally:
        os.close(fd)
    if not stat.S_ISREG(os.fstat(file_fd).st_mode):
        os.close(file_fd)
        return None
    os.set_blocking(file_fd, True)
    return os.fdopen(file_fd, "rb")


def index_files(folder: Path, paths: list[Path] | None = None) -> list[tuple[str, int, str]]:
    """(name relative to ``folder``, size, sha256) of every regular file in it (or of ``paths``)."""
    names = (
        [p.relative_to(folder).as_posix() for p in paths]
        if paths is not None
        else [
            (Path(root) / f).relative_to(folder).as_posix()
            for root, _, files in os.walk(folder, followlinks=False)
            for f in files
        ]
    )
    found = []
    for name in sorted(names):
        f = open_artifact(folder, name)
        if f is None:
            continue
        digest, size = hashlib.sha256(), 0
        with f:
            while block := f.read(1 << 20):
                digest.update(block)
                size += len(block)
        found.append((name, size, digest.hexdigest()))
    return found
