"""An email marked sent whose answer a stopped worker did not record yet.

The worker marks each email sent as the server accepts it (one short transaction, before the next
send) and records what the batch's emails did to their candidates' waits once the batch is through.
A worker stopped in between leaves sent rows that still hold their lease: these tests leave that
state with the worker's own steps (claim, send, mark, commit) and check what the next worker does.
"""

import datetime as dt

import pytest
import sqlalchemy as sa
from flask import current_app

from feedback_sla.candidates.models import Event, EventKind
from feedback_sla.emails import leases
from feedback_sla.emails.config import EmailConfig
from feedback_sla.emails.models import OutboxMessage, OutboxStatus
from feedback_sla.emails.transport import backend_for, build_message
from feedback_sla.waits import answers
from feedback_sla.waits import service as waits
from feedback_sla.waits.lead_time import email_on_its_way
from feedback_sla.waits.models import Wait
from feedback_sla.worker import run_worker

from .emails_support import ORG, T0, Recorder, SmtpSink, free_port, make_candidate
from .test_emails_delivery import queue

LEASE = 60
T1 = T0 + dt.timedelta(minutes=5)
SENT_AT = T1 + dt.timedelta(seconds=1)
PROMISED = dt.date(2026, 11, 27)


@pytest.fixture
def port():
    return free_port()


@pytest.fixture
def app_config(app_config, port):
    app_config.update(
        MAIL_BACKEND="smtp",
        MAIL_SERVER="127.0.0.1",
        MAIL_PORT=port,
        MAIL_TIMEOUT=10,
        OUTBOX_LEASE_SECONDS=LEASE,
    )
    return app_config


def _stopped_after_sending(session, count: int) -> None:
    """What a worker killed once the server accepted ``count`` messages leaves: claimed, sent,
    each marked sent and committed, their answers not recorded."""
    config = EmailConfig.from_app(current_app)
    batch = leases.claim(session, T1, config)
    session.commit()
    transport = backend_for(current_app, config).open()
    try:
        for envelope in batch[:count]:
            transport.send(
                build_message(envelope, config, SENT_AT), envelope, config.envelope_sender(envelope.token)
            )
            assert leases.mark_sent(session, envelope, SENT_AT)
            session.commit()
    finally:
        transport.close()


def _sent_events(session, message) -> list[Event]:
    session.expire_all()
    query = sa.select(Event).where(
        Event.kind == EventKind.EMAIL_SENT, Event.candidate_id == message.candidate_id
    )
    return [e for e in session.scalars(query) if e.data["outbox_id"] == message.id]


def _waits(session, candidate) -> list[Wait]:
    session.expire_all()
    return list(session.scalars(sa.select(Wait).where(Wait.candidate_id == candidate.id).order_by(Wait.id)))


def test_the_next_worker_records_what_a_stopped_one_sent_once_its_lease_runs_out(app, session, port):
    updated, rejected = make_candidate(session, name="Ada Achebe"), make_candidate(session, name="Bo Berg")
    update = queue(session, updated, "update", promised_date=PROMISED)
    rejection = queue(session, rejected, "rejection")
    with SmtpSink(Recorder(), port=port) as sink:
        _stopped_after_sending(session, 2)
        assert len(sink.messages) == 2

        # Within the lease the answers wait for the worker that sent them: the waits stay open,
        # and nothing is sent again.
        run_worker(app, once=True, clock=lambda: T1 + dt.timedelta(seconds=LEASE - 5))
        assert _sent_events(session, update) == [] and _sent_events(session, rejection) == []
        assert [w.closed_at for w in _waits(session, rejected)] == [None]

        # Once it ran out, the next round records them, as sent when they were sent.
        after = T1 + dt.timedelta(seconds=LEASE + 1)
        run_worker(app, once=True, clock=lambda: after)
        run_worker(app, once=True, clock=lambda: after + dt.timedelta(minutes=1))
        assert len(sink.messages) == 2

    [sent] = _sent_events(session, rejection)
    assert sent.occurred_at == SENT_AT
    [closed] = _waits(session, rejected)
    assert (closed.closed_at, closed.closed_by_event_id) == (SENT_AT, sent.id)

    # The update kept a promise: its wait closed and the next one opened, due on the promised date.
    [sent] = _sent_events(session, update)
    answered, following = _waits(session, updated)
    assert (answered.closed_at, answered.closed_by_event_id) == (SENT_AT, sent.id)
    assert (following.opened_at, following.opened_by_event_id, following.closed_at) == (
        SENT_AT,
        sent.id,
        None,
    )
    assert following.promised_date == PROMISED
    session.expire_all()
    messages = session.scalars(sa.select(OutboxMessage).order_by(OutboxMessage.id)).all()
    assert [(m.status, m.sent_at, m.lease_until) for m in messages] == [
        (OutboxStatus.SENT, SENT_AT, None)
    ] * 2


def test_a_bounce_before_the_answer_is_recorded_leaves_the_wait_open(app, session, port):
    candidate = make_candidate(session)
    message = queue(session, candidate, "rejection")
    with SmtpSink(Recorder(), port=port):
        _stopped_after_sending(session, 1)
    session.expire_all()
    bounce = answers.email_bounced(
        session,
        session.get(OutboxMessage, message.id),
        True,
        "550 5.1.1 no such user",
        T1 + dt.timedelta(seconds=9),
    )
    session.commit()
    assert bounce.marked

    run_worker(app, once=True, clock=lambda: T1 + dt.timedelta(seconds=LEASE + 1))

    # The candidate never heard from us: no answer is recorded and the wait stays open.
    assert _sent_events(session, message) == []
    assert [w.closed_at for w in _waits(session, candidate)] == [None]
    assert waits.open_wait_of(session, candidate) is not None
    session.expire_all()
    assert session.get(OutboxMessage, message.id).status == OutboxStatus.BOUNCED


def test_until_it_is_recorded_a_sent_email_is_still_on_its_way(app, session, port):
    # Autopilot, the digest and the door ask whether an email is on its way: a sent one whose
    # answer is not recorded yet still is, so nothing queues a second email meanwhile.
    candidate = make_candidate(session)
    queue(session, candidate, "update", promised_date=PROMISED)
    with SmtpSink(Recorder(), port=port):
        _stopped_after_sending(session, 1)
    on_its_way = sa.select(email_on_its_way(candidate.id))
    assert session.scalar(on_its_way) is True
    run_worker(app, once=True, clock=lambda: T1 + dt.timedelta(seconds=LEASE + 1))
    assert session.scalar(on_its_way) is False


def test_a_reply_in_the_meantime_comes_after_the_email_it_answers(app, session, port):
    candidate = make_candidate(session)
    message = queue(session, candidate, "next_step")
    with SmtpSink(Recorder(), port=port):
        _stopped_after_sending(session, 1)
    replied_at = T1 + dt.timedelta(seconds=20)
    session.expire_all()
    waits.followed_up(session, session.get(type(candidate), candidate.id), replied_at, ORG, channel="email")
    session.commit()

    # As if the email had been recorded when it went: it answered the wait, and the reply that
    # came after it is owed an answer of its own.
    [sent] = _sent_events(session, message)
    answered, reply = _waits(session, candidate)
    assert (answered.closed_at, answered.closed_by_event_id, answered.follow_ups) == (SENT_AT, sent.id, 0)
    assert (reply.reason.value, reply.opened_at, reply.closed_at) == ("follow_up", replied_at, None)
    run_worker(app, once=True, clock=lambda: T1 + dt.timedelta(seconds=LEASE + 1))
    assert len(_sent_events(session, message)) == 1


def test_two_emails_to_one_candidate_in_one_batch_are_recorded_in_the_order_they_went(app, session, port):
    candidate = make_candidate(session)
    update = queue(session, candidate, "update", promised_date=PROMISED)
    next_step = queue(session, candidate, "next_step")
    with SmtpSink(Recorder(), port=port) as sink:
        run_worker(app, once=True, clock=lambda: T1)
    assert len(sink.messages) == 2
    [first], [second] = _sent_events(session, update), _sent_events(session, next_step)
    answered, promised = _waits(session, candidate)
    # The update answered the first wait and opened the one its promise is due by; the next
    # step's email answered that one.
    assert (answered.closed_by_event_id, promised.opened_by_event_id) == (first.id, first.id)
    assert (promised.promised_date, promised.closed_by_event_id) == (PROMISED, second.id)


def test_a_sent_email_not_yet_recorded_is_not_sent_again(app, session, port):
    candidate = make_candidate(session)
    queue(session, candidate, "rejection")
    with SmtpSink(Recorder(), port=port) as sink:
        _stopped_after_sending(session, 1)
        # Its lease ran out: the next worker records it and sends nothing again.
        run_worker(app, once=True, clock=lambda: T1 + dt.timedelta(seconds=LEASE + 1))
        run_worker(app, once=True, clock=lambda: T1 + dt.timedelta(seconds=2 * LEASE))
        assert len(sink.messages) == 1
