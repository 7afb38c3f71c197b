"""Hashing files once per (path, size, mtime): a 10 GB data set read by every run is
hashed again only when it changes."""

from __future__ import annotations

import hashlib
import os
import threading
from collections import OrderedDict
from pathlib import Path
from typing import Any

__all__ = ["file_record", "sha256_file"]

_MAX_ENTRIES = 10_000
_hashes: OrderedDict[tuple[str, int, int], str] = OrderedDict()
_lock = threading.Lock()


def sha256_file(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def file_record(
    path: str | Path, direction: str, name: str | None = None, *, cached_only: bool = False
) -> dict[str, Any] | bool | None:
    """``{direction, path, size, sha256}`` of a regular file (None if it is gone);
    ``name`` is how the record names it (a path relative to the run's folder). With
    ``cached_only``, False instead of reading a file not hashed before."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    if not os.path.isfile(path):
        return None
    key = (os.path.realpath(path), st.st_size, st.st_mtime_ns)
    with _lock:
        digest = _hashes.get(key)
        if digest is not None:
            _hashes.move_to_end(key)
    if digest is None:
        if cached_only:
            return False
        try:
            digest = sha256_file(path)
        except OSError:
            return None
        with _lock:
            _hashes[key] = digest
            while len(_hashes) > _MAX_ENTRIES:
                _hashes.popitem(last=False)
    return {"direction": direction, "path": name or str(path), "size": st.st_size, "sha256": digest}
