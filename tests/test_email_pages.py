"""Candidate emails in the browser: one click with undo, customizing, history, retry, templates."""

from __future__ import annotations

import datetime as dt
import re
import threading
from html.parser import HTMLParser
from pathlib import Path

import pytest
import sqlalchemy as sa
import time_machine
from flask.testing import FlaskClient

from feedback_sla.database import db
from feedback_sla.emails.checks import EmailRequest
from feedback_sla.emails.config import EmailConfig
from feedback_sla.models import (
    Candidate,
    EmailKind,
    EmailTemplate,
    Event,
    EventKind,
    OutboxMessage,
    OutboxStatus,
    Role,
    Status,
)
from feedback_sla.waits import answers, promises
from feedback_sla.waits import service as candidates
from feedback_sla.waits.clock import OrgSettings
from feedback_sla.waits.models import Wait
from feedback_sla.worker import run_worker

from .emails_support import free_port
from .factories import PositionFactory, UserFactory
from .helpers import logged_in as login

UTC = dt.UTC
SETTINGS = OrgSettings()
#: Monday 16 November 2026, 09:00 UTC (10:00 in Berlin): an application now is due Monday 23rd.
MONDAY = dt.datetime(2026, 11, 16, 9, 0, tzinfo=UTC)
HOSTILE = '<script>alert(1)</script>"><img src=x onerror=alert(2)>'


# --- a browser's view of a page -----------------------------------------------------------------


class Page(HTMLParser):
    """The forms of a page as a browser submits them, and the buttons that post through them."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.forms: list[dict] = []
        self.buttons: list[dict] = []
        self._form: dict | None = None
        self._textarea: tuple[dict, str, list[str]] | None = None
        self._button: dict | None = None
        self._select: tuple[dict, str] | None = None
        self.feed(html)

    def _owner(self, attrs: dict) -> dict | None:
        if attrs.get("form"):
            return next((f for f in self.forms if f["id"] == attrs["form"]), None)
        return self._form

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form":
            self._form = {"action": a.get("action"), "id": a.get("id"), "fields": []}
            self.forms.append(self._form)
        elif tag == "input":
            form = self._owner(a)
            kind = a.get("type", "text")
            if (
                form is None
                or kind in ("submit", "button")
                or (kind in ("checkbox", "radio") and "checked" not in a)
            ):
                return
            form["fields"].append((a["name"], a.get("value") or ""))
        elif tag == "textarea":
            self._textarea = (self._owner(a), a["name"], [])
        elif tag == "select":
            self._select = (self._owner(a), a["name"])
        elif tag == "option" and self._select is not None:
            form, name = self._select
            fields = form["fields"]
            if "selected" in a or not any(n == name for n, _ in fields):
                fields[:] = [(n, v) for n, v in fields if n != name] + [(name, a.get("value", ""))]
        elif tag == "button":
            self._button = {**a, "owner": self._owner(a), "text": ""}
            self.buttons.append(self._button)

    def handle_data(self, data):
        if self._textarea is not None:
            self._textarea[2].append(data)
        if self._button is not None:
            self._button["text"] += data

    def handle_endtag(self, tag):
        if tag == "textarea" and self._textarea is not None:
            form, name, parts = self._textarea
            value = "".join(parts)
            form["fields"].append((name, value.removeprefix("\r\n").removeprefix("\n")))
            self._textarea = None
        elif tag == "button":
            self._button = None
        elif tag == "select":
            self._select = None
        elif tag == "form":
            self._form = None

    def button(self, text: str, action_part: str = "") -> tuple[str, dict]:
        """The URL and fields a click on a button sends (its own form or the one it names)."""
        for b in self.buttons:
            action = b.get("formaction") or (b["owner"] or {}).get("action")
            # A button's name may go on with words for screen readers: "Reject Ana Okafor".
            name = " ".join(b["text"].split())
            if (name == text or name.startswith(text + " ")) and action_part in (action or ""):
                data = dict(b["owner"]["fields"])
                if b.get("name"):
                    data[b["name"]] = b.get("value", "")
                return action, data
        raise AssertionError(f"no button {text!r} posting to …{action_part}")

    def form_with(self, field: str) -> dict:
        for form in self.forms:
            if any(name == field for name, _ in form["fields"]):
                return form
        raise AssertionError(f"no form with a field {field!r}")


def get(client, url: str, status: int = 200) -> str:
    response = client.get(url)
    assert response.status_code == status, (url, response.status_code)
    return response.get_data(as_text=True)


def row_menu(client, candidate, query: str = "") -> str:
    """The triage page with a row's More menu open, as a browser without JavaScript gets it (with
    JavaScript the page's one menu template is filled in on every row)."""
    return get(client, f"/?{query}menu={candidate.id}")


def click(client, html: str, text: str, action_part: str = "", **changes) -> str:
    """Press a button as a browser would and follow the redirect; the page it lands on."""
    url, data = Page(html).button(text, action_part)
    response = client.post(url, data={**data, **changes})
    assert response.status_code == 302, (url, response.status_code, response.get_data(as_text=True))
    return get(client, response.location)


def outbox() -> list[OutboxMessage]:
    db.session.expire_all()
    return list(db.session.scalars(sa.select(OutboxMessage).order_by(OutboxMessage.id)))


def events_of(candidate_id: int, kind: EventKind) -> list[Event]:
    return list(
        db.session.scalars(
            sa.select(Event).where(Event.candidate_id == candidate_id, Event.kind == kind).order_by(Event.id)
        )
    )


def open_wait(candidate_id: int) -> Wait | None:
    return db.session.scalar(
        sa.select(Wait).where(Wait.candidate_id == candidate_id, Wait.closed_at.is_(None))
    )


def status_of(candidate_id: int) -> Status:
    db.session.expire_all()
    return db.session.get(Candidate, candidate_id).status


def mail_files(app) -> list[Path]:
    """The .eml files the file backend wrote under the instance folder."""
    return sorted(Path(app.instance_path).rglob("*.eml"))


# --- fixtures -----------------------------------------------------------------------------------


@pytest.fixture
def traveller():
    with time_machine.travel(MONDAY, tick=False) as traveller:
        yield traveller


@pytest.fixture
def manager(session):
    return UserFactory(name="Maria Manager", time_zone="Europe/Berlin")


@pytest.fixture
def position(manager):
    return PositionFactory(manager=manager, title="Backend engineer", time_zone="UTC")


def add(session, position, name="Jane Doe", email="jane@example.com", stage="applied") -> Candidate:
    candidate = candidates.add_candidate(
        session, position, name, email, MONDAY - dt.timedelta(hours=2), SETTINGS, stage=stage
    )
    session.commit()
    return candidate


@pytest.fixture
def candidate(session, traveller, position):
    return add(session, position)


@pytest.fixture
def logged_in(client, manager, candidate):
    login(client, manager)
    return client


# --- one click from the triage page ----------------------------------------------------------------


def test_one_click_rejection_from_triage_queues_one_email_with_undo(app, logged_in, candidate):
    triage = row_menu(logged_in, candidate)
    assert f'formaction="/candidates/{candidate.id}/emails/rejection"' in triage

    after = click(logged_in, triage, "Reject", f"/candidates/{candidate.id}/")

    [message] = outbox()
    assert (message.kind, message.status, message.candidate_id) == (
        EmailKind.REJECTION,
        OutboxStatus.PENDING,
        candidate.id,
    )
    assert message.queued_at == MONDAY
    assert message.send_after == MONDAY + dt.timedelta(seconds=60)
    assert message.subject == "Your application for Backend engineer at Example Company"
    assert status_of(candidate.id) == Status.REJECTED
    assert open_wait(candidate.id) is not None  # closes when sent, not when queued
    [queued] = events_of(candidate.id, EventKind.EMAIL_QUEUED)
    assert queued.data["status"] == {"from": "active", "to": "rejected"}

    # Back on the triage page: the row is gone (no longer active), its undo is not: once, in the
    # confirmation; the list of emails to check holds it from the next visit on.
    assert "Rejection to Jane Doe queued: it is sent at 10:01:00 Europe/Berlin unless you undo it." in after
    assert after.count(f'action="/emails/{message.id}/undo"') == 1
    assert f'data-attention-email="{message.id}"' not in after
    assert f'data-candidate-id="{candidate.id}"' not in after
    again = get(logged_in, "/")
    assert f'data-attention-email="{message.id}"' in again
    assert f'formaction="/emails/{message.id}/undo"' in again

    profile = get(logged_in, f"/candidates/{candidate.id}")
    assert f'data-undo="{message.id}"' in profile
    assert f'data-email="{message.id}" data-email-status="pending"' in profile
    assert 'data-field="status">Rejected<' in profile
    assert "Mon 16 Nov 2026, 10:00 Europe/Berlin · Maria Manager" in profile  # queued, viewer's zone


@pytest.mark.parametrize(("button", "status"), [("Send update", Status.ACTIVE), ("Reject", Status.REJECTED)])
def test_a_double_click_queues_one_email(logged_in, candidate, button, status):
    triage = row_menu(logged_in, candidate)
    url, data = Page(triage).button(button, f"/candidates/{candidate.id}/")
    first = logged_in.post(url, data=data)
    second = logged_in.post(url, data=data)
    assert first.status_code == second.status_code == 302

    assert len(outbox()) == 1
    assert len(events_of(candidate.id, EventKind.EMAIL_QUEUED)) == 1
    assert status_of(candidate.id) == status
    # Both clicks are told it is queued; neither is refused.
    after = get(logged_in, second.location)
    assert after.count(" to Jane Doe queued: it is sent at 10:01:00 Europe/Berlin") == 2
    assert "Nothing was queued" not in after


def test_two_concurrent_posts_of_the_same_button_queue_one_email(app, manager, candidate):
    clients = [app.test_client(), app.test_client()]
    for c in clients:
        login(c, manager)
    url, data = Page(get(clients[0], "/")).button("Send update", f"/candidates/{candidate.id}/")
    start = threading.Barrier(2)
    answers: list[int] = []
    errors: list[BaseException] = []

    def post(c: FlaskClient) -> None:
        try:
            with app.app_context():
                start.wait(timeout=10)
                answers.append(c.post(url, data=data).status_code)
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            errors.append(exc)

    threads = [threading.Thread(target=post, args=(c,)) for c in clients]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not errors, errors
    assert answers == [302, 302]
    [message] = outbox()
    assert message.kind == EmailKind.UPDATE
    assert len(events_of(candidate.id, EventKind.EMAIL_QUEUED)) == 1
    for c in clients:  # each was told it is queued, not refused
        assert "Status update to Jane Doe queued" in get(c, "/")


def test_undo_inside_the_window_restores_the_status_and_nothing_is_ever_sent(
    app, runner, logged_in, candidate, traveller
):
    after = click(logged_in, row_menu(logged_in, candidate), "Reject", f"/candidates/{candidate.id}/")
    [message] = outbox()

    traveller.shift(dt.timedelta(seconds=45))
    back = click(logged_in, after, "Undo", f"/emails/{message.id}/undo")
    assert "Undone: the rejection to Jane Doe will not be sent. Jane Doe is active again." in back
    assert f'data-candidate-id="{candidate.id}"' in back  # on the triage list again

    [message] = outbox()
    assert message.status == OutboxStatus.CANCELLED
    assert message.cancelled_at == MONDAY + dt.timedelta(seconds=45)
    assert status_of(candidate.id) == Status.ACTIVE
    [cancelled] = events_of(candidate.id, EventKind.EMAIL_CANCELLED)
    assert cancelled.body == "Undone before sending"

    traveller.shift(dt.timedelta(minutes=10))
    result = runner.invoke(args=["worker", "--once"])
    assert result.exit_code == 0, result.output
    assert "sent 0" in result.output
    assert mail_files(app) == []
    assert outbox()[0].sent_at is None

    # The same worker does write a message that was not undone (so the check above can fail).
    triage = get(logged_in, "/")
    click(logged_in, triage, "Send update", f"/candidates/{candidate.id}/")
    traveller.shift(dt.timedelta(seconds=61))
    assert runner.invoke(args=["worker", "--once"]).exit_code == 0
    [written] = mail_files(app)
    assert written.name.endswith("-update.eml")


def test_undo_after_the_window_is_refused_and_the_email_goes(logged_in, candidate, traveller):
    after = click(logged_in, row_menu(logged_in, candidate), "Offer", f"/candidates/{candidate.id}/")
    [message] = outbox()
    url, data = Page(after).button("Undo", f"/emails/{message.id}/undo")
    traveller.shift(dt.timedelta(seconds=60))
    response = logged_in.post(url, data=data)
    assert response.status_code == 302
    assert "Not undone: too late to undo" in get(logged_in, response.location)
    assert outbox()[0].status == OutboxStatus.PENDING
    assert status_of(candidate.id) == Status.OFFERED


def test_with_no_undo_window_the_email_is_sent_at_once(app, logged_in, candidate, runner):
    app.config["OUTBOX_UNDO_SECONDS"] = 0
    after = click(logged_in, row_menu(logged_in, candidate), "Reject", f"/candidates/{candidate.id}/")
    assert "Rejection to Jane Doe queued: it is sent now." in after
    [message] = outbox()
    assert message.send_after == MONDAY
    assert f'action="/emails/{message.id}/undo"' not in after
    assert runner.invoke(args=["worker", "--once"]).exit_code == 0
    assert len(mail_files(app)) == 1
    assert outbox()[0].status == OutboxStatus.SENT
    assert open_wait(candidate.id) is None  # heard from us: the wait closed at the send time


# --- the candidate page ---------------------------------------------------------------------------


def test_moving_back_to_interview_cancels_a_queued_rejection(
    app, runner, session, client, manager, traveller, position
):
    finalist = add(session, position, stage="final")
    login(client, manager)
    profile = get(client, f"/candidates/{finalist.id}")
    answered = click(client, profile, "Reject", f"/candidates/{finalist.id}/emails/rejection")
    assert "Rejection to Jane Doe queued" in answered  # answered: back on the candidate's page
    assert 'data-field="status">Rejected<' in answered
    profile = get(client, f"/candidates/{finalist.id}")

    traveller.shift(dt.timedelta(seconds=20))
    stage_form = Page(profile).form_with("stage")
    response = client.post(stage_form["action"], data={**dict(stage_form["fields"]), "stage": "interview"})
    assert response.status_code == 302
    profile = get(client, response.location)
    assert "The queued rejection was cancelled: Jane Doe is active again." in profile
    assert 'data-field="stage">Interview<' in profile
    assert 'data-field="status">Active<' in profile

    [message] = outbox()
    assert message.status == OutboxStatus.CANCELLED
    reason = "Cancelled: Jane Doe was moved to interview after the rejection was queued"
    assert message.cancel_reason == reason
    [cancelled] = events_of(finalist.id, EventKind.EMAIL_CANCELLED)
    assert cancelled.body == reason
    assert reason in profile  # the timeline and the email history say so

    traveller.shift(dt.timedelta(minutes=5))
    assert runner.invoke(args=["worker", "--once"]).exit_code == 0
    assert mail_files(app) == []


def test_update_promises_the_date_the_manager_picks(logged_in, candidate):
    profile = get(logged_in, f"/candidates/{candidate.id}")
    form = next(f for f in Page(profile).forms if (f["action"] or "").endswith("/emails/update"))
    suggested = promises.default_promise_date(db.session, candidate, MONDAY, SETTINGS)
    assert suggested == dt.date(2026, 11, 23)
    assert ("promised_date", "2026-11-23") in form["fields"]

    response = logged_in.post(form["action"], data={**dict(form["fields"]), "promised_date": "2026-11-19"})
    assert response.status_code == 302
    profile = get(logged_in, response.location)
    assert "You promise an answer by Thu 19 Nov 2026." in profile

    [message] = outbox()
    assert (message.kind, message.promised_date) == (EmailKind.UPDATE, dt.date(2026, 11, 19))
    assert "You will hear from us by Thursday, 19 November 2026 at the latest." in message.text_body
    assert open_wait(candidate.id).promised_date is None  # until the candidate can read it
    assert status_of(candidate.id) == Status.ACTIVE


def test_update_from_triage_promises_the_policy_deadline(logged_in, candidate):
    click(logged_in, get(logged_in, "/"), "Send update", f"/candidates/{candidate.id}/")
    [message] = outbox()
    assert message.promised_date == dt.date(2026, 11, 23)


def test_a_date_in_the_past_is_refused_and_nothing_is_queued(logged_in, candidate):
    profile = get(logged_in, f"/candidates/{candidate.id}")
    url, data = Page(profile).button("Update", "/emails/update")
    response = logged_in.post(url, data={**data, "promised_date": "2026-11-13"})
    assert response.status_code == 302
    assert "Nothing was queued. Promised an answer by: 2026-11-13 is in the past" in get(
        logged_in, response.location
    )
    assert outbox() == []


def test_a_candidate_who_was_sent_a_rejection_gets_no_offer(app, runner, logged_in, candidate):
    app.config["OUTBOX_UNDO_SECONDS"] = 0
    profile = click(logged_in, get(logged_in, f"/candidates/{candidate.id}"), "Reject", "/emails/rejection")
    assert runner.invoke(args=["worker", "--once"]).exit_code == 0
    assert f'action="/candidates/{candidate.id}/emails/offer"' not in profile
    response = logged_in.post(f"/candidates/{candidate.id}/emails/offer", data={"nonce": "another-page-1"})
    assert response.status_code == 302
    profile = get(logged_in, response.location)
    assert "Nothing was queued: cannot send Jane Doe a" in profile and "they are rejected" in profile
    assert [m.status for m in outbox()] == [OutboxStatus.SENT]


# --- customize --------------------------------------------------------------------------------------


def test_customized_rejection_carries_feedback_and_keeps_reasons_internal(logged_in, candidate):
    triage = row_menu(logged_in, candidate)
    link = re.search(rf'href="(/candidates/{candidate.id}/emails/rejection/customize[^"]*)"', triage).group(1)
    page = get(logged_in, link.replace("&amp;", "&"))
    assert "Rejection to Jane Doe" in page
    assert "Dear Jane," in page  # the preview, for this candidate
    form = Page(page).form_with("shown_text")
    data = dict(form["fields"])
    data.update(
        feedback="Your system design answers were strong; we need more on-call experience.",
        reasons=["Experience level", "Technical skills"],
        other_reason="Chose an internal transfer",
        action="queue",
    )
    response = logged_in.post(link.replace("&amp;", "&"), data=data)
    assert response.status_code == 302
    assert response.location == f"/#row-{candidate.id}"  # back to the triage row it came from

    [message] = outbox()
    assert "Your system design answers were strong; we need more on-call experience." in message.text_body
    assert "Your system design answers were strong; we need more on-call experience." in message.html_body
    assert message.reasons == ["Experience level", "Technical skills", "Chose an internal transfer"]
    for reason in message.reasons:
        assert reason not in message.subject + message.text_body + message.html_body
    assert "<blockquote" in message.html_body  # the template's HTML part, not one made from text

    profile = get(logged_in, f"/candidates/{candidate.id}")
    assert "Experience level, Technical skills, Chose an internal transfer" in profile
    assert "(never sent)" in profile


def test_an_edited_message_is_sent_as_written(logged_in, candidate):
    url = f"/candidates/{candidate.id}/emails/offer/customize"
    form = Page(get(logged_in, url)).form_with("shown_text")
    data = dict(form["fields"])
    data.update(
        subject="Jane, let's talk",
        text="Dear Jane,\r\n\r\nCould we call on Thursday about an offer?\r\n\r\nMaria",
        action="queue",
    )
    response = logged_in.post(url, data=data)
    assert response.status_code == 302
    [message] = outbox()
    assert message.subject == "Jane, let's talk"
    assert message.text_body == "Dear Jane,\n\nCould we call on Thursday about an offer?\n\nMaria"
    assert '">Could we call on Thursday about an offer?</p>' in message.html_body
    assert status_of(candidate.id) == Status.OFFERED


def test_preview_follows_the_feedback_until_the_text_is_edited(logged_in, candidate):
    url = f"/candidates/{candidate.id}/emails/rejection/customize"
    data = dict(Page(get(logged_in, url)).form_with("shown_text")["fields"])
    data.update(feedback="Great portfolio.", action="preview")
    previewed = logged_in.post(url, data=data)
    assert previewed.status_code == 200
    html = previewed.get_data(as_text=True)
    assert "Great portfolio." in re.search(r"data-preview-text>(.*?)</div>", html, re.S).group(1)
    assert outbox() == []

    data = dict(Page(html).form_with("shown_text")["fields"])
    data.update(text="Dear Jane, no.", feedback="Something else entirely.", action="queue")
    refused = logged_in.post(url, data=data)
    assert refused.status_code == 422
    assert "Feedback: you edited the message, so the feedback is not added to it" in refused.get_data(
        as_text=True
    )
    assert outbox() == []


# --- history, failure and retry ----------------------------------------------------------------


def test_a_failed_email_shows_on_triage_and_the_candidate_page_and_can_be_retried(
    app, make_app, runner, logged_in, candidate, traveller
):
    click(logged_in, get(logged_in, "/"), "Send update", f"/candidates/{candidate.id}/")
    waiting = open_wait(candidate.id)
    traveller.shift(dt.timedelta(seconds=61))
    refused = make_app(
        MAIL_BACKEND="smtp",
        MAIL_SERVER="127.0.0.1",
        MAIL_PORT=free_port(),
        MAIL_TIMEOUT=2,
        OUTBOX_MAX_ATTEMPTS=1,
    )
    report = run_worker(refused, once=True)
    assert report.failed == 1, report
    [message] = outbox()
    assert message.status == OutboxStatus.FAILED and message.last_error

    triage = get(logged_in, "/")
    row = re.search(rf'<tr data-candidate-id="{candidate.id}".*?</tr>', triage, re.S).group(0)
    assert "Email failed</span> status update:" in row
    assert message.last_error in row or message.last_error.replace("'", "&#39;") in row

    profile = get(logged_in, f"/candidates/{candidate.id}")
    item = re.search(rf'<li [^>]*data-email="{message.id}".*?</li>', profile, re.S).group(0)
    assert 'data-email-status="failed"' in item
    assert re.search(r"data-email-attempts>1<", item)
    assert "data-email-error>" in item
    assert "data-email-failed>Mon 16 Nov 2026, 10:01 Europe/Berlin<" in item  # the viewer's zone

    profile = click(logged_in, profile, "Retry", f"/emails/{message.id}/retry")
    assert "queued again" in profile
    [message] = outbox()
    assert (message.status, message.attempts) == (OutboxStatus.PENDING, 0)

    assert runner.invoke(args=["worker", "--once"]).exit_code == 0
    [message] = outbox()
    assert message.status == OutboxStatus.SENT
    assert len(mail_files(app)) == 1
    profile = get(logged_in, f"/candidates/{candidate.id}")
    item = re.search(rf'<li [^>]*data-email="{message.id}".*?</li>', profile, re.S).group(0)
    assert "The message as sent" in item
    assert "You will hear from us by Monday, 23 November 2026 at the latest." in item
    db.session.refresh(waiting)
    assert waiting.closed_at == MONDAY + dt.timedelta(seconds=61)  # the candidate heard from us
    assert open_wait(candidate.id).promised_date == dt.date(2026, 11, 23)  # and waits for that date


# --- escaping -----------------------------------------------------------------------------------


def test_a_hostile_candidate_name_is_escaped_on_every_page(
    app, make_app, client, session, manager, position, traveller
):
    waiting = add(session, position, name=HOSTILE, email="h1@example.com")
    rejected = add(session, position, name=HOSTILE, email="h2@example.com")
    login(client, manager)
    pages = [click(client, get(client, "/"), "Send update", f"/candidates/{waiting.id}/")]
    traveller.shift(dt.timedelta(seconds=61))
    run_worker(
        make_app(
            MAIL_BACKEND="smtp",
            MAIL_SERVER="127.0.0.1",
            MAIL_PORT=free_port(),
            MAIL_TIMEOUT=2,
            OUTBOX_MAX_ATTEMPTS=1,
        ),
        once=True,
    )  # fails: a row badge
    pages.append(click(client, row_menu(client, rejected), "Reject", f"/candidates/{rejected.id}/"))
    pages += [
        get(client, "/"),
        get(client, f"/candidates/{waiting.id}"),
        get(client, f"/candidates/{rejected.id}"),
        get(client, f"/candidates/{waiting.id}/emails/rejection/customize"),
        get(client, f"/candidates/{waiting.id}/emails/update/customize"),
    ]
    assert {m.status for m in outbox()} == {OutboxStatus.FAILED, OutboxStatus.PENDING}
    for html in pages:
        assert "<script>alert(1)" not in html
        assert "<img src=x" not in html
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


# --- CSRF ------------------------------------------------------------------------------------------


@pytest.mark.usefixtures("csrf_on")
def test_email_actions_need_the_csrf_token(client, manager, candidate):
    login(client, manager)
    triage = row_menu(client, candidate)
    url, data = Page(triage).button("Reject", f"/candidates/{candidate.id}/")
    refused = client.post(url, data={k: v for k, v in data.items() if k != "csrf_token"})
    assert refused.status_code == 400
    assert outbox() == []
    assert client.post(url, data=data).status_code == 302
    [message] = outbox()
    refused = client.post(f"/emails/{message.id}/undo", data={"next": "/"})
    assert refused.status_code == 400
    assert outbox()[0].status == OutboxStatus.PENDING


# --- admin: templates ---------------------------------------------------------------------------


@pytest.fixture
def admin(session):
    user = UserFactory(name="Hana Admin", role=Role.ADMIN)
    session.commit()
    return user


def test_admin_edits_a_template_with_preview_and_a_one_click_email_uses_it(client, admin, candidate, manager):
    login(client, admin)
    listing = get(client, "/admin/emails")
    assert "Email templates" in listing
    assert listing.count("data-template=") == 5 and listing.count(">Organisation default<") == 5
    page = get(client, "/admin/emails/rejection")
    for name in (
        "candidate_first_name",
        "candidate_name",
        "position",
        "manager",
        "company",
        "promised_date",
        "feedback",
    ):
        assert "{{ " + name + " }}" in page
    assert "Dear Alex," in page  # the current template, previewed on the sample candidate

    data = dict(Page(page).form_with("subject")["fields"])
    data.update(
        subject="About {{ position }}", text="Hi {{ candidate_first_name }}, sorry.\n", action="preview"
    )
    previewed = client.post("/admin/emails/rejection", data=data)
    assert previewed.status_code == 200
    html = previewed.get_data(as_text=True)
    assert "About Backend Engineer" in html and "Hi Alex, sorry." in html
    assert db.session.scalar(sa.select(sa.func.count()).select_from(EmailTemplate)) == 0

    data["action"] = "save"
    saved = client.post("/admin/emails/rejection", data=data)
    assert saved.status_code == 302
    assert "Saved the rejection template" in get(client, saved.location)
    listing = get(client, "/admin/emails")  # the edit is a named template now, the kind's default
    assert listing.count("data-template=") == 6 and "Rejection as shipped" in listing

    triage = row_menu(client, candidate, f"manager={manager.id}&")
    click(client, triage, "Reject", f"/candidates/{candidate.id}/")
    [message] = outbox()
    assert (message.subject, message.text_body.strip()) == ("About Backend engineer", "Hi Jane, sorry.")

    page = get(client, "/admin/emails/rejection")
    reset = click(client, page, "Reset to the default", "/admin/emails/rejection/reset")
    assert "back to the default" in reset
    assert db.session.scalar(sa.select(sa.func.count()).select_from(EmailTemplate)) == 0


@pytest.mark.parametrize(
    ("field", "source", "reason"),
    [
        ("text", "Hello {{ candidate.__class__ }}", "text: unknown placeholder candidate"),
        ("subject", "Salary {{ salary }}", "subject: unknown placeholder salary"),
        ("html", "<p>{{ position.__class__.__mro__ }}</p>", "html: attribute access"),
        ("text", "Hello {{ position ", "text: line 1"),
        ("text", "{{ config }}", "text: unknown placeholder config"),
    ],
)
def test_a_template_outside_the_sandbox_or_not_parsing_is_refused(client, admin, field, source, reason):
    login(client, admin)
    data = dict(Page(get(client, "/admin/emails/offer")).form_with("subject")["fields"])
    data.update({field: source, "action": "save"})
    refused = client.post("/admin/emails/offer", data=data)
    assert refused.status_code == 422
    html = refused.get_data(as_text=True)
    assert f'class="invalid-feedback d-block">{reason}' in html
    assert db.session.scalar(sa.select(sa.func.count()).select_from(EmailTemplate)) == 0


def test_managers_get_404_on_the_template_pages(client, manager, session):
    session.commit()
    login(client, manager)
    assert client.get("/admin/emails").status_code == 404
    assert client.get("/admin/emails/rejection").status_code == 404
    assert (
        client.post(
            "/admin/emails/rejection", data={"subject": "x", "text": "x", "html": "x", "action": "save"}
        ).status_code
        == 404
    )
    assert client.post("/admin/emails/rejection/reset").status_code == 404
    assert "Email templates" not in get(client, "/")
    assert db.session.scalar(sa.select(sa.func.count()).select_from(EmailTemplate)) == 0


def test_correcting_the_email_readdresses_a_queued_message(app, session):
    manager = UserFactory()
    position = PositionFactory(manager=manager)
    now = dt.datetime.now(dt.UTC)
    candidate = candidates.add_candidate(session, position, "Jon Doe", "jon@exmaple.org", now, OrgSettings())
    request = EmailRequest(candidate, "rejection", "typo-fix", now, manager)
    message = answers.queue_email(session, request, EmailConfig.from_app(app), OrgSettings())
    session.commit()
    candidates.update_details(session, candidate, "Jon Doe", "jon@example.org")
    session.commit()
    session.refresh(message)
    assert message.to_address == "jon@example.org"
