"""A real browser: a demo manager answers an overdue candidate by phone.

Runs Debian's Chromium through Playwright. Outside CI, without Chromium, it skips with the reason;
in CI (CI=true) a missing browser is a failure.
"""

from __future__ import annotations

import os
import shutil
import threading

import pytest
from werkzeug.serving import make_server

from feedback_sla import demo
from feedback_sla.database import db
from feedback_sla.timeutil import utcnow

CHROMIUM = os.environ.get("FEEDBACK_SLA_TEST_CHROMIUM", "/usr/bin/chromium")
IN_CI = os.environ.get("CI", "").lower() == "true"


def _browser_or_skip():
    missing = None
    if not shutil.which(CHROMIUM):
        missing = f"no Chromium at {CHROMIUM} (apt-get install chromium)"
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        missing = missing or "Playwright for Python is not installed (pip install -e '.[test]')"
    if missing:
        if IN_CI:
            pytest.fail(f"browser test cannot run in CI: {missing}")
        pytest.skip(missing)
    return sync_playwright


@pytest.fixture
def live_server(app):
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=5)


@pytest.mark.browser
def test_manager_logs_a_call_and_the_candidate_leaves_the_overdue_list(app, session, live_server, tmp_path):
    sync_playwright = _browser_or_skip()
    demo.seed(db.session, utcnow())
    db.session.commit()
    manager = demo.MANAGERS[0][0]

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.goto(f"{live_server}/login")
            page.get_by_label("Email").fill(manager)
            page.get_by_label("Password").fill(demo.DEMO_PASSPHRASE)
            page.get_by_role("button", name="Log in").click()
            page.wait_for_url(f"{live_server}/")
            page.get_by_role("heading", level=1).wait_for()

            overdue_rows = page.locator("tr[data-state='overdue']")
            assert overdue_rows.count() > 0, "the demo manager should have an overdue candidate"
            page.screenshot(path=str(tmp_path / "triage.png"), full_page=True)
            row = overdue_rows.first
            candidate_id = row.get_attribute("data-candidate-id")
            link = row.get_by_role("rowheader").get_by_role("link")
            name = link.inner_text().strip()

            link.click()
            page.get_by_role("heading", level=1, name=name).wait_for()
            contact = page.locator("form[action$='/contact']").first
            contact.get_by_label("How they heard from you").select_option("phone")
            contact.get_by_role("button", name="Log contact").click()
            page.get_by_role("status").filter(has_text="their wait is closed").wait_for()

            page.goto(f"{live_server}/?state=overdue")
            assert page.locator(f"tr[data-candidate-id='{candidate_id}']").count() == 0
            assert (tmp_path / "triage.png").stat().st_size > 10_000
        finally:
            browser.close()
