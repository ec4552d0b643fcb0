"""Queueing many candidate emails at once: the same rows as one at a time, in a few statements."""

from __future__ import annotations

import datetime as dt
import re
import threading

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import joinedload

from feedback_sla.accounts.tokens import digest
from feedback_sla.candidates.models import Candidate, Event, EventKind, Status, StatusLink
from feedback_sla.database import db
from feedback_sla.emails import composing
from feedback_sla.emails.checks import EmailRequest
from feedback_sla.emails.config import EmailConfig
from feedback_sla.emails.models import EmailKind, OutboxMessage, OutboxStatus
from feedback_sla.emails.outbox import Queued, Refused
from feedback_sla.settings import service as settings_service
from feedback_sla.waits import answers
from feedback_sla.waits import service as waits

from .emails_support import ORG, T0
from .factories import PositionFactory, UserFactory
from .helpers import count_statements

BASE_URL = "https://hiring.example.com"
TOKEN = re.compile(r"/status/([A-Za-z0-9_-]{43})")


@pytest.fixture
def config(app, session):
    app.config["BASE_URL"] = BASE_URL
    return settings_service.email_config(session, EmailConfig.from_app(app))


@pytest.fixture
def maria(session):
    return UserFactory(name="Maria Lopez", email="maria@example.com")


@pytest.fixture
def backend(session, maria):
    return PositionFactory(manager=maria, title="Backend Engineer", time_zone="UTC")


def candidates(session, position, count: int, first: int = 0) -> list[Candidate]:
    made = [
        waits.add_candidate(
            session,
            position,
            name,
            f"{name.lower().replace(' ', '.')}@example.com",
            T0 - dt.timedelta(days=1),
            ORG,
        )
        for name in (f"Candidate {chr(65 + i % 26)}{i}" for i in range(first, first + count))
    ]
    session.commit()
    return made


def updates(people, key: str = "batch", **changes) -> list[EmailRequest]:
    return [
        EmailRequest(p, "update", f"{key}-{p.id}", T0, None, promised_date=dt.date(2026, 11, 25), **changes)
        for p in people
    ]


def queue(session, requests, config) -> list[Queued | Refused]:
    results = answers.queue_emails(session, requests, config, ORG)
    session.commit()
    return results


def what_was_written(session) -> list[tuple]:
    """Each message with its candidate's timeline event and status link, in words a reader checks:
    the status link's token and the Message-ID, which are random, left out."""
    rows = []
    for message in session.scalars(sa.select(OutboxMessage).order_by(OutboxMessage.candidate_id)):
        (event,) = session.scalars(
            sa.select(Event).where(
                Event.candidate_id == message.candidate_id, Event.kind == EventKind.EMAIL_QUEUED
            )
        )
        links = session.scalars(
            sa.select(StatusLink).where(StatusLink.candidate_id == message.candidate_id)
        ).all()
        carried = TOKEN.findall(message.text_body)
        assert event.data["outbox_id"] == message.id
        assert [link.token_hash for link in links] == [digest(token) for token in carried[:1]]
        rows.append(
            (
                message.candidate_id, message.kind, message.status, message.subject,
                TOKEN.sub("/status/…", message.text_body), TOKEN.sub("/status/…", message.html_body),
                message.to_name, message.to_address, message.reply_to_name, message.reply_to_address,
                message.previous_status, message.promised_date, message.autopilot, message.send_after,
                message.idempotency_key, event.body, event.occurred_at,
                {k: v for k, v in event.data.items() if k != "outbox_id"}, len(links),
            )
        )  # fmt: skip
    return rows


def test_a_batch_writes_what_queueing_each_email_alone_writes(session, backend, config):
    people = candidates(session, backend, 6)
    for request in updates(people, autopilot=True):
        answers.queue_email(session, request, config, ORG)
    one_at_a_time = what_was_written(session)
    session.rollback()

    results = queue(session, updates(people, autopilot=True), config)

    assert all(isinstance(result, Queued) and result.new for result in results)
    assert what_was_written(session) == one_at_a_time
    assert len(one_at_a_time) == 6 and all(row[-1] == 1 for row in one_at_a_time)  # a link each
    assert all("/status/…" in row[4] for row in one_at_a_time)


def test_a_batch_costs_the_same_statements_whatever_its_size(session, backend, config):
    few, many = candidates(session, backend, 3), candidates(session, backend, 60, first=3)
    counted = []
    for people in (few, many):
        loaded = sa.select(Candidate).options(joinedload(Candidate.position))
        people = session.scalars(loaded.where(Candidate.id.in_([c.id for c in people]))).all()
        with count_statements() as statements:
            queue(session, updates(people), config)
        counted.append(len(statements))

    assert counted[0] == counted[1] <= 10
    assert session.scalar(sa.select(sa.func.count()).select_from(OutboxMessage)) == 63


def test_one_refused_email_is_reported_and_the_rest_are_queued_with_nothing_written_for_it(
    session, backend, config
):
    people = candidates(session, backend, 3)
    # An address stored before the rule tightened: the door refuses it, naming it.
    session.execute(sa.update(Candidate).where(Candidate.id == people[1].id).values(email="not-an-address"))
    session.commit()
    session.expire_all()

    results = queue(session, updates(people), config)

    assert isinstance(results[1], Refused) and "the candidate's email address" in str(results[1].error)
    assert [isinstance(r, Queued) for r in results] == [True, False, True]
    written = session.scalars(sa.select(OutboxMessage.candidate_id)).all()
    assert sorted(written) == [people[0].id, people[2].id]
    for query in (
        sa.select(Event).where(Event.kind == EventKind.EMAIL_QUEUED, Event.candidate_id == people[1].id),
        sa.select(StatusLink).where(StatusLink.candidate_id == people[1].id),
    ):
        assert session.scalars(query).all() == []


def test_a_template_that_cannot_be_rendered_for_one_candidate_refuses_only_that_one(
    session, backend, maria, config
):
    anna, bob = candidates(session, backend, 2)
    session.execute(sa.update(Candidate).where(Candidate.id == bob.id).values(name="Bob Stone"))
    session.execute(sa.update(Candidate).where(Candidate.id == anna.id).values(name="Anna Lee"))
    text = (
        "Dear {{ candidate_first_name }} ({{ 6 / (candidate_first_name|length - 3) }}), {{ promised_date }}"
    )
    composing.save_template(session, "update", "An update", text, f"<p>{text}</p>", maria, T0)
    session.commit()
    session.expire_all()

    first, second = queue(session, updates([anna, bob]), config)

    assert isinstance(first, Queued) and "Dear Anna (6.0)" in first.message.text_body
    assert isinstance(second, Refused) and "cannot be rendered (division by zero)" in str(second.error)


def test_a_key_used_before_or_twice_in_the_batch_gives_one_message(session, backend, config):
    ann, bob, cid = candidates(session, backend, 3)
    (before,) = queue(session, updates([ann], key="click"), config)
    twice = [
        EmailRequest(ann, "update", f"click-{ann.id}", T0, None, promised_date=dt.date(2026, 11, 25)),
        EmailRequest(bob, "next_step", "same-key", T0),
        EmailRequest(bob, "next_step", "same-key", T0),
        EmailRequest(cid, "next_step", "same-key", T0),  # another candidate: the key is taken
    ]

    again, first, repeat, taken = queue(session, twice, config)

    assert isinstance(again, Queued) and not again.new and again.message.id == before.message.id
    assert isinstance(first, Queued) and first.new
    assert isinstance(repeat, Queued) and not repeat.new and repeat.message.id == first.message.id
    assert isinstance(taken, Refused) and "idempotency key: already used for another email" in str(
        taken.error
    )
    assert session.scalar(sa.select(sa.func.count()).select_from(OutboxMessage)) == 2
    queued = session.scalars(sa.select(Event.candidate_id).where(Event.kind == EventKind.EMAIL_QUEUED)).all()
    assert sorted(queued) == [ann.id, bob.id]


def test_a_rejection_in_a_batch_cancels_the_pending_offer_before_it_is_queued(
    session, backend, maria, config
):
    offered, other = candidates(session, backend, 2)
    queue(session, [EmailRequest(offered, "offer", "offer-1", T0, maria)], config)
    later = T0 + dt.timedelta(seconds=10)

    results = queue(
        session,
        [
            EmailRequest(offered, "rejection", "no-1", later, maria),
            EmailRequest(other, "rejection", "no-2", later, maria),
        ],
        config,
    )

    assert all(isinstance(r, Queued) for r in results)
    offer = session.scalar(sa.select(OutboxMessage).where(OutboxMessage.idempotency_key == "offer-1"))
    assert offer.status == OutboxStatus.CANCELLED
    assert session.get(Candidate, offered.id).status == Status.REJECTED
    kinds = session.scalars(
        sa.select(Event.kind)
        .where(Event.candidate_id == offered.id, Event.occurred_at == later)
        .order_by(Event.id)
    ).all()
    assert kinds == [EventKind.EMAIL_CANCELLED, EventKind.EMAIL_QUEUED]


def _queue_in_thread(app, candidate_ids, barrier, results):
    with app.app_context():
        try:
            config = EmailConfig.from_app(app)
            people = [db.session.get(Candidate, i) for i in candidate_ids]
            barrier.wait(timeout=10)
            found = answers.queue_emails(db.session, updates(people, key="cron"), config, ORG)
            db.session.commit()
            results.append([r.message.id for r in found])
        except Exception as exc:  # reported to the test below
            db.session.rollback()
            results.append(exc)
        finally:
            db.session.remove()


def test_two_concurrent_batches_with_the_same_keys_queue_each_email_once(app, session, backend):
    people = candidates(session, backend, 20)
    barrier, results = threading.Barrier(2), []
    threads = [
        threading.Thread(target=_queue_in_thread, args=(app, [p.id for p in people], barrier, results))
        for _ in range(2)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)

    assert len(results) == 2 and all(isinstance(r, list) for r in results), results
    assert results[0] == results[1]
    session.expire_all()
    assert session.scalar(sa.select(sa.func.count()).select_from(OutboxMessage)) == 20
    queued = sa.select(sa.func.count()).select_from(Event).where(Event.kind == EventKind.EMAIL_QUEUED)
    assert session.scalar(queued) == 20


def test_an_empty_batch_writes_and_reads_nothing(session, config):
    with count_statements() as statements:
        assert answers.queue_emails(session, [], config, ORG) == []
    assert statements == []


def test_kinds_the_door_does_not_know_are_refused_in_the_batch(session, backend, config):
    (ann,) = candidates(session, backend, 1)

    unknown, known = queue(
        session,
        [EmailRequest(ann, "postcard", "k-1", T0), EmailRequest(ann, EmailKind.NEXT_STEP, "k-2", T0)],
        config,
    )

    assert isinstance(unknown, Refused) and "unknown email kind 'postcard'" in str(unknown.error)
    assert isinstance(known, Queued) and known.message.kind == EmailKind.NEXT_STEP
