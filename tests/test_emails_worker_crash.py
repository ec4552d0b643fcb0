"""A worker killed mid-batch (``kill -9``) repeats at most the one message in flight.

The real ``feedback-sla worker`` runs as a process against a loopback SMTP server that takes 0.3 s to
answer each message; it is killed once the server has accepted four of twelve, and a second worker
finishes. Deliveries are counted per Message-ID at the server.
"""

import datetime as dt
import signal
import subprocess
import time
from collections import Counter

import sqlalchemy as sa

from feedback_sla.candidates.models import Event, EventKind
from feedback_sla.emails.models import OutboxMessage, OutboxStatus
from feedback_sla.waits.models import Wait

from .emails_support import Recorder, SmtpSink, free_port
from .test_emails_workers import FEEDBACK_SLA, queue_many, worker_env

# Queued well in the past, so that the worker processes (on the real clock, whatever the tests'
# clock says) find every message due.
QUEUED_AT = dt.datetime(2025, 3, 5, 9, 0, tzinfo=dt.UTC)
COUNT = 12


def _wait(condition, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"gave up waiting for {what}"
        time.sleep(0.005)


def _start(env) -> subprocess.Popen:
    return subprocess.Popen(
        [FEEDBACK_SLA, "worker"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def _statuses(session) -> list[OutboxStatus]:
    session.expire_all()
    statuses = session.scalars(sa.select(OutboxMessage.status)).all()
    session.rollback()
    return statuses


def _finished(statuses) -> bool:
    return not {OutboxStatus.PENDING, OutboxStatus.SENDING} & set(statuses)


def test_a_worker_killed_mid_batch_repeats_at_most_the_message_in_flight(app, session, tmp_path):
    messages = queue_many(app, session, COUNT, QUEUED_AT)
    port = free_port()
    recorder = Recorder()
    recorder.delay = 0.3  # a slow server: each message is answered 0.3 s after its data arrived
    env = worker_env(
        app,
        tmp_path,
        MAIL_BACKEND="smtp",
        MAIL_SERVER="127.0.0.1",
        MAIL_PORT=port,
        MAIL_TIMEOUT=10,
        OUTBOX_UNDO_SECONDS=0,
        OUTBOX_BATCH_SIZE=COUNT,
        # Short, so the second worker takes over the killed one's claim within seconds.
        OUTBOX_LEASE_SECONDS=8,
        OUTBOX_POLL_SECONDS=0.2,
    )
    with SmtpSink(recorder, port=port):
        first = _start(env)
        try:
            _wait(lambda: len(recorder.messages) >= 4 or first.poll() is not None, 60, "four messages")
            first.send_signal(signal.SIGKILL)
            out, err = first.communicate(timeout=10)
        finally:
            if first.poll() is None:
                first.kill()
                first.communicate()
        assert first.returncode == -signal.SIGKILL, (out, err)
        accepted_before = len(recorder.messages)
        assert 4 <= accepted_before < COUNT

        second = _start(env)
        try:
            _wait(lambda: _finished(_statuses(session)), 90, "every message finished")
            second.send_signal(signal.SIGTERM)
            _, err = second.communicate(timeout=20)
        finally:
            if second.poll() is None:
                second.kill()
                second.communicate()
        assert second.returncode == 0, err

    assert _statuses(session) == [OutboxStatus.SENT] * COUNT
    deliveries = Counter(recorder.message_ids())
    assert set(deliveries) == {m.message_id for m in messages}
    repeated = {message_id: n for message_id, n in deliveries.items() if n > 1}
    assert sum(deliveries.values()) - COUNT <= 1 and all(n == 2 for n in repeated.values()), deliveries
    # Recorded once each: one EMAIL_SENT per message, its candidate's wait closed once.
    sent_events = session.scalar(
        sa.select(sa.func.count()).select_from(Event).where(Event.kind == EventKind.EMAIL_SENT)
    )
    assert sent_events == COUNT
    open_waits = session.scalar(sa.select(sa.func.count()).select_from(Wait).where(Wait.closed_at.is_(None)))
    leased = session.scalar(
        sa.select(sa.func.count()).select_from(OutboxMessage).where(OutboxMessage.lease_until.is_not(None))
    )
    assert (open_waits, leased) == (0, 0)
