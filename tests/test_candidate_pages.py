"""Candidate pages and the triage page in the browser: what a manager sees and what each action writes."""

from __future__ import annotations

import datetime as dt
import io
import re
from html.parser import HTMLParser
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
import time_machine
from flask import current_app, url_for

from feedback_sla.database import db
from feedback_sla.emails.checks import EmailRequest
from feedback_sla.emails.config import EmailConfig
from feedback_sla.emails.models import EmailKind, OutboxMessage, OutboxStatus
from feedback_sla.models import Candidate, Event, EventKind, Role, Status, WaitReason
from feedback_sla.timeutil import DISPLAY_FORMAT, local_time_in, utcnow
from feedback_sla.waits import answers, service
from feedback_sla.waits.clock import OrgSettings
from feedback_sla.waits.models import Wait
from feedback_sla.web.candidates.forms import ContactForm, NoteForm, StageForm, WithdrawForm
from feedback_sla.web.candidates.page import SHOWN_MAX, Shown
from feedback_sla.web.forms import PromiseForm

from .factories import PASSWORD, PositionFactory, UserFactory
from .helpers import count_statements
from .helpers import logged_in as login
from .test_browser import CHROMIUM, _browser_or_skip, live_server  # noqa: F401  (live_server: a fixture)

UTC = dt.UTC
SETTINGS = OrgSettings()
#: Monday 16 November 2026, 09:00 UTC: an application now is due Monday 23rd at 18:00.
MONDAY = dt.datetime(2026, 11, 16, 9, 0, tzinfo=UTC)


def page(client, url: str) -> str:
    response = client.get(url)
    assert response.status_code == 200, (url, response.status_code)
    return response.get_data(as_text=True)


def triage_ids(html: str) -> list[int]:
    return [int(i) for i in re.findall(r'data-candidate-id="(\d+)"', html)]


def waits_of(candidate_id: int) -> list[Wait]:
    return list(
        db.session.scalars(sa.select(Wait).where(Wait.candidate_id == candidate_id).order_by(Wait.id))
    )


def open_wait(candidate_id: int) -> Wait | None:
    return db.session.scalar(
        sa.select(Wait).where(Wait.candidate_id == candidate_id, Wait.closed_at.is_(None))
    )


def events_of(candidate_id: int) -> list[Event]:
    return list(
        db.session.scalars(sa.select(Event).where(Event.candidate_id == candidate_id).order_by(Event.id))
    )


def count(model) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(model))


@pytest.fixture
def traveller():
    with time_machine.travel(MONDAY, tick=False) as traveller:
        yield traveller


@pytest.fixture
def manager(session):
    return UserFactory(name="Maria Manager")


@pytest.fixture
def position(manager):
    return PositionFactory(manager=manager, title="Backend engineer", time_zone="UTC")


@pytest.fixture
def candidate(session, traveller, position):
    applicant = service.add_candidate(session, position, "Ana Okafor", "ana@example.com", MONDAY, SETTINGS)
    session.commit()
    return applicant


@pytest.fixture
def logged_in(client, manager, candidate):
    login(client, manager)
    return client


# --- the candidate page ------------------------------------------------------------------------


def test_candidate_page_shows_details_open_wait_and_timeline(logged_in, candidate):
    html = page(logged_in, f"/candidates/{candidate.id}")
    assert html.count("<h1") == 1
    assert "Ana Okafor</h1>" in html
    assert "ana@example.com" in html
    assert "Backend engineer" in html and "Maria Manager" in html
    assert 'data-field="stage">Applied<' in html
    assert 'data-field="status">Active<' in html
    assert 'data-open-wait="application"' in html
    assert "Waiting for: application" in html
    assert ">On track<" in html
    assert "Due in 5 business days · Mon 23 Nov 2026, 18:00 UTC" in html
    assert "Mon 16 Nov 2026, 09:00 UTC" in html  # opened, in the viewer's zone, zone named
    assert 'data-event="created"' in html
    assert "opened a wait: application" in html


def test_times_are_shown_in_the_viewers_zone(client, session, traveller, candidate):
    viewer = UserFactory(role=Role.ADMIN, time_zone="Europe/Berlin")
    session.commit()
    login(client, viewer)
    html = page(client, f"/candidates/{candidate.id}")
    assert "Mon 23 Nov 2026, 19:00 Europe/Berlin" in html
    assert "Times in Europe/Berlin" in html


def test_log_contact_closes_the_wait_and_the_candidate_leaves_triage(logged_in, candidate):
    assert candidate.id in triage_ids(page(logged_in, "/"))

    response = logged_in.post(
        f"/candidates/{candidate.id}/contact",
        data={"channel": "phone", "note": "Told her we decide on Friday", "next": "/?stage=applied"},
    )
    assert response.status_code == 302
    assert response.location == "/?stage=applied"

    [wait] = waits_of(candidate.id)
    assert wait.closed_at == MONDAY
    closing = db.session.get(Event, wait.closed_by_event_id)
    assert (closing.kind, closing.channel, closing.body) == (
        EventKind.CONTACT_LOGGED,
        "phone",
        "Told her we decide on Friday",
    )
    triage = page(logged_in, "/?stage=applied")
    assert "Logged contact with Ana Okafor (phone call): their wait is closed." in triage
    assert candidate.id not in triage_ids(triage)

    html = page(logged_in, f"/candidates/{candidate.id}")
    assert "Nobody owes Ana Okafor an answer right now." in html
    assert "Contact logged</strong> · Phone call" in html
    assert "Told her we decide on Friday" in html
    assert "closed the application wait" in html
    assert 'data-closed-wait="application"' in html and ">On time<" in html


def test_contact_by_email_outside_the_app_is_a_channel(logged_in, candidate):
    logged_in.post(f"/candidates/{candidate.id}/contact", data={"channel": "email"})
    assert open_wait(candidate.id) is None
    assert events_of(candidate.id)[-1].channel == "email"


def test_an_unknown_channel_is_refused_and_nothing_is_written(logged_in, candidate):
    response = logged_in.post(f"/candidates/{candidate.id}/contact", data={"channel": "pigeon"})
    assert response.status_code == 422
    assert "How they heard from you: Not a valid choice" in response.get_data(as_text=True)
    assert open_wait(candidate.id) is not None
    assert len(events_of(candidate.id)) == 1


def test_a_note_leaves_the_wait_open(logged_in, candidate):
    response = logged_in.post(
        f"/candidates/{candidate.id}/note", data={"body": "Strong on SQL"}, follow_redirects=True
    )
    html = response.get_data(as_text=True)
    assert "Notes are internal" in html
    assert "Internal note</strong>" in html and "Strong on SQL" in html
    assert open_wait(candidate.id) is not None
    assert candidate.id in triage_ids(page(logged_in, "/"))
    assert events_of(candidate.id)[-1].body == "Strong on SQL"


def test_an_empty_note_is_refused(logged_in, candidate):
    response = logged_in.post(f"/candidates/{candidate.id}/note", data={"body": "   "})
    assert response.status_code == 422
    assert "Internal note: write some text" in response.get_data(as_text=True)
    assert len(events_of(candidate.id)) == 1


def test_interview_held_opens_a_decision_wait(logged_in, candidate):
    response = logged_in.post(f"/candidates/{candidate.id}/interview", follow_redirects=True)
    html = response.get_data(as_text=True)
    assert "A decision is owed, due in 3 business days (Thu 19 Nov 2026, 18:00 UTC)." in html
    assert "Waiting for: decision after interview" in html

    application, decision = waits_of(candidate.id)
    assert application.reason == WaitReason.APPLICATION and application.closed_at == MONDAY
    assert decision.reason == WaitReason.DECISION and decision.closed_at is None
    assert decision.due_at == dt.datetime(2026, 11, 19, 18, tzinfo=UTC)
    triage = page(logged_in, "/")
    assert "decision after interview" in triage


def test_followed_up_twice_shows_escalated_on_triage(logged_in, candidate):
    first = logged_in.post(f"/candidates/{candidate.id}/followed-up", data={"next": "/"})
    assert first.location == "/"
    html = page(logged_in, "/")
    assert re.search(rf'data-candidate-id="{candidate.id}" data-state="on_track"', html)
    assert "Ana Okafor followed up (once during this wait)." in html

    logged_in.post(f"/candidates/{candidate.id}/followed-up", data={"next": "/"})
    html = page(logged_in, "/")
    assert re.search(rf'data-candidate-id="{candidate.id}" data-state="escalated"', html)
    assert "The wait is escalated." in html
    assert open_wait(candidate.id).follow_ups == 2

    detail = page(logged_in, f"/candidates/{candidate.id}")
    assert 'data-field="follow-ups">2<' in detail
    assert ">Escalated<" in detail


def test_a_follow_up_with_no_open_wait_opens_a_reply_wait(logged_in, candidate):
    logged_in.post(f"/candidates/{candidate.id}/contact", data={"channel": "meeting"})
    response = logged_in.post(f"/candidates/{candidate.id}/followed-up", follow_redirects=True)
    assert "A reply is owed, due in 2 business days" in response.get_data(as_text=True)
    assert open_wait(candidate.id).reason == WaitReason.FOLLOW_UP


def test_moving_the_stage_is_internal(logged_in, candidate):
    response = logged_in.post(
        f"/candidates/{candidate.id}/stage", data={"stage": "screen"}, follow_redirects=True
    )
    html = response.get_data(as_text=True)
    assert "Moved Ana Okafor from applied to screen." in html
    assert 'data-field="stage">Screen<' in html
    assert "applied → screen" in html
    assert db.session.get(Candidate, candidate.id).stage == "screen"
    assert open_wait(candidate.id).reason == WaitReason.APPLICATION


def test_moving_to_the_same_or_an_unknown_stage_is_refused(logged_in, candidate):
    same = logged_in.post(f"/candidates/{candidate.id}/stage", data={"stage": "applied"})
    assert same.status_code == 409
    assert "already at stage applied" in same.get_data(as_text=True)
    unknown = logged_in.post(f"/candidates/{candidate.id}/stage", data={"stage": "limbo"})
    assert unknown.status_code == 422
    assert len(events_of(candidate.id)) == 1


def test_a_promise_moves_the_deadline_and_can_be_cleared(logged_in, candidate):
    response = logged_in.post(
        f"/candidates/{candidate.id}/promise", data={"promised_date": "2026-11-18"}, follow_redirects=True
    )
    html = response.get_data(as_text=True)
    assert "Promised Ana Okafor an answer by Wed 18 Nov 2026" in html
    assert 'data-field="promised">Wed 18 Nov 2026<' in html
    assert "None → 2026-11-18".lower() in html.lower()
    assert open_wait(candidate.id).due_at == dt.datetime(2026, 11, 18, 18, tzinfo=UTC)

    logged_in.post(f"/candidates/{candidate.id}/promise", data={"promised_date": ""})
    wait = open_wait(candidate.id)
    assert wait.promised_date is None
    assert wait.due_at == dt.datetime(2026, 11, 23, 18, tzinfo=UTC)
    assert "2026-11-18 → none" in page(logged_in, f"/candidates/{candidate.id}")


def test_a_promise_in_the_past_is_refused_naming_the_field(logged_in, candidate):
    response = logged_in.post(f"/candidates/{candidate.id}/promise", data={"promised_date": "2026-11-13"})
    assert response.status_code == 422
    assert "Promised an answer by: 2026-11-13 is in the past" in response.get_data(as_text=True)
    wait = open_wait(candidate.id)
    assert wait.promised_date is None and len(events_of(candidate.id)) == 1


def test_a_promise_without_an_open_wait_is_refused(logged_in, candidate):
    logged_in.post(f"/candidates/{candidate.id}/contact", data={"channel": "phone"})
    response = logged_in.post(f"/candidates/{candidate.id}/promise", data={"promised_date": "2026-11-20"})
    assert response.status_code == 409
    assert "Ana Okafor is not waiting for an answer" in response.get_data(as_text=True)
    assert [e.kind for e in events_of(candidate.id)] == [EventKind.CREATED, EventKind.CONTACT_LOGGED]


def test_edit_changes_name_and_email(logged_in, candidate):
    assert 'value="ana@example.com"' in page(logged_in, f"/candidates/{candidate.id}/edit")
    response = logged_in.post(
        f"/candidates/{candidate.id}/edit",
        data={"name": " Ana O. Okafor ", "email": "Ana.Okafor@Example.com"},
    )
    assert response.status_code == 302
    saved = db.session.get(Candidate, candidate.id)
    assert (saved.name, saved.email) == ("Ana O. Okafor", "ana.okafor@example.com")


def test_edit_refuses_a_duplicate_email_in_the_same_position(logged_in, session, candidate, position):
    other = service.add_candidate(session, position, "Ben Berg", "ben@example.com", MONDAY, SETTINGS)
    elsewhere = PositionFactory(manager=position.manager)
    service.add_candidate(session, elsewhere, "Cy", "cy@example.com", MONDAY, SETTINGS)
    session.commit()

    response = logged_in.post(
        f"/candidates/{other.id}/edit", data={"name": "Ben", "email": "ANA@example.com"}
    )
    assert response.status_code == 409
    html = response.get_data(as_text=True)
    assert "Email: ana@example.com is already a candidate for Backend engineer" in html
    assert db.session.get(Candidate, other.id).email == "ben@example.com"
    # The same address in another position is a different application.
    assert (
        logged_in.post(
            f"/candidates/{other.id}/edit", data={"name": "Ben", "email": "cy@example.com"}
        ).status_code
        == 302
    )


@pytest.mark.parametrize(
    ("form", "message"),
    [
        ({"name": "", "email": "ana@example.com"}, "Name: must not be empty"),
        (
            {"name": "Ana", "email": "not-an-address"},
            "Email: &#39;not-an-address&#39; is not a valid email address",
        ),
    ],
)
def test_edit_refuses_bad_input(logged_in, candidate, form, message):
    response = logged_in.post(f"/candidates/{candidate.id}/edit", data=form)
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)
    assert db.session.get(Candidate, candidate.id).name == "Ana Okafor"


def test_withdraw_closes_the_wait_and_removes_the_candidate_from_triage(logged_in, candidate):
    response = logged_in.post(
        f"/candidates/{candidate.id}/withdraw", data={"reason": "took another offer"}, follow_redirects=True
    )
    html = response.get_data(as_text=True)
    assert "Ana Okafor is withdrawn." in html
    assert 'data-field="status">Withdrawn<' in html
    assert "active → withdrawn" in html and "took another offer" in html

    saved = db.session.get(Candidate, candidate.id)
    assert saved.status == Status.WITHDRAWN
    [wait] = waits_of(candidate.id)
    closing = db.session.get(Event, wait.closed_by_event_id)
    assert closing.kind == EventKind.STATUS_CHANGED
    assert closing.data == {"from": "active", "to": "withdrawn"}
    assert candidate.id not in triage_ids(page(logged_in, "/"))

    again = logged_in.post(f"/candidates/{candidate.id}/withdraw")
    assert again.status_code == 409
    assert len(events_of(candidate.id)) == 2


def test_a_withdrawn_candidate_cannot_be_moved_or_followed_up(logged_in, candidate):
    logged_in.post(f"/candidates/{candidate.id}/withdraw")
    for action, data in (("followed-up", {}), ("stage", {"stage": "screen"}), ("interview", {})):
        response = logged_in.post(f"/candidates/{candidate.id}/{action}", data=data)
        assert response.status_code == 409, action
    assert [w.closed_at is not None for w in waits_of(candidate.id)] == [True]
    assert len(events_of(candidate.id)) == 2


def test_an_unsafe_next_is_ignored(logged_in, candidate):
    response = logged_in.post(
        f"/candidates/{candidate.id}/note", data={"body": "x", "next": "https://evil.example/"}
    )
    assert response.location == f"/candidates/{candidate.id}"


# --- a long history, and the page on a phone ---------------------------------------------------


def add_notes(session, candidate, count: int, start: dt.datetime) -> None:
    """``count`` notes a minute apart from ``start``, written in one statement: "note 1" is oldest."""
    session.execute(
        sa.insert(Event),
        [
            {
                "candidate_id": candidate.id,
                "kind": EventKind.NOTE,
                "body": f"note {n}",
                "data": {},
                "actor_id": candidate.position.manager_id,
                "occurred_at": start + dt.timedelta(minutes=n),
                "recorded_at": start + dt.timedelta(minutes=n),
            }
            for n in range(1, count + 1)
        ],
    )
    session.commit()


def queue_updates(session, candidate, count: int, today: dt.datetime = MONDAY) -> None:
    """``count`` one-click updates, each promising an answer a day later than the one before."""
    config = EmailConfig.from_app(current_app)
    for n in range(count):
        request = EmailRequest(
            candidate,
            EmailKind.UPDATE,
            f"page-test-{candidate.id}-{n}",
            today,
            candidate.position.manager,
            promised_date=today.date() + dt.timedelta(days=7 + n),
        )
        answers.queue_email(session, request, config, SETTINGS)
    session.commit()


def count_events(candidate) -> int:
    return db.session.scalar(sa.select(sa.func.count()).where(Event.candidate_id == candidate.id))


def listed(html: str, attribute: str) -> list[str]:
    return re.findall(rf'{attribute}="([^"]*)"', html)


def test_the_page_lists_the_latest_50_events_and_show_more_lists_older_ones(
    logged_in, session, candidate, traveller
):
    add_notes(session, candidate, 60, MONDAY)
    traveller.shift(dt.timedelta(hours=1))
    html = page(logged_in, f"/candidates/{candidate.id}")
    bodies = re.findall(r'timeline-body">(note \d+)</p>', html)
    assert bodies == [f"note {n}" for n in range(60, 10, -1)]  # the latest 50, newest first
    assert len(listed(html, "data-event")) == 50
    more = f'href="/candidates/{candidate.id}?events=100&amp;emails=50#timeline-heading"'
    assert more in html and "Show older events" in html

    html = page(logged_in, f"/candidates/{candidate.id}?events=100&emails=50")
    assert len(listed(html, "data-event")) == 61
    assert listed(html, "data-event")[-1] == "created"  # the application, oldest, is last
    assert 'data-show-more="events"' not in html


def test_the_page_lists_the_latest_50_emails_and_show_more_lists_older_ones(logged_in, session, candidate):
    queue_updates(session, candidate, 55)
    newest_first = sorted(
        session.scalars(sa.select(OutboxMessage.id).where(OutboxMessage.candidate_id == candidate.id)),
        reverse=True,
    )
    html = page(logged_in, f"/candidates/{candidate.id}")
    assert [int(i) for i in listed(html, "data-email")] == newest_first[:50]
    assert 'data-show-more="emails"' in html
    assert f'href="/candidates/{candidate.id}?events=50&amp;emails=100#emails-heading"' in html
    assert len(re.findall(r'data-undo="\d+"', html)) == 55  # every email can still be undone

    html = page(logged_in, f"/candidates/{candidate.id}?emails=100")
    assert [int(i) for i in listed(html, "data-email")] == newest_first
    assert 'data-show-more="emails"' not in html


@pytest.mark.parametrize(
    ("asked", "shown"),
    [(None, 50), ("", 50), ("abc", 50), ("-5", 50), ("0", 50), ("10", 50), ("100", 100), ("1e3", 50),
     ("²", 50), ("5000", SHOWN_MAX), ("9" * 5000, SHOWN_MAX)],
)  # fmt: skip
def test_how_many_the_page_lists_is_bounded(asked, shown):
    args = {} if asked is None else {"events": asked, "emails": asked}
    assert Shown.from_args(args) == Shown(shown, shown)


def test_at_the_bound_the_page_says_so_instead_of_offering_more(logged_in, session, candidate, monkeypatch):
    monkeypatch.setattr("feedback_sla.web.candidates.page.SHOWN_MAX", 50)
    add_notes(session, candidate, 60, MONDAY - dt.timedelta(days=5))
    html = page(logged_in, f"/candidates/{candidate.id}?events=100")
    assert len(listed(html, "data-event")) == 50
    assert 'data-show-more="events"' not in html
    assert "The latest 50 events are listed; older ones are not shown here." in html


def test_another_managers_candidate_is_404_however_much_is_asked(client, session, candidate):
    login(client, UserFactory())
    for query in ("", "?events=100", "?emails=1000&events=abc"):
        response = client.get(f"/candidates/{candidate.id}{query}")
        assert response.status_code == 404
        assert "Ana Okafor" not in response.get_data(as_text=True)


def test_the_page_costs_the_same_statements_for_5_and_500_events(logged_in, session, candidate, position):
    long = service.add_candidate(session, position, "Ben Long", "ben@example.com", MONDAY, SETTINGS)
    session.commit()
    for who, notes, emails in ((candidate, 3, 1), (long, 438, 60)):
        add_notes(session, who, notes, MONDAY - dt.timedelta(days=30))
        queue_updates(session, who, emails)  # each queued, promising a date once it is sent
        service.interview_held(session, who, MONDAY, SETTINGS, position.manager)  # closes a wait
        session.commit()
    assert [count_events(who) for who in (candidate, long)] == [6, 500]
    counts = []
    for who in (candidate, long):
        url = f"/candidates/{who.id}"  # read before counting: the test's own objects are expired
        page(logged_in, url)  # warm: templates compiled, settings read
        with count_statements() as statements:
            html = page(logged_in, url)
        counts.append(len(statements))
        assert "closed the application wait" in html
    assert counts[0] == counts[1], counts
    assert counts[0] <= 7, counts  # the login, the candidate with its position and manager,
    # settings, events, the waits they show, the emails (the latest and any unfinished), and
    # whether a status page link still works


def test_an_active_candidate_nobody_owes_an_answer_gets_no_update_form(logged_in, candidate):
    logged_in.post(f"/candidates/{candidate.id}/contact", data={"channel": "phone"})
    assert open_wait(candidate.id) is None
    html = page(logged_in, f"/candidates/{candidate.id}")
    assert "data-email-actions" in html  # still active: reject, offer and next step stay
    assert f'action="/candidates/{candidate.id}/emails/rejection"' in html
    assert "/emails/update" not in html and "Update: answer by" not in html


def test_an_older_unfinished_email_keeps_its_banner_beyond_the_listed_ones(logged_in, session, candidate):
    queue_updates(session, candidate, 52)
    oldest, *newer = session.scalars(
        sa.select(OutboxMessage).where(OutboxMessage.candidate_id == candidate.id).order_by(OutboxMessage.id)
    ).all()
    oldest.status, oldest.attempts, oldest.failed_at = OutboxStatus.FAILED, 8, MONDAY
    oldest.last_error = "550 mailbox unavailable"
    for message in newer:
        message.status, message.sent_at = OutboxStatus.SENT, MONDAY
    session.commit()
    html = page(logged_in, f"/candidates/{candidate.id}")
    assert oldest.id not in [int(i) for i in listed(html, "data-email")]  # past the latest 50
    assert f'data-failed="{oldest.id}"' in html and "550 mailbox unavailable" in html
    assert f'action="/emails/{oldest.id}/retry"' in html
    assert not re.findall(r'data-undo="\d+"', html)


# --- the action forms: plain HTML that posts to the forms that validate it ------------------------

#: Each control of the page and the field of the form it posts to.
PAGE_FIELDS = [
    (ContactForm, "channel"),
    (ContactForm, "note"),
    (PromiseForm, "promised_date"),
    (StageForm, "stage"),
    (NoteForm, "body"),
    (WithdrawForm, "reason"),
]


class Controls(HTMLParser):
    """Every element with an id (its tag and attributes) and every label's text, by its ``for``."""

    def __init__(self, markup: str):
        super().__init__()
        self.elements: dict[str, tuple[str, dict]] = {}
        self.labels: dict[str, str] = {}
        self._label: str | None = None
        self.feed(markup)

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if "id" in attributes:
            self.elements[attributes["id"]] = (tag, attributes)
        if tag == "label":
            self._label = attributes.get("for")
            self.labels[self._label] = ""

    def handle_data(self, data):
        if self._label is not None:
            self.labels[self._label] += data

    def handle_endtag(self, tag):
        if tag == "label":
            self._label = None


def test_each_control_is_the_one_its_form_would_render(app, logged_in, candidate):
    """Same tag, id, name, type, required and maxlength as WTForms writes, and the same label."""
    shown = Controls(page(logged_in, f"/candidates/{candidate.id}"))
    with app.test_request_context():
        for form_class, name in PAGE_FIELDS:
            field = form_class(formdata=None, meta={"csrf": False})[name]
            tag, expected = Controls(str(field())).elements[field.id]
            kept = ("name", "type", "required", "maxlength")
            assert shown.elements[field.id][0] == tag, name
            assert {k: shown.elements[field.id][1].get(k) for k in kept} == {k: expected.get(k) for k in kept}
            assert shown.labels[field.id] == field.label.text, name


def test_a_refused_form_keeps_what_was_typed_and_says_what_is_wrong(logged_in, candidate):
    response = logged_in.post(f"/candidates/{candidate.id}/note", data={"body": "x" * 5001})
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    body = Controls(html).elements["body"][1]
    assert (body["aria-invalid"], body["aria-describedby"]) == ("true", "body-error body-help")
    assert "x" * 5001 + "</textarea>" in html
    assert re.search(
        r'<div id="body-error"><div class="invalid-feedback d-block">Field cannot be longer', html
    )
    assert "aria-invalid" not in Controls(html).elements["note"][1]  # the other forms are blank

    response = logged_in.post(
        f"/candidates/{candidate.id}/contact", data={"channel": "pigeon", "note": "<b>hi"}
    )
    html = response.get_data(as_text=True)
    channel = Controls(html).elements["channel"][1]
    assert (channel["aria-invalid"], channel["aria-describedby"]) == ("true", "channel-error")
    assert "&lt;b&gt;hi</textarea>" in html
    assert "<option selected" not in html.split('id="channel"')[1].split("</select>")[0]


def test_every_action_of_the_page_posts_where_its_view_listens(app, logged_in, session, candidate):
    html = page(logged_in, f"/candidates/{candidate.id}")
    actions = set(re.findall(r'<form method="post" action="(/candidates/[^"]+)"', html))
    links = set(re.findall(r'href="(/candidates/[^"#?]+)"', html))
    with app.test_request_context():
        built = {
            url_for(f"candidates.{endpoint}", candidate_id=candidate.id)
            for endpoint in (
                "log_contact",
                "interview_held",
                "followed_up",
                "set_promise",
                "move_stage",
                "add_note",
                "withdraw",
            )
        } | {
            url_for("emails.send", candidate_id=candidate.id, kind=kind)
            for kind in ("rejection", "offer", "update")
        }
        customize = {
            url_for("emails.customize", candidate_id=candidate.id, kind=kind)
            for kind in ("rejection", "offer", "update", "next_step")
        }
        edit = url_for("candidates.edit", candidate_id=candidate.id)
    assert actions == built
    assert customize | {edit} <= links


@pytest.mark.parametrize("zone", ["UTC", "Europe/Berlin", "America/St_Johns", "Pacific/Chatham"])
def test_times_read_as_strftime_writes_them(zone):
    """The page's times are written by hand for speed: the same text as strftime's, in any zone."""
    start = dt.datetime(2026, 1, 1, tzinfo=UTC)
    for hours in range(0, 24 * 400, 7):
        moment = start + dt.timedelta(hours=hours, minutes=hours % 60)
        expected = f"{moment.astimezone(ZoneInfo(zone)).strftime(DISPLAY_FORMAT)} {zone}"
        assert local_time_in(moment, zone) == expected


def test_on_a_phone_the_answer_actions_come_first(logged_in, candidate):
    html = page(logged_in, f"/candidates/{candidate.id}")
    # Narrow screens show the page in its source order; wide ones move the actions to the right.
    markers = ("<h1", "data-wait-summary", "data-email-actions", "Log contact", "details-h", "timeline-h")
    order = [html.index(marker) for marker in markers]
    assert order == sorted(order)
    assert 'class="col-12 col-lg-5 col-xl-4 order-lg-last"' in html


@pytest.mark.parametrize("status", [Status.REJECTED, Status.WITHDRAWN, Status.HIRED])
def test_a_candidate_neither_waiting_nor_active_gets_no_answer_buttons(logged_in, session, candidate, status):
    wait = open_wait(candidate.id)
    wait.closed_at = MONDAY
    candidate.status = status
    session.commit()
    html = page(logged_in, f"/candidates/{candidate.id}")
    assert "data-email-actions" not in html and "Answer the candidate" not in html
    assert "/emails/" not in html


#: Where the answer card and the details start, and whether anything reaches past the window.
PHONE_LAYOUT = """() => {
  const top = (selector) => document.querySelector(selector).getBoundingClientRect().top + window.scrollY;
  const past = [...document.body.querySelectorAll("*")]
    .filter((el) => el.getBoundingClientRect().right > window.innerWidth + 0.5)
    .map((el) => el.outerHTML.slice(0, 80));
  return {answer: top("[data-email-actions]"), details: top("#details-heading"),
          scroll: document.documentElement.scrollWidth, room: window.innerWidth, past: past.slice(0, 5)};
}"""


@pytest.mark.browser
def test_on_a_390_px_phone_the_answer_card_is_on_the_first_screen_and_nothing_scrolls_sideways(
    session,
    live_server,  # noqa: F811
    manager,
    position,
):
    sync_playwright = _browser_or_skip()
    long_name = "Maximiliane Oberhuber-Schmidt von Hohenberg"
    address = "maximiliane.oberhuber-schmidt.von.hohenberg@personalabteilung-muenchen.example.com"
    now = utcnow()
    applicant = service.add_candidate(session, position, long_name, address, now, SETTINGS)
    session.commit()
    service.add_note(session, applicant, "Datenbankadministratorin" * 55, now, manager)  # 1,320, no break
    add_notes(session, applicant, 60, now)
    queue_updates(session, applicant, 3, today=now)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": 390, "height": 844})
            page.goto(f"{live_server}/login")
            page.get_by_label("Email").fill(manager.email)
            page.get_by_label("Password").fill(PASSWORD)
            page.get_by_role("button", name="Log in").click()
            page.wait_for_url(f"{live_server}/")
            assert page.goto(f"{live_server}/candidates/{applicant.id}").status == 200
            layout = page.evaluate(PHONE_LAYOUT)
        finally:
            browser.close()
    assert layout["scroll"] <= layout["room"], layout["past"]
    # Under the name, the wait and the three undo banners: on the first screen, before the details.
    assert layout["answer"] < 844, layout
    assert layout["answer"] < layout["details"]


# --- access ------------------------------------------------------------------------------------


def test_manager_b_gets_404_on_every_candidate_url_of_manager_a(client, session, candidate):
    manager_b = UserFactory()
    session.commit()
    login(client, manager_b)
    before = {model.__name__: count(model) for model in (Candidate, Event, Wait)}
    form = {
        "channel": "phone",
        "note": "x",
        "stage": "screen",
        "body": "x",
        "promised_date": "2026-12-01",
        "name": "Mallory",
        "email": "mallory@example.com",
        "reason": "x",
        "next": "/",
    }
    checked = 0
    for rule in client.application.url_map.iter_rules():
        if not rule.endpoint.startswith("candidates.") or "candidate_id" not in rule.arguments:
            continue
        url = rule.build({name: candidate.id if name == "candidate_id" else 1 for name in rule.arguments})[1]
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            response = client.open(url, method=method, data=form if method == "POST" else None)
            assert response.status_code == 404, (method, url)
            assert "Ana Okafor" not in response.get_data(as_text=True)
            checked += 1
    assert checked >= 10
    assert {model.__name__: count(model) for model in (Candidate, Event, Wait)} == before
    saved = db.session.get(Candidate, candidate.id)
    assert (saved.name, saved.stage, saved.status) == ("Ana Okafor", "applied", Status.ACTIVE)


def test_an_admin_sees_and_acts_on_any_candidate(client, session, candidate):
    admin = UserFactory(role=Role.ADMIN)
    session.commit()
    login(client, admin)
    assert "Ana Okafor</h1>" in page(client, f"/candidates/{candidate.id}")
    client.post(f"/candidates/{candidate.id}/note", data={"body": "seen by HR"})
    assert events_of(candidate.id)[-1].actor_id == admin.id


def test_pages_need_a_login(client, candidate):
    response = client.get(f"/candidates/{candidate.id}")
    assert response.status_code == 302 and "/login" in response.location
    assert client.post(f"/candidates/{candidate.id}/contact", data={"channel": "phone"}).status_code == 302
    assert open_wait(candidate.id) is not None


@pytest.mark.usefixtures("csrf_on")
def test_actions_need_the_csrf_token(client, manager, candidate):
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page(client, "/login")).group(1)
    client.post("/login", data={"email": manager.email, "password": PASSWORD, "csrf_token": token})
    refused = client.post(f"/candidates/{candidate.id}/contact", data={"channel": "phone"})
    assert refused.status_code == 400
    assert open_wait(candidate.id) is not None

    html = page(client, f"/candidates/{candidate.id}")
    token = re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)
    accepted = client.post(
        f"/candidates/{candidate.id}/contact", data={"channel": "phone", "csrf_token": token}
    )
    assert accepted.status_code == 302
    assert open_wait(candidate.id) is None


# --- escaping ----------------------------------------------------------------------------------

HOSTILE = ("<script>alert(1)</script>", '"><img src=x onerror=alert(1)>')


@pytest.mark.parametrize("name", HOSTILE)
def test_a_hostile_name_is_escaped_on_the_candidate_and_triage_pages(
    client, session, traveller, position, name
):
    hostile = service.add_candidate(session, position, name, "x@example.com", MONDAY, SETTINGS)
    session.commit()
    login(client, position.manager)
    for url in (f"/candidates/{hostile.id}", "/", f"/candidates/{hostile.id}/edit"):
        html = page(client, url)
        assert name not in html, url
        assert "alert(1)" in html  # it is there, as text
        assert "<script>alert" not in html and "<img src=x" not in html
    response = client.post(f"/candidates/{hostile.id}/note", data={"body": name}, follow_redirects=True)
    html = response.get_data(as_text=True)
    assert name not in html
    assert "&lt;" in html


# --- adding a candidate ------------------------------------------------------------------------


def test_add_candidate_offers_only_the_viewers_open_positions(logged_in, session, position):
    closed = PositionFactory(manager=position.manager, title="Closed role", is_open=False)
    foreign = PositionFactory(title="Someone else's role")
    session.commit()
    html = page(logged_in, "/candidates/new")
    assert html.count("<h1") == 1
    for label in ("Name", "Email", "Position", "Applied at", "Stage"):
        assert f">{label}</label>" in html
    assert "Backend engineer" in html
    assert "Closed role" not in html and "Someone else" not in html

    response = logged_in.post(
        "/candidates/new",
        data={"name": "Mallory", "email": "m@example.com", "position": str(foreign.id), "stage": "applied"},
    )
    assert response.status_code == 422
    assert "Not a valid choice" in response.get_data(as_text=True)
    assert (
        logged_in.post(
            "/candidates/new",
            data={
                "name": "Mallory",
                "email": "m@example.com",
                "position": str(closed.id),
                "stage": "applied",
            },
        ).status_code
        == 422
    )
    assert db.session.scalar(sa.select(Candidate).where(Candidate.name == "Mallory")) is None


def test_add_candidate_reads_applied_at_in_the_positions_zone(client, session, traveller):
    manager = UserFactory()
    berlin = PositionFactory(manager=manager, title="Berlin role", time_zone="Europe/Berlin")
    session.commit()
    login(client, manager)
    response = client.post(
        "/candidates/new",
        data={
            "name": "Dana",
            "email": "dana@example.com",
            "position": str(berlin.id),
            "applied_at": "2026-11-13T10:30",
            "stage": "screen",
        },
    )
    assert response.status_code == 302
    dana = db.session.scalar(sa.select(Candidate).where(Candidate.email == "dana@example.com"))
    assert response.location == f"/candidates/{dana.id}"
    assert dana.stage == "screen" and dana.position_id == berlin.id
    [wait] = waits_of(dana.id)
    assert wait.opened_at == dt.datetime(2026, 11, 13, 10, 30, tzinfo=ZoneInfo("Europe/Berlin"))
    assert events_of(dana.id)[0].actor_id == manager.id
    assert "Added Dana to Berlin role" in page(client, response.location)


def test_add_candidate_defaults_to_now_and_refuses_duplicates_and_the_future(logged_in, position):
    data = {"name": "Eve", "email": "eve@example.com", "position": str(position.id), "stage": "applied"}
    assert logged_in.post("/candidates/new", data=data).status_code == 302
    eve = db.session.scalar(sa.select(Candidate).where(Candidate.email == "eve@example.com"))
    assert waits_of(eve.id)[0].opened_at == MONDAY

    duplicate = logged_in.post("/candidates/new", data=data | {"email": "EVE@example.com"})
    assert duplicate.status_code == 422
    html = duplicate.get_data(as_text=True)
    assert "Email: eve@example.com is already a candidate for Backend engineer" in html
    future = logged_in.post(
        "/candidates/new", data=data | {"email": "f@example.com", "applied_at": "2026-11-17T09:00"}
    )
    assert future.status_code == 422
    assert "Applied at: is in the future" in future.get_data(as_text=True)
    typo = logged_in.post(
        "/candidates/new", data=data | {"email": "t@example.com", "applied_at": "0226-11-13T09:00"}
    )
    assert typo.status_code == 422
    assert "Applied at: is more than ten years ago" in typo.get_data(as_text=True)
    assert count(Candidate) == 2


def test_a_posted_manager_or_status_is_ignored(logged_in, session, position, manager):
    other = UserFactory()
    session.commit()
    logged_in.post(
        "/candidates/new",
        data={
            "name": "Fay",
            "email": "fay@example.com",
            "position": str(position.id),
            "stage": "applied",
            "status": "hired",
            "manager_id": str(other.id),
            "position_id": "999",
        },
    )
    fay = db.session.scalar(sa.select(Candidate).where(Candidate.email == "fay@example.com"))
    assert fay.status == Status.ACTIVE and fay.position.manager_id == manager.id


# --- CSV import --------------------------------------------------------------------------------

HEADER = "name,email,position,manager_email,stage,applied_at,interview_at,promised_by\n"


def upload(client, text: str):
    return client.post(
        "/candidates/import",
        data={"file": (io.BytesIO(text.encode()), "candidates.csv")},
        content_type="multipart/form-data",
    )


def test_a_good_csv_is_imported(logged_in, manager):
    response = upload(
        logged_in,
        HEADER
        + f"Gil,gil@example.com,Backend engineer,{manager.email},applied,2026-11-16T08:00,,\n"
        + f"Hana,hana@example.com,Data analyst,{manager.email},interview,2026-11-10,2026-11-13T15:00,\n",
    )
    assert response.status_code == 302
    html = page(logged_in, response.location)
    assert "Imported 2 candidates, 1 awaiting a decision after an interview." in html
    assert "New positions: Data analyst." in html
    hana = db.session.scalar(sa.select(Candidate).where(Candidate.email == "hana@example.com"))
    assert open_wait(hana.id).reason == WaitReason.DECISION
    assert {"Gil", "Hana"} <= {c.name for c in db.session.scalars(sa.select(Candidate))}


def test_csv_errors_are_listed_by_line_and_column_and_nothing_is_imported(logged_in, manager):
    before = count(Candidate)
    response = upload(
        logged_in,
        HEADER
        + f"Ivy,ivy@example.com,Backend engineer,{manager.email},applied,2026-11-16,,\n"
        + f"Jo,not-an-email,Backend engineer,{manager.email},limbo,2026-11-16,,\n"
        + f"Kim,kim@example.com,Backend engineer,{manager.email},applied,yesterday,,\n",
    )
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "Nothing was imported: 3 problems in the file." in html
    rows = re.findall(r"<tr data-import-error><td>(\d+)</td><td>(\w*)</td>", html)
    assert rows == [("3", "email"), ("3", "stage"), ("4", "applied_at")]
    assert count(Candidate) == before


def test_a_manager_may_import_only_their_own_candidates(logged_in, session, manager):
    UserFactory(email="other@example.com")
    session.commit()
    response = upload(
        logged_in,
        HEADER
        + f"Lou,lou@example.com,Backend engineer,{manager.email},applied,2026-11-16,,\n"
        + "Max,max@example.com,Sales,other@example.com,applied,2026-11-16,,\n",
    )
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert re.search(r"<td>3</td><td>manager_email</td><td>must be your own email", html)
    assert count(Candidate) == 1


def test_an_admin_imports_for_any_manager(client, session, traveller):
    admin = UserFactory(role=Role.ADMIN)
    someone = UserFactory(email="someone@example.com")
    session.commit()
    login(client, admin)
    response = upload(client, HEADER + "Ned,ned@example.com,Ops,someone@example.com,applied,2026-11-16,,\n")
    assert response.status_code == 302
    ned = db.session.scalar(sa.select(Candidate).where(Candidate.email == "ned@example.com"))
    assert ned.position.manager_id == someone.id


def test_import_needs_a_file_and_refuses_big_ones(logged_in, monkeypatch):
    missing = logged_in.post("/candidates/import", data={}, content_type="multipart/form-data")
    assert missing.status_code == 422
    assert "CSV file: choose a file" in missing.get_data(as_text=True)
    html = page(logged_in, "/candidates/import")
    assert ">CSV file</label>" in html and html.count("<h1") == 1

    monkeypatch.setattr("feedback_sla.web.candidates.adding.IMPORT_LIMIT_BYTES", 100)
    big = upload(logged_in, HEADER + "x" * 200)
    assert big.status_code == 413
    assert "CSV file: larger than" in big.get_data(as_text=True)
    # A body far beyond the limit is refused before it is read.
    huge = upload(logged_in, HEADER + "x" * 100_000)
    assert huge.status_code == 413
    assert "CSV file: larger than" in huge.get_data(as_text=True)
    assert count(Candidate) == 1


# --- the triage page ---------------------------------------------------------------------------

#: Wednesday 25 November 2026, 10:00 UTC.
WEDNESDAY = dt.datetime(2026, 11, 25, 10, 0, tzinfo=UTC)


def utc(*parts: int) -> dt.datetime:
    return dt.datetime(*parts, tzinfo=UTC)


@pytest.fixture
def board(session, manager):
    """One candidate in every state, added out of order, plus rows the page must leave out."""
    backend = PositionFactory(manager=manager, title="Backend", time_zone="UTC")
    design = PositionFactory(manager=manager, title="Design", time_zone="UTC")

    def add(position, name, applied_at, stage="applied"):
        return service.add_candidate(
            session, position, name, f"{name.lower()}@example.com", applied_at, SETTINGS, stage=stage
        )

    ids = {
        "on_track": add(design, "Tess", utc(2026, 11, 24, 9)),  # due Tue 1 Dec
        "overdue_2": add(design, "Olga", utc(2026, 11, 16, 9)),  # due Mon 23 Nov
        "due_soon": add(backend, "Sam", utc(2026, 11, 18, 9), stage="screen"),  # due today
        "overdue_4": add(backend, "Omar", utc(2026, 11, 12, 9)),  # due Thu 19 Nov
        "asked_twice": add(design, "Fred", utc(2026, 11, 25, 8)),  # on track, but followed up twice
        "too_old": add(backend, "Ezra", utc(2026, 11, 9, 9)),  # open 16 days: escalated
    }
    for _ in range(2):
        service.followed_up(session, ids["asked_twice"], utc(2026, 11, 25, 9), SETTINGS)
    answered = add(backend, "Ada", utc(2026, 11, 12, 9))
    service.log_contact(session, answered, "phone", utc(2026, 11, 13, 9))
    withdrawn = add(backend, "Wes", utc(2026, 11, 12, 9))
    service.withdraw(session, withdrawn, utc(2026, 11, 13, 9))
    add(PositionFactory(title="Someone else's"), "Zed", utc(2026, 11, 12, 9))
    session.commit()
    return {key: c.id for key, c in ids.items()} | {"backend": backend.id, "design": design.id}


@pytest.fixture
def at_wednesday(client, manager, board):
    with time_machine.travel(WEDNESDAY, tick=False):
        login(client, manager)
        yield client


def rows(html: str) -> dict[int, str]:
    return {
        int(cid): row for cid, row in re.findall(r'<tr data-candidate-id="(\d+)"(.*?)</tr>', html, flags=re.S)
    }


def counts(html: str) -> dict[str, int]:
    return {s: int(n) for s, n in re.findall(r'data-state-count="(\w+)">(\d+)<', html)}


def test_triage_orders_escalated_then_most_overdue_then_due_soon_then_on_track(at_wednesday, board):
    html = page(at_wednesday, "/")
    assert html.count("<h1") == 1
    assert triage_ids(html) == [
        board["too_old"],
        board["asked_twice"],
        board["overdue_4"],
        board["overdue_2"],
        board["due_soon"],
        board["on_track"],
    ]
    assert re.findall(r'data-candidate-id="\d+" data-state="(\w+)"', html) == [
        "escalated",
        "escalated",
        "overdue",
        "overdue",
        "due_soon",
        "on_track",
    ]
    assert counts(html) == {"escalated": 2, "overdue": 2, "due_soon": 1, "on_track": 1}
    assert "6 waiting" in html
    assert "Zed" not in html and "Ada" not in html and "Wes" not in html


def test_triage_rows_say_their_state_in_words_and_the_due_date_on_hover(at_wednesday, board):
    by_id = rows(page(at_wednesday, "/"))
    expected = {
        "too_old": "Escalated",
        "asked_twice": "Escalated",
        "overdue_4": "Overdue",
        "overdue_2": "Overdue",
        "due_soon": "Due soon",
        "on_track": "On track",
    }
    for key, label in expected.items():
        assert re.search(rf'class="badge badge-state [^"]*">{label}</span>', by_id[board[key]]), key
    omar = by_id[board["overdue_4"]]
    assert 'title="Thu 19 Nov 2026, 18:00 UTC"' in omar and ">4 business days overdue<" in omar
    assert "9 business days" in omar  # waited since Thursday 12th
    assert ">2 business days overdue<" in by_id[board["overdue_2"]]
    assert ">due today<" in by_id[board["due_soon"]]
    assert ">due in 4 business days<" in by_id[board["on_track"]]
    fred = by_id[board["asked_twice"]]
    assert "followed up 2×" in fred
    # The row's menu in place, as a browser without JavaScript asks for it.
    fred = rows(page(at_wednesday, f"/?menu={board['asked_twice']}"))[board["asked_twice"]]
    for action in ("Send update", "Reject", "Log a call", "followed up</button>"):
        assert action in fred


def test_triage_filters_live_in_the_url(at_wednesday, board):
    backend = board["backend"]
    html = page(at_wednesday, f"/?position={backend}")
    assert 'method="get"' in html
    assert triage_ids(html) == [board["too_old"], board["overdue_4"], board["due_soon"]]
    assert f'<option value="{backend}" selected>' in html
    assert counts(html) == {"escalated": 1, "overdue": 1, "due_soon": 1, "on_track": 0}
    # The count links keep the position filter and add the state.
    assert f'href="/?position={backend}&amp;state=overdue"' in html

    html = page(at_wednesday, f"/?position={backend}&state=overdue")
    assert triage_ids(html) == [board["overdue_4"]]
    assert '<option value="overdue" selected>' in html
    assert counts(html) == {"escalated": 1, "overdue": 1, "due_soon": 1, "on_track": 0}

    html = page(at_wednesday, "/?stage=screen")
    assert triage_ids(html) == [board["due_soon"]]
    assert '<option value="screen" selected>' in html

    html = page(at_wednesday, "/?state=on_track&stage=applied")
    assert triage_ids(html) == [board["on_track"]]
    assert "with these filters" not in html
    empty = page(at_wednesday, "/?state=on_track&stage=offer")
    assert "Nobody is waiting for an answer with these filters" in empty


def test_triage_ignores_filters_it_cannot_honour(at_wednesday, session, board):
    foreign = db.session.scalar(sa.select(Candidate).where(Candidate.name == "Zed")).position_id
    html = page(at_wednesday, f"/?position={foreign}&stage=nowhere&state=bogus")
    assert len(triage_ids(html)) == 6
    assert "Zed" not in html


def test_an_action_from_triage_returns_to_the_same_filtered_list(at_wednesday, board):
    url = f"/?position={board['backend']}&state=overdue"
    response = at_wednesday.post(
        f"/candidates/{board['overdue_4']}/contact", data={"channel": "phone", "next": url}
    )
    assert response.location == url
    html = page(at_wednesday, url)
    assert triage_ids(html) == []
    assert counts(html)["overdue"] == 0


def test_an_admin_sees_every_manager_and_can_pick_one(client, session, manager, board):
    admin = UserFactory(role=Role.ADMIN)
    session.commit()
    with time_machine.travel(WEDNESDAY, tick=False):
        login(client, admin)
        everyone = page(client, "/")
        assert len(triage_ids(everyone)) == 7 and "Zed" in everyone
        mine = page(client, f"/?manager={manager.id}")
        assert len(triage_ids(mine)) == 6 and "Zed" not in mine
        assert 'name="manager" type="search"' in mine and f'value="{manager.email}"' in mine


def test_an_admin_picks_a_manager_by_typing_a_name_or_an_address(client, session, manager, board):
    """The filter is a field, not a menu of every user: a name or an address (any case, or a
    part of either naming one person) chooses; several are offered; nobody is said so."""
    admin = UserFactory(role=Role.ADMIN, name="Ada Admin")
    UserFactory(name="Maria Other", email="maria.other@example.com")
    session.commit()
    with time_machine.travel(WEDNESDAY, tick=False):
        login(client, admin)
        by_address = page(client, f"/?manager={manager.email.upper()}")
        assert len(triage_ids(by_address)) == 6 and "Zed" not in by_address
        by_name = page(client, f"/?manager={manager.name}")
        assert triage_ids(by_name) == triage_ids(by_address)
        several = page(client, "/?manager=example.com")
        assert "Several people match" in several and f"manager={manager.id}" in several
        assert len(triage_ids(several)) == 7  # nobody chosen yet: everyone's
        nobody = page(client, "/?manager=nobody%20at%20all")
        assert "Hiring manager: nobody is named or addressed" in nobody and 'aria-invalid="true"' in nobody
        assert len(triage_ids(nobody)) == 7
