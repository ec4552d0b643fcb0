"""A real browser on the demo organisation, at 1280 px (a laptop) and 390 px (a phone).

Every page fits the window's width; the triage rows are cards on a phone with their state and main
button in view; a one-click rejection is taken back from its confirmation; the candidates search
ignores case and accents; axe-core finds no accessibility violation; and a manager answers an
overdue candidate by phone.

Runs Debian's Chromium through Playwright: one browser and one demo server for the module, a fresh
browser context (window size and login) per test. Outside CI, without Chromium, the tests skip with
the reason; in CI (CI=true) a missing browser is a failure. Screenshots of the triage and candidate
pages land in the screenshot test's temporary folder; the documentation's (docs/img/triage.png and
candidate.png, 1280 px) are rewritten only with FEEDBACK_SLA_WRITE_SCREENSHOTS=1, so a test run leaves
the tree as it was.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest
import sqlalchemy as sa

from feedback_sla import create_app, demo
from feedback_sla.candidates import status_links
from feedback_sla.candidates.models import Candidate
from feedback_sla.database import db
from feedback_sla.emails.checks import EmailRequest, new_idempotency_key
from feedback_sla.emails.config import EmailConfig
from feedback_sla.emails.models import EmailKind
from feedback_sla.settings import service as settings_service
from feedback_sla.timeutil import utcnow
from feedback_sla.waits import answers

from .helpers import served

CHROMIUM = os.environ.get("FEEDBACK_SLA_TEST_CHROMIUM", "/usr/bin/chromium")
IN_CI = os.environ.get("CI", "").lower() == "true"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
WINDOWS = {1280: {"width": 1280, "height": 900}, 390: {"width": 390, "height": 844}}
WIDTHS = tuple(WINDOWS)
MANAGER = demo.MANAGERS[0][0]
ADMIN = demo.ADMIN[0]
#: The demo candidates the tests look at, both the first manager's: one with a note and a promised
#: date (a full candidate page), and one rejected before the tests start (the search finds her).
SHOWN = "Rosa Patel"
REJECTED = "Chloé Nakamura"
#: The token of a status page link the shown candidate was given (the candidate's own page).
STATUS_TOKEN = "browser-test-status-page-link-000000000000"
#: Where the documentation's screenshots live (README and docs/ show them).
DOCS_IMAGES = Path(__file__).resolve().parent.parent / "docs" / "img"


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
    """The test's own app served on a free port (for a test that seeds its own data)."""
    with served(app) as url:
        yield url


# --- one browser, one demo server, one login per account ------------------------------------------


@dataclass(frozen=True)
class Site:
    url: str
    shown_id: int
    rejected_id: int
    logins: dict[str, dict]


@pytest.fixture(scope="module")
def chromium():
    sync_playwright = _browser_or_skip()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def site(chromium, _schema, tmp_path_factory):
    """The demo organisation, with CSRF on as in production, served for the whole module."""
    config = {
        "TESTING": True,
        "SECRET_KEY": "test-secret-key-not-for-production",
        "SQLALCHEMY_DATABASE_URI": _schema,
        "RATELIMIT_ENABLED": False,
    }
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("FEEDBACK_SLA_INSTANCE_PATH", str(tmp_path_factory.mktemp("instance")))
        app = create_app(config)
    with app.app_context():
        shown_id, rejected_id = _seed(app)
    with served(app) as url:
        logins = {email: _log_in(chromium, url, email) for email in (MANAGER, ADMIN)}
        yield Site(url, shown_id, rejected_id, logins)
    with app.app_context():
        db.engine.dispose()


def _seed(app) -> tuple[int, int]:
    """Empty tables, the demo organisation, and one rejection queued (its email not sent yet)."""
    with db.engine.begin() as conn:
        for table in reversed(db.metadata.sorted_tables):
            conn.execute(table.delete())
    now = utcnow()
    demo.seed(db.session, now)
    by_name = dict(db.session.execute(sa.select(Candidate.name, Candidate.id)).all())
    rejected = db.session.get(Candidate, by_name[REJECTED])
    rejection = EmailRequest(
        rejected, EmailKind.REJECTION, new_idempotency_key(), now, rejected.position.manager
    )
    answers.queue_email(db.session, rejection, EmailConfig.from_app(app), settings_service.load(db.session))
    status_links.create(db.session, by_name[SHOWN], STATUS_TOKEN, now)
    db.session.commit()
    db.session.remove()
    return by_name[SHOWN], by_name[REJECTED]


def _log_in(browser, url: str, email: str, password: str = demo.DEMO_PASSPHRASE) -> dict:
    """Log in through the form once; the tests' contexts start from the cookies it left."""
    context = browser.new_context()
    page = context.new_page()
    _fill_login(page, url, email, password)
    state = context.storage_state()
    context.close()
    return state


def _fill_login(page, url: str, email: str, password: str = demo.DEMO_PASSPHRASE) -> None:
    page.goto(f"{url}/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{url}/")


@pytest.fixture
def visit(chromium, site):
    """``visit(who, width, path)``: a page opened by that account (None: logged out) in a window that
    wide; every context it opened is closed after the test."""
    contexts = []

    def open_page(who: str | None, width: int, path: str):
        state = site.logins[who] if who else None
        context = chromium.new_context(viewport=WINDOWS[width], storage_state=state)
        contexts.append(context)
        page = context.new_page()
        response = page.goto(site.url + path.format(candidate=site.shown_id))
        assert response is not None and response.ok, f"{path} answered {response and response.status}"
        return page

    yield open_page
    for context in contexts:
        context.close()


# --- what the tests measure -----------------------------------------------------------------------

#: The document's width against the window's, and the innermost elements that reach past the window.
OVERFLOW = """() => {
  const room = window.innerWidth;
  const describe = (el) => el.tagName.toLowerCase() + (el.id ? "#" + el.id : "")
    + (el.classList.length ? "." + [...el.classList].join(".") : "");
  const past = [...document.body.querySelectorAll("*")].filter(
    (el) => el.getBoundingClientRect().right > room + 0.5);
  const innermost = past.filter((el) => !past.some((other) => other !== el && el.contains(other)));
  const right = (el) => Math.round(el.getBoundingClientRect().right);
  return {scroll: document.documentElement.scrollWidth, room,
          culprits: innermost.slice(0, 8).map((el) => [describe(el), right(el)])};
}"""

#: Whether an element shows whole inside the window's width: its middle and each corner (2 px in)
#: are the element itself, neither clipped by a box around it nor covered by another.
IN_VIEW = """(el) => {
  const box = el.getBoundingClientRect();
  const style = getComputedStyle(el);
  if (!box.width || !box.height || style.visibility === "hidden") return "not displayed";
  if (box.left < 0 || box.right > window.innerWidth + 0.5) return `reaches ${box.left}..${box.right}`;
  el.scrollIntoView({block: "center", behavior: "instant"});
  const r = el.getBoundingClientRect();
  const points = [[r.left + r.width / 2, r.top + r.height / 2], [r.left + 2, r.top + 2],
                  [r.right - 2, r.top + 2], [r.left + 2, r.bottom - 2], [r.right - 2, r.bottom - 2]];
  for (const [x, y] of points) {
    const top = document.elementFromPoint(x, y);
    if (!top || (el !== top && !el.contains(top))) {
      return `at (${Math.round(x)}, ${Math.round(y)}) ` + (top ? top.outerHTML.slice(0, 80) : "nothing");
    }
  }
  return "";
}"""


#: Every visible button, link, field and summary inside ``root`` whose box reaches past the window's
#: left or right edge (a menu clipped at the left scrolls nothing, so the scroll width misses it).
#: One in a box that scrolls sideways (a wide table) is reached by scrolling that box: the box
#: itself is measured instead.
OUTSIDE = """(root) => {
  const room = window.innerWidth;
  const out = [];
  const shown = (el) => el.checkVisibility({contentVisibilityAuto: true, visibilityProperty: true});
  const controls = "a[href], button, input:not([type=hidden]), select, textarea, summary";
  const scroller = (el) => {
    for (let box = el.parentElement; box && box !== document.body; box = box.parentElement) {
      if (["auto", "scroll"].includes(getComputedStyle(box).overflowX)) return box;
    }
    return null;
  };
  for (const el of root.querySelectorAll(controls)) {
    const r = (scroller(el) || el).getBoundingClientRect();
    if (r.width < 2 || r.height < 2 || !shown(el) || el.closest(".visually-hidden")) continue;
    if (r.left < -0.5 || r.right > room + 0.5) {
      const what = `${el.tagName.toLowerCase()} “${el.textContent.trim().slice(0, 40)}”`;
      out.push(`${what} at ${Math.round(r.left)}..${Math.round(r.right)}`);
    }
  }
  return out;
}"""


def _fits(page) -> str:
    """Empty when the document fits the window; otherwise what sticks out, for the failure message."""
    found = page.evaluate(OVERFLOW)
    if found["scroll"] <= found["room"]:
        return ""
    wide, room = found["scroll"], found["room"]
    return f"document {wide} px wide in a {room} px window; past its edge: {found['culprits']}"


def _violations(page) -> str:
    """Every axe-core violation on the page: its rule, impact, help and the elements at fault."""
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page)
    lines = []
    for violation in results.response["violations"]:
        lines.append(f"{violation['id']} ({violation['impact']}): {violation['help']}")
        for node in violation["nodes"]:
            checks = node["any"] + node["all"] + node["none"]
            why = checks[0]["message"] if checks else ""
            lines.append(f"  at {' '.join(map(str, node['target']))}: {why}")
    return "\n".join(lines)


def _cases(pages, xfails=None):
    """One case per page and window width, each marked xfail where ``xfails`` names a known fault."""
    xfails = xfails or {}
    cases = []
    for who, path in pages:
        for width in WIDTHS:
            reason = xfails.get((path, width)) or xfails.get((path, None))
            marks = [pytest.mark.xfail(reason=reason, strict=True)] if reason else []
            cases.append(
                pytest.param(who, width, path, id=f"{path}-{who or 'anonymous'}-{width}px", marks=marks)
            )
    return cases


#: Every page of the main menu, the admin menu and the account menu, the candidate's own pages,
#: and the login page; each opened by an account that may see it ("{candidate}": the shown one).
PAGES = (
    (MANAGER, "/"),
    (ADMIN, "/"),
    (MANAGER, "/candidates"),
    (ADMIN, "/candidates"),
    (MANAGER, "/candidates/{candidate}"),
    (MANAGER, "/candidates/{candidate}/emails/rejection/customize"),
    (MANAGER, "/candidates/new"),
    (MANAGER, "/candidates/import"),
    (MANAGER, "/positions"),
    (MANAGER, "/metrics"),
    (ADMIN, "/admin/users"),
    (ADMIN, "/admin/settings"),
    (ADMIN, "/admin/emails"),
    (ADMIN, "/admin/emails/rejection"),
    (ADMIN, "/admin/inbound"),
    (ADMIN, "/admin/sources"),
    (ADMIN, "/candidates/{candidate}"),
    (ADMIN, "/admin/candidates/{candidate}/erase"),
    (ADMIN, "/positions"),
    (ADMIN, "/positions/new"),
    (ADMIN, "/metrics"),
    (MANAGER, "/account/settings"),
    (MANAGER, "/account/password"),
    (None, "/login"),
    (None, f"/status/{STATUS_TOKEN}"),
)

#: The pages axe-core checks.
AXE_PAGES = (
    (MANAGER, "/"),
    (ADMIN, "/"),
    (MANAGER, "/candidates"),
    (MANAGER, "/candidates/{candidate}"),
    (MANAGER, "/candidates/{candidate}/emails/rejection/customize"),
    (MANAGER, "/metrics"),
    (ADMIN, "/admin/settings"),
    (MANAGER, "/account/settings"),
    (None, f"/status/{STATUS_TOKEN}"),
)

#: Known faults, (path, width or None for both) -> the violation: each case is a strict xfail naming
#: it until its page is fixed.
WIDTH_XFAILS: dict[tuple[str, int | None], str] = {}
AXE_XFAILS: dict[tuple[str, int | None], str] = {}


# --- the tests --------------------------------------------------------------------------------------


@pytest.mark.browser
@pytest.mark.parametrize(("who", "width", "path"), _cases(PAGES, WIDTH_XFAILS))
def test_the_page_is_no_wider_than_the_window(visit, who, width, path):
    page = visit(who, width, path)
    assert not _fits(page), f"{path} scrolls sideways: {_fits(page)}"
    outside = page.evaluate(OUTSIDE, page.locator("body").element_handle())
    assert outside == [], f"{path} at {width} px: controls outside the window: {outside}"


@pytest.mark.browser
@pytest.mark.parametrize(("who", "width", "path"), _cases(AXE_PAGES, AXE_XFAILS))
def test_axe_finds_no_accessibility_violation(visit, who, width, path):
    page = visit(who, width, path)
    found = _violations(page)
    assert not found, f"axe-core on {path} at {width} px:\n{found}"


@pytest.mark.browser
def test_on_a_phone_each_triage_row_is_a_card_with_its_state_and_main_button_in_view(visit):
    page = visit(MANAGER, 390, "/")
    rows = page.locator("table.table-triage tbody tr")
    assert rows.count() > 5, "the demo manager should have candidates waiting"
    for index in range(rows.count()):
        row = rows.nth(index)
        name = row.get_by_role("rowheader").get_by_role("link").inner_text().strip()
        assert row.evaluate("(tr) => getComputedStyle(tr).display") == "grid", f"{name}'s row is not a card"
        state = row.locator(".badge-state")
        answer = row.get_by_role("button", name=f"Send update {name}")
        for what, element in (("state", state), ("Send update button", answer)):
            problem = element.evaluate(IN_VIEW)
            assert not problem, f"{name}'s {what} is not in view at 390 px: {problem}"


@pytest.mark.browser
@pytest.mark.parametrize("width", WIDTHS)
def test_the_triage_and_candidate_pages_are_photographed(visit, width, tmp_path):
    for name, path in (("triage", "/"), ("candidate", "/candidates/{candidate}")):
        page = visit(MANAGER, width, path)
        page.screenshot(path=str(tmp_path / f"{name}-{width}.png"), full_page=True)
        assert (tmp_path / f"{name}-{width}.png").stat().st_size > 10_000


@pytest.mark.browser
def test_the_documentation_screenshots_are_taken_from_the_demo(visit, tmp_path):
    """The triage and candidate pages at 1280 px, one window high, for docs/img."""
    write = os.environ.get("FEEDBACK_SLA_WRITE_SCREENSHOTS") == "1"
    folder = DOCS_IMAGES if write else tmp_path
    for name, path in (("triage", "/"), ("candidate", "/candidates/{candidate}")):
        page = visit(MANAGER, 1280, path)
        page.screenshot(path=str(folder / f"{name}.png"))
        assert (folder / f"{name}.png").stat().st_size > 10_000


@pytest.mark.browser
@pytest.mark.parametrize("width", WIDTHS)
def test_a_rejection_undone_from_its_confirmation_leaves_the_candidate_waiting(visit, site, width):
    page = visit(MANAGER, width, "/")
    total = page.locator("[data-total]").get_attribute("data-total")
    row = page.locator("table.table-triage tbody tr").first
    candidate_id, state = row.get_attribute("data-candidate-id"), row.get_attribute("data-state")
    name = row.get_by_role("rowheader").get_by_role("link").inner_text().strip()

    row.locator("details.row-menu > summary").click()
    reject = row.get_by_role("button", name=f"Reject {name}", exact=True)
    if width < 768:  # on a phone, a second tap confirms
        assert not reject.is_visible()
        row.locator("details.row-menu summary").filter(has_text="Reject").click()
    assert reject.is_visible()
    assert not _fits(page), f"the open row menu scrolls sideways: {_fits(page)}"
    reject.click()
    confirmation = page.get_by_role("status").filter(has_text=f"Rejection to {name}")
    confirmation.filter(has_text="s left").wait_for()
    assert page.locator(f"tr[data-candidate-id='{candidate_id}']").count() == 0

    confirmation.get_by_role("button", name="Undo").click()
    page.get_by_role("status").filter(has_text=f"{name} is active again").wait_for()
    back = page.locator(f"tr[data-candidate-id='{candidate_id}']")
    assert back.get_attribute("data-state") == state
    assert page.locator("[data-total]").get_attribute("data-total") == total

    page.goto(f"{site.url}/candidates/{candidate_id}")
    assert page.locator("[data-field='status']").inner_text().strip() == "Active"


@pytest.mark.browser
def test_the_candidates_search_finds_a_rejected_candidate_whatever_the_case_and_accents(visit, site):
    page = visit(MANAGER, 390, "/candidates")
    page.get_by_label("Name or email").fill("chloe nakamura")
    page.get_by_role("button", name="Find").click()
    page.wait_for_url("**/candidates?*q=chloe+nakamura*")
    found = page.locator(f"tr[data-candidate='{site.rejected_id}']")
    assert found.get_by_role("link", name=REJECTED).is_visible()
    assert found.locator("[data-status]").get_attribute("data-status") == "rejected"
    assert not _fits(page), _fits(page)


@pytest.mark.browser
def test_manager_logs_a_call_and_the_candidate_leaves_the_overdue_list(chromium, site):
    context = chromium.new_context(viewport=WINDOWS[1280])
    try:
        page = context.new_page()
        _fill_login(page, site.url, MANAGER)
        page.get_by_role("heading", level=1).wait_for()

        overdue_rows = page.locator("tr[data-state='overdue']")
        assert overdue_rows.count() > 0, "the demo manager should have an overdue candidate"
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

        page.goto(f"{site.url}/?state=overdue")
        assert page.locator(f"tr[data-candidate-id='{candidate_id}']").count() == 0
    finally:
        context.close()
