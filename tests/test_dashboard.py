"""The dashboard over plain HTTP: sign-in cookie, CSRF, read-only tokens, strict query
arguments, CSP headers, keyset pages, and the run's dashboard_url (the browser tests are in
test_dashboard_browser.py)."""

from __future__ import annotations

import re
import sqlite3
import time

import pytest
import requests

from jenkins_kernel.exceptions import RejectedError
from jenkins_kernel.server.config import load_settings

from conftest import DASHBOARD_TOKENS, jk
from service import TOKEN
from synthetic_runs import fill_runs

ADMIN, VIEWER = DASHBOARD_TOKENS["admin"], DASHBOARD_TOKENS["viewer"]


@pytest.fixture(scope="module")
def svc(dashboard_service):
    return dashboard_service


def browser(svc, token: str) -> requests.Session:
    """A signed-in 'browser': a cookie jar that went through the sign-in form."""
    session = requests.Session()
    response = session.post(svc.url + "/ui/signin", data={"token": token}, allow_redirects=False)
    assert response.status_code == 303, response.text
    return session


def csrf_of(html: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', html).group(1)


def test_a_token_may_be_given_a_read_role_in_the_settings(tmp_path):
    config = tmp_path / "c.yaml"
    config.write_text("tokens:\n  ci: abc\n  viewer: {token: xyz, role: read}\n")
    settings = load_settings(config, environ={})
    assert settings.tokens == {"ci": "abc", "viewer": "xyz"}
    assert settings.tokens["viewer"].role == "read" and settings.tokens["ci"].role == "write"
    config.write_text("tokens:\n  viewer: {token: xyz, role: admin}\n")
    with pytest.raises(RejectedError, match="role"):
        load_settings(config, environ={})


def test_signing_in_sets_a_signed_httponly_strict_expiring_cookie_and_never_the_token(svc):
    response = requests.post(svc.url + "/ui/signin", data={"token": ADMIN}, allow_redirects=False)
    assert response.status_code == 303 and response.headers["Location"].endswith("/ui/runs")
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Max-Age=" in cookie and "Path=/" in cookie
    assert ADMIN not in cookie
    wrong = requests.post(svc.url + "/ui/signin", data={"token": "nope"}, allow_redirects=False)
    assert wrong.status_code == 401 and "Set-Cookie" not in wrong.headers
    tampered = requests.get(svc.url + "/ui/runs", cookies={"jk_dashboard": "x" + cookie[13:60]}, allow_redirects=False)
    assert tampered.status_code == 302 and "/ui/signin" in tampered.headers["Location"]


def test_sign_in_never_sends_the_browser_to_another_site(svc):
    for target in ("https://evil.example/", "//evil.example/ui", "/ui\\@evil.example"):
        response = requests.post(
            svc.url + "/ui/signin", params={"next": target}, data={"token": ADMIN}, allow_redirects=False
        )
        assert response.headers["Location"].endswith("/ui/runs"), target


def test_every_page_sends_a_strict_content_security_policy(svc):
    session = browser(svc, ADMIN)
    (run_id,) = fill_runs(svc.data_dir / "jenkins-kernel.sqlite3", 1, start=time.time() - 3600, job_prefix="csp")
    pages = ("/ui/signin", "/ui/runs", f"/ui/runs/{run_id}", "/ui/metrics?job=csp-00", "/ui/sessions", "/ui/service")
    for path in pages:
        response = session.get(svc.url + path)
        assert response.status_code == 200, path
        csp = response.headers["Content-Security-Policy"]
        assert csp.startswith("default-src 'self'") and "unsafe" not in csp, path
        assert "<script>" not in response.text and " style=" not in response.text, path


def test_a_state_changing_form_without_its_csrf_token_is_refused(svc):
    session = browser(svc, ADMIN)
    _, _, opened = svc.request("POST", "/api/v1/sessions", {"kernel": "python3", "name": "csrf-check"})
    action = f"{svc.url}/ui/sessions/{opened['id']}/delete"
    assert session.post(action, data={}, allow_redirects=False).status_code == 403
    assert session.post(action, data={"csrf": "forged"}, allow_redirects=False).status_code == 403
    csrf = csrf_of(session.get(svc.url + "/ui/sessions").text)
    assert session.post(action, data={"csrf": csrf}, allow_redirects=False).status_code == 303
    assert svc.request("GET", f"/api/v1/sessions/{opened['id']}")[0] == 404
    with sqlite3.connect(svc.data_dir / "jenkins-kernel.sqlite3") as db:
        who = db.execute(
            "SELECT token_name, outcome FROM audit WHERE action LIKE '%/ui/sessions/%' ORDER BY id"
        ).fetchall()
    assert who[-1] == ("admin", "303")  # the audit entry names the token


def test_a_read_only_token_gets_403_on_every_state_changing_route(svc):
    viewer = {"token": VIEWER}
    assert svc.request("GET", "/api/v1/runs", **viewer)[0] == 200
    for method, path, body in (
        ("POST", "/api/v1/runs", {"code": "print(1)"}),
        ("POST", "/api/v1/sessions", {"kernel": "python3"}),
        ("DELETE", "/api/v1/sessions/any", None),
        ("POST", "/api/v1/sessions/any/interrupt", None),
        ("POST", "/api/v1/runs/any/cancel", None),
    ):
        status, _, answer = svc.request(method, path, body, **viewer)
        assert status == 403 and answer["error"]["code"] == "read_only_token", (method, path)
    session = browser(svc, VIEWER)
    page = session.get(svc.url + "/ui/sessions").text
    assert "read-only" in page and "data-action" not in page
    response = session.post(svc.url + "/ui/sessions/any/interrupt", data={"csrf": csrf_of(page)})
    assert response.status_code == 403 and "may look but not act" in response.text


@pytest.mark.parametrize(
    "query",
    [
        "status=bogus",
        "since=2024-13-45",
        "until=yesterday",
        "before=1700000000.5_zz",
        "before=" + "9" * 40,
        "job=" + "x" * 300,
        "notebook=%00",
    ],
)
def test_a_bad_query_argument_is_a_400_page_that_names_it_never_a_500(svc, query):
    response = requests.get(f"{svc.url}/ui/runs?{query}", headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 400
    assert "?" + query.split("=")[0] in response.text.replace("&#39;", "'")


def test_the_runs_page_pages_by_keyset_newest_first_with_filters(svc):
    ids = fill_runs(svc.data_dir / "jenkins-kernel.sqlite3", 130, jobs=1, start=time.time() - 10_000, job_prefix="page")
    session = browser(svc, ADMIN)
    seen, url = [], f"{svc.url}/ui/runs?job=page-00"
    while url:
        html = session.get(url).text
        seen += re.findall(r'href="/ui/runs/([0-9a-f]{32})"', html)
        older = re.search(r'class="older" href="([^"]+)"', html)
        url = svc.url + older.group(1).replace("&amp;", "&") if older else ""
    assert seen == list(reversed(ids))  # every run once, newest first, across three pages
    failed = session.get(f"{svc.url}/ui/runs?job=page-00&status=failed").text
    assert 'class="pill failed"' in failed and 'class="pill succeeded"' not in failed


def test_a_run_carries_its_dashboard_url_and_the_cli_prints_it(svc, tmp_path):
    done = jk("exec", "--server", svc.url, "-c", "print(3)", cwd=tmp_path, env={"JENKINS_KERNEL_TOKEN": TOKEN})
    assert done.returncode == 0
    printed = re.search(rf"dashboard: ({re.escape(svc.url)}/ui/runs/([0-9a-f]{{32}}))\n", done.stderr)
    assert printed, done.stderr
    _, _, run = svc.request("GET", f"/api/v1/runs/{printed.group(2)}")
    assert run["dashboard_url"] == printed.group(1)
    assert requests.get(run["dashboard_url"], headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 200


def test_a_signed_in_browser_follows_the_live_stream_and_resumes_after_last_event_id(svc, code_run):
    run = code_run
    session = browser(svc, ADMIN)
    stream = f"{svc.url}/api/v1/runs/{run['id']}/stream"
    whole = session.get(stream, timeout=30).text
    assert [int(n) for n in re.findall(r"^id: (\d+)$", whole, re.M)] == list(range(1, run["last_seq"] + 1))
    resumed = session.get(stream, headers={"Last-Event-ID": "2"}, timeout=30).text
    assert re.findall(r"^id: (\d+)$", resumed, re.M)[0] == "3" and "event: end" in resumed
    assert requests.get(stream, timeout=30).status_code == 401  # no cookie, no token
    assert session.post(f"{svc.url}/api/v1/runs", json={"code": "1"}).status_code == 401  # the cookie only reads


@pytest.fixture(scope="module")
def code_run(svc):
    return svc.run({"code": "for i in range(3): print('tick', i)"})


def test_artifacts_are_served_sandboxed_so_a_notebooks_html_cannot_act_as_the_dashboard(svc, code_run):
    session = browser(svc, ADMIN)  # the cookie reads artifacts: what they hold must not run as the dashboard
    response = session.get(f"{svc.url}/api/v1/runs/{code_run['id']}/artifacts/input.txt")
    assert response.status_code == 200 and "tick" in response.text
    assert response.headers["Content-Security-Policy"].startswith("sandbox; default-src 'none'")
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_a_run_page_shows_its_lineage_inputs_packages_changed_since_the_last_build_and_git_commit(svc):
    from jenkins_kernel.store import Store

    older, newer = fill_runs(svc.data_dir / "jenkins-kernel.sqlite3", 2, jobs=1, job_prefix="lineage", metrics=False)
    store = Store(svc.data_dir)  # a second writer on the service's database, as the CLI's --record is
    try:
        for run_id, numpy, extra in ((older, "1.26.4", {}), (newer, "2.0.1", {"polars": "1.0"})):
            packages = {"numpy": numpy, "pandas": "2.2.2", **extra}
            store.save_lineage(
                run_id,
                environment={"sha256": f"env-{numpy}", "kernel": "python3", "language": "python", "packages": packages},
                git={"commit": "0123456789abcdef" * 2 + "01234567", "branch": "main", "dirty": True},
                metrics={"rmse": 0.5 if run_id == older else 0.25},
                files=[{"direction": "read", "path": "data/train.csv", "size": 2048, "sha256": "ab" * 32}],
            ).result(30)
    finally:
        store.close()
    html = browser(svc, ADMIN).get(f"{svc.url}/ui/runs/{newer}").text
    assert "data/train.csv" in html and "abababababab" in html  # the input with its hash
    assert re.search(r"numpy</td><td><span class=\"badge changed\">changed</span></td><td[^>]*>1\.26\.4</td>", html)
    assert 'polars</td><td><span class="badge added">added' in html and "pandas</td>" not in html
    assert "0123456789ab" in html and "dirty" in html  # the git commit in the header
    assert "rmse" in html and f'href="/ui/compare?a={older}&amp;b={newer}"' in html
