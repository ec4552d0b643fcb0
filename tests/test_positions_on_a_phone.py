"""At 390 px wide (a phone), the positions, users and metrics pages fit the window: no sideways scroll.

Not even inside a table: on a phone the lists show fewer columns (what is left is on a wider screen
and on each edit page), long titles, names and addresses wrap. Runs Chromium like test_browser.
"""

from __future__ import annotations

import pytest

from feedback_sla import demo
from feedback_sla.database import db
from feedback_sla.models import Role
from feedback_sla.positions.service import create_position
from feedback_sla.timeutil import utcnow

from .factories import UserFactory
from .test_browser import CHROMIUM, _browser_or_skip, live_server  # noqa: F401  (live_server: a fixture)

PHONE = {"width": 390, "height": 844}
PAGES = ("/positions", "/positions?show=all", "/admin/users", "/metrics", "/metrics?by=position")

#: What overflows the window, or a table's own box: (what, its width, the room it has).
OVERFLOWS = """() => {
  const found = [];
  const root = document.documentElement;
  if (root.scrollWidth > window.innerWidth) found.push(["document", root.scrollWidth, window.innerWidth]);
  for (const box of document.querySelectorAll(".table-responsive")) {
    const name = box.querySelector("table").id || "a table";
    if (box.scrollWidth > box.clientWidth + 1) found.push([name, box.scrollWidth, box.clientWidth]);
  }
  return found;
}"""


def _real_sizes(session) -> None:
    """The demo organisation, plus what real users type: long titles, names and addresses, and
    enough accounts for the users list to have a second page."""
    demo.seed(session, utcnow())
    long_name = UserFactory(
        name="Maximiliane Oberhuber-Schmidt von Hohenberg",
        email="maximiliane.oberhuber-schmidt.von.hohenberg@personalabteilung-muenchen.example.com",
    )
    create_position(session, "Senior Backend Engineer, Payments Platform (Remote, EMEA) " * 3, long_name)
    create_position(session, "Datenbankadministratorin" * 8, long_name)  # no space to break at
    for i in range(55):
        UserFactory(name=f"Colleague {i:02d}", role=Role.MANAGER if i % 2 else Role.ADMIN)
    session.commit()


@pytest.mark.browser
def test_the_pages_fit_a_phone(app, session, live_server):  # noqa: F811
    sync_playwright = _browser_or_skip()
    _real_sizes(db.session)
    manager = demo.MANAGERS[0][0]

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        try:
            overflows = {}
            for email, pages in ((demo.ADMIN[0], PAGES), (manager, ("/positions", "/metrics"))):
                page = browser.new_page(viewport=PHONE)
                page.goto(f"{live_server}/login")
                page.get_by_label("Email").fill(email)
                page.get_by_label("Password").fill(demo.DEMO_PASSPHRASE)
                page.get_by_role("button", name="Log in").click()
                page.wait_for_url(f"{live_server}/")
                for path in pages:
                    response = page.goto(f"{live_server}{path}")
                    assert response.status == 200, path
                    found = page.evaluate(OVERFLOWS)
                    if found:
                        overflows[(email, path)] = found
                page.close()
            assert overflows == {}
        finally:
            browser.close()
