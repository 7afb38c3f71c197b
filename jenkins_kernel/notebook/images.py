"""Images from display outputs, saved as files named by cell.

An image is named by its cell and its place among that cell's images (``images/cell03_2.png``),
so the same notebook gives the same names in embedded and service mode. The saver writes
the name into the event (``file``), so the console, the service's log and a client
following the run all say the name of the file on disk.
"""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

from ..engine.events import Event

__all__ = ["IMAGE_TYPES", "ImageSaver", "image_mime", "image_name"]

IMAGE_TYPES = {
    "image/png": ".png",
    "image/jpeg": ".jpg",
    "image/gif": ".gif",
    "image/svg+xml": ".svg",
}


def image_mime(bundle: dict[str, Any]) -> str | None:
    """The first image type in a mime bundle, if any."""
    return next((mime for mime in IMAGE_TYPES if mime in bundle), None)


def image_name(event: Event, place: int | None = None) -> str | None:
    """``images/cell03_2.png``: the file an image display event is saved as (the name the
    saver put in the event, else one made from its seq)."""
    if event.type != "display" or event.data.get("output_type") == "update_display_data":
        return None
    if isinstance(event.data.get("file"), str):
        return event.data["file"]
    mime = image_mime(event.data.get("data", {}))
    if mime is None:
        return None
    cell = event.data.get("cell")
    stem = f"cell{cell:02d}" if isinstance(cell, int) else "output"
    return f"images/{stem}_{place if place is not None else event.seq}{IMAGE_TYPES[mime]}"


class ImageSaver:
    """A listener that writes each image output to ``directory`` as it arrives."""

    def __init__(self, directory: str | Path) -> None:
        self.directory = Path(directory)
        self.saved: list[Path] = []
        self._count: dict[Any, int] = {}

    def __call__(self, event: Event) -> None:
        if image_name(event) is None:
            return
        cell = event.data.get("cell")
        self._count[cell] = self._count.get(cell, 0) + 1
        name = image_name(event, self._count[cell])
        assert name is not None
        event.data["file"] = name
        mime = image_mime(event.data["data"])
        assert mime is not None
        payload = event.data["data"][mime]
        if isinstance(payload, list):
            payload = "".join(payload)
        path = self.directory / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if mime == "image/svg+xml":
            path.write_text(payload, encoding="utf-8")
        else:
            path.write_bytes(base64.b64decode(payload))
        self.saved.append(path)
