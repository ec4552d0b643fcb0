"""The timeline of a candidate and the waits it opens and closes. The caller commits."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import func, insert, select, update
from sqlalchemy.orm import Session

from .. import clock
from ..accounts.models import User
from ..accounts.service import normalize_email
from ..errors import DomainError
from ..positions.models import Position
from ..settings.service import OrgSettings
from .models import (
    CANDIDATE_FACING,
    PIPELINE,
    Candidate,
    ContactChannel,
    Event,
    EventKind,
    Status,
    Wait,
    WaitReason,
)


def open_wait_of(session: Session, candidate: Candidate) -> Wait | None:
    return session.scalar(
        select(Wait).where(Wait.candidate_id == candidate.id, Wait.closed_at.is_(None))
    )


def record(
    session: Session,
    candidate: Candidate,
    kind: EventKind,
    at: dt.datetime,
    actor: User | None = None,
    *,
    channel: str | None = None,
    body: str | None = None,
    data: dict | None = None,
) -> Event:
    """Append an event to the timeline; a candidate-facing one closes the open wait."""
    event = Event(
        candidate=candidate,
        kind=kind,
        occurred_at=at,
        actor=actor,
        channel=channel,
        body=body,
        data=data or {},
    )
    session.add(event)
    if kind in CANDIDATE_FACING:
        _close_open_wait(session, candidate, event, at)
    return event


def _close_open_wait(session: Session, candidate: Candidate, event: Event, at: dt.datetime) -> None:
    """The candidate's open wait, if any, closes at ``at``, closed by ``event``."""
    wait = open_wait_of(session, candidate)
    if wait is not None:
        session.flush()
        wait.closed_at = at
        wait.closed_by_event_id = event.id


def open_wait(
    session: Session,
    candidate: Candidate,
    reason: WaitReason,
    opened_at: dt.datetime,
    settings: OrgSettings,
    *,
    promised_date: dt.date | None = None,
    event: Event | None = None,
) -> Wait:
    position = candidate.position
    days = settings.policy_days(reason.value, position.policy_overrides)
    times = clock.deadlines(opened_at, days, position.time_zone, settings, promised_date)
    wait = Wait(
        candidate=candidate,
        reason=reason,
        opened_at=opened_at,
        policy_days=days,
        promised_date=promised_date,
        warn_at=times.warn_at,
        due_at=times.due_at,
        escalate_at=times.escalate_at,
        follow_ups=0,
    )
    if event is not None:
        session.flush()
        wait.opened_by_event_id = event.id
    session.add(wait)
    session.flush()
    return wait


@dataclass(frozen=True)
class NewWait:
    """A wait to open in bulk; ``time_zone`` and ``policy_overrides`` are its position's."""

    candidate_id: int
    reason: WaitReason
    opened_at: dt.datetime
    time_zone: str
    policy_overrides: dict | None = None
    promised_date: dt.date | None = None
    opened_by_event_id: int | None = None


def open_waits_bulk(session: Session, waits: Iterable[NewWait], settings: OrgSettings) -> int:
    """Open many waits in one statement (a backfill), deadlines exactly as ``open_wait`` sets them.

    Returns how many were opened. The waits' ORM objects are not loaded into the session.
    """
    rows = []
    for new in waits:
        days = settings.policy_days(new.reason.value, new.policy_overrides)
        times = clock.deadlines(new.opened_at, days, new.time_zone, settings, new.promised_date)
        rows.append(
            {
                "candidate_id": new.candidate_id,
                "reason": new.reason,
                "opened_at": new.opened_at,
                "policy_days": days,
                "promised_date": new.promised_date,
                "warn_at": times.warn_at,
                "due_at": times.due_at,
                "escalate_at": times.escalate_at,
                "follow_ups": 0,
                "opened_by_event_id": new.opened_by_event_id,
            }
        )
    if rows:
        session.execute(insert(Wait.__table__), rows)
    return len(rows)


def add_candidate(
    session: Session,
    position: Position,
    name: str,
    email: str,
    applied_at: dt.datetime,
    settings: OrgSettings,
    actor: User | None = None,
    *,
    stage: str = "applied",
) -> Candidate:
    """A new applicant: the candidate, a 'created' event and an open application wait."""
    _check_stage(stage)
    candidate = Candidate(name=name.strip(), email=email.strip(), position=position, stage=stage)
    session.add(candidate)
    event = record(session, candidate, EventKind.CREATED, applied_at, actor, data={"stage": stage})
    open_wait(session, candidate, WaitReason.APPLICATION, applied_at, settings, event=event)
    return candidate


def _check_stage(stage: str) -> None:
    if stage not in PIPELINE:
        raise DomainError(f"unknown stage {stage!r}; stages: {', '.join(PIPELINE)}")


def check_active(candidate: Candidate) -> None:
    if candidate.status != Status.ACTIVE:
        raise DomainError(f"{candidate.name} is {candidate.status.value}; reopen them first")


def move_stage(
    session: Session, candidate: Candidate, stage: str, at: dt.datetime, actor: User | None = None
) -> Event:
    """A stage move is internal: it never closes a wait. It cancels a queued email it contradicts."""
    from ..emails.service import cancel_contradicted

    _check_stage(stage)
    event = record(
        session,
        candidate,
        EventKind.STAGE_MOVED,
        at,
        actor,
        data={"from": candidate.stage, "to": stage},
    )
    candidate.stage = stage
    cancel_contradicted(session, candidate, at, stage=stage, actor=actor)
    return event


def add_note(
    session: Session, candidate: Candidate, body: str, at: dt.datetime, actor: User | None = None
) -> Event:
    """An internal note: the candidate hears nothing, so the wait stays open."""
    if not body.strip():
        raise DomainError("a note needs some text")
    return record(session, candidate, EventKind.NOTE, at, actor, body=body.strip())


def log_contact(
    session: Session,
    candidate: Candidate,
    channel: ContactChannel,
    at: dt.datetime,
    actor: User | None = None,
    note: str | None = None,
) -> Event:
    """The candidate heard from us (a call, a meeting, another email): closes the open wait."""
    return record(
        session,
        candidate,
        EventKind.CONTACT_LOGGED,
        at,
        actor,
        channel=ContactChannel(channel).value,
        body=(note or "").strip() or None,
    )


def interview_held(
    session: Session,
    candidate: Candidate,
    at: dt.datetime,
    settings: OrgSettings,
    actor: User | None = None,
) -> Wait:
    """The interview was a meeting with the candidate; a decision is now owed."""
    check_active(candidate)
    event = record(session, candidate, EventKind.INTERVIEW_HELD, at, actor)
    return open_wait(session, candidate, WaitReason.DECISION, at, settings, event=event)


def followed_up(
    session: Session,
    candidate: Candidate,
    at: dt.datetime,
    settings: OrgSettings,
    actor: User | None = None,
) -> Wait:
    """The candidate asked for news: counted on the open wait, or opens a reply wait."""
    check_active(candidate)
    event = record(session, candidate, EventKind.FOLLOWED_UP, at, actor)
    wait = open_wait_of(session, candidate)
    if wait is None:
        return open_wait(session, candidate, WaitReason.FOLLOW_UP, at, settings, event=event)
    wait.follow_ups += 1
    return wait


def set_promise(
    session: Session,
    candidate: Candidate,
    promised: dt.date | None,
    at: dt.datetime,
    settings: OrgSettings,
    actor: User | None = None,
) -> Wait:
    """Set, move or clear the date the candidate was promised an answer by."""
    wait = open_wait_of(session, candidate)
    if wait is None:
        raise DomainError(f"{candidate.name} is not waiting for an answer")
    record(
        session,
        candidate,
        EventKind.PROMISE_SET,
        at,
        actor,
        data={"from": _iso(wait.promised_date), "to": _iso(promised)},
    )
    wait.promised_date = promised
    recompute(wait, candidate.position, settings)
    return wait


def withdraw(
    session: Session,
    candidate: Candidate,
    at: dt.datetime,
    actor: User | None = None,
    reason: str | None = None,
) -> Event:
    """The candidate withdrew: nobody owes them an answer any more, so the open wait closes.

    The withdrawal is the event that closes the wait, so reports can tell it from an answer.
    """
    check_active(candidate)
    event = record(
        session,
        candidate,
        EventKind.STATUS_CHANGED,
        at,
        actor,
        body=(reason or "").strip() or None,
        data={"from": candidate.status.value, "to": Status.WITHDRAWN.value},
    )
    candidate.status = Status.WITHDRAWN
    _close_open_wait(session, candidate, event, at)
    from ..emails.service import cancel_contradicted

    cancel_contradicted(session, candidate, at, status=Status.WITHDRAWN, actor=actor)
    return event


class DuplicateCandidate(DomainError):
    """The position already has a candidate with this email."""


def email_taken(
    session: Session, position_id: int, email: str, *, except_id: int | None = None
) -> bool:
    """Whether another candidate of the position has this email, whatever its case."""
    query = select(Candidate.id).where(
        Candidate.position_id == position_id, func.lower(Candidate.email) == email.strip().lower()
    )
    if except_id is not None:
        query = query.where(Candidate.id != except_id)
    return session.scalar(query.limit(1)) is not None


def update_details(session: Session, candidate: Candidate, name: str, email: str) -> None:
    """Correct a candidate's name or email; DomainError says which one is wrong."""
    name = name.strip()
    if not name:
        raise DomainError("name must not be empty")
    email = normalize_email(email)
    if email_taken(session, candidate.position_id, email, except_id=candidate.id):
        raise DuplicateCandidate(f"{email} is already a candidate for {candidate.position.title}")
    candidate.name = name
    candidate.email = email
    _readdress_unsent_emails(session, candidate)


def _readdress_unsent_emails(session: Session, candidate: Candidate) -> None:
    """Queued and failed emails go to the corrected name and address, not the old ones."""
    from ..emails.models import OutboxMessage, OutboxStatus

    session.execute(
        update(OutboxMessage)
        .where(
            OutboxMessage.candidate_id == candidate.id,
            OutboxMessage.status.in_([OutboxStatus.PENDING, OutboxStatus.FAILED]),
        )
        .values(to_name=candidate.name, to_address=candidate.email)
        .execution_options(synchronize_session="fetch")
    )


def _iso(day: dt.date | None) -> str | None:
    return day.isoformat() if day else None


def recompute(wait: Wait, position: Position, settings: OrgSettings) -> bool:
    """Recompute an open wait's deadlines from its policy and promise; True if anything moved."""
    days = settings.policy_days(wait.reason.value, position.policy_overrides)
    times = clock.deadlines(wait.opened_at, days, position.time_zone, settings, wait.promised_date)
    new = (days, times.warn_at, times.due_at, times.escalate_at)
    if new == (wait.policy_days, wait.warn_at, wait.due_at, wait.escalate_at):
        return False
    wait.policy_days, wait.warn_at, wait.due_at, wait.escalate_at = new
    return True


def recompute_open_waits(
    session: Session, settings: OrgSettings, *, position_id: int | None = None
) -> int:
    """Recompute every open wait (of one position, if given); returns how many moved."""
    query = (
        select(
            Wait.id,
            Wait.reason,
            Wait.opened_at,
            Wait.promised_date,
            Wait.policy_days,
            Wait.warn_at,
            Wait.due_at,
            Wait.escalate_at,
            Position.time_zone,
            Position.policy_overrides,
        )
        .join(Candidate, Wait.candidate_id == Candidate.id)
        .join(Position, Candidate.position_id == Position.id)
        .where(Wait.closed_at.is_(None))
    )
    if position_id is not None:
        query = query.where(Position.id == position_id)
    changes = []
    for row in session.execute(query):
        days = settings.policy_days(row.reason.value, row.policy_overrides)
        times = clock.deadlines(row.opened_at, days, row.time_zone, settings, row.promised_date)
        new = (days, times.warn_at, times.due_at, times.escalate_at)
        if new != (row.policy_days, row.warn_at, row.due_at, row.escalate_at):
            changes.append(
                {
                    "id": row.id,
                    "policy_days": days,
                    "warn_at": times.warn_at,
                    "due_at": times.due_at,
                    "escalate_at": times.escalate_at,
                }
            )
    if changes:
        session.execute(update(Wait), changes)
        session.expire_all()
    return len(changes)
