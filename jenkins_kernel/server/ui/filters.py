"""Template filters: times, durations, sizes, the way a person reads them."""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import urlsplit

from . import ui

__all__ = ["ago", "duration", "size", "web_url", "when"]


@ui.app_template_filter("when")
def when(t: float | None) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(t)) if t else "-"


@ui.app_template_filter("day")
def day(t: float | None) -> str:
    return time.strftime("%Y-%m-%d", time.gmtime(t)) if t else ""


@ui.app_template_filter("duration")
def duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {secs} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min"


@ui.app_template_filter("ago")
def ago(t: float | None) -> str:
    if not t:
        return "-"
    return duration(max(0.0, time.time() - t)) + " ago"


@ui.app_template_filter("size")
def size(n: Any) -> str:
    if n is None:
        return "-"
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} TiB"


@ui.app_template_filter("web_url")
def web_url(url: Any) -> str:
    """The URL if it is http(s) (a Jenkins build link comes from the request: never ``javascript:``)."""
    text = str(url or "")
    return text if urlsplit(text).scheme in ("http", "https") else ""


@ui.app_template_filter("number")
def number(value: Any) -> str:
    return f"{value:.6g}" if isinstance(value, float) else str(value)
