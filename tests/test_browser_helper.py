"""The browser helper sees what a user would: a CSP violation, a broken image, a good page."""

from __future__ import annotations

import base64
from pathlib import Path

from browser import JENKINS_CSP, broken_images, chromium, image_count, needs_chromium, serve_folder

PNG_1PX = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)


@needs_chromium
def test_browser_reports_csp_violations_and_broken_images_under_jenkins_csp(tmp_path: Path) -> None:
    (tmp_path / "a.png").write_bytes(PNG_1PX)
    (tmp_path / "good.html").write_text('<html><body><img src="a.png"><p>ok</p></body></html>')
    (tmp_path / "bad.html").write_text(
        '<html><body><p style="color:red">x</p><img src="data:image/png;base64,'
        + base64.b64encode(PNG_1PX).decode()
        + '"></body></html>'
    )
    with serve_folder(tmp_path, {"Content-Security-Policy": JENKINS_CSP}) as url, chromium() as browser:
        page = browser.new_page()
        page.goto(f"{url}/good.html")
        assert image_count(page) == 1 and broken_images(page) == []
        assert browser.problems.csp_violations == []

        page.goto(f"{url}/bad.html")
        assert len(broken_images(page)) == 1
        assert browser.problems.csp_violations, "an inline style and a data: image break Jenkins' CSP"
