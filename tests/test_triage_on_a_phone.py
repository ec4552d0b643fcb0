"""The triage page as a hiring manager uses it, at 390 px (a phone) and 1280 px (a laptop).

Its rows carry what makes a card hard to lay out: a queued update with its Undo, a failed email
with the mail server's long refusal, a bounce with its reason, an email being sent, a long name and
a long position. Boxes are measured, not only the page's scroll width (a menu clipped at the left
edge scrolls nothing): every visible button, link and field, and every menu once opened, lies
wholly inside the window; no text in a row is squeezed narrower than a dozen characters; and after
Log a call, Offer or Reject on a row below the fold, the confirmation and its Undo are in view.

Runs Chromium as ``test_browser`` does: outside CI, without it, these skip with the reason.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

import pytest
import sqlalchemy as sa

from feedback_sla import create_app, demo
from feedback_sla.accounts.models import User
from feedback_sla.database import db
from feedback_sla.emails.checks import EmailRequest, new_idempotency_key
from feedback_sla.emails.config import EmailConfig
from feedback_sla.emails.models import EmailKind, OutboxStatus
from feedback_sla.positions.service import create_position
from feedback_sla.settings import service as settings_service
from feedback_sla.timeutil import utcnow
from feedback_sla.waits import answers
from feedback_sla.waits import service as waits

from .helpers import served
from .test_browser import (  # noqa: F401  (chromium: a fixture)
    MANAGER,
    OUTSIDE,
    WIDTHS,
    WINDOWS,
    _fits,
    _log_in,
    _violations,
    chromium,
)

pytestmark = pytest.mark.browser

LONG_NAME = "Maximiliane Oberhuber-Schmidt von Hohenberg-Wittelsbach"
LONG_POSITION = "Senior Backend Engineer, Payments Platform (Remote, Europe, Middle East and Africa)"
#: What a mail server really answers, without a space for a long stretch.
REFUSAL = (
    "550 5.1.1 <maximiliane.oberhuber-schmidt@personalabteilung-muenchen.example.com>: "
    "Recipient address rejected"
)
BOUNCE = "RecipientNotFound: the mailbox personalabteilung-muenchen.example.com/obersch does not exist"
#: Row candidates, by what their row shows besides their wait.
WITH_EMAIL = {
    "queued": LONG_NAME,
    "failed": "Ngozi Adebayo-Okonkwo",
    "bounced": "Søren Kierkegaard-Østergaard",
    "sending": "Thandiwe Mbeki-Nkosi",
}


# --- what the tests measure -----------------------------------------------------------------------

#: Where an opened menu lies once scrolled into view: empty when it is wholly inside the window.
MENU_OUTSIDE = """(menu) => {
  menu.scrollIntoView({block: "nearest", behavior: "instant"});
  const r = menu.getBoundingClientRect();
  const [w, h] = [window.innerWidth, window.innerHeight];
  if (r.left < -0.5 || r.top < -0.5 || r.right > w + 0.5 || r.bottom > h + 0.5) {
    const [x1, x2, y1, y2] = [r.left, r.right, r.top, r.bottom].map(Math.round);
    return `menu at x ${x1}..${x2}, y ${y1}..${y2} in a ${w}×${h} window`;
  }
  return "";
}"""

#: Text in a row that wraps in lines narrower than about a dozen characters (half an em each):
#: the name printed one letter per line of a squeezed card.
SQUEEZED = """(row) => {
  const found = [];
  const walker = document.createTreeWalker(row, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const text = node.textContent.trim();
    const parent = node.parentElement;
    if (text.length < 12 || parent.closest(".visually-hidden")) continue;
    if (!parent.checkVisibility({contentVisibilityAuto: true, visibilityProperty: true})) continue;
    const range = document.createRange();
    range.selectNodeContents(node);
    const lines = [...range.getClientRects()].filter((r) => r.width > 0);
    if (lines.length < 2) continue;
    const widest = Math.max(...lines.map((r) => r.width));
    const enough = 12 * 0.5 * parseFloat(getComputedStyle(parent).fontSize);
    if (widest < enough) found.push(`“${text.slice(0, 30)}” in lines ${Math.round(widest)} px wide`);
  }
  return found;
}"""

#: Whether an element lies wholly inside the window as the page now stands (no scrolling).
SHOWN = """(el) => {
  const r = el.getBoundingClientRect();
  if (!r.width || !r.height) return "not displayed";
  const [w, h] = [window.innerWidth, window.innerHeight];
  if (r.top < -0.5 || r.left < -0.5 || r.bottom > h + 0.5 || r.right > w + 0.5) {
    const [x1, x2, y1, y2] = [r.left, r.right, r.top, r.bottom].map(Math.round);
    return `at x ${x1}..${x2}, y ${y1}..${y2} in a ${w}×${h} window`;
  }
  const top = document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2);
  if (top && (el === top || el.contains(top))) return "";
  return "covered by " + (top ? top.outerHTML.slice(0, 80) : "nothing");
}"""


# --- the organisation ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Site:
    url: str
    login: dict


@pytest.fixture(scope="module")
def site(chromium, _schema, tmp_path_factory):  # noqa: F811
    """The demo organisation and the hard rows, served for the module; the undo window is an
    hour, so a queued email is still queued when a test looks at it."""
    config = {
        "TESTING": True,
        "SECRET_KEY": "test-secret-key-not-for-production",
        "SQLALCHEMY_DATABASE_URI": _schema,
        "RATELIMIT_ENABLED": False,
        "OUTBOX_UNDO_SECONDS": 3600,
    }
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("FEEDBACK_SLA_INSTANCE_PATH", str(tmp_path_factory.mktemp("instance")))
        app = create_app(config)
    with app.app_context():
        _seed(app)
    with served(app) as url:
        yield Site(url, _log_in(chromium, url, MANAGER))
    with app.app_context():
        db.engine.dispose()


def _seed(app) -> None:
    with db.engine.begin() as conn:
        for table in reversed(db.metadata.sorted_tables):
            conn.execute(table.delete())
    now = utcnow()
    demo.seed(db.session, now)
    settings = settings_service.load(db.session)
    maria = db.session.scalar(sa.select(User).where(User.email == MANAGER))
    position = create_position(db.session, LONG_POSITION, maria)
    config = EmailConfig.from_app(app)
    for status, name in WITH_EMAIL.items():
        local = name.split()[0].lower()
        candidate = waits.add_candidate(
            db.session, position, name, f"{local}@example.org", now - dt.timedelta(days=20), settings, now=now
        )
        update = EmailRequest(
            candidate, EmailKind.UPDATE, new_idempotency_key(), now, maria, default_promise=True
        )
        message = answers.queue_email(db.session, update, config, settings)
        if status == "failed":
            message.status, message.failed_at, message.last_error = OutboxStatus.FAILED, now, REFUSAL
        elif status == "bounced":
            message.status, message.sent_at, message.bounced_at = OutboxStatus.BOUNCED, now, now
            message.bounce_reason = BOUNCE
        elif status == "sending":
            message.status = OutboxStatus.SENDING
    db.session.commit()
    db.session.remove()


@pytest.fixture
def triage(chromium, site):  # noqa: F811
    """``triage(width)``: the manager's triage page in a window that wide."""
    contexts = []

    def open_page(width: int, path: str = "/"):
        context = chromium.new_context(viewport=WINDOWS[width], storage_state=site.login)
        contexts.append(context)
        page = context.new_page()
        assert page.goto(site.url + path).ok
        return page

    yield open_page
    for context in contexts:
        context.close()


def _row(page, name: str):
    return page.locator("table.table-triage tbody tr").filter(
        has=page.get_by_role("rowheader").get_by_role("link", name=name, exact=True)
    )


# --- the tests --------------------------------------------------------------------------------------


@pytest.mark.parametrize("width", WIDTHS)
def test_the_hard_rows_are_on_the_page_with_their_emails(triage, width):
    page = triage(width)
    for status, name in WITH_EMAIL.items():
        row = _row(page, name)
        assert row.count() == 1, f"{name} is not on the triage page"
        assert row.locator(f"[data-row-email='{'pending' if status == 'queued' else status}']").count() == 1
    assert _row(page, LONG_NAME).get_by_text(LONG_POSITION).count() == 1
    # An update already queued or being sent is not offered again; a failed or bounced one is.
    for status, name in WITH_EMAIL.items():
        offered = _row(page, name).get_by_role("button", name=f"Send update {name}").count()
        assert offered == (status in ("failed", "bounced")), f"{name} ({status}): Send update {offered}×"
    assert _row(page, LONG_NAME).get_by_text("Update on its way").is_visible()


@pytest.mark.parametrize("width", WIDTHS)
def test_every_control_lies_inside_the_window(triage, width):
    page = triage(width)
    assert not _fits(page), _fits(page)
    assert page.evaluate(OUTSIDE, page.locator("body").element_handle()) == []


@pytest.mark.parametrize("width", WIDTHS)
def test_axe_finds_no_accessibility_violation_with_a_menu_and_its_steps_open(triage, width):
    page = triage(width)
    row = _row(page, LONG_NAME)
    row.locator("details.row-menu > summary").click()
    row.locator("details.row-menu summary").filter(has_text="Log a call").click()
    found = _violations(page)
    assert not found, f"axe-core on the triage page at {width} px:\n{found}"


@pytest.mark.parametrize("width", WIDTHS)
def test_every_row_menu_opens_wholly_inside_the_window(triage, width):
    page = triage(width)
    rows = page.locator("table.table-triage tbody tr")
    outside = {}
    for index in range(rows.count()):
        row = rows.nth(index)
        name = row.get_by_role("rowheader").get_by_role("link").inner_text().strip()
        row.locator("details.row-menu > summary").click()
        menu = row.locator("details.row-menu[open] > .menu-list")
        where = menu.evaluate(MENU_OUTSIDE)
        clipped = menu.evaluate(OUTSIDE)
        if where or clipped:
            outside[name] = (where, clipped)
        row.locator("details.row-menu > summary").click()  # closed again
    assert outside == {}, f"menus outside a {width} px window: {outside}"


@pytest.mark.parametrize("width", WIDTHS)
def test_the_account_and_admin_menus_open_inside_the_window(triage, width):
    page = triage(width)
    if width < 768:
        page.get_by_role("button", name="Toggle navigation").click()
        page.locator("#nav.show").wait_for()  # opened, not still sliding open
    summary = page.locator("details.nav-menu > summary").last
    summary.wait_for(state="visible")
    summary.click()
    menu = page.locator("details.nav-menu[open] > .menu-list")
    assert menu.evaluate(MENU_OUTSIDE) == ""
    assert menu.evaluate(OUTSIDE) == []


@pytest.mark.parametrize("width", WIDTHS)
def test_no_row_squeezes_its_text(triage, width):
    page = triage(width)
    rows = page.locator("table.table-triage tbody tr")
    squeezed = {}
    for index in range(rows.count()):
        row = rows.nth(index)
        found = row.evaluate(SQUEEZED)
        if found:
            squeezed[row.get_by_role("rowheader").get_by_role("link").inner_text().strip()] = found
    assert squeezed == {}, f"text squeezed at {width} px: {squeezed}"


def test_on_a_phone_a_card_with_emails_stays_as_short_as_its_text(triage):
    """A card with a failed or bounced email grows by a few lines, not by a letter per line."""
    page = triage(390)
    for name in WITH_EMAIL.values():
        height = _row(page, name).evaluate("(tr) => tr.getBoundingClientRect().height")
        assert height < 480, f"{name}'s card is {height:.0f} px tall"


def test_on_a_phone_the_filters_wait_behind_a_disclosure_and_the_first_card_is_near_the_top(triage):
    page = triage(390)
    assert not page.get_by_label("Sort by").is_visible()
    first = page.locator("table.table-triage tbody tr").first
    top = first.evaluate("(tr) => tr.getBoundingClientRect().top")
    # What comes above the cards besides the filters: the emails to check (here a failed and a
    # bounced one) and the bar that answers many at once.
    above = page.locator("[data-attention], [data-bulk-form]").evaluate_all(
        "(boxes) => boxes.reduce((sum, box) => sum + box.getBoundingClientRect().height, 0)"
    )
    assert top - above < 844 / 2, (
        f"the first card starts {top:.0f} px down ({above:.0f} px of emails and bar)"
    )
    page.get_by_text("Filter and sort").click()
    assert page.get_by_label("Sort by").is_visible()


def test_on_a_wide_screen_the_filters_are_shown(triage):
    page = triage(1280)
    assert page.get_by_label("Sort by").is_visible()
    assert not page.get_by_text("Filter and sort").is_visible()


#: What each action says once done, and once undone.
SAID = {
    "update": ("Status update to {} queued", "Undone: the status update"),
    "call": ("Logged contact with {}", "Undone: the"),
    "offer": ("to {} queued", "Undone: the offer"),
    "rejection": ("to {} queued", "Undone: the rejection"),
}


def _act(page, row, name: str, action: str, width: int) -> None:
    """Open the row's menu and answer: a call with a note; an offer or a rejection, confirmed on
    a phone, where the first item under the thumb is neither."""
    if action == "update":
        row.get_by_role("button", name=f"Send update {name}").click()
        return
    row.locator("details.row-menu > summary").click()
    menu = row.locator("details.row-menu[open] > .menu-list")
    first = menu.locator(":scope > li").filter(visible=True).first.inner_text()
    assert not first.startswith(("Reject", "Offer")), f"the first item of {name}'s menu is {first!r}"
    if action == "call":
        menu.locator("summary").filter(has_text="Log a call").click()
        menu.get_by_label("What you told them (optional)").fill("Told her we decide on Friday.")
        menu.get_by_role("button", name=f"Log the call with {name}").click()
        return
    label = "Offer the job" if action == "offer" else "Reject"
    button = menu.get_by_role("button", name=f"{label} {name}", exact=True)
    if width < 768:
        assert not button.is_visible(), f"{label} is one tap on a phone"
        menu.locator("summary").filter(has_text=label).click()
    button.click()


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("action", SAID)
def test_after_an_answer_below_the_fold_its_confirmation_and_undo_are_in_view(triage, width, action):
    page = triage(width)
    rows = page.locator("table.table-triage tbody tr")
    row = rows.nth(rows.count() - 3)
    name = row.get_by_role("rowheader").get_by_role("link").inner_text().strip()
    assert row.evaluate("(tr) => tr.getBoundingClientRect().top") > WINDOWS[width]["height"]
    _act(page, row, name, action, width)

    done, undone = SAID[action]
    confirmation = page.get_by_role("status").filter(has_text=done.format(name))
    confirmation.wait_for()
    page.wait_for_load_state("load")
    assert page.evaluate("window.scrollY") > WINDOWS[width]["height"], "the page went back to its top"
    assert confirmation.evaluate(SHOWN) == "", f"the confirmation is out of view: {confirmation.inner_text()}"
    undo = confirmation.get_by_role("button", name="Undo")
    assert undo.evaluate(SHOWN) == "", "the Undo is out of view"
    # The same Undo once: not again on the row or in the emails to check.
    assert page.get_by_role("button", name="Undo", exact=True).filter(visible=True).count() == 1
    assert page.get_by_role("button", name=re.compile(f"^Undo .*{re.escape(name)}")).count() == 0

    undo.click()
    page.get_by_role("status").filter(has_text=undone).wait_for()
    _row(page, name).wait_for()  # waiting again, on its row


@pytest.mark.parametrize("width", WIDTHS)
def test_a_rejection_from_the_candidate_page_is_confirmed_on_a_phone_and_lands_back_there(triage, width):
    page = triage(width)
    link = page.locator("table.table-triage tbody tr").nth(6).get_by_role("rowheader").get_by_role("link")
    name = link.inner_text().strip()
    link.click()
    page.get_by_role("heading", level=1, name=name).wait_for()
    # Styled, not only parsed: before its stylesheets apply, a phone page shows the wide one's buttons.
    page.wait_for_load_state("load")
    here = page.url
    actions = page.locator("[data-email-actions]")
    if width < 768:
        assert not actions.get_by_role("button", name="Reject", exact=True).is_visible()
        actions.locator("summary").filter(has_text="Reject").click()
        actions.get_by_role("button", name=f"Reject {name}", exact=True).click()
    else:
        actions.get_by_role("button", name="Reject", exact=True).click()
    confirmation = page.get_by_role("status").filter(has_text=f"Rejection to {name} queued")
    confirmation.wait_for()
    assert page.url == here, "the answer did not come back to the candidate's page"
    assert confirmation.evaluate(SHOWN) == ""
    assert page.get_by_role("button", name="Undo").filter(visible=True).count() == 1, "Undo shown twice"
    confirmation.get_by_role("button", name="Undo").click()
    page.get_by_role("status").filter(has_text="Undone: the rejection").wait_for()


@pytest.mark.parametrize("width", WIDTHS)
def test_without_javascript_more_opens_the_row_menu_in_place_and_a_call_is_logged(chromium, site, width):  # noqa: F811
    """The page carries one menu for app.js to fill in on each row; without JavaScript a row's More
    leads to the page with that row's menu in place, and its answers post as with it."""
    context = chromium.new_context(
        viewport=WINDOWS[width], storage_state=site.login, java_script_enabled=False
    )
    try:
        page = context.new_page()
        assert page.goto(site.url + "/").ok
        row = page.locator("table.table-triage tbody tr").nth(2)
        name = row.get_by_role("rowheader").get_by_role("link").inner_text().strip()
        row.locator("details.row-menu > summary").click()
        row.get_by_role("link", name=re.compile(f"^Log a call, offer or reject {re.escape(name)}")).click()
        page.wait_for_url(re.compile(r"menu=\d+#row-\d+$"))
        candidate_id = page.url.rsplit("#row-", 1)[1]
        menu = _row(page, name).locator("details.row-menu[open] > .menu-list")
        assert menu.evaluate(MENU_OUTSIDE) == ""
        menu.locator("summary").filter(has_text="Log a call").click()
        menu.get_by_label("What you told them (optional)").fill("Told her we decide on Friday.")
        menu.get_by_role("button", name=f"Log the call with {name}").click()
        confirmation = page.get_by_role("status").filter(has_text=f"Logged contact with {name}")
        confirmation.wait_for()
        assert "menu=" not in page.url and page.url.endswith(f"#row-{candidate_id}")
        confirmation.get_by_role("button", name="Undo").click()
        page.get_by_role("status").filter(has_text="Undone: the").wait_for()
        _row(page, name).wait_for()  # waiting again, on its row
    finally:
        context.close()
