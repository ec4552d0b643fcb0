"""One date for the candidate: the date we last told them is the deadline on every page and in every text.

A manager sends an update promising a date seven business days after the policy's deadline. The
email says it; the status page linked from that email says it; the triage row, the candidate page,
the API and the export all hold the candidate's wait due on it, and nobody shows it overdue before.
The clock is held still in Berlin's winter, across weekends.
"""

from __future__ import annotations

import csv
import datetime as dt
import email
import io
import re
from email import policy
from pathlib import Path

import pytest
import time_machine

from feedback_sla.candidates.models import Candidate, ContactChannel
from feedback_sla.database import db
from feedback_sla.emails.checks import EmailRequest, new_idempotency_key
from feedback_sla.emails.config import EmailConfig
from feedback_sla.settings import service as settings_service
from feedback_sla.timeutil import local_date, long_date
from feedback_sla.waits import answers, clock, undo
from feedback_sla.waits import service as waits
from feedback_sla.waits.queries import open_wait_of

from .api_support import bearer
from .factories import PositionFactory, UserFactory
from .helpers import berlin, logged_in, text

BERLIN = "Europe/Berlin"
#: Monday 30 November 2026, 09:00 in Berlin: the candidate applies (five business days: Monday 7th).
APPLIED = berlin(2026, 11, 30, 9, 0)
#: Tuesday 1 December: the manager answers with an update.
TUESDAY = berlin(2026, 12, 1, 10, 0)
TOKEN = re.compile(r"http://localhost/status/([A-Za-z0-9_-]{43})")


@pytest.fixture
def app_config(app_config):
    app_config["BASE_URL"] = "http://localhost"
    app_config["OUTBOX_UNDO_SECONDS"] = 0
    return app_config


@pytest.fixture
def manager(session):
    return UserFactory(name="Maria Lopez", email="maria@example.com", time_zone=BERLIN)


@pytest.fixture
def candidate(session, manager):
    position = PositionFactory(manager=manager, title="Backend Engineer", time_zone=BERLIN)
    candidate = waits.add_candidate(
        session, position, "Zoë Quinn", "zoe@example.org", APPLIED, settings_service.load(session)
    )
    session.commit()
    return candidate


def policy_deadline(candidate) -> dt.date:
    return local_date(open_wait_of(db.session, candidate).due_at, BERLIN)


def seven_business_days_after(day: dt.date) -> dt.date:
    return clock.add_business_days(day, 7, settings_service.load(db.session).holiday_calendar)


def send_update(app, runner, candidate, promised: dt.date) -> str:
    """Queue the update at TUESDAY, let the worker deliver it; the text of the message sent."""
    with time_machine.travel(TUESDAY, tick=False):
        config = settings_service.email_config(db.session, EmailConfig.from_app(app))
        request = EmailRequest(
            db.session.get(Candidate, candidate.id),
            "update",
            new_idempotency_key(),
            TUESDAY,
            candidate.position.manager,
            promised_date=promised,
        )
        answers.queue_email(db.session, request, config, settings_service.load(db.session))
        db.session.commit()
        result = runner.invoke(args=["worker", "--once"])
    assert result.exit_code == 0, result.output
    [written] = sorted(Path(app.instance_path).rglob("*.eml"))
    return (
        email.message_from_bytes(written.read_bytes(), policy=policy.default)
        .get_body(("plain",))
        .get_content()
    )


def triage_row(client, manager, candidate, at: dt.datetime) -> str:
    with time_machine.travel(at, tick=False):
        logged_in(client, manager)
        page = client.get("/").get_data(as_text=True)
        client.post("/logout")
    [row] = re.findall(rf'<tr data-candidate-id="{candidate.id}".*?</tr>', page, re.S)
    return row


def test_the_candidate_reads_one_date_and_the_manager_is_held_to_it_not_to_the_policy(
    app, client, runner, session, manager, candidate
):
    policy_due = policy_deadline(candidate)
    assert policy_due == dt.date(2026, 12, 7)
    promised = seven_business_days_after(policy_due)
    assert promised == dt.date(2026, 12, 16)  # a Wednesday, two weekends later

    sent = send_update(app, runner, candidate, promised)
    told = long_date(promised)
    assert told == "Wednesday, 16 December 2026"
    assert f"You will hear from us by {told} at the latest." in sent

    [token] = TOKEN.findall(sent)
    with time_machine.travel(berlin(2026, 12, 9, 12, 0), tick=False):
        status_page = text(client.get(f"/status/{token}"))
    assert f"We owe you an answer by {told}." in status_page
    assert "That is the date we promised you." in status_page
    assert long_date(policy_due) not in status_page

    # The day after the policy's deadline and the day before the promise: on track, not overdue.
    for at in (berlin(2026, 12, 8, 10, 0), berlin(2026, 12, 14, 10, 0)):
        row = triage_row(client, manager, candidate, at)
        assert 'data-state="on_track"' in row, row
        assert "promised to the candidate: Wed 16 Dec 2026" in row
    assert "due in 6 business days" in triage_row(client, manager, candidate, berlin(2026, 12, 8, 10, 0))
    assert "due tomorrow" in triage_row(client, manager, candidate, berlin(2026, 12, 15, 9, 0))
    # Escalation still counts the days the wait has been open (14 from Tuesday 1st), as it did.
    row = triage_row(client, manager, candidate, berlin(2026, 12, 16, 17, 59))
    assert 'data-state="escalated"' in row and "due today" in row
    assert "1 business day overdue" in triage_row(client, manager, candidate, berlin(2026, 12, 17, 9, 0))

    wait = open_wait_of(session, candidate)
    assert wait.promised_date == promised
    assert wait.due_at == berlin(2026, 12, 16, 18, 0)

    with time_machine.travel(berlin(2026, 12, 9, 12, 0), tick=False):
        logged_in(client, manager)
        page = client.get(f"/candidates/{candidate.id}").get_data(as_text=True)
        assert 'data-field="promised">Wed 16 Dec 2026<' in page
        exported = runner.invoke(args=["export", "response-times", "--status", "open"])
    assert exported.exit_code == 0, exported.output
    [open_row] = list(csv.DictReader(io.StringIO(exported.output)))
    assert open_row["promised_date"] == "2026-12-16"
    assert open_row["due_at"] == "2026-12-16T18:00:00+01:00"  # the end of business in Berlin


def test_the_api_lists_the_wait_due_on_the_promised_date(app, client, runner, session, manager, candidate):
    from feedback_sla.accounts import tokens

    promised = seven_business_days_after(policy_deadline(candidate))
    send_update(app, runner, candidate, promised)
    with time_machine.travel(berlin(2026, 12, 9, 12, 0), tick=False):
        secret = tokens.create_token(session, manager, "script", berlin(2026, 12, 9, 12, 0)).secret
        session.commit()
        listed = client.get("/api/v1/waits", headers=bearer(secret)).get_json()
    [item] = listed["items"]
    assert item["promised_date"] == "2026-12-16"
    assert item["due_at"].startswith("2026-12-16T17:00:00")
    assert item["state"] == "on_track"


def test_a_promise_told_on_the_phone_opens_the_next_wait_due_on_it_and_its_undo_takes_it_back(
    session, manager, candidate
):
    settings = settings_service.load(session)
    answered = open_wait_of(session, candidate)
    promised = dt.date(2026, 12, 18)
    event = waits.log_contact(
        session, candidate, ContactChannel.PHONE, TUESDAY, manager, promised=promised, settings=settings
    )
    session.commit()
    follow_on = open_wait_of(session, candidate)
    assert follow_on.id != answered.id and follow_on.reason == answered.reason
    assert follow_on.due_at == berlin(2026, 12, 18, 18, 0) and follow_on.opened_at == TUESDAY

    undo.undo(session, candidate, event.id, TUESDAY + dt.timedelta(seconds=5), dt.timedelta(minutes=1))
    session.commit()
    assert open_wait_of(session, candidate).id == answered.id
    assert open_wait_of(session, candidate).due_at == berlin(2026, 12, 7, 18, 0)


@pytest.mark.parametrize(
    ("promised", "reason"),
    [
        (dt.date(2026, 11, 30), "promised date: 2026-11-30 is in the past"),
        (dt.date(2027, 12, 3), "promised date: 2027-12-03 is more than a year ahead"),
    ],
)
def test_a_promise_told_on_the_phone_stays_between_today_and_a_year_ahead(
    session, manager, candidate, promised, reason
):
    with pytest.raises(waits.DomainError, match=reason):
        waits.log_contact(
            session,
            candidate,
            ContactChannel.PHONE,
            TUESDAY,
            manager,
            promised=promised,
            settings=settings_service.load(session),
        )
    session.rollback()
    assert open_wait_of(session, candidate).closed_at is None


def test_the_contact_form_takes_the_date_told_and_says_when_the_next_answer_is_due(
    client, session, manager, candidate
):
    with time_machine.travel(TUESDAY, tick=False):
        logged_in(client, manager)
        page = client.get(f"/candidates/{candidate.id}").get_data(as_text=True)
        token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page)
        data = {"channel": "phone", "promised_date": "2026-12-18"}
        if token:
            data["csrf_token"] = token.group(1)
        response = client.post(f"/candidates/{candidate.id}/contact", data=data, follow_redirects=True)
    assert response.status_code == 200
    assert "you promised an answer by Fri 18 Dec 2026" in text(response)
    assert open_wait_of(session, candidate).due_at == berlin(2026, 12, 18, 18, 0)
