"""Outbox rows written once: the insert that an idempotency key guards, and the lookup by key."""

from __future__ import annotations

import datetime as dt
from email.utils import make_msgid

from sqlalchemy import select
from sqlalchemy.orm import Session

from feedback_sla import database
from feedback_sla.emails.composing import RenderedEmail
from feedback_sla.emails.config import EmailConfig
from feedback_sla.emails.models import OutboxMessage, OutboxStatus


def by_key(session: Session, key: str) -> OutboxMessage | None:
    return session.scalar(select(OutboxMessage).where(OutboxMessage.idempotency_key == key))


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
    return database.insert_once(
        session,
        OutboxMessage,
        dict(
            subject=rendered.subject,
            text_body=rendered.text,
            html_body=rendered.html,
            message_id=make_msgid(domain=config.domain),
            idempotency_key=key,
            status=OutboxStatus.PENDING,
            queued_at=queued_at,
            send_after=send_after,
            next_attempt_at=send_after,
            attempts=0,
            **values,
        ),
        conflict=["idempotency_key"],
    )
