"""After an erasure: nothing of the candidate's arrives again (a reply or a bounce to an old email,
an ATS event about the person, a correction of their details, a note or a logged contact), and a
candidate still in the process is withdrawn by the erasure, so their wait closes and they leave
triage.
"""

from __future__ import annotations

import datetime as dt
import json

import pytest
import sqlalchemy as sa
import time_machine
from flask import current_app

from feedback_sla.accounts import tokens
from feedback_sla.ats import sources
from feedback_sla.ats.models import Delivery, DeliveryStatus, ExternalId, Kind, Source
from feedback_sla.candidates.models import Candidate, Event, EventKind, Status
from feedback_sla.emails import checks
from feedback_sla.emails.checks import EmailRequest
from feedback_sla.emails.config import EmailConfig
from feedback_sla.emails.models import OutboxMessage, OutboxStatus
from feedback_sla.errors import DomainError
from feedback_sla.inbound.models import InboundMessage
from feedback_sla.retention import service as retention
from feedback_sla.waits import answers
from feedback_sla.waits import service as waits
from feedback_sla.waits.models import Wait

from .api_support import bearer
from .factories import PositionFactory, UserFactory
from .helpers import csrf_token, logged_in, text
from .inbound_support import INBOUND_CONFIG, mail, pipe, send
from .test_retention import (
    BASE_URL,
    DAY,
    EMAIL,
    FIRST,
    LAST,
    LOCAL_PART,
    NAME,
    ORG,
    SECRET,
    _greenhouse_application,
    _reply,
    dump,
    export_rows,
)
from .webhooks_support import body_of, greenhouse_headers, post, sample

#: Everything that would name the erased candidate, folded for the table dump.
NEEDLES = (NAME, EMAIL, LOCAL_PART, LAST, "Ångström", "Quixley", "Zoë", json.dumps(LAST)[1:-1])


@pytest.fixture
def app_config(app_config, tmp_path):
    app_config.update(INBOUND_CONFIG, OUTBOX_MAIL_DIR=str(tmp_path / "mail"), BASE_URL=BASE_URL)
    return app_config


def erase(session, candidate: Candidate, at: dt.datetime) -> None:
    retention.erase(session, candidate, at, retention.request_by("command line", "asked by email"))
    session.commit()


def assert_nothing_of_theirs(session) -> None:
    after = dump(session)
    for needle in NEEDLES:
        assert needle.casefold() not in after, needle


def wait_rows(session, candidate: Candidate) -> list[tuple]:
    session.expire_all()
    query = sa.select(Wait.id, Wait.reason, Wait.opened_at, Wait.due_at, Wait.closed_at, Wait.follow_ups)
    return session.execute(query.where(Wait.candidate_id == candidate.id).order_by(Wait.id)).all()


def timeline_of(session, candidate: Candidate) -> list[tuple]:
    session.expire_all()
    query = sa.select(Event.id, Event.kind, Event.body, Event.data).where(Event.candidate_id == candidate.id)
    return session.execute(query.order_by(Event.id)).all()


# --- mail that comes back -------------------------------------------------------------------------


def test_a_reply_or_bounce_to_an_old_email_of_an_erased_candidate_records_nothing_of_theirs(runner, session):
    position = PositionFactory(title="Backend Engineer", time_zone="Europe/Berlin")
    candidate = waits.add_candidate(session, position, NAME, EMAIL, DAY - dt.timedelta(days=7), ORG)
    session.commit()
    update = send(session, candidate, "update", DAY)
    assert update.status == OutboxStatus.SENT
    token, message_id = update.reply_token, update.message_id
    waits.close_with_status(session, candidate, Status.REJECTED, DAY + dt.timedelta(hours=1))
    session.commit()
    erase(session, candidate, DAY + dt.timedelta(days=1))
    waits_before, events_before = wait_rows(session, candidate), timeline_of(session, candidate)
    assert_nothing_of_theirs(session)

    later = DAY + dt.timedelta(days=2)
    session.refresh(update)
    by_token = _reply(update, NAME, EMAIL)  # the old reply token, from their old address
    by_message_id = _reply(update, NAME, EMAIL, token=False)
    by_message_id = by_message_id.replace(b"\nTo:", f"\nIn-Reply-To: {message_id}\nTo:".encode(), 1)
    bounce = mail("postfix_dsn", token=token, message_id=message_id, address=EMAIL)
    for raw in (by_token, by_message_id, bounce):
        result = pipe(runner, raw, later)
        assert result.exit_code == 0, result.output
    assert pipe(runner, by_token, later).exit_code == 0  # the same message again: still one row

    rows = session.scalars(sa.select(InboundMessage).order_by(InboundMessage.id)).all()
    assert len(rows) == 3
    assert {row.candidate_id for row in rows} == {candidate.id}
    assert all(row.message_id is None and row.fingerprint for row in rows)
    assert all("erased candidate" in row.outcome and "nothing was recorded" in row.outcome for row in rows)
    assert [row.kind for row in rows] == ["reply", "reply", "bounce"]
    assert_nothing_of_theirs(session)
    assert wait_rows(session, candidate) == waits_before
    assert timeline_of(session, candidate) == events_before
    message = session.get(OutboxMessage, update.id)
    assert message.status == OutboxStatus.SENT and message.bounce_reason is None
    assert session.get(Candidate, candidate.id).email_undeliverable_at is None

    admin = runner.invoke(args=["inbound", "list", "--format", "json"])
    assert admin.exit_code == 0, admin.output
    assert "Quixley" not in admin.output and LOCAL_PART not in admin.output.casefold()


# --- the applicant tracking system ----------------------------------------------------------------


@pytest.fixture
def greenhouse(session):
    UserFactory(email="grace@example.com", name="Grace Hopper")
    dora = UserFactory(email="dora@example.com", name="Dora Default")
    session.commit()
    source = sources.create_source(session, sources.NewSource(Kind.GREENHOUSE, "gh", dora, SECRET), DAY)
    session.commit()
    return source


def deliver(client, session, payload: dict, event_id: str) -> Delivery:
    body = body_of(payload)
    source = session.scalar(sa.select(Source))
    with time_machine.travel(DAY + dt.timedelta(days=2), tick=False):
        response = post(client, source, body, greenhouse_headers(SECRET, body, event_id))
    assert response.status_code == 200, response.get_data(as_text=True)
    session.expire_all()
    return session.scalar(sa.select(Delivery).where(Delivery.event_id == event_id))


def about_them(action: str, application_id: int, person_id: int, job_id: int = 4002543003) -> dict:
    """A Greenhouse delivery naming the erased person, as the ATS still knows them."""
    payload = sample("greenhouse_new_candidate_application")
    payload["action"] = action
    application = payload["payload"]["application"]
    application["id"] = application_id
    application["jobs"][0].update(id=job_id, name="Data Engineer")
    application["current_stage"]["name"] = "Face to Face"
    person = application["candidate"]
    person.update(id=person_id, first_name=FIRST, last_name=LAST)
    person["email_addresses"] = [{"value": EMAIL, "type": "personal"}]
    return payload


def test_an_ats_delivery_about_an_erased_person_is_ignored_and_keeps_no_payload(client, session, greenhouse):
    with time_machine.travel(DAY, tick=False):
        candidate = _greenhouse_application(client, session, (FIRST, LAST), EMAIL, "gh-1")
    mapping = session.scalar(sa.select(ExternalId).where(ExternalId.candidate_id == candidate.id))
    application_id, person_id = int(mapping.external_id), int(mapping.ats_candidate_id)
    erase(session, candidate, DAY + dt.timedelta(days=1))
    waits_before, events_before = wait_rows(session, candidate), timeline_of(session, candidate)
    positions_before = session.scalar(sa.select(sa.func.count()).select_from(ExternalId))

    moved = deliver(client, session, about_them("candidate_stage_change", application_id, person_id), "gh-2")
    again = deliver(
        client, session, about_them("new_candidate_application", 99000001, person_id, 4002543999), "gh-3"
    )
    for delivery in (moved, again):
        assert delivery.status == DeliveryStatus.IGNORED
        assert delivery.body == "{}" and delivery.candidate_id == candidate.id
        assert "personal data was erased here" in delivery.error
    assert session.scalar(sa.select(sa.func.count()).select_from(Candidate)) == 1
    assert session.scalar(sa.select(sa.func.count()).select_from(ExternalId)) == positions_before
    assert wait_rows(session, candidate) == waits_before
    assert timeline_of(session, candidate) == events_before
    assert_nothing_of_theirs(session)


def test_a_merge_gives_an_erased_candidate_no_details_and_takes_none_from_one(client, session, greenhouse):
    with time_machine.travel(DAY, tick=False):
        erased = _greenhouse_application(client, session, (FIRST, LAST), EMAIL, "gh-1")
        kept = _greenhouse_application(client, session, ("Bob", "Keeperton"), "bob@example.org", "gh-2")
    ids = {
        m.candidate_id: m.ats_candidate_id
        for m in session.scalars(sa.select(ExternalId).where(ExternalId.kind == "application"))
    }
    erase(session, erased, DAY + dt.timedelta(days=1))

    # Greenhouse's merge names the person merged away (person.id) and the one kept (new_candidate_id).
    into_bob = {"action": "merge_candidate", "payload": {"person": {"id": ids[erased.id]}}}
    into_bob["payload"]["person"]["new_candidate_id"] = ids[kept.id]
    assert deliver(client, session, into_bob, "gh-3").status == DeliveryStatus.IGNORED
    into_erased = {"action": "merge_candidate", "payload": {"person": {"id": ids[kept.id]}}}
    into_erased["payload"]["person"]["new_candidate_id"] = ids[erased.id]
    deliver(client, session, into_erased, "gh-4")

    assert session.get(Candidate, erased.id).name == "Erased candidate"
    bob = session.get(Candidate, kept.id)
    assert (bob.name, bob.email) == ("Bob Keeperton", "bob@example.org")
    assert_nothing_of_theirs(session)


# --- a correction of their details ----------------------------------------------------------------


def test_the_details_of_an_erased_candidate_cannot_be_set_again(client, session):
    manager = UserFactory()
    position = PositionFactory(manager=manager)
    candidate = waits.add_candidate(session, position, NAME, EMAIL, DAY, ORG)
    session.commit()
    erase(session, candidate, DAY + dt.timedelta(days=1))

    with pytest.raises(DomainError, match="personal data was erased"):
        waits.update_details(session, candidate, NAME, EMAIL)
    session.rollback()

    logged_in(client, manager)
    page = f"/candidates/{candidate.id}/edit"
    answer = client.post(page, data={"name": NAME, "email": EMAIL}, follow_redirects=True)
    assert "personal data was erased" in text(answer)
    session.expire_all()
    assert session.get(Candidate, candidate.id).name == "Erased candidate"
    assert_nothing_of_theirs(session)


def test_no_note_or_contact_is_recorded_for_an_erased_candidate(client, session):
    manager = UserFactory()
    position = PositionFactory(manager=manager)
    candidate = waits.add_candidate(session, position, NAME, EMAIL, DAY, ORG)
    session.commit()
    erase(session, candidate, DAY + dt.timedelta(days=1))
    events_before = session.scalar(sa.select(sa.func.count(Event.id)))

    with pytest.raises(DomainError, match="personal data was erased: no note can be added"):
        waits.add_note(session, candidate, f"{NAME} called back", DAY + dt.timedelta(days=2))
    with pytest.raises(DomainError, match="personal data was erased: no contact can be logged"):
        waits.log_contact(session, candidate, "phone", DAY + dt.timedelta(days=2), note=f"told {NAME}")
    session.rollback()

    logged_in(client, manager)
    page = f"/candidates/{candidate.id}"
    shown = text(client.get(page))
    assert "Personal data erased" in shown
    assert f'action="{page}/note"' not in shown and f'action="{page}/contact"' not in shown
    token = csrf_token(client, page)
    posted = {"note": {"body": f"{NAME} called"}, "contact": {"channel": "phone", "note": NAME}}
    for action, form in posted.items():
        answer = client.post(f"{page}/{action}", data={**form, "csrf_token": token})
        assert answer.status_code == 409 and "personal data was erased" in text(answer)
    secret = tokens.create_token(session, manager, "script", DAY + dt.timedelta(days=2)).secret
    session.commit()
    api = client.post(
        f"/api/v1/candidates/{candidate.id}/timeline/notes", headers=bearer(secret), json={"body": NAME}
    )
    assert api.status_code == 409 and "personal data was erased" in api.get_json()["detail"]
    session.expire_all()
    assert session.scalar(sa.select(sa.func.count(Event.id))) == events_before
    assert_nothing_of_theirs(session)


# --- a candidate still in the process ---------------------------------------------------------------


def test_erasing_an_active_candidate_withdraws_them_closes_their_wait_and_they_leave_triage(
    csrf_on, client, runner, session
):
    admin = UserFactory(role="admin", email="admin@example.com", name="Alex Admin")
    manager = UserFactory(email="maria@example.com", name="Maria Lopez")
    position = PositionFactory(manager=manager, title="Backend Engineer", time_zone="Europe/Berlin")
    candidate = waits.add_candidate(session, position, NAME, EMAIL, DAY - dt.timedelta(days=7), ORG)
    session.commit()
    pending = send_later(session, candidate)
    logged_in(client, manager)
    assert f"/candidates/{candidate.id}" in client.get("/").get_data(as_text=True)
    client.post("/logout", data={"csrf_token": csrf_token(client, "/")})

    logged_in(client, admin)
    page = f"/admin/candidates/{candidate.id}/erase"
    confirm = text(client.get(page))
    assert "erasing withdraws them" in confirm and "Their open wait closes" in confirm
    done = client.post(page, data={"reason": "asked by phone", "csrf_token": csrf_token(client, page)})
    assert done.status_code == 302

    session.expire_all()
    erased = session.get(Candidate, candidate.id)
    at = erased.erased_at
    assert erased.status == Status.WITHDRAWN and erased.decided_at == at
    (wait,) = session.scalars(sa.select(Wait).where(Wait.candidate_id == candidate.id)).all()
    assert wait.closed_at == at
    closing = session.get(Event, wait.closed_by_event_id)
    assert closing.kind == EventKind.STATUS_CHANGED and closing.body is None
    assert closing.data == {"from": "active", "to": "withdrawn", "erasure": True}
    assert session.get(OutboxMessage, pending.id).status == OutboxStatus.CANCELLED
    assert_nothing_of_theirs(session)

    client.post("/logout", data={"csrf_token": csrf_token(client, "/")})
    logged_in(client, manager)
    triage = client.get("/").get_data(as_text=True)
    assert f"/candidates/{candidate.id}" not in triage and "Erased candidate" not in triage
    (row,) = export_rows(runner, at + dt.timedelta(hours=1))
    assert row["closed_by"] == "status_changed" and row["closed_at"] is not None  # as any withdrawal
    assert row["candidate_name"] == "Erased candidate"


def test_erasing_an_offered_candidate_withdraws_them(session):
    candidate = waits.add_candidate(session, PositionFactory(), NAME, EMAIL, DAY - dt.timedelta(days=7), ORG)
    waits.close_with_status(session, candidate, Status.OFFERED, DAY)
    session.commit()
    erase(session, candidate, DAY + dt.timedelta(days=1))
    session.expire_all()
    erased = session.get(Candidate, candidate.id)
    assert erased.status == Status.WITHDRAWN and erased.decided_at == DAY
    last = session.scalars(
        sa.select(Event).where(Event.kind == EventKind.STATUS_CHANGED).order_by(Event.id.desc())
    ).first()
    assert last.data == {"from": "offered", "to": "withdrawn", "erasure": True}


def send_later(session, candidate: Candidate) -> OutboxMessage:
    """An update queued now, still inside its undo window."""
    wanted = EmailRequest(candidate, "update", checks.new_idempotency_key(), DAY, None, default_promise=True)
    message = answers.queue_email(session, wanted, EmailConfig.from_app(current_app), ORG)
    session.commit()
    assert message.status == OutboxStatus.PENDING
    return message
