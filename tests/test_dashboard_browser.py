"""The dashboard in a real browser (headless Chromium): sign in, watch a run live, read its
report, follow a metric across runs, interrupt a session, and look but not act with a
read-only token; no page may break its Content-Security-Policy. One service and one
browser for the module; a screenshot of each page goes to reports/screenshots/."""

from __future__ import annotations

import json
import time

import nbformat
import pytest

from browser import broken_images, chromium, image_count, needs_chromium, screenshot
from conftest import DASHBOARD_TOKENS

pytestmark = needs_chromium
ADMIN, VIEWER = DASHBOARD_TOKENS["admin"], DASHBOARD_TOKENS["viewer"]
NOTEBOOK = "metrics_demo.ipynb"
FAILED: list[str] = []  # answers of 400 and more to the pages signed in here

#: A PNG drawn by the notebook itself (no matplotlib needed), and metrics that follow alpha.
PNG_CELL = r"""
import struct, zlib
from IPython.display import Image, display
def png(w, h, rgb):
    raw = b"".join(b"\x00" + bytes(rgb) * w for _ in range(h))
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    header = struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")
display(Image(png(60, 24, (37, 99, 235))))
"""
METRICS_CELL = """
display({"application/vnd.jenkins-kernel.metrics+json": {"loss": round(1 / alpha, 4), "score": alpha * 2}}, raw=True)
print("alpha", alpha)
"""


def metrics_notebook() -> dict:
    nb = nbformat.v4.new_notebook(metadata={"kernelspec": {"name": "python3", "display_name": "Python 3"}})
    nb.cells = [
        nbformat.v4.new_code_cell("alpha = 1.0", metadata={"tags": ["parameters"]}),
        nbformat.v4.new_code_cell(PNG_CELL),
        nbformat.v4.new_code_cell(METRICS_CELL),
    ]
    return json.loads(nbformat.writes(nb))


@pytest.fixture(scope="module")
def svc(dashboard_service):
    return dashboard_service


@pytest.fixture(scope="module")
def browser():
    with chromium() as b:
        yield b


@pytest.fixture(scope="module")
def admin(svc, browser):
    """A page signed in with the admin token (the sign-in test below signs it in)."""
    page = browser.new_page(viewport={"width": 1280, "height": 860})
    yield page
    page.context.close()


def sign_in(page, svc, token: str) -> None:
    page.set_default_timeout(45_000)  # a full-page screenshot on a shared 2-core machine can take long
    page.on("response", lambda r: r.status >= 400 and FAILED.append(f"{r.status} {r.url}"))
    page.goto(svc.url + "/ui/runs")
    page.wait_for_url("**/ui/signin**")
    page.fill("#token", token)
    page.click("form button[type=submit]")
    page.wait_for_url("**/ui/runs")


def wait_run_status(svc, run_id: str, statuses: set[str], timeout: float = 30) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        _, _, run = svc.request("GET", f"/api/v1/runs/{run_id}?wait=1")
        if run["status"] in statuses or time.monotonic() > deadline:
            return run
        time.sleep(0.1)


def poll(page, expression: str, timeout: float = 45) -> bool:
    """Whether ``expression`` became true in the page within ``timeout`` (Playwright's
    wait_for_function evaluates strings, which the dashboard's CSP rightly refuses)."""
    deadline = time.monotonic() + timeout
    while not page.evaluate(expression):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def test_signing_in_with_a_token_opens_the_runs_page(svc, admin):
    admin.goto(svc.url + "/ui/runs")
    assert "/ui/signin" in admin.url
    screenshot(admin, "dashboard-signin")
    sign_in(admin, svc, ADMIN)
    cookie = next(c for c in admin.context.cookies() if c["name"] == "jk_dashboard")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict" and cookie["expires"] > time.time()
    assert admin.locator(".who .token").inner_text() == "admin"


def test_a_new_run_appears_in_the_list_and_its_log_lines_arrive_live(svc, admin, tmp_path):
    go = tmp_path / "go"
    code = (
        "import os, time\nfor i in range(5):\n    print(f'line {i}', flush=True)\n"
        f"while not os.path.exists({str(go)!r}):\n    time.sleep(0.05)\n"
        "for i in range(5, 10):\n    print(f'line {i}', flush=True)\n    time.sleep(0.2)"
    )
    admin.goto(svc.url + "/ui/runs")
    _, _, run = svc.request("POST", "/api/v1/runs", {"code": code})
    row = admin.locator(f'#run-rows a[href="/ui/runs/{run["id"]}"]')
    row.wait_for(timeout=30_000)  # the live list fetched it; no reload
    screenshot(admin, "dashboard-runs")
    row.click()
    admin.wait_for_url(f"**/ui/runs/{run['id']}")
    assert admin.locator("#run-status").inner_text() in ("queued", "running")
    admin.evaluate("window.sameDocument = true")  # gone if the page were reloaded
    admin.locator("#console", has_text="line 4").wait_for()
    go.touch()
    # the lines after the pause arrive in this same document (not a reload)
    assert poll(
        admin, "window.sameDocument === true && document.getElementById('console').textContent.includes('line 7')"
    )
    screenshot(admin, "dashboard-run-live")
    admin.wait_for_selector("#run-status.succeeded", timeout=20_000)  # the page reloads itself at the end
    assert admin.locator("#console").inner_text().count("line 9") == 1


@pytest.fixture(scope="module")
def metric_runs(svc):
    """Three runs of one notebook with different parameters (queued together on one kernel)."""
    body = {"notebook": metrics_notebook(), "notebook_name": NOTEBOOK, "session_name": "metrics"}
    started = [svc.request("POST", "/api/v1/runs", {**body, "parameters": {"alpha": a}})[2] for a in (0.5, 1.0, 2.0)]
    return [wait_run_status(svc, r["id"], {"succeeded", "failed"}, timeout=60) for r in started]


def test_the_report_of_a_run_shows_every_image(svc, admin, metric_runs):
    run = metric_runs[-1]
    assert run["status"] == "succeeded", run
    admin.goto(f"{svc.url}/ui/runs/{run['id']}")
    assert admin.locator("iframe.report").count() == 1
    assert admin.locator("table.cells tbody tr").count() == 4  # with the injected parameters
    admin.locator("iframe.report").scroll_into_view_if_needed()  # painted only once in view
    admin.frame_locator("iframe.report").locator("img").first.wait_for()
    screenshot(admin, "dashboard-run")
    admin.goto(f"{svc.url}/ui/runs/{run['id']}/report/")
    admin.wait_for_load_state("load")
    assert image_count(admin) >= 1 and broken_images(admin) == []
    screenshot(admin, "dashboard-report")


def test_a_metric_chart_has_one_point_per_run_after_three_runs(svc, admin, metric_runs):
    admin.goto(f"{svc.url}/ui/metrics?notebook={NOTEBOOK}")
    for name in ("loss", "score"):
        chart = admin.locator(f'figure[data-metric="{name}"] svg.chart')
        assert chart.locator("circle.point").count() == 3, name
    links = admin.locator('figure[data-metric="score"] a.point-link')
    hrefs = [links.nth(i).get_attribute("href") for i in range(3)]
    assert hrefs == [f"/ui/runs/{r['id']}" for r in metric_runs]  # oldest first, each to its run
    screenshot(admin, "dashboard-metrics")
    admin.click("form.compare-form button[type=submit]")
    admin.wait_for_url("**/ui/compare?**")
    assert admin.locator("table.compare tr.differs").count() >= 3  # alpha, loss, score
    screenshot(admin, "dashboard-compare")
    admin.goto(f"{svc.url}/ui/metrics?notebook={NOTEBOOK}")
    admin.locator('figure[data-metric="loss"] a.point-link').first.click()
    admin.wait_for_url(f"**/ui/runs/{metric_runs[0]['id']}")


def test_interrupting_a_running_session_from_its_page(svc, admin):
    _, _, session = svc.request("POST", "/api/v1/sessions", {"kernel": "python3", "name": "ui-interrupt"})
    _, _, run = svc.request("POST", "/api/v1/runs", {"code": "import time\ntime.sleep(60)", "session": session["id"]})
    assert wait_run_status(svc, run["id"], {"running"})["status"] == "running"
    admin.goto(svc.url + "/ui/sessions")
    row = admin.locator(f'tr[data-session="{session["id"]}"]')
    assert "busy" in row.inner_text()
    screenshot(admin, "dashboard-sessions")
    row.locator('button[data-action="interrupt"]').click()
    admin.wait_for_url("**/ui/sessions?done=interrupt")
    ended = wait_run_status(svc, run["id"], {"failed", "cancelled", "succeeded"}, timeout=15)
    assert ended["status"] == "failed", ended
    _, _, events = svc.request("GET", f"/api/v1/runs/{run['id']}/events")
    assert any(e["data"].get("ename") == "KeyboardInterrupt" for e in events["events"])


def test_a_read_only_token_sees_no_action_buttons_and_gets_403_on_the_action_url(svc, browser):
    page = browser.new_page(viewport={"width": 1280, "height": 860})
    try:
        sign_in(page, svc, VIEWER)
        page.goto(svc.url + "/ui/sessions")
        assert page.locator("tr[data-session]").count() >= 1  # the session of the test above
        assert page.locator("button[data-action]").count() == 0
        assert page.locator(".badge.read").inner_text() == "read-only"
        screenshot(page, "dashboard-sessions-read-only")
        session_id = page.locator("tr[data-session]").first.get_attribute("data-session")
        csrf = page.locator('input[name="csrf"]').first.get_attribute("value")
        response = page.request.post(f"{svc.url}/ui/sessions/{session_id}/interrupt", form={"csrf": csrf})
        assert response.status == 403
        status, _, body = svc.request("POST", f"/api/v1/sessions/{session_id}/interrupt", token=VIEWER)
        assert status == 403 and body["error"]["code"] == "read_only_token"
    finally:
        page.context.close()


def test_the_pages_work_without_javascript(svc, browser, metric_runs):
    page = browser.new_page(java_script_enabled=False)
    try:
        sign_in(page, svc, ADMIN)
        page.select_option("select[name=status]", "succeeded")
        page.click("form.filters button[type=submit]")
        page.wait_for_url("**status=succeeded**")
        page.click(f'a[href="/ui/runs/{metric_runs[0]["id"]}"]')
        assert "alpha 0.5" in page.locator("#console").inner_text()
        page.goto(f"{svc.url}/ui/metrics?notebook={NOTEBOOK}")
        assert page.locator("svg.chart circle.point").count() == 6
    finally:
        page.context.close()


def test_no_page_breaks_its_content_security_policy(svc, admin, browser):
    admin.goto(svc.url + "/ui/service")
    screenshot(admin, "dashboard-service")
    assert admin.locator("text=python3").count() >= 1
    assert browser.problems.csp_violations == []
    assert browser.problems.page_errors == []
    assert browser.problems.console_errors == [], FAILED
