"""A run's declared files on the service: ``inputs`` unpacked into its session folder before
it runs, ``outputs`` globs collected from that folder after it ends, all hashed and recorded
(the store's ``run_files`` table).

Unpacking never follows a symlink (a cell of an earlier run on the session may have left
one), and outputs are only regular files inside the folder: a notebook cannot make the
service read or write elsewhere through them.
"""

from __future__ import annotations

import base64
import binascii
import glob
import hashlib
import os
import shutil
import stat
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..exceptions import RejectedError
from ..transfer import OUTPUT_PREFIX, check_relative
from .validation import Text

__all__ = ["InputFile", "collect_outputs", "parse_inputs", "parse_outputs", "unpack_inputs"]

#: A file path or glob: valid Unicode, no NUL (it becomes a file name).
_PATH = Text(max_length=1024, code="bad_path")
#: Total size of the output files one run may bring back.
MAX_OUTPUT_BYTES = 256 * 1024 * 1024


@dataclass(frozen=True)
class InputFile:
    path: str
    data: bytes
    sha256: str

    def row(self) -> tuple[str, int, str]:
        return self.path, len(self.data), self.sha256


def parse_inputs(value: Any) -> list[InputFile]:
    """The request's ``inputs``: ``[{path, content_base64, sha256}]``, each checked."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise RejectedError("inputs must be a list of {path, content_base64, sha256}", code="bad_inputs")
    files: dict[str, InputFile] = {}
    for item in value:
        if not isinstance(item, dict) or set(item) - {"path", "content_base64", "sha256"}:
            raise RejectedError("each input is {path, content_base64, sha256}", code="bad_inputs")
        path = check_relative(_PATH.check("inputs.path", item.get("path")), "input path")
        try:
            data = base64.b64decode(item.get("content_base64") or "", validate=True)
        except (binascii.Error, TypeError, ValueError) as exc:
            raise RejectedError(f"input {path}: content_base64 is not base64", code="bad_inputs") from exc
        digest = hashlib.sha256(data).hexdigest()
        if item.get("sha256") not in (None, digest):
            raise RejectedError(
                f"input {path}: its sha256 does not match its content", code="input_hash_mismatch", hint="send it again"
            )
        if path in files:
            raise RejectedError(f"input {path} is given twice", code="bad_inputs")
        files[path] = InputFile(path, data, digest)
    return list(files.values())


def parse_outputs(value: Any) -> list[str]:
    """The request's ``outputs``: glob patterns relative to the session folder."""
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise RejectedError("outputs must be a list of glob patterns", code="bad_outputs", hint='e.g. ["model.json"]')
    return [check_relative(_PATH.check("outputs", v), "output pattern") for v in value]


def unpack_inputs(folder: Path, files: list[InputFile], owner: Callable[[Path], None] = lambda path: None) -> None:
    """Write each input under ``folder`` without following any symlink on the way; each folder
    and file made is handed to ``owner`` (the kernel's user, when kernels run as another one)."""
    for item in files:
        parent = folder
        *dirs, name = item.path.split("/")
        for part in dirs:
            parent = parent / part
            try:
                mode = os.lstat(parent).st_mode
            except FileNotFoundError:
                os.mkdir(parent, 0o700)
                owner(parent)
                continue
            if not stat.S_ISDIR(mode):
                raise RejectedError(f"input {item.path}: {parent} is not a folder (a symlink?)", code="bad_inputs")
        target = parent / name
        if os.path.islink(target):
            raise RejectedError(f"input {item.path}: {target} is a symlink", code="bad_inputs")
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(item.data)
        owner(target)


def collect_outputs(folder: Path, patterns: list[str], artifacts: Path) -> list[tuple[str, int, str]]:
    """Copy the regular files matching ``patterns`` in ``folder`` to ``artifacts/files/``;
    (path, size, sha256) of each. Symlinks and anything outside the folder are skipped."""
    root = Path(os.path.realpath(folder))
    found: dict[str, Path] = {}
    for pattern in patterns:
        for match in glob.glob(pattern, root_dir=root, recursive=True):
            path = root / match
            real = Path(os.path.realpath(path))
            if path.is_symlink() or not path.is_file() or root not in real.parents:
                continue
            found[Path(match).as_posix()] = path
    rows, total = [], 0
    for name, path in sorted(found.items()):
        total += path.stat().st_size
        if total > MAX_OUTPUT_BYTES:
            break
        dest = artifacts / OUTPUT_PREFIX / name
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, dest, follow_symlinks=False)
        data_hash = hashlib.sha256(dest.read_bytes()).hexdigest()
        rows.append((name, dest.stat().st_size, data_hash))
    return rows
