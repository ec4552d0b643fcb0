"""Reading the outbox: a candidate's emails, what a manager can still undo, and what failed."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session, contains_eager

from feedback_sla.candidates.models import Candidate
from feedback_sla.emails.errors import EmailError
from feedback_sla.emails.models import STATUS_SET, OutboxMessage, OutboxStatus
from feedback_sla.positions.models import Position

#: Emails not yet sent or cancelled: what a page still shows as in progress or failed.
UNFINISHED = (OutboxStatus.PENDING, OutboxStatus.SENDING, OutboxStatus.FAILED)
#: Failed emails stay on the triage page this long after their last attempt (retried or not).
FAILED_SHOWN_FOR = dt.timedelta(days=30)
#: At most this many are listed; the candidate pages show the rest.
ATTENTION_LIMIT = 50


@dataclass(frozen=True)
class TriageEmails:
    #: Pending, sending and failed emails per candidate, for the rows.
    by_candidate: dict[int, list[OutboxMessage]]
    #: Emails the manager may still undo, and recently failed ones, newest first.
    attention: list[OutboxMessage]


def for_triage(session: Session, now: dt.datetime, manager_id: int | None) -> TriageEmails:
    """The triage page's emails in one query, whatever the number of rows.

    ``manager_id`` None means every manager's candidates (an admin's view of everyone). The rows
    only show active candidates; a queued rejection or offer takes its candidate off the list at
    once, so the attention list is where its undo button and a failure stay visible.
    """
    query = (
        select(OutboxMessage)
        .join(Candidate, OutboxMessage.candidate_id == Candidate.id)
        .join(Position, Candidate.position_id == Position.id)
        .where(OutboxMessage.status.in_(UNFINISHED))
        .options(contains_eager(OutboxMessage.candidate))
        .order_by(OutboxMessage.queued_at, OutboxMessage.id)
    )
    if manager_id is not None:
        query = query.where(Position.manager_id == manager_id)
    by_candidate: dict[int, list[OutboxMessage]] = {}
    attention = []
    failed_since = now - FAILED_SHOWN_FOR
    for message in session.scalars(query):
        by_candidate.setdefault(message.candidate_id, []).append(message)
        if message.can_undo(now) or (
            message.status == OutboxStatus.FAILED
            and message.failed_at is not None
            and message.failed_at > failed_since
        ):
            attention.append(message)
    attention.reverse()
    return TriageEmails(by_candidate, attention[:ATTENTION_LIMIT])


def get_message(session: Session, message_id: int) -> OutboxMessage:
    message = session.get(OutboxMessage, message_id)
    if message is None:
        raise EmailError(f"no email with id {message_id}")
    return message


def history(session: Session, candidate_id: int) -> list[OutboxMessage]:
    """Every email to a candidate, newest first: the email history of the candidate page."""
    return list(
        session.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.candidate_id == candidate_id)
            .order_by(OutboxMessage.queued_at.desc(), OutboxMessage.id.desc())
        )
    )


def pending_messages(session: Session, candidate_id: int) -> list[OutboxMessage]:
    return list(
        session.scalars(
            select(OutboxMessage)
            .where(
                OutboxMessage.candidate_id == candidate_id,
                OutboxMessage.status == OutboxStatus.PENDING,
            )
            .order_by(OutboxMessage.queued_at, OutboxMessage.id)
        )
    )


def pending_status_email(session: Session, candidate) -> OutboxMessage | None:
    """The queued rejection or offer that set the candidate's status, if it is not sent yet."""
    for message in pending_messages(session, candidate.id):
        if message.kind in STATUS_SET:
            return message
    return None


def newest(
    session: Session, limit: int, *, candidate_id: int | None = None, status: str | None = None
) -> list[OutboxMessage]:
    """Emails newest first, of one candidate or with one status if given."""
    query = (
        select(OutboxMessage).order_by(OutboxMessage.queued_at.desc(), OutboxMessage.id.desc()).limit(limit)
    )
    if candidate_id is not None:
        query = query.where(OutboxMessage.candidate_id == candidate_id)
    if status:
        query = query.where(OutboxMessage.status == status)
    return list(session.scalars(query))
