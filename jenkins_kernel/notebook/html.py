"""report.html: a page that reads well inside Jenkins, under its default Content-Security-Policy
(``sandbox; default-src 'none'; img-src 'self'; style-src 'self';``).

So: no script, no inline style (attribute or element), no ``data:`` URI, no font, and nothing
fetched from another host. Styling comes from ``report.css`` beside the page; every image is
a file under ``images/`` (the files saved during the run are reused when their bytes match;
other images, such as markdown attachments, are written by content hash). Markdown and
HTML outputs (a DataFrame, say) go through an allowlist sanitizer (bleach) that drops
scripts, styles, event handlers and off-machine or ``data:`` sources.

A Jinja template of our own (``templates/report.html.j2``) replaces nbconvert's: it needs none
of nbconvert's CDN scripts, and renders in a few milliseconds with no warm-up.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import re
import threading
from importlib import resources
from pathlib import Path
from typing import Any

from nbformat import NotebookNode

from ..console import strip_ansi
from ..engine.results import CellResult, RunResult
from .cells import FAILURE_TAG, cell_tags
from .files import atomic_write
from .images import IMAGE_TYPES

__all__ = ["prepare_html_exporter", "render_html", "sanitize_html", "write_html"]

_TAGS = {
    "a", "abbr", "b", "blockquote", "br", "caption", "code", "col", "colgroup", "dd", "del", "details", "div",
    "dl", "dt", "em", "h1", "h2", "h3", "h4", "h5", "h6", "hr", "i", "img", "ins", "kbd", "li", "ol", "p", "pre",
    "s", "small", "span", "strong", "sub", "summary", "sup", "table", "tbody", "td", "tfoot", "th", "thead",
    "tr", "u", "ul",
}  # fmt: skip
_SCHEME = re.compile(r"^\s*([a-zA-Z][a-zA-Z0-9+.\-]*:|//)")
_DROP_WITH_CONTENT = re.compile(r"<(script|style|iframe|object|embed|template)\b.*?(</\1\s*>|$)", re.I | re.S)
_IMG_WITHOUT_SRC = re.compile(r"<img(?![^>]*\ssrc=)[^>]*>")
_lock = threading.Lock()


def _attribute_allowed(tag: str, name: str, value: str) -> bool:
    if name in ("class", "title", "colspan", "rowspan", "align", "id"):
        return True
    if tag == "a" and name == "href":
        return not _SCHEME.match(value) or value.strip().lower().startswith(("http:", "https:", "mailto:"))
    if tag == "img" and name in ("src", "alt", "width", "height"):
        return name != "src" or not _SCHEME.match(value)  # a file beside the report, never fetched from afar
    return False


def sanitize_html(html: str) -> str:
    """HTML made safe to show under the CSP: allowlisted tags and attributes only."""
    import bleach

    html = _DROP_WITH_CONTENT.sub("", html)
    clean = bleach.clean(html, tags=_TAGS, attributes=_attribute_allowed, strip=True, strip_comments=True)
    return _IMG_WITHOUT_SRC.sub("", clean)  # its source was dropped: nothing to show


@functools.lru_cache(maxsize=1)
def _markdown() -> Any:
    import mistune

    return mistune.create_markdown(escape=False, plugins=["strikethrough", "table", "url"])


@functools.lru_cache(maxsize=1)
def _environment() -> Any:
    import jinja2

    loader = jinja2.FunctionLoader(lambda name: resources.files(__package__).joinpath("templates", name).read_text())
    return jinja2.Environment(loader=loader, autoescape=True, trim_blocks=True, lstrip_blocks=True)


def _stylesheet() -> str:
    from pygments.formatters import HtmlFormatter

    own = resources.files(__package__).joinpath("templates", "report.css").read_text()
    return own + "\n/* code colours (Pygments) */\n" + HtmlFormatter(style="default").get_style_defs(".highlight")


def _highlight(source: str, language: str) -> str:
    from pygments import highlight
    from pygments.formatters import HtmlFormatter
    from pygments.lexers import TextLexer, get_lexer_by_name
    from pygments.util import ClassNotFound

    try:
        lexer = get_lexer_by_name(language)
    except ClassNotFound:
        lexer = TextLexer()
    return highlight(source, lexer, HtmlFormatter(nowrap=True))


class ReportImages:
    """Image bytes -> a file under ``images/``: the run's saved file with the same bytes, or a
    new one named by content hash."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.by_digest: dict[str, str] = {}
        images = folder / "images"
        if images.is_dir():
            for path in sorted(images.iterdir()):
                if path.is_file() and not path.is_symlink():
                    self.by_digest.setdefault(hashlib.sha256(path.read_bytes()).hexdigest(), f"images/{path.name}")
        self.written: list[Path] = []

    def file_for(self, mime: str, payload: Any) -> str | None:
        text = "".join(payload) if isinstance(payload, list) else str(payload)
        try:
            data = text.encode("utf-8") if mime == "image/svg+xml" else base64.b64decode(text)
        except ValueError:
            return None
        digest = hashlib.sha256(data).hexdigest()
        if digest not in self.by_digest:
            name = f"images/{digest[:16]}{IMAGE_TYPES[mime]}"
            (self.folder / "images").mkdir(parents=True, exist_ok=True)
            self.written.append(atomic_write(self.folder / name, data))
            self.by_digest[digest] = name
        return self.by_digest[digest]


def _text(value: Any) -> str:
    return "".join(value) if isinstance(value, list) else str(value)


def _output_view(output: NotebookNode, images: ReportImages) -> dict[str, Any]:
    kind = output.get("output_type")
    if kind == "stream":
        return {"kind": "stream", "name": output.get("name", "stdout"), "text": strip_ansi(_text(output.text))}
    if kind == "error":
        text = "\n".join(output.get("traceback") or []) or f"{output.get('ename')}: {output.get('evalue')}"
        return {"kind": "error", "text": strip_ansi(text)}
    data = output.get("data", {})
    for mime in IMAGE_TYPES:
        if mime in data:
            src = images.file_for(mime, data[mime])
            if src:
                alt = strip_ansi(_text(data.get("text/plain", "image")))[:200]
                return {"kind": "image", "src": src, "alt": alt}
    if "text/html" in data:
        return {"kind": "html", "html": sanitize_html(_text(data["text/html"]))}
    if "text/markdown" in data:
        return {"kind": "html", "html": sanitize_html(_markdown()(_text(data["text/markdown"])))}
    if "text/plain" in data:
        return {"kind": "text", "text": strip_ansi(_text(data["text/plain"]))}
    return {"kind": "note", "text": f"[{', '.join(sorted(data)) or 'empty'} output: not shown in this report]"}


def _markdown_html(cell: NotebookNode, images: ReportImages) -> str:
    """A markdown cell's HTML; its attachments (``attachment:name``) become image files."""
    source = cell.source
    for name, bundle in (cell.get("attachments") or {}).items():
        mime = next((m for m in IMAGE_TYPES if m in bundle), None)
        src = images.file_for(mime, bundle[mime]) if mime else None
        if src:
            source = source.replace(f"attachment:{name}", src)
    return sanitize_html(_markdown()(source))


_STATE_LABEL = {
    "failed": "failed",
    "timed_out": "timed out",
    "kernel_died": "kernel died",
    "cancelled": "cancelled",
    "not_run": "not run",
    "skipped": "skipped",
}


def render_html(nb: NotebookNode, result: RunResult, folder: Path) -> tuple[str, list[Path]]:
    """The page's HTML, and the image files written for it."""
    images = ReportImages(folder)
    meta = nb.metadata.get("jenkins_kernel", {})
    language = (nb.metadata.get("language_info") or {}).get("pygments_lexer") or (
        nb.metadata.get("language_info") or {}
    ).get("name", "text")
    by_index = {c.index: c for c in result.cells}
    failed = next((c for c in result.cells if c.error and not c.expected_error), None)
    cells = []
    original = 0  # the index in the notebook the results speak of (without the banner)
    for cell in nb.cells:
        if FAILURE_TAG in cell_tags(cell):
            cells.append({"kind": "banner", "html": sanitize_html(_markdown()(cell.source))})
            continue
        entry: CellResult | None = by_index.get(original)
        original += 1
        if cell.cell_type == "markdown":
            cells.append({"kind": "markdown", "html": _markdown_html(cell, images)})
            continue
        if cell.cell_type != "code":
            cells.append({"kind": "raw", "text": cell.source})
            continue
        state = entry.status if entry else "not_run"
        cells.append(
            {
                "kind": "code",
                "number": entry.number if entry else None,
                "state": state,
                "label": _STATE_LABEL.get(state, ""),
                "note": entry.note if entry else "",
                "is_failure": entry is failed and failed is not None,
                "count": cell.get("execution_count"),
                "source": _highlight(cell.source, language),
                "outputs": [_output_view(o, images) for o in cell.get("outputs", [])],
            }
        )
    kernel = result.kernel
    context = {
        "notebook": meta.get("notebook", "notebook.ipynb"),
        "path": meta.get("path"),
        "status": result.status.value,
        "exit_code": result.exit_code,
        "message": result.message,
        "duration": f"{result.duration:.2f} s",
        "kernel": kernel.name if kernel else (nb.metadata.get("kernelspec") or {}).get("name", ""),
        "language": f"{kernel.language} {kernel.language_version}".strip() if kernel else "",
        "parameters": {k: _show(v) for k, v in result.parameters.items()},
        "origin": meta.get("origin") or {},
        "warnings": meta.get("warnings") or [],
        "cells": cells,
    }
    return _environment().get_template("report.html.j2").render(**context), images.written


def _show(value: Any) -> str:
    import json

    return value if isinstance(value, str) else json.dumps(value)


def write_html(nb: NotebookNode, result: RunResult, folder: Path) -> list[Path]:
    """report.html, report.css and the images the page needs, into ``folder``."""
    with _lock:
        html, written = render_html(nb, result, folder)
    css = atomic_write(folder / "report.css", _stylesheet())
    return [*written, css, atomic_write(folder / "report.html", html)]


def prepare_html_exporter() -> threading.Thread:
    """Import the page's libraries and compile its template in the background, so the
    report does not wait for them after the last cell."""

    def warm() -> None:
        _environment().get_template("report.html.j2")
        _markdown()
        sanitize_html("<b>x</b>")
        _highlight("1", "python")

    thread = threading.Thread(target=warm, name="jk-html-warmup", daemon=True)
    thread.start()
    return thread
