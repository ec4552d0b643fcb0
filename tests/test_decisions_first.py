"""Decisions, not only updates: a candidate who has had a status update while the decision is owed
(from their manager or from autopilot, sent or still queued) is marked "only updates so far" on the
triage page and in the daily digest, and their row offers the decision (Reject, Next step, Offer)
before Send update; so does an escalated row. A fresh row is as it was: Send update first.

The mark is read from what is stored (the answer that opened the wait, the update on its way), in
one statement per page, whatever the number of rows.
"""

from __future__ import annotations

import datetime as dt
import html as html_module
import re

import pytest
import sqlalchemy as sa
import time_machine
from flask import current_app

from feedback_sla.candidates.models import ContactChannel
from feedback_sla.emails import checks
from feedback_sla.emails.config import EmailConfig
from feedback_sla.emails.models import EmailKind, OutboxMessage
from feedback_sla.settings import service as settings_service
from feedback_sla.waits import answers, service
from feedback_sla.waits.decisions import only_updates_so_far
from feedback_sla.waits.models import Wait
from feedback_sla.worker import backend_for, deliver_due

from .factories import PositionFactory, UserFactory
from .helpers import count_statements, logged_in

UTC = dt.UTC
#: Wednesday 18 November 2026, 15:00 UTC.
NOW = dt.datetime(2026, 11, 18, 15, 0, tzinfo=UTC)
#: Applied on the 11th: 5 business days, due today; on the 2nd: overdue; on the 17th: on track.
DUE_TODAY, OVERDUE, YESTERDAY = (dt.datetime(2026, 11, d, 9, 0, tzinfo=UTC) for d in (11, 2, 17))
MARK = "Only updates so far"
BASE_URL = "https://feedback.example.com"


@pytest.fixture
def app_config(app_config):
    app_config["BASE_URL"] = BASE_URL
    return app_config


@pytest.fixture(autouse=True)
def traveller():
    """The page is read half an hour after NOW; each action says when it happened."""
    with time_machine.travel(NOW + dt.timedelta(minutes=30), tick=False) as traveller:
        yield traveller


@pytest.fixture
def maria(session):
    user = UserFactory(name="Maria Lopez", email="maria@example.com", time_zone="UTC")
    session.commit()
    return user


@pytest.fixture
def backend(session, maria):
    position = PositionFactory(manager=maria, title="Backend Engineer", time_zone="UTC", autopilot=True)
    session.commit()
    return position


def add(session, position, name: str, applied_at: dt.datetime):
    address = name.lower().replace(" ", ".") + "@example.com"
    candidate = service.add_candidate(
        session, position, name, address, applied_at, settings_service.load(session)
    )
    session.commit()
    return candidate


def queue(session, candidate, kind: EmailKind, at: dt.datetime) -> OutboxMessage:
    wanted = checks.EmailRequest(
        candidate, kind, checks.new_idempotency_key(), at, candidate.position.manager, default_promise=True
    )
    message = answers.queue_email(
        session, wanted, EmailConfig.from_app(current_app), settings_service.load(session)
    )
    session.commit()
    return message


def deliver(session, at: dt.datetime) -> None:
    """The worker, once the undo window of what was queued before ``at`` is over."""
    config = EmailConfig.from_app(current_app)
    sent_at = at + dt.timedelta(seconds=config.undo_seconds + 1)
    deliver_due(session, config, backend_for(current_app, config), clock=lambda: sent_at)
    session.expire_all()


def triage(client, **args) -> str:
    response = client.get("/", query_string=args)
    assert response.status_code == 200
    return html_module.unescape(response.get_data(as_text=True))


def row_of(page: str, candidate) -> str:
    (row,) = re.findall(rf'<tr data-candidate-id="{candidate.id}".*?</tr>', page, flags=re.S)
    return row


def answers_in_order(row: str) -> list[str]:
    """The row's answers outside its More menu, as a reader meets them."""
    outside = row.split('<details class="menu row-menu">')[0]
    found = re.findall(r'(?:data-decision>|data-key="update">)([^<…]+)', outside)
    return [" ".join(label.split()) for label in found]


def open_wait(session, candidate) -> Wait:
    return session.scalar(sa.select(Wait).where(Wait.candidate_id == candidate.id, Wait.closed_at.is_(None)))


# --- the triage page ---------------------------------------------------------------------------------


def test_after_an_update_the_row_is_marked_and_offers_the_decision_before_send_update(
    client, session, maria, backend
):
    told = add(session, backend, "Ada Obi", DUE_TODAY)
    fresh = add(session, backend, "Ben Carter", DUE_TODAY)
    queue(session, told, EmailKind.UPDATE, NOW)
    deliver(session, NOW)
    assert open_wait(session, told).promised_date is not None  # the update's wait, on its promise

    logged_in(client, maria)
    page = triage(client)
    row = row_of(page, told)
    assert MARK in row and " data-updates-only" in row
    assert answers_in_order(row) == ["Reject", "Next step", "Offer", "Send update"]
    assert row.index(">Reject") < row.index(">Send update")
    # Each decision opens its email to read (and a rejection's feedback to write), then comes back.
    for kind in ("rejection", "next_step", "offer"):
        assert f'href="/candidates/{told.id}/emails/{kind}/customize?next=/%3F%23row-{told.id}"' in row
    # Send update is still there, second, no longer the page's main button for this row.
    assert 'class="btn btn-sm btn-outline-secondary" formaction="' in row

    fresh_row = row_of(page, fresh)
    assert MARK not in fresh_row and "data-updates-only" not in fresh_row
    assert answers_in_order(fresh_row) == ["Send update"]
    assert fresh_row.count('class="btn btn-sm btn-primary"') == 1
    in_place = row_of(triage(client, menu=fresh.id), fresh)  # its menu, as without JavaScript
    assert in_place.index(">Send update") < in_place.index(">Reject")


def test_an_update_still_queued_counts_and_is_on_its_way(client, session, maria, backend):
    told = add(session, backend, "Ada Obi", DUE_TODAY)
    queue(session, told, EmailKind.UPDATE, NOW)
    logged_in(client, maria)
    row = row_of(triage(client), told)
    assert MARK in row
    assert answers_in_order(row) == ["Reject", "Next step", "Offer"]
    assert "Update on its way" in row and row.index(">Reject") < row.index("Update on its way")


def test_an_update_undone_is_no_update(client, session, maria, backend):
    told = add(session, backend, "Ada Obi", DUE_TODAY)
    message = queue(session, told, EmailKind.UPDATE, NOW)
    answers.undo_email(session, message, NOW + dt.timedelta(seconds=5), maria)
    session.commit()
    logged_in(client, maria)
    row = row_of(triage(client), told)
    assert MARK not in row and answers_in_order(row) == ["Send update"]


def test_an_escalated_row_offers_the_decision_first_without_the_mark(client, session, maria, backend):
    late = add(session, backend, "Ada Obi", OVERDUE - dt.timedelta(days=14))  # 14 days without a word
    logged_in(client, maria)
    page = triage(client)
    row = row_of(page, late)
    assert 'data-state="escalated"' in row
    assert MARK not in row  # nobody has written to them at all: not "only updates"
    assert answers_in_order(row) == ["Reject", "Next step", "Offer", "Send update"]


def test_a_call_that_promised_a_date_is_an_update_too(client, session, maria, backend):
    called = add(session, backend, "Ada Obi", DUE_TODAY)
    service.log_contact(
        session,
        called,
        ContactChannel.PHONE,
        NOW,
        maria,
        "Told her we decide next week",
        promised=dt.date(2026, 11, 25),
        settings=settings_service.load(session),
    )
    session.commit()
    logged_in(client, maria)
    assert MARK in row_of(triage(client), called)


def test_an_interview_after_the_update_owes_a_new_decision_unmarked(client, session, maria, backend):
    told = add(session, backend, "Ada Obi", DUE_TODAY)
    queue(session, told, EmailKind.UPDATE, NOW - dt.timedelta(days=1))
    deliver(session, NOW - dt.timedelta(days=1))
    service.interview_held(session, told, NOW, settings_service.load(session), maria)
    session.commit()
    logged_in(client, maria)
    row = row_of(triage(client), told)
    assert MARK not in row and answers_in_order(row) == ["Send update"]


def test_autopilot_updates_count_as_updates(runner, client, session, maria, backend):
    quiet = add(session, backend, "Ada Obi", DUE_TODAY)  # due today: inside autopilot's lead time
    with time_machine.travel(NOW, tick=False):
        result = runner.invoke(args=["autopilot", "run"])
    assert result.exit_code == 0, result.output
    assert "1 update(s) queued" in result.output
    logged_in(client, maria)
    assert MARK in row_of(triage(client), quiet)  # queued
    deliver(session, NOW)
    assert MARK in row_of(triage(client), quiet)  # sent: the wait it opened, on its promise


def test_the_mark_costs_one_statement_for_three_rows_or_fifty(client, session, maria, backend):
    first = [add(session, backend, f"Early {n:03}", DUE_TODAY) for n in range(3)]
    for candidate in first:
        queue(session, candidate, EmailKind.UPDATE, NOW)
    logged_in(client, maria)
    triage(client)
    with count_statements() as few:
        page = triage(client)
    assert page.count(f">{MARK}<") == 3
    for n in range(60):
        candidate = add(session, backend, f"Later {n:03}", YESTERDAY)
        if n % 2:
            queue(session, candidate, EmailKind.UPDATE, NOW)
    with count_statements() as many:
        page = triage(client)
    assert len(many) == len(few)
    assert page.count(f">{MARK}<") > 3


def test_the_rule_reads_a_page_of_waits_at_once(session, maria, backend):
    told = add(session, backend, "Ada Obi", DUE_TODAY)
    fresh = add(session, backend, "Ben Carter", DUE_TODAY)
    queue(session, told, EmailKind.UPDATE, NOW)
    waits = [open_wait(session, c).id for c in (told, fresh)]
    with count_statements() as statements:
        assert only_updates_so_far(session, waits) == {waits[0]}
    assert len(statements) == 1
    assert only_updates_so_far(session, []) == set()


# --- the daily digest -------------------------------------------------------------------------------


def test_the_digest_marks_those_with_only_updates_so_far(runner, session, maria, backend):
    told = add(session, backend, "Ada Obi", OVERDUE)
    add(session, backend, "Ben Carter", OVERDUE)
    queue(session, told, EmailKind.UPDATE, NOW - dt.timedelta(days=10))
    deliver(session, NOW - dt.timedelta(days=10))  # promised the 25th of November: overdue by then
    later = dt.datetime(2026, 11, 26, 8, 0, tzinfo=UTC)
    result = runner.invoke(args=["digest", "send", "--now", later.isoformat()])
    assert result.exit_code == 0, result.output
    [digest] = session.scalars(sa.select(OutboxMessage).where(OutboxMessage.kind == EmailKind.DIGEST)).all()

    text = digest.text_body
    ada, ben = text.index("* Ada Obi"), text.index("* Ben Carter")
    ada_item = text[ada:ben] if ada < ben else text[ada:]
    ben_item = text[ben:ada] if ben < ada else text[ben:]
    assert MARK in ada_item and MARK not in ben_item
    assert text.count(MARK) == 1

    body = html_module.unescape(digest.html_body)
    assert body.count(MARK) == 1
    (item,) = [part for part in body.split('class="item"') if "Ada Obi" in part]
    assert MARK in item
