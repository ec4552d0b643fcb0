"""Answering many at once from the command line and the API: the same door, rows printed or
returned with the reason, bad input refused naming the option or field."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa
import time_machine

from feedback_sla.candidates.models import Candidate, Status
from feedback_sla.emails.models import OutboxMessage, OutboxStatus
from feedback_sla.settings import service as settings_service
from feedback_sla.timeutil import utcnow
from feedback_sla.waits import service as waits_service

from .api_support import bearer, manager_with_token
from .bulk_support import NAMES, manager_with_position, waiting_candidates
from .factories import PositionFactory, UserFactory


@pytest.fixture(autouse=True)
def _a_wednesday_morning():
    """The tests' own clock (ticking from a Wednesday morning), whatever the day they run."""
    with time_machine.travel(dt.datetime(2026, 12, 2, 10, tzinfo=dt.UTC), tick=True):
        yield


def outbox(session) -> list[OutboxMessage]:
    session.expire_all()
    return list(session.scalars(sa.select(OutboxMessage).order_by(OutboxMessage.id)))


# --- the command line -----------------------------------------------------------------------------


def test_several_candidates_are_queued_and_the_skipped_one_is_printed_with_why(runner, session):
    _, position = manager_with_position(session)
    people = waiting_candidates(session, position, NAMES[:3])
    people[1].status = Status.WITHDRAWN
    session.commit()
    args = ["emails", "queue", "rejection", "--feedback", "Thank you."]
    result = runner.invoke(args=args + [a for p in people for a in ("--candidate", str(p.id))])

    assert result.exit_code == 0, result.output
    assert f"queued  {people[0].id}\t{NAMES[0]}\temail " in result.output
    assert (
        f"skipped {people[1].id}\t{NAMES[1]}\tthey are withdrawn, so they cannot get a rejection"
        in result.output
    )
    assert "2 queued, 1 skipped; batch " in result.output
    batch_id = result.output.split("batch ")[1].split(",")[0]
    assert [m.to_name for m in outbox(session)] == [NAMES[0], NAMES[2]]

    undone = runner.invoke(args=["emails", "undo", "--batch", batch_id])
    assert undone.exit_code == 0, undone.output
    assert undone.output.count("cancelled email ") == 2
    assert {m.status for m in outbox(session)} == {OutboxStatus.CANCELLED}
    again = runner.invoke(args=["emails", "undo", "--batch", batch_id])
    assert again.exit_code == 1 and "this email was already cancelled" in again.output


def test_a_filter_finds_the_overdue_candidates_of_a_manager(runner, session):
    manager, position = manager_with_position(session)
    late = waiting_candidates(session, position, NAMES[:2], at=utcnow().replace(year=2020))
    waiting_candidates(session, position, NAMES[2:3], prefix="fresh")
    other = PositionFactory(manager=UserFactory(), title="Designer")
    waiting_candidates(session, other, ["Ana Stranger"], at=utcnow().replace(year=2020), prefix="s")

    result = runner.invoke(
        args=[
            "emails",
            "queue",
            "update",
            "--state",
            "overdue",
            "--state",
            "escalated",
            "--manager",
            manager.email,
        ]
    )
    assert result.exit_code == 0, result.output
    assert sorted(m.candidate_id for m in outbox(session)) == sorted(p.id for p in late)


def test_above_the_threshold_the_command_asks_for_the_number(runner, session):
    _, position = manager_with_position(session)
    people = waiting_candidates(session, position, NAMES[:3])
    settings_service.store(session, "bulk.confirm_above", "2")
    session.commit()
    args = ["emails", "queue", "next_step", *[a for p in people for a in ("--candidate", str(p.id))]]
    wrong = runner.invoke(args=args, input="4\n")
    assert wrong.exit_code == 1 and "you typed 4, but 3 candidates would be answered; type 3" in wrong.output
    assert outbox(session) == []
    assert runner.invoke(args=[*args, "--confirm", "3"]).exit_code == 0
    assert len(outbox(session)) == 3


def test_nothing_queued_or_bad_input_exits_non_zero_naming_the_option(runner, session):
    _, position = manager_with_position(session)
    (person,) = waiting_candidates(session, position, NAMES[:1])
    person.status = Status.HIRED
    session.commit()
    nothing = runner.invoke(args=["emails", "queue", "update", "--candidate", str(person.id)])
    assert nothing.exit_code == 1 and "nothing was queued" in nothing.output
    no_one = runner.invoke(args=["emails", "queue", "rejection"])
    assert no_one.exit_code == 2 and "'--candidate'" in no_one.output
    offer = runner.invoke(args=["emails", "queue", "offer", "--candidate", str(person.id)])
    assert offer.exit_code == 2 and "'KIND'" in offer.output
    subject = runner.invoke(args=["emails", "queue", "rejection", "--candidate", "1", "--subject", "Hi"])
    assert subject.exit_code == 2 and "'--subject'" in subject.output
    manager = runner.invoke(args=["emails", "queue", "rejection", "--manager", "nobody@example.com"])
    assert manager.exit_code == 2 and "'--manager'" in manager.output
    state = runner.invoke(args=["emails", "queue", "rejection", "--state", "late"])
    assert state.exit_code == 2 and "'--state'" in state.output
    both = runner.invoke(args=["emails", "queue", str(person.id), "rejection", "--candidate", "3"])
    assert both.exit_code == 2 and "not both" in both.output
    assert outbox(session) == []


def test_one_candidate_is_queued_as_before(runner, session):
    _, position = manager_with_position(session)
    (person,) = waiting_candidates(session, position, NAMES[:1])
    result = runner.invoke(args=["emails", "queue", str(person.id), "rejection"])
    assert result.exit_code == 0, result.output
    assert "(rejection) to c0@example.com queued" in result.output
    assert outbox(session)[0].batch_id is None


# --- the API ----------------------------------------------------------------------------------------


def test_the_api_queues_a_batch_and_undoes_it(client, session):
    manager, secret = manager_with_token(session, email="maria@example.com")
    position = PositionFactory(manager=manager)
    people = waiting_candidates(session, position, NAMES[:3])
    stranger = waiting_candidates(session, PositionFactory(), ["Ana Stranger"], prefix="s")[0]
    waits_service.withdraw(session, people[2], utcnow(), None, "found another job")
    session.commit()
    headers = {**bearer(secret), "Idempotency-Key": "batch-1"}
    body = {
        "kind": "rejection",
        "candidate_ids": [p.id for p in people] + [stranger.id],
        "reasons": ["Skills"],
    }

    response = client.post("/api/v1/emails/batches", json=body, headers=headers)
    assert response.status_code == 201, response.json
    result = response.json
    assert [q["candidate_id"] for q in result["queued"]] == [people[0].id, people[1].id]
    assert {q["email"]["status"] for q in result["queued"]} == {"pending"}
    assert [(s["candidate_id"], s["name"], s["reason"]) for s in result["skipped"]] == [
        (people[2].id, NAMES[2], "status"),
        (stranger.id, None, "not_found"),
    ]
    again = client.post("/api/v1/emails/batches", json=body, headers=headers).json
    assert again["batch_id"] == result["batch_id"] and len(outbox(session)) == 2

    undone = client.post(f"/api/v1/emails/batches/{result['batch_id']}/undo", headers=bearer(secret))
    assert undone.status_code == 200, undone.json
    assert len(undone.json["undone"]) == 2 and undone.json["not_undone"] == []
    assert {c.status for c in session.scalars(sa.select(Candidate).where(Candidate.id != stranger.id))} == {
        Status.ACTIVE,
        Status.WITHDRAWN,
    }


def test_the_api_refuses_bad_input_naming_the_field(client, session):
    _, secret = manager_with_token(session)
    session.commit()
    headers = {**bearer(secret), "Idempotency-Key": "batch-2"}
    offer = client.post(
        "/api/v1/emails/batches", json={"kind": "offer", "candidate_ids": [1]}, headers=headers
    )
    assert offer.status_code == 422 and "kind" in str(offer.json)
    empty = client.post(
        "/api/v1/emails/batches", json={"kind": "update", "candidate_ids": []}, headers=headers
    )
    assert empty.status_code == 422 and "candidate_ids" in str(empty.json)
    missing = client.post(
        "/api/v1/emails/batches", json={"kind": "update", "candidate_ids": [1]}, headers=bearer(secret)
    )
    assert missing.status_code == 422 and "Idempotency-Key" in str(missing.json)
    unknown = client.post("/api/v1/emails/batches/0123abcd/undo", headers=bearer(secret))
    assert unknown.status_code == 404
