"""executed.ipynb saved while the notebook runs, so a killed run (``kill -9`` of the CLI,
a lost agent) still leaves the notebook up to its last finished cell, as papermill does.

Saves are cheap and bounded: at most one every ``every`` seconds while cells finish fast
(and never more than a tenth of the time: the gap grows to ten times what the last save
took), a pending save fires that long after the last finished cell at the latest, and a
failed cell is saved at once. The JSON is compact (C encoder, no copy of the notebook; the
final executed.ipynb is written pretty by the reports) and made on the event loop (the
notebook must not change while it is read); a thread writes it to a temporary name and
renames it: the file on disk is always a whole notebook.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from pathlib import Path

from nbformat import NotebookNode

from .files import atomic_write

__all__ = ["NotebookCheckpoint"]


class NotebookCheckpoint:
    def __init__(self, nb: NotebookNode, path: Path, every: float = 0.5) -> None:
        self.nb, self.path, self.every = nb, path, every
        self._last = 0.0
        self._gap = every
        self._timer: asyncio.TimerHandle | None = None
        self._writing: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()  # one write at a time, in order
        self.saves = 0

    async def cell_done(self, urgent: bool = False) -> None:
        """A cell finished: save now, or schedule a save within ``every`` seconds."""
        wait = self._last + self._gap - time.monotonic()
        if urgent or wait <= 0:
            await self._save()
        elif self._timer is None:
            self._timer = asyncio.get_running_loop().call_later(wait, self._save_later)

    async def close(self) -> None:
        """No more saves from here (the final reports write the last version)."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._writing is not None:
            with contextlib.suppress(Exception):
                await self._writing

    def _save_later(self) -> None:
        self._timer = None
        self._writing = asyncio.ensure_future(self._save())

    async def _save(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._last = started = time.monotonic()
        async with self._lock:
            self.nb.metadata.setdefault("jenkins_kernel", {})["status"] = "running"
            text = json.dumps(self.nb, ensure_ascii=False, sort_keys=True, separators=(",", ":"), default=str)
            self.path.parent.mkdir(parents=True, exist_ok=True)
            await asyncio.to_thread(atomic_write, self.path, text + "\n")
            self.saves += 1
        self._gap = max(self.every, 10 * (time.monotonic() - started))
