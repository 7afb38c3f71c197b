"""Files carried to a remote service and back (``--input GLOB``, ``--output-file GLOB``).

A service on another machine has no workspace: the client packs the files a notebook reads
into the request (each with its sha256, the whole bounded in size), and writes the files the
notebook produced, returned as the run's ``files/...`` artifacts, back beside the notebook.
Paths are relative to the run's folder (the notebook's folder, or ``--cwd``), the folder the
kernel runs in embedded, so the notebook opens the same relative paths in both modes.
"""

from __future__ import annotations

import base64
import glob
import hashlib
import os
from collections.abc import Iterable
from pathlib import Path, PurePosixPath
from typing import Any

from .exceptions import RejectedError

__all__ = ["MAX_INPUT_BYTES", "OUTPUT_PREFIX", "check_relative", "output_destination", "pack_inputs"]

#: Total size of the files packed with one run (base64 makes the request a third bigger:
#: the service's default max_body_bytes is 32 MiB).
MAX_INPUT_BYTES = 16 * 1024 * 1024
#: Artifacts under this prefix are the run's declared output files.
OUTPUT_PREFIX = "files/"


def check_relative(path: str, what: str) -> str:
    """``path`` as a clean relative POSIX path; absolute paths and ``..`` are refused."""
    if not path or "\\" in path or "\x00" in path:
        raise RejectedError(f"{what} {path!r} is not a relative path", code="bad_path")
    pure = PurePosixPath(path)
    if pure.is_absolute() or ".." in pure.parts:
        raise RejectedError(
            f"{what} {path!r} must stay inside the run's folder (no absolute path, no ..)",
            code="bad_path",
            hint="name files relative to the notebook's folder, e.g. data/*.csv",
        )
    clean = pure.as_posix()
    if clean in ("", "."):
        raise RejectedError(f"{what} {path!r} names no file", code="bad_path")
    return clean


def pack_inputs(folder: Path, patterns: Iterable[str], limit: int = MAX_INPUT_BYTES) -> list[dict[str, Any]]:
    """The files matching ``patterns`` under ``folder`` as request ``inputs``.

    A pattern that matches nothing, a symlink, or a total over ``limit`` is refused: a run
    must not start without the data it was told to carry.
    """
    found: dict[str, Path] = {}
    for pattern in patterns:
        check_relative(pattern, "--input")
        matches = sorted(glob.glob(pattern, root_dir=folder, recursive=True))
        files = [m for m in matches if not (folder / m).is_dir()]
        if not files:
            raise RejectedError(f"--input {pattern!r} matches no file in {folder}", code="no_input")
        for match in files:
            path = folder / match
            if path.is_symlink() or not path.is_file():
                raise RejectedError(f"--input {match} is a symlink or not a regular file", code="bad_input")
            found[PurePosixPath(Path(match).as_posix()).as_posix()] = path
    total = sum(p.stat().st_size for p in found.values())
    if total > limit:
        biggest = sorted(found, key=lambda n: -found[n].stat().st_size)[:3]
        raise RejectedError(
            f"the --input files come to {total} bytes, over the limit of {limit}",
            code="inputs_too_large",
            hint=f"the biggest: {', '.join(biggest)}; keep big data where the service can read it",
        )
    inputs = []
    for name, path in sorted(found.items()):
        data = path.read_bytes()
        inputs.append(
            {
                "path": name,
                "content_base64": base64.b64encode(data).decode("ascii"),
                "sha256": hashlib.sha256(data).hexdigest(),
            }
        )
    return inputs


def output_destination(folder: Path, artifact: str) -> Path | None:
    """Where the output artifact ``files/<path>`` goes under ``folder``; None for other artifacts.

    The path comes from the service: it is checked again here, so a service cannot make
    the client write outside the run's folder.
    """
    if not artifact.startswith(OUTPUT_PREFIX):
        return None
    relative = check_relative(artifact[len(OUTPUT_PREFIX) :], "output file")
    dest = folder / relative
    if os.path.islink(dest):
        dest.unlink()
    return dest
