"""Outbox rows written once: the insert that an idempotency key guards, and the lookup by key."""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from email.utils import make_msgid

from sqlalchemy import select
from sqlalchemy.orm import Session, load_only

from feedback_sla import database
from feedback_sla.emails.composing import RenderedEmail
from feedback_sla.emails.config import EmailConfig
from feedback_sla.emails.models import OutboxMessage, OutboxStatus


def by_key(session: Session, key: str) -> OutboxMessage | None:
    return session.scalar(select(OutboxMessage).where(OutboxMessage.idempotency_key == key))


def by_keys(session: Session, keys: Collection[str]) -> dict[str, OutboxMessage]:
    """The messages of those keys that exist, by key (one statement). Only what tells a message
    and its request apart is read; the rest (the bodies above all) loads if it is read."""
    if not keys:
        return {}
    query = (
        select(OutboxMessage)
        .options(load_only(*_KEY_COLUMNS))
        .where(OutboxMessage.idempotency_key.in_(sorted(keys)))
    )
    return {message.idempotency_key: message for message in session.scalars(query)}


_KEY_COLUMNS = (
    OutboxMessage.idempotency_key,
    OutboxMessage.message_id,
    OutboxMessage.candidate_id,
    OutboxMessage.kind,
    OutboxMessage.status,
    OutboxMessage.send_after,
)


def insert_once(
    session: Session,
    key: str,
    rendered: RenderedEmail,
    config: EmailConfig,
    queued_at: dt.datetime,
    *,
    send_after: dt.datetime,
    **values,
) -> OutboxMessage | None:
    """Queue a message unless its idempotency key exists: the new message, or None if it existed.

    ``values`` are the columns that differ between a candidate's email and a user's.
    """
    row = NewRow(key, rendered, queued_at, send_after, values)
    return database.insert_once(session, OutboxMessage, row.columns(config), conflict=["idempotency_key"])


@dataclass(frozen=True)
class NewRow:
    """One message to insert; ``values`` are the columns that differ between a candidate's email
    and a user's."""

    key: str
    rendered: RenderedEmail
    queued_at: dt.datetime
    send_after: dt.datetime
    values: dict = field(default_factory=dict)

    def columns(self, config: EmailConfig) -> dict:
        """Every column of the row, with a fresh Message-ID."""
        return dict(
            subject=self.rendered.subject,
            text_body=self.rendered.text,
            html_body=self.rendered.html,
            language=self.rendered.language,
            message_id=make_msgid(domain=config.domain),
            idempotency_key=self.key,
            status=OutboxStatus.PENDING,
            queued_at=self.queued_at,
            send_after=self.send_after,
            next_attempt_at=self.send_after,
            attempts=0,
            **self.values,
        )


@dataclass(frozen=True)
class Inserted:
    """What ``insert_many_once`` found, by key: the messages it inserted, and those of keys that
    were queued concurrently and committed first."""

    new: dict[str, OutboxMessage]
    taken: dict[str, OutboxMessage]


def insert_many_once(session: Session, rows: Sequence[NewRow], config: EmailConfig) -> Inserted:
    """``insert_once`` for many messages: one INSERT, then one SELECT that reads them back (each
    new one known by its fresh Message-ID)."""
    values = [row.columns(config) for row in rows]
    database.insert_many_once(session, OutboxMessage, values, conflict=["idempotency_key"])
    ours = {value["idempotency_key"]: value["message_id"] for value in values}
    found = by_keys(session, ours)
    new = {key: message for key, message in found.items() if message.message_id == ours[key]}
    return Inserted(new, {key: message for key, message in found.items() if key not in new})
