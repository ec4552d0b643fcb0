"""The outbox rows' side of delivery: claiming due messages with a lease, and recording what
became of them (sent, to be retried, failed, handed back). The caller commits each step."""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Sequence

from sqlalchemy import and_, or_, select, text, update
from sqlalchemy.orm import Session

from feedback_sla.emails.config import EmailConfig
from feedback_sla.emails.models import UNRECORDED, OutboxMessage, OutboxStatus
from feedback_sla.emails.transport import Envelope

_T = OutboxMessage.__table__
#: What the worker reads of a claimed message: its envelope.
ENVELOPE_COLUMNS = (
    _T.c.id,
    _T.c.candidate_id,
    _T.c.kind,
    _T.c.to_name,
    _T.c.to_address,
    _T.c.reply_to_name,
    _T.c.reply_to_address,
    _T.c.subject,
    _T.c.text_body,
    _T.c.html_body,
    _T.c.message_id,
    _T.c.attempts,
    _T.c.lease_until,
    _T.c.queued_at,
    _T.c.promised_date,
    _T.c.reply_token,
    _T.c.autopilot,
    _T.c.recipient_user_id,
    _T.c.language,
)


def _due(now: dt.datetime):
    return or_(
        and_(_T.c.status == OutboxStatus.PENDING.value, _T.c.next_attempt_at <= now),
        # A claim that ran out before its message was sent (a sent one waits to be recorded).
        and_(_T.c.status == OutboxStatus.SENDING.value, _T.c.lease_until <= now, _T.c.sent_at.is_(None)),
    )


def claim(session: Session, now: dt.datetime, config: EmailConfig) -> list[Envelope]:
    """Claim up to a batch of due messages with a lease (the caller commits the claim).

    PostgreSQL: SELECT ... FOR UPDATE SKIP LOCKED, so concurrent workers take different rows.
    SQLite (which has no SKIP LOCKED): one UPDATE that re-checks the due condition under the write
    lock, so a row another worker claimed first is not claimed again.
    """
    claimed = {
        "status": OutboxStatus.SENDING.value,
        "lease_until": now + dt.timedelta(seconds=config.lease_seconds),
        "attempts": _T.c.attempts + 1,
    }
    due = _due(now)
    order = (_T.c.next_attempt_at, _T.c.id)
    if session.get_bind(mapper=OutboxMessage.__mapper__).dialect.name == "postgresql":
        ids = session.scalars(
            select(_T.c.id)
            .where(due)
            .order_by(*order)
            .limit(config.batch_size)
            .with_for_update(skip_locked=True)
        ).all()
        if not ids:
            return []
        rows = session.execute(
            update(_T).where(_T.c.id.in_(ids)).values(**claimed).returning(*ENVELOPE_COLUMNS)
        ).all()
    else:
        batch = select(_T.c.id).where(due).order_by(*order).limit(config.batch_size).scalar_subquery()
        rows = session.execute(
            update(_T).where(_T.c.id.in_(batch), due).values(**claimed).returning(*ENVELOPE_COLUMNS)
        ).all()
    return sorted((envelope_of(row) for row in rows), key=lambda e: e.id)


def envelope_of(row) -> Envelope:
    """The envelope of an outbox row read with ``ENVELOPE_COLUMNS``."""
    return Envelope(
        id=row.id,
        candidate_id=row.candidate_id,
        kind=str(row.kind.value if hasattr(row.kind, "value") else row.kind),
        to_name=row.to_name,
        to_address=row.to_address,
        reply_to_name=row.reply_to_name,
        reply_to_address=row.reply_to_address,
        subject=row.subject,
        text=row.text_body,
        html=row.html_body,
        message_id=row.message_id,
        attempts=row.attempts,
        lease_until=row.lease_until,
        queued_at=row.queued_at,
        promised_date=row.promised_date,
        reply_token=row.reply_token,
        autopilot=bool(row.autopilot),
        recipient_user_id=row.recipient_user_id,
        language=row.language,
    )


def mark_sent(session: Session, envelope: Envelope, at: dt.datetime) -> bool:
    """Mark a message sent at ``at``; False when it was no longer this worker's (another one took it
    over after the lease ran out).

    A candidate's email stays ``sending``, with its lease and now its ``sent_at``, until what
    sending it did to the wait is recorded (``settle``): "sent, its answer not yet recorded", an
    email on its way for every rule that asks. A worker that stops in between leaves it so; once
    the lease runs out another worker records it (``unsettled``), and anything that touches the
    candidate's wait first may record it at once (``unsettled_of``).
    """
    done = (
        {} if envelope.candidate_id is not None else {"status": OutboxStatus.SENT.value, "lease_until": None}
    )
    result = session.execute(
        update(_T)
        .where(_T.c.id == envelope.id, _T.c.status == OutboxStatus.SENDING.value, _T.c.sent_at.is_(None))
        .values(sent_at=at, **done)
    )
    return result.rowcount == 1


def _unsettled():
    """Sent, its answer not yet recorded: written as the partial index's own words, which SQLite
    needs to use it."""
    return text(UNRECORDED)


#: What recording a sent message's answer writes on its row.
_SETTLED = {"status": OutboxStatus.SENT.value, "lease_until": None}


def settle(session: Session, ids: Sequence[int]) -> set[int]:
    """Take sent messages' answers to record: the ids, of ``ids``, whose answer nobody recorded
    yet (a bounce meanwhile, or another worker after the lease ran out, took the rest)."""
    if not ids:
        return set()
    rows = session.execute(
        update(_T).where(_T.c.id.in_(sorted(ids)), _unsettled()).values(**_SETTLED).returning(_T.c.id)
    )
    return set(rows.scalars())


def _take(session: Session, condition, limit: int | None = None) -> list[tuple[Envelope, dt.datetime]]:
    """Take the unrecorded sent messages matching ``condition``: each envelope with the time it was
    sent, in the order they were sent (the caller records and commits)."""
    ids = select(_T.c.id).where(_unsettled(), condition).order_by(_T.c.id)
    if limit is not None:
        ids = ids.limit(limit)
    if session.get_bind(mapper=OutboxMessage.__mapper__).dialect.name == "postgresql":
        ids = ids.with_for_update(skip_locked=True)
    rows = session.execute(
        update(_T)
        .where(_T.c.id.in_(ids.scalar_subquery()), _unsettled())
        .values(**_SETTLED)
        .returning(*ENVELOPE_COLUMNS, _T.c.sent_at)
    ).all()
    return sorted(((envelope_of(row), row.sent_at) for row in rows), key=lambda pair: (pair[1], pair[0].id))


def unsettled(session: Session, now: dt.datetime, limit: int) -> list[tuple[Envelope, dt.datetime]]:
    """Up to ``limit`` sent messages whose worker stopped before recording their answer and whose
    lease ran out."""
    return _take(session, _T.c.lease_until <= now, limit)


def unsettled_of(session: Session, candidate_id: int) -> list[tuple[Envelope, dt.datetime]]:
    """The candidate's sent messages whose answer is not recorded yet, whatever their lease: taken
    from the worker that sent them, which then records nothing of them."""
    return _take(session, _T.c.candidate_id == candidate_id)


def mark_failed(
    session: Session, envelope: Envelope, at: dt.datetime, error: str, retry_at: dt.datetime | None
) -> bool:
    """Pending again until ``retry_at``, or failed for good when it is None; False if the message
    was no longer this worker's."""
    if retry_at is None:
        values = {"status": OutboxStatus.FAILED.value, "failed_at": at}
    else:
        values = {"status": OutboxStatus.PENDING.value, "next_attempt_at": retry_at}
    result = session.execute(
        update(_T)
        .where(_T.c.id == envelope.id, _T.c.status == OutboxStatus.SENDING.value, _T.c.sent_at.is_(None))
        .values(last_error=error, lease_until=None, **values)
    )
    return result.rowcount == 1


#: A message can bounce once it reached a server at least once: sent, or sent and then retried.
BOUNCEABLE = (
    OutboxStatus.SENT.value,
    OutboxStatus.SENDING.value,
    OutboxStatus.PENDING.value,
    OutboxStatus.FAILED.value,
)


def mark_bounced(session: Session, message_id: int, at: dt.datetime, reason: str) -> bool:
    """Bounced, with the server's reason, if it was ever handed to a server; False if it had
    bounced already, was cancelled or never tried. A retry still pending will not be sent."""
    result = session.execute(
        update(_T)
        .where(_T.c.id == message_id, _T.c.status.in_(BOUNCEABLE), _T.c.attempts > 0)
        .values(status=OutboxStatus.BOUNCED.value, bounced_at=at, bounce_reason=reason, lease_until=None)
    )
    return result.rowcount == 1


def release(session: Session, envelopes: Sequence[Envelope]) -> int:
    """Hand claimed, unsent messages back at once rather than when their lease expires."""
    result = session.execute(
        update(_T)
        .where(
            _T.c.id.in_([e.id for e in envelopes]),
            _T.c.status == OutboxStatus.SENDING.value,
            _T.c.sent_at.is_(None),
        )
        .values(status=OutboxStatus.PENDING.value, lease_until=None, attempts=_T.c.attempts - 1)
    )
    return result.rowcount


def backoff(config: EmailConfig, attempts: int, rng: random.Random) -> dt.timedelta:
    """base * 2**attempts, scaled by a random factor between 0.5 and 1 so retries spread out."""
    delay = config.backoff_seconds * 2**attempts
    return dt.timedelta(seconds=delay * (0.5 + rng.random() / 2))
