"""The candidate's own rules (stages, who may be acted on, one candidate per email and position)
and reading their timeline.

Nothing here writes; ``waits.service`` runs these checks before it records what happened.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Row, Select, bindparam, func, select
from sqlalchemy.orm import Session

from feedback_sla import languages
from feedback_sla.accounts.models import User
from feedback_sla.addresses import comparable_address, normalize_address
from feedback_sla.candidates.models import PIPELINE, Candidate, Event, Status
from feedback_sla.errors import DomainError
from feedback_sla.positions.models import Position
from feedback_sla.text import clean_line
from feedback_sla.timeutil import validate_time_zone

#: How far in the future an application time may lie (clocks drift; a typo does not).
FUTURE_TOLERANCE = dt.timedelta(minutes=5)
#: How long ago an application may have been made: older is a typo ("0226" for "2026").
OLDEST_APPLICATION = dt.timedelta(days=3653)


class DuplicateCandidate(DomainError):
    """The position already has a candidate with this email."""


def check_stage(stage: str) -> None:
    if stage not in PIPELINE:
        raise DomainError(f"unknown stage {stage!r}; stages: {', '.join(PIPELINE)}")


def check_active(candidate: Candidate) -> None:
    if candidate.status != Status.ACTIVE:
        raise DomainError(f"{candidate.name} is {candidate.status.value}; reopen them first")


def check_not_erased(candidate: Candidate, what: str) -> None:
    """Nothing personal is recorded again for a candidate whose personal data was erased."""
    if candidate.erased_at is not None:
        raise DomainError(f"this candidate's personal data was erased: {what}")


class ImpossibleApplication(DomainError):
    """An application time later than now, or more than ten years ago."""


def check_applied_at(applied_at: dt.datetime, now: dt.datetime) -> None:
    if applied_at > now + FUTURE_TOLERANCE:
        raise ImpossibleApplication("applied at: is in the future")
    if applied_at < now - OLDEST_APPLICATION:
        raise ImpossibleApplication("applied at: is more than ten years ago")


def by_email(
    session: Session, position_id: int, email: str, *, except_id: int | None = None
) -> Candidate | None:
    """The position's candidate with this email, whatever its case or the form of its domain
    (another than ``except_id``)."""
    query = select(Candidate).where(
        Candidate.position_id == position_id, func.lower(Candidate.email) == comparable_address(email)
    )
    if except_id is not None:
        query = query.where(Candidate.id != except_id)
    return session.scalar(query.limit(1))


def email_taken(session: Session, position_id: int, email: str, *, except_id: int | None = None) -> bool:
    """Whether another candidate of the position has this email, whatever its case."""
    return by_email(session, position_id, email, except_id=except_id) is not None


def check_new_email(session: Session, position: Position, email: str, *, except_id: int | None = None) -> str:
    """The normalised address, unless the position already has a candidate with it."""
    email = check_email_text(email)
    check_not_taken(session, position, email, except_id=except_id)
    return email


def check_not_taken(
    session: Session, position: Position, email: str, *, except_id: int | None = None
) -> None:
    """DuplicateCandidate when another candidate of the position has this email."""
    if email_taken(session, position.id, email, except_id=except_id):
        raise DuplicateCandidate(f"{email.strip()} is already a candidate for {position.title}")


#: The longest name the candidates table holds (an address: ``addresses.MAX_ADDRESS``).
MAX_NAME = Candidate.__table__.c.name.type.length


def check_name(name: str) -> str:
    """A candidate's name: one line of printable text, at most ``MAX_NAME`` characters."""
    return clean_line(name, "name", MAX_NAME)


def check_time_zone(time_zone: str | None) -> str | None:
    """A candidate's time zone: an IANA name, or None when not known (the position's is used)."""
    if not time_zone:
        return None
    try:
        return validate_time_zone(time_zone)
    except ValueError as exc:
        raise DomainError(f"time zone: {exc}") from None


def check_language(language: str | None, settings) -> str:
    """A candidate's language: one of the organisation's (``settings``, the clock's snapshot of
    them); None or empty: its default."""
    if not language:
        return settings.languages_default
    try:
        return languages.check(language, settings.languages)
    except ValueError as exc:
        raise DomainError(f"language: {exc}") from None


def check_email_text(email: str) -> str:
    """A candidate's address as typed, kept as the one rule keeps it (``addresses``); InvalidAddress
    names the field ``email``."""
    return normalize_address(email, "email")


#: The timeline's order: newest first (the ``ix_events_candidate_time`` index read backwards).
NEWEST_FIRST = (Event.occurred_at.desc(), Event.id.desc())

#: The timeline's statement, built once (the candidate and the limit are bound at each execution:
#: building it costs the candidate page more than SQLite takes to run it).
_TIMELINE = (
    select(
        Event.id,
        Event.kind,
        Event.channel,
        Event.body,
        Event.data,
        Event.occurred_at,
        User.name.label("actor_name"),
    )
    .outerjoin(User, User.id == Event.actor_id)
    .where(Event.candidate_id == bindparam("candidate_id"))
    .order_by(*NEWEST_FIRST)
)
_LATEST = _TIMELINE.limit(bindparam("limit"))


def latest_event_ids(candidate_id, limit) -> Select:
    """The ids of a candidate's latest ``limit`` events, those ``events_of`` lists, for another
    statement to read what they did (the arguments may be bound parameters)."""
    return select(Event.id).where(Event.candidate_id == candidate_id).order_by(*NEWEST_FIRST).limit(limit)


def events_of(session: Session, candidate: Candidate, limit: int | None = None) -> list[Row]:
    """The timeline, newest first, the latest ``limit`` events when given: one statement.

    Each row holds what the timeline shows (``id``, ``kind``, ``channel``, ``body``, ``data``,
    ``occurred_at``) and ``actor_name``, None for the system: rows, not events with their actor
    loaded, and run on the connection (Core): the ORM's layer costs more than reading 50 rows.
    """
    query = _TIMELINE if limit is None else _LATEST
    return session.connection().execute(query, {"candidate_id": candidate.id, "limit": limit}).all()
