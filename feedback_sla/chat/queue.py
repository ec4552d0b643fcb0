"""The chat queue's rows: adding a message once, claiming due ones with a lease, and recording what
became of them. The same guarantees as the outbox (``emails.leases``): PostgreSQL claims with
``FOR UPDATE SKIP LOCKED``, SQLite with one conditional UPDATE, so two workers never take the same
row; a worker that stops mid-send loses its claim when the lease runs out. The caller commits."""

from __future__ import annotations

import datetime as dt
import json
import random
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Text, and_, cast, func, or_, select, update
from sqlalchemy.orm import Session

from feedback_sla.chat.connection import ChatConfig
from feedback_sla.chat.models import About, Channel, ChatMessage, ChatStatus
from feedback_sla.database import insert_once
from feedback_sla.errors import DomainError

_T = ChatMessage.__table__
#: The longest error kept with a message.
MAX_ERROR = 1000
#: What a daily cap counts: nudges, not the digest, a test or a button's answer.
NUDGES = tuple(a.value for a in About if a not in (About.DIGEST, About.TEST, About.ANSWER))


@dataclass(frozen=True)
class NewMessage:
    user_id: int
    channel: Channel
    about: About
    text: str
    body: dict
    dedupe_key: str | None = None
    candidate_id: int | None = None
    wait_id: int | None = None
    event_id: int | None = None
    outbox_message_id: int | None = None
    target: str | None = None


def add(
    session: Session,
    new: NewMessage,
    now: dt.datetime,
    *,
    send_after: dt.datetime | None = None,
    skipped: str | None = None,
) -> ChatMessage | None:
    """Queue a message once per ``dedupe_key``: None when one with the key exists (from another
    run, on any host). ``skipped``: recorded, never sent, with that reason."""
    values = {
        "user_id": new.user_id,
        "channel": new.channel.value,
        "about": new.about.value,
        "dedupe_key": new.dedupe_key,
        "candidate_id": new.candidate_id,
        "wait_id": new.wait_id,
        "event_id": new.event_id,
        "outbox_message_id": new.outbox_message_id,
        "text": new.text,
        "body": new.body,
        "target": new.target,
        "status": (ChatStatus.SKIPPED if skipped else ChatStatus.PENDING).value,
        "last_error": skipped,
        "attempts": 0,
        "next_attempt_at": send_after or now,
        "created_at": now,
    }
    if new.dedupe_key is None:
        message = ChatMessage(**{**values, "channel": new.channel, "about": new.about})
        session.add(message)
        session.flush()
        return message
    return insert_once(session, ChatMessage, values, conflict=["dedupe_key"])


def nudges_since(session: Session, user_id: int, since: dt.datetime) -> int:
    """Nudges queued for the user since ``since`` (the start of their local day), skipped ones aside."""
    return session.scalar(
        select(func.count(_T.c.id)).where(
            _T.c.user_id == user_id,
            _T.c.created_at >= since,
            _T.c.about.in_(NUDGES),
            _T.c.status != ChatStatus.SKIPPED.value,
        )
    )


def _due(now: dt.datetime):
    return or_(
        and_(_T.c.status == ChatStatus.PENDING.value, _T.c.next_attempt_at <= now),
        and_(_T.c.status == ChatStatus.SENDING.value, _T.c.lease_until <= now),
    )


@dataclass(frozen=True)
class Outgoing:
    """A claimed message as the worker sends it: plain values, read before the claim is committed."""

    id: int
    user_id: int
    channel: Channel
    body: dict
    target: str | None
    attempts: int
    lease_until: dt.datetime


def claim(session: Session, now: dt.datetime, config: ChatConfig) -> list[Outgoing]:
    """Claim up to a batch of due messages with a lease (the caller commits the claim)."""
    claimed = {
        "status": ChatStatus.SENDING.value,
        "lease_until": now + dt.timedelta(seconds=config.lease_seconds),
        "attempts": _T.c.attempts + 1,
    }
    due, order = _due(now), (_T.c.next_attempt_at, _T.c.id)
    if session.get_bind(mapper=ChatMessage.__mapper__).dialect.name == "postgresql":
        ids = session.scalars(
            select(_T.c.id)
            .where(due)
            .order_by(*order)
            .limit(config.batch_size)
            .with_for_update(skip_locked=True)
        ).all()
        if not ids:
            return []
        ids = session.scalars(update(_T).where(_T.c.id.in_(ids)).values(**claimed).returning(_T.c.id)).all()
    else:
        batch = select(_T.c.id).where(due).order_by(*order).limit(config.batch_size).scalar_subquery()
        ids = session.scalars(
            update(_T).where(_T.c.id.in_(batch), due).values(**claimed).returning(_T.c.id)
        ).all()
    if not ids:
        return []
    columns = (_T.c.id, _T.c.user_id, _T.c.channel, _T.c.body, _T.c.target, _T.c.attempts, _T.c.lease_until)
    rows = session.execute(select(*columns).where(_T.c.id.in_(ids)).order_by(_T.c.id)).all()
    return [
        Outgoing(r.id, r.user_id, Channel(r.channel), r.body, r.target, r.attempts, r.lease_until)
        for r in rows
    ]


def mark_sent(
    session: Session, message: Outgoing, at: dt.datetime, channel: str | None, ts: str | None
) -> bool:
    """Sent at ``at``; False when the message was no longer this worker's (its lease ran out)."""
    result = session.execute(
        update(_T)
        .where(
            _T.c.id == message.id, _T.c.status == ChatStatus.SENDING.value, _T.c.attempts == message.attempts
        )
        .values(
            status=ChatStatus.SENT.value, lease_until=None, sent_at=at, slack_channel=channel, slack_ts=ts
        )
    )
    return result.rowcount == 1


def mark_failed(
    session: Session, message: Outgoing, at: dt.datetime, error: str, retry_at: dt.datetime | None
) -> bool:
    """Pending again until ``retry_at``, or failed for good (None); False if no longer this worker's."""
    values = (
        {"status": ChatStatus.FAILED.value, "failed_at": at}
        if retry_at is None
        else {"status": ChatStatus.PENDING.value, "next_attempt_at": retry_at}
    )
    result = session.execute(
        update(_T)
        .where(
            _T.c.id == message.id, _T.c.status == ChatStatus.SENDING.value, _T.c.attempts == message.attempts
        )
        .values(last_error=error[:MAX_ERROR], lease_until=None, **values)
    )
    return result.rowcount == 1


def release(session: Session, ids: list[int]) -> int:
    """Hand claimed, unsent messages back at once rather than when their lease expires."""
    result = session.execute(
        update(_T)
        .where(_T.c.id.in_(ids), _T.c.status == ChatStatus.SENDING.value)
        .values(status=ChatStatus.PENDING.value, lease_until=None, attempts=_T.c.attempts - 1)
    )
    return result.rowcount


def backoff(config: ChatConfig, attempts: int, rng: random.Random) -> dt.timedelta:
    """base * 2**attempts, scaled by a random factor between 0.5 and 1 so retries spread out."""
    delay = config.backoff_seconds * 2**attempts
    return dt.timedelta(seconds=delay * (0.5 + rng.random() / 2))


def retry(session: Session, message_id: int, now: dt.datetime) -> ChatMessage:
    """Make a failed message pending again, with a fresh count of attempts."""
    message = session.get(ChatMessage, message_id)
    if message is None:
        raise DomainError(f"no chat message {message_id}")
    result = session.execute(
        update(_T)
        .where(_T.c.id == message_id, _T.c.status == ChatStatus.FAILED.value)
        .values(status=ChatStatus.PENDING.value, attempts=0, next_attempt_at=now, failed_at=None)
    )
    session.refresh(message)
    if result.rowcount != 1:
        raise DomainError(
            f"only a failed chat message can be retried; message {message_id} is {message.status.value}"
        )
    return message


def failures(session: Session, limit: int = 50) -> list[ChatMessage]:
    """The latest messages that failed for good, newest first."""
    query = (
        select(ChatMessage)
        .where(ChatMessage.status == ChatStatus.FAILED)
        .order_by(ChatMessage.failed_at.desc(), ChatMessage.id.desc())
    )
    return list(session.scalars(query.limit(limit)))


def forget_candidate(
    session: Session,
    candidate_id: int,
    spellings: Sequence[str] = (),
    replace=None,
    *,
    manager_id: int | None = None,
    since: dt.datetime | None = None,
) -> int:
    """Erasure: the candidate's chat messages go (their text named them), and a digest to their
    manager (``manager_id``, since ``since``, when they were added) that named them among others
    keeps its text with every ``spellings`` of them put through ``replace`` (a function of a
    string): how many messages were deleted or changed. The manager's digests are found by
    ``ix_chat_messages_user_created``, not by reading every message."""
    from sqlalchemy import delete

    changed = session.execute(delete(_T).where(_T.c.candidate_id == candidate_id)).rowcount
    if not spellings or replace is None or manager_id is None or since is None:
        return changed
    texts = (_T.c.text, cast(_T.c.body, Text))
    spellings = {*spellings, *(json.dumps(s)[1:-1] for s in spellings)}  # as the JSON holds them
    naming = or_(*(t.contains(s, autoescape=True) for s in spellings for t in texts))
    rows = session.execute(
        select(_T.c.id, _T.c.text, _T.c.body).where(
            _T.c.user_id == manager_id,
            _T.c.created_at >= since,
            _T.c.about == About.DIGEST.value,
            naming,
        )
    ).all()
    for message_id, text, body in rows:
        scrubbed = json.loads(replace(json.dumps(body, ensure_ascii=False)))
        session.execute(update(_T).where(_T.c.id == message_id).values(text=replace(text), body=scrubbed))
    return changed + len(rows)
