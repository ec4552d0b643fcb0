"""The keyboard on the triage and candidates pages, in Chromium: j and k move from row to row, x
selects, u sends an update, r opens the rejection, o opens the candidate, / goes to the search and
? lists the keys; never while typing in a field or with a modifier key; the row the keyboard is on
is outlined and read out.

A manager rejects the most urgent candidate and sends an update to the next without the mouse:
every step is a key press, and no pointer event reaches the page.

Runs Chromium as ``test_browser`` does: outside CI, without it, these skip with the reason. The
server's clock is a Monday at 10:00 UTC in the week ahead, and ticks from there (a week ahead of
the browser's own clock at most, so the login cookie stays valid in the browser).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

import pytest
import sqlalchemy as sa
import time_machine

from feedback_sla import create_app
from feedback_sla.candidates.models import Candidate, Status
from feedback_sla.database import db
from feedback_sla.emails.checks import EmailRequest, new_idempotency_key
from feedback_sla.emails.config import EmailConfig
from feedback_sla.emails.models import EmailKind, OutboxMessage, OutboxStatus
from feedback_sla.settings import service as settings_service
from feedback_sla.waits import answers
from feedback_sla.waits import service as waits
from feedback_sla.worker import backend_for, deliver_due

from .factories import PASSWORD, PositionFactory, UserFactory
from .helpers import served
from .test_browser import WINDOWS, _log_in, _violations, chromium  # noqa: F401  (chromium: a fixture)

pytestmark = pytest.mark.browser

MANAGER = "keys.manager@example.com"
#: Waiting candidates by how long ago they applied (days): the most urgent first on the triage page.
APPLIED = {
    "Ada Achebe": 20,  # no word for 14 days: escalated
    "Bea Bianchi": 12,  # overdue
    "Cyd Costa": 9,  # given a status update two days ago: only updates so far
    "Dee Dorn": 2,
    "Eve Ekwueme": 1,
}
UPDATED = "Cyd Costa"


def _start() -> dt.datetime:
    """The Monday after today (as the run's clock has it), at 10:00 UTC."""
    today = dt.datetime.now(dt.UTC).date()
    monday = today + dt.timedelta(days=7 - today.weekday())
    return dt.datetime.combine(monday, dt.time(10), tzinfo=dt.UTC)


@dataclass(frozen=True)
class Site:
    url: str
    login: dict
    app: object


@pytest.fixture(scope="module")
def site(chromium, _schema, tmp_path_factory):  # noqa: F811
    """The manager's candidates, served for the module on a clock of its own; the undo window is
    an hour, so what a test queues is still queued when it looks."""
    config = {
        "TESTING": True,
        "SECRET_KEY": "test-secret-key-not-for-production",
        "SQLALCHEMY_DATABASE_URI": _schema,
        "RATELIMIT_ENABLED": False,
        "OUTBOX_UNDO_SECONDS": 3600,
    }
    with time_machine.travel(_start(), tick=True):
        with pytest.MonkeyPatch.context() as patch:
            patch.setenv("FEEDBACK_SLA_INSTANCE_PATH", str(tmp_path_factory.mktemp("instance")))
            app = create_app(config)
        with app.app_context():
            _seed(app)
        with served(app) as url:
            yield Site(url, _log_in(chromium, url, MANAGER, PASSWORD), app)
        with app.app_context():
            db.engine.dispose()


def _seed(app) -> None:
    with db.engine.begin() as conn:
        for table in reversed(db.metadata.sorted_tables):
            conn.execute(table.delete())
    now = dt.datetime.now(dt.UTC)
    settings = settings_service.load(db.session)
    manager = UserFactory(email=MANAGER, name="Kim Keys", time_zone="UTC")
    position = PositionFactory(manager=manager, title="Data Engineer", time_zone="UTC")
    db.session.flush()
    by_name = {}
    for name, days in APPLIED.items():
        address = name.split()[0].lower() + "@example.org"
        applied = now - dt.timedelta(days=days)
        by_name[name] = waits.add_candidate(db.session, position, name, address, applied, settings, now=now)
    config = EmailConfig.from_app(app)
    told_at = now - dt.timedelta(days=2)
    update = EmailRequest(
        by_name[UPDATED], EmailKind.UPDATE, new_idempotency_key(), told_at, manager, default_promise=True
    )
    answers.queue_email(db.session, update, config, settings)
    db.session.commit()
    sent_at = told_at + dt.timedelta(seconds=config.undo_seconds + 1)
    deliver_due(db.session, config, backend_for(app, config), clock=lambda: sent_at)
    db.session.commit()
    db.session.remove()


@pytest.fixture
def visit(chromium, site):  # noqa: F811
    """``visit(path, width)``: the manager's page in a window that wide, counting pointer events."""
    contexts = []

    def open_page(path: str = "/", width: int = 1280):
        context = chromium.new_context(viewport=WINDOWS[width], storage_state=site.login)
        # Every pointer or mouse event on any page of this window is counted: none is expected.
        context.add_init_script(
            "window.__pointer = 0; for (const kind of ['pointerdown', 'mousedown', 'click']) "
            "addEventListener(kind, (e) => { if (e.isTrusted && e.detail > 0) window.__pointer++; }, true);"
        )
        contexts.append(context)
        page = context.new_page()
        assert page.goto(site.url + path).ok
        return page

    yield open_page
    for context in contexts:
        context.close()


def _rows(page):
    return page.locator("[data-key-list] > tbody > tr")


def _name(row) -> str:
    return row.locator("a").first.inner_text().strip()


def _current(page) -> str:
    """The name on the row the keyboard is on ("" for none)."""
    return page.evaluate(
        "() => { const row = document.querySelector('[data-key-list] tr.key-current');"
        " return row ? row.querySelector('a').textContent.trim() : ''; }"
    )


def _said(page):
    return page.locator("[data-key-live]")


def _no_pointer(page) -> None:
    assert page.evaluate("window.__pointer") == 0, "a pointer event reached the page"


def _outbox(site, name: str) -> list[tuple[EmailKind, OutboxStatus]]:
    with site.app.app_context():
        rows = db.session.execute(
            sa.select(OutboxMessage.kind, OutboxMessage.status)
            .join(Candidate, Candidate.id == OutboxMessage.candidate_id)
            .where(Candidate.name == name)
            .order_by(OutboxMessage.id)
        ).all()
        db.session.remove()
    return [tuple(row) for row in rows]


def _status(site, name: str) -> Status:
    with site.app.app_context():
        status = db.session.scalar(sa.select(Candidate.status).where(Candidate.name == name))
        db.session.remove()
    return status


# --- the acceptance ---------------------------------------------------------------------------------


def test_keyboard_only_a_manager_rejects_the_most_urgent_and_updates_the_next(visit, site):
    page = visit("/")
    rows = _rows(page)
    most_urgent, next_one = _name(rows.nth(0)), _name(rows.nth(1))
    assert rows.nth(0).get_attribute("data-state") == "escalated"

    page.keyboard.press("j")
    assert _current(page) == most_urgent
    assert page.evaluate("document.activeElement.textContent.trim()") == most_urgent
    _said(page).filter(has_text=re.compile(f"^{most_urgent}, 1 of {rows.count()}, Escalated")).wait_for(
        state="attached"
    )

    # r opens the rejection: its email to read, and feedback to write if the manager wants.
    page.keyboard.press("r")
    page.wait_for_url(re.compile(r"/emails/rejection/customize"))
    assert page.get_by_role("heading", level=1).inner_text().endswith(most_urgent)
    _no_pointer(page)
    # Tab to the button that queues it, as a keyboard user does, and press Enter.
    for _ in range(80):
        page.keyboard.press("Tab")
        if page.evaluate(
            "document.activeElement.name === 'action' && document.activeElement.value === 'queue'"
        ):
            break
    else:
        pytest.fail("Tab never reached the button that queues the rejection")
    page.keyboard.press("Enter")
    page.get_by_role("status").filter(has_text=f"to {most_urgent} queued").wait_for()
    page.wait_for_load_state("domcontentloaded")  # the keys are app.js's: ready once it has run
    assert page.url.startswith(site.url + "/")
    _no_pointer(page)

    # Back on the triage page: the rejected candidate has left it; j goes to the next one, u sends
    # the update (the row's Send update, its confirmation and its Undo).
    assert page.locator("[data-key-list] a", has_text=most_urgent).count() == 0
    page.keyboard.press("j")
    assert _current(page) == next_one
    page.keyboard.press("u")
    page.get_by_role("status").filter(has_text=f"Status update to {next_one} queued").wait_for()
    page.wait_for_load_state("domcontentloaded")
    assert page.get_by_role("status").get_by_role("button", name="Undo").count() == 1
    _no_pointer(page)
    # The page comes back on the row acted on: the keys go on from there.
    assert _current(page) == next_one

    assert _status(site, most_urgent) == Status.REJECTED
    assert _outbox(site, most_urgent) == [(EmailKind.REJECTION, OutboxStatus.PENDING)]
    assert _outbox(site, next_one) == [(EmailKind.UPDATE, OutboxStatus.PENDING)]


# --- never while typing, never with a modifier -----------------------------------------------------


def test_typing_j_in_a_search_field_does_not_move_the_selection(visit):
    page = visit("/candidates")
    page.keyboard.press("/")
    assert page.evaluate("document.activeElement.id") == "f-q"  # the page's own search first
    page.keyboard.type("jjkx")
    assert page.get_by_label("Name or email").input_value() == "jjkx"
    assert _current(page) == ""
    assert page.locator("[data-bulk-row]:checked").count() == 0

    # In the top bar's search too; and a key with Ctrl, Alt or Cmd is never a shortcut.
    page.get_by_role("search", name="Search candidates").get_by_role("searchbox").focus()
    page.keyboard.type("j")
    assert _current(page) == ""
    page.locator("body").focus()
    page.evaluate("document.activeElement.blur()")
    for chord in ("Alt+j", "Control+k", "Meta+x"):
        page.keyboard.press(chord)
    assert _current(page) == ""
    assert page.locator("[data-bulk-row]:checked").count() == 0
    page.keyboard.press("j")
    assert _current(page) != ""


def test_j_in_the_log_a_call_note_stays_in_the_note(visit):
    page = visit("/")
    row = _rows(page).nth(2)
    row.locator("details.row-menu > summary").press("Enter")
    row.locator("details.row-menu summary").filter(has_text="Log a call").press("Enter")
    note = row.get_by_label("What you told them (optional)")
    note.focus()
    page.keyboard.type("jk ox")
    assert note.input_value() == "jk ox"
    assert _current(page) == ""


# --- the keys ---------------------------------------------------------------------------------------


def test_question_mark_shows_the_keys_and_escape_puts_the_focus_back(visit):
    page = visit("/")
    page.keyboard.press("j")
    before = page.evaluate("document.activeElement.textContent.trim()")
    page.keyboard.press("?")
    dialog = page.get_by_role("dialog", name="Keyboard shortcuts")
    dialog.wait_for()
    for key in ("j", "k", "x", "u", "r", "o", "/", "?"):
        assert dialog.locator("kbd", has_text=key).count() >= 1, f"{key} is not listed"
    assert page.evaluate("document.activeElement.textContent") == "Close"
    page.keyboard.press("j")  # the dialog is modal: keys do nothing behind it
    assert _current(page) == before
    found = _violations(page)
    assert not found, f"axe-core with the keys shown:\n{found}"
    page.keyboard.press("Escape")
    assert not dialog.is_visible()
    assert page.evaluate("document.activeElement.textContent.trim()") == before


def test_j_and_k_move_the_marked_row_and_stop_at_the_ends(visit):
    page = visit("/")
    names = [_name(row) for row in _rows(page).all()]
    page.keyboard.press("k")  # from nowhere: the first row
    assert _current(page) == names[0]
    page.keyboard.press("k")
    assert _current(page) == names[0]
    _said(page).filter(has_text="First candidate on this page").wait_for(state="attached")
    for name in names[1:]:
        page.keyboard.press("j")
        assert _current(page) == name
    page.keyboard.press("j")
    assert _current(page) == names[-1]
    _said(page).filter(has_text="Last candidate on this page").wait_for(state="attached")
    page.keyboard.press("k")
    assert _current(page) == names[-2]
    marked = page.locator("tr.key-current")
    assert marked.evaluate("(tr) => getComputedStyle(tr).outlineStyle") == "solid"
    assert page.locator("[data-key-live]").get_attribute("aria-live") == "polite"


def test_the_marked_row_of_an_update_says_only_updates_so_far(visit):
    page = visit("/")
    names = [_name(row) for row in _rows(page).all()]
    for _ in range(names.index(UPDATED) + 1):
        page.keyboard.press("j")
    assert _current(page) == UPDATED
    _said(page).filter(has_text=f"{UPDATED}, ").filter(has_text="only updates so far").wait_for(
        state="attached"
    )


def test_x_selects_and_r_then_asks_to_confirm_the_rejection_of_the_selected(visit):
    page = visit("/")
    page.keyboard.press("j")
    page.keyboard.press("x")
    page.keyboard.press("j")
    page.keyboard.press("x")
    assert page.locator("[data-bulk-row]:checked").count() == 2
    assert page.locator("[data-bulk-count]").inner_text().startswith("2 selected")
    page.keyboard.press("x")  # again: no longer selected
    assert page.locator("[data-bulk-row]:checked").count() == 1
    page.keyboard.press("x")
    page.keyboard.press("r")
    page.wait_for_url(re.compile(r"/emails/bulk\?"))
    assert "kind=rejection" in page.url
    assert page.url.count("candidate=") == 2
    _no_pointer(page)


def test_o_opens_the_candidate(visit):
    page = visit("/")
    second = _name(_rows(page).nth(1))
    page.keyboard.press("j")
    page.keyboard.press("j")
    page.keyboard.press("o")
    page.get_by_role("heading", level=1, name=second).wait_for()
    _no_pointer(page)


def test_on_the_candidates_list_r_opens_the_rejection_of_the_candidate(visit):
    page = visit("/candidates")
    first = _name(_rows(page).nth(0))
    page.keyboard.press("j")
    assert _current(page) == first
    page.keyboard.press("r")
    page.wait_for_url(re.compile(r"/emails/rejection/customize\?next=/candidates"))
    assert page.get_by_role("heading", level=1).inner_text().endswith(first)


def test_on_a_phone_slash_opens_the_menu_and_goes_to_the_top_bar_search(visit):
    from playwright.sync_api import expect  # here: without Playwright the module still loads, and skips

    page = visit("/", 390)
    page.keyboard.press("/")
    search = page.get_by_role("search", name="Search candidates").get_by_role("searchbox")
    search.wait_for()
    expect(search).to_be_focused()
    page.keyboard.type("jo")
    assert search.input_value() == "jo"
    assert _current(page) == ""


def test_r_on_a_row_that_offers_the_update_first_opens_its_rejection_too(visit):
    page = visit("/")
    names = [_name(row) for row in _rows(page).all()]
    fresh = "Dee Dorn"  # on track, nobody told anything yet: Send update first, the rejection in More
    assert _rows(page).nth(names.index(fresh)).locator("[data-decision]").count() == 0
    for _ in range(names.index(fresh) + 1):
        page.keyboard.press("j")
    assert _current(page) == fresh
    page.keyboard.press("r")
    page.wait_for_url(re.compile(r"/emails/rejection/customize\?next=/"))
    assert page.get_by_role("heading", level=1).inner_text().endswith(fresh)
    _no_pointer(page)
