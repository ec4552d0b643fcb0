"""Emails to the app's own users (the daily digest): queued once per key, sent as soon as a worker
runs, with no undo window and nothing done to any wait."""

from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import Session

from feedback_sla.accounts.models import User
from feedback_sla.emails import checks, rows
from feedback_sla.emails.composing import RenderedEmail
from feedback_sla.emails.config import EmailConfig
from feedback_sla.emails.headers import check_address, check_headers
from feedback_sla.emails.models import EmailKind, OutboxMessage


def queue_to_user(
    session: Session,
    user: User,
    kind: str | EmailKind,
    rendered: RenderedEmail,
    now: dt.datetime,
    config: EmailConfig,
    *,
    idempotency_key: str,
) -> OutboxMessage:
    """Queue an email to a user of the app (the daily digest), sent as soon as a worker runs."""
    kind = EmailKind(kind)
    key = checks.check_key(idempotency_key)
    existing = rows.by_key(session, key)
    if existing is not None:
        return existing
    check_address("the user's email address", user.email)
    check_headers({"the user's name": user.name, "the subject": rendered.subject})
    message = rows.insert_once(
        session,
        key,
        rendered,
        config,
        now,
        send_after=now,
        recipient_user_id=user.id,
        kind=kind,
        to_name=user.name,
        to_address=user.email,
        reasons=[],
    )
    return message if message is not None else rows.by_key(session, key)
