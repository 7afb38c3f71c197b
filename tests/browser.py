"""A real browser for tests of web pages: Playwright driving Debian's Chromium.

Playwright's own browser download cannot run on these machines, so the launch points at
the installed ``chromium`` (`.ci/run` installs it). A :class:`Browser` collects what a
user would see go wrong: Content-Security-Policy violations, other console errors, page
errors, images that did not load. Screenshots go under ``reports/screenshots/`` (not
committed) so a reviewer can look at the pages a test saw.
"""

from __future__ import annotations

import functools
import http.server
import shutil
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCREENSHOTS = ROOT / "reports" / "screenshots"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")

#: Jenkins' default Content-Security-Policy for files it serves from a workspace or archive.
JENKINS_CSP = "sandbox; default-src 'none'; img-src 'self'; style-src 'self';"

needs_chromium = pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (.ci/run installs it)")


@dataclass
class PageProblems:
    """What went wrong on the pages of one browser, in the words the browser used."""

    csp_violations: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)

    def clear(self) -> None:
        self.csp_violations.clear()
        self.console_errors.clear()
        self.page_errors.clear()


class Browser:
    """One headless Chromium; ``new_page()`` pages report their problems to ``problems``."""

    def __init__(self, playwright: Any) -> None:
        self._browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        self.problems = PageProblems()

    def new_page(self, **context_options: Any) -> Any:
        context = self._browser.new_context(**context_options)
        page = context.new_page()
        page.set_default_timeout(15_000)
        page.on("console", self._on_console)
        page.on("pageerror", lambda exc: self.problems.page_errors.append(str(exc)))
        return page

    def _on_console(self, message: Any) -> None:
        text = message.text
        if "Content Security Policy" in text or "Content-Security-Policy" in text:
            self.problems.csp_violations.append(text)
        elif message.type == "error":
            self.problems.console_errors.append(text)

    def close(self) -> None:
        self._browser.close()


@contextmanager
def chromium() -> Iterator[Browser]:
    """A headless Chromium for the block (skips where chromium is absent)."""
    if CHROMIUM is None:
        pytest.skip("chromium is not installed (.ci/run installs it)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = Browser(playwright)
        try:
            yield browser
        finally:
            browser.close()


def broken_images(page: Any) -> list[str]:
    """The ``src`` of every image on the page that did not load."""
    return page.evaluate("[...document.images].filter(i => !i.complete || i.naturalWidth === 0).map(i => i.src)")


def image_count(page: Any) -> int:
    return page.evaluate("document.images.length")


def screenshot(page: Any, name: str) -> Path:
    """Save a full-page screenshot as ``reports/screenshots/NAME.png``."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


class _Handler(http.server.SimpleHTTPRequestHandler):
    extra_headers: dict[str, str] = {}

    def end_headers(self) -> None:
        for key, value in self.extra_headers.items():
            self.send_header(key, value)
        super().end_headers()

    def log_message(self, format: str, *args: Any) -> None:  # quiet test output
        pass


@contextmanager
def serve_folder(folder: Path, headers: dict[str, str] | None = None) -> Iterator[str]:
    """Serve ``folder`` on a free loopback port with ``headers`` on every answer (say, a
    CSP); yields the base URL. The way Jenkins serves an archived report folder."""
    handler = type("Handler", (_Handler,), {"extra_headers": dict(headers or {})})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(handler, directory=str(folder)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
