"""Reading the outbox: a candidate's emails, what a manager can still undo, and what failed."""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection
from dataclasses import dataclass
from typing import NamedTuple

from sqlalchemy import and_, bindparam, or_, select
from sqlalchemy.orm import Session, contains_eager

from feedback_sla.accounts.models import User
from feedback_sla.candidates.models import Candidate
from feedback_sla.emails import scheduling
from feedback_sla.emails.errors import EmailError
from feedback_sla.emails.models import STATUS_SET, EmailKind, OutboxMessage, OutboxStatus
from feedback_sla.positions.models import Position

#: Emails not yet sent or cancelled: what a page still shows as in progress or failed.
UNFINISHED = (OutboxStatus.PENDING, OutboxStatus.SENDING, OutboxStatus.FAILED)
#: Failed emails stay on the triage page this long after their last attempt (retried or not).
FAILED_SHOWN_FOR = dt.timedelta(days=30)
#: Bounced emails stay on the triage page this long after the bounce.
BOUNCED_SHOWN_FOR = dt.timedelta(days=14)
#: At most this many are listed; the candidate pages show the rest.
ATTENTION_LIMIT = 50


def _scheduled_for(email, candidate_zone: str | None = None) -> str | None:
    """When an email sent later goes, as pages write it ("Tue 8 Dec 09:00 (candidate's time)");
    None for one sent after its undo window."""
    if not email.send_at_zone:
        return None
    return scheduling.describe(email.send_after, email.send_at_zone, candidate_zone)


class TriageEmail(NamedTuple):
    """An email as the triage page shows it, with its candidate's name: a tuple, neither bodies nor
    addresses (the page lists dozens of these on every load)."""

    id: int
    candidate_id: int
    candidate_name: str
    kind: EmailKind
    status: OutboxStatus
    send_after: dt.datetime
    last_error: str | None
    bounce_reason: str | None
    send_at_zone: str | None
    candidate_time_zone: str | None

    # The same rule as OutboxMessage's, on the same columns.
    can_undo = OutboxMessage.can_undo
    scheduled_for = _scheduled_for


@dataclass(frozen=True)
class TriageEmails:
    #: Pending, sending and failed emails per candidate, for the rows.
    by_candidate: dict[int, list[TriageEmail]]
    #: Emails the manager may still undo, and recently failed ones, newest first.
    attention: list[TriageEmail]


def for_triage(
    session: Session, now: dt.datetime, manager_id: int | None, candidate_ids: list[int]
) -> TriageEmails:
    """The triage page's emails in two bounded queries, whatever the size of the organisation.

    ``candidate_ids`` are the page's rows: their pending, sending and failed emails, and those that
    bounced in the last ``BOUNCED_SHOWN_FOR`` (a bounce puts its candidate back on the list). The
    attention list is the viewer's latest ``ATTENTION_LIMIT`` emails still to undo, failed in the
    last ``FAILED_SHOWN_FOR`` or bounced: a queued rejection or offer takes its candidate off the
    rows at once, so this is where its undo button and a failure stay visible. ``manager_id`` None
    means every manager's (an admin's view of everyone).
    """
    times = {
        "now": now,
        "failed_since": now - FAILED_SHOWN_FOR,
        "bounced_since": now - BOUNCED_SHOWN_FOR,
    }
    connection, make = session.connection(), TriageEmail._make
    by_candidate: dict[int, list[TriageEmail]] = {}
    for row in connection.execute(_TRIAGE_ROWS, {**times, "candidate_ids": candidate_ids}):
        by_candidate.setdefault(row.candidate_id, []).append(make(row))
    if manager_id is None:
        attention = connection.execute(_ATTENTION, times)
    else:
        attention = connection.execute(_MANAGERS_ATTENTION, {**times, "manager_id": manager_id})
    return TriageEmails(by_candidate, [make(row) for row in attention])


# The triage page's statements, built once and bound at each request (building them costs more
# than running them); plain columns, no objects to load.
_LISTED = select(
    *[getattr(OutboxMessage, name) for name in TriageEmail._fields[:2]],
    Candidate.name.label("candidate_name"),
    *[getattr(OutboxMessage, name) for name in TriageEmail._fields[3:-1]],
    Candidate.time_zone.label("candidate_time_zone"),
).join(Candidate, OutboxMessage.candidate_id == Candidate.id)
_BOUNCED = and_(
    OutboxMessage.status == OutboxStatus.BOUNCED, OutboxMessage.bounced_at > bindparam("bounced_since")
)
_TRIAGE_ROWS = _LISTED.where(
    OutboxMessage.candidate_id.in_(bindparam("candidate_ids", expanding=True)),
    or_(OutboxMessage.status.in_(UNFINISHED), _BOUNCED),
).order_by(OutboxMessage.queued_at, OutboxMessage.id)
_ATTENTION = (
    _LISTED.where(
        or_(
            and_(OutboxMessage.status == OutboxStatus.PENDING, OutboxMessage.send_after > bindparam("now")),
            and_(
                OutboxMessage.status == OutboxStatus.FAILED,
                OutboxMessage.failed_at > bindparam("failed_since"),
            ),
            _BOUNCED,
        )
    )
    .order_by(OutboxMessage.queued_at.desc(), OutboxMessage.id.desc())
    .limit(ATTENTION_LIMIT)
)
_MANAGERS_ATTENTION = _ATTENTION.join(Position, Candidate.position_id == Position.id).where(
    Position.manager_id == bindparam("manager_id")
)


def get_message(session: Session, message_id: int) -> OutboxMessage:
    message = session.get(OutboxMessage, message_id)
    if message is None:
        raise EmailError(f"no email with id {message_id}")
    return message


class HistoryEmail(NamedTuple):
    """One email of a candidate's history, with who queued it: the columns the candidate page
    shows, as a tuple (50 of these cost the page a fraction of 50 loaded OutboxMessages)."""

    id: int
    kind: EmailKind
    status: OutboxStatus
    subject: str
    to_name: str
    to_address: str
    reply_to_name: str | None
    reply_to_address: str | None
    message_id: str
    text_body: str
    promised_date: dt.date | None
    reasons: list
    attempts: int
    last_error: str | None
    queued_at: dt.datetime
    send_after: dt.datetime
    sent_at: dt.datetime | None
    failed_at: dt.datetime | None
    cancelled_at: dt.datetime | None
    cancel_reason: str | None
    bounced_at: dt.datetime | None
    bounce_reason: str | None
    template_name: str | None
    send_at_zone: str | None
    #: The language it was written in; None on emails queued before emails had one.
    language: str | None
    queued_by_name: str | None

    # The same rule as OutboxMessage's, on the same columns.
    can_undo = OutboxMessage.can_undo
    scheduled_for = _scheduled_for


def _history_query(*, limited: bool, unfinished: bool = False):
    """The history's statement, built once per variant: the candidate and the limit are bound
    at each execution (building a select costs more than SQLite takes to run it)."""
    newest_first = (OutboxMessage.queued_at.desc(), OutboxMessage.id.desc())
    query = (
        select(*[getattr(OutboxMessage, name) for name in HistoryEmail._fields[:-1]])
        .add_columns(User.name.label("queued_by_name"))
        .outerjoin(User, User.id == OutboxMessage.queued_by_id)
        .where(OutboxMessage.candidate_id == bindparam("candidate_id"))
        .order_by(*newest_first)
    )
    if not limited:
        return query
    if not unfinished:
        return query.limit(bindparam("limit"))
    latest = (
        select(OutboxMessage.id)
        .where(OutboxMessage.candidate_id == bindparam("candidate_id"))
        .order_by(*newest_first)
        .limit(bindparam("limit"))
    )
    # In the history's order, the latest ``limit`` come first, the older unfinished ones after.
    return query.where(or_(OutboxMessage.id.in_(latest), OutboxMessage.status.in_(UNFINISHED)))


_EVERY_EMAIL = _history_query(limited=False)
_LATEST = _history_query(limited=True)
_LATEST_AND_UNFINISHED = _history_query(limited=True, unfinished=True)


def history(
    session: Session, candidate_id: int, limit: int | None = None, *, unfinished: bool = False
) -> list[HistoryEmail]:
    """Emails to a candidate, newest first, with who queued each: the email history of the
    candidate page; the latest ``limit`` when given.

    ``unfinished``: after those, any older email still unfinished (pending, sending or failed),
    in the same statement; the candidate page's undo and failed banners show them.
    """
    if limit is None:
        query = _EVERY_EMAIL
    else:
        query = _LATEST_AND_UNFINISHED if unfinished else _LATEST
    # Core execution: plain columns, no objects to load.
    rows = session.connection().execute(query, {"candidate_id": candidate_id, "limit": limit}).all()
    make = HistoryEmail._make
    return [make(row) for row in rows]


def pending_messages(session: Session, candidate_id: int) -> list[OutboxMessage]:
    """A candidate's emails still queued, oldest first."""
    return pending_by_candidate(session, [candidate_id]).get(candidate_id, [])


def pending_by_candidate(session: Session, candidate_ids: Collection[int]) -> dict[int, list[OutboxMessage]]:
    """``pending_messages`` of many candidates in one statement; a candidate with none is left out."""
    found: dict[int, list[OutboxMessage]] = {}
    if not candidate_ids:
        return found
    query = (
        select(OutboxMessage)
        .where(
            OutboxMessage.candidate_id.in_(sorted(candidate_ids)),
            OutboxMessage.status == OutboxStatus.PENDING,
        )
        .order_by(OutboxMessage.queued_at, OutboxMessage.id)
    )
    for message in session.scalars(query):
        found.setdefault(message.candidate_id, []).append(message)
    return found


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


def bounced_since(session: Session, manager_id: int, since: dt.datetime) -> list[OutboxMessage]:
    """Emails to the candidates of a manager's positions that bounced since ``since``, newest first,
    with their candidate (the daily digest lists them)."""
    return list(
        session.scalars(
            select(OutboxMessage)
            .join(Candidate, OutboxMessage.candidate_id == Candidate.id)
            .join(Position, Candidate.position_id == Position.id)
            .where(
                Position.manager_id == manager_id,
                OutboxMessage.status == OutboxStatus.BOUNCED,
                OutboxMessage.bounced_at > since,
            )
            .options(contains_eager(OutboxMessage.candidate))
            .order_by(OutboxMessage.bounced_at.desc(), OutboxMessage.id.desc())
            .limit(ATTENTION_LIMIT)
        )
    )
