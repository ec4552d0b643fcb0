"""The door every signal about a candidate enters through: a page, a command, a CSV file.

Each function records what happened on the candidate's timeline and opens, closes or moves the
wait it concerns, cancelling queued emails the change contradicts. What emails do to the wait
(queueing, undoing, the outbox's news that one was sent) enters through ``waits.answers``, built
on this module. The caller commits once.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import Session

from feedback_sla.accounts.models import User
from feedback_sla.candidates import service as candidates
from feedback_sla.candidates import timeline
from feedback_sla.candidates.models import (
    CANDIDATE_FACING,
    Candidate,
    ContactChannel,
    Event,
    EventKind,
    Status,
)
from feedback_sla.emails import outbox, queries
from feedback_sla.emails.models import OutboxMessage
from feedback_sla.errors import DomainError
from feedback_sla.positions import service as positions
from feedback_sla.positions.models import Position
from feedback_sla.text import clean_text, search_key
from feedback_sla.waits import answers, emailing, lifecycle, promises
from feedback_sla.waits.clock import OrgSettings
from feedback_sla.waits.models import Wait, WaitReason
from feedback_sla.waits.queries import open_wait_of

#: The longest internal note or contact note, and the longest withdrawal reason.
MAX_NOTE = 5_000
MAX_REASON = 500


def record(
    session: Session,
    candidate: Candidate,
    kind: EventKind,
    at: dt.datetime,
    actor: User | None = None,
    **details,
) -> Event:
    """Append an event to the timeline; a candidate-facing one closes the open wait."""
    event = timeline.append(session, candidate, kind, at, actor, **details)
    if kind in CANDIDATE_FACING:
        lifecycle.close_open_wait(session, candidate, event, at)
    return event


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
    now: dt.datetime | None = None,
    time_zone: str | None = None,
    language: str | None = None,
) -> Candidate:
    """A new applicant: the candidate, a 'created' event and an open application wait.

    With ``now``, an application time in the future is refused. DuplicateCandidate when the
    position already has a candidate with this email. ``time_zone``: where they live, when known;
    ``language``: one of the organisation's (None: its default).
    """
    candidates.check_stage(stage)
    time_zone = candidates.check_time_zone(time_zone)
    language = candidates.check_language(language, settings)
    if now is not None:
        candidates.check_applied_at(applied_at, now)
    name = candidates.check_name(name)
    email = candidates.check_email_text(email)
    candidates.check_not_taken(session, position, email)
    candidate = Candidate(
        name=name,
        email=email,
        position=position,
        stage=stage,
        search_key=search_key(name, email),
        time_zone=time_zone,
        language=language,
    )
    session.add(candidate)
    event = record(session, candidate, EventKind.CREATED, applied_at, actor, data={"stage": stage})
    lifecycle.open_wait(session, candidate, WaitReason.APPLICATION, applied_at, settings, event=event)
    return candidate


def move_stage(
    session: Session, candidate: Candidate, stage: str, at: dt.datetime, actor: User | None = None
) -> list[OutboxMessage]:
    """A stage move is internal: it never closes a wait. Returns the queued emails it cancelled.

    An inactive candidate cannot move, unless a queued rejection or offer is what made them
    inactive: the move takes it back.
    """
    candidates.check_stage(stage)
    if queries.pending_status_email(session, candidate) is None:
        candidates.check_active(candidate)
    if stage == candidate.stage:
        raise DomainError(f"{candidate.name} is already at stage {stage}")
    record(
        session,
        candidate,
        EventKind.STAGE_MOVED,
        at,
        actor,
        data={"from": candidate.stage, "to": stage},
    )
    candidate.stage = stage
    return emailing.cancel_contradicted(session, candidate, at, stage=stage, actor=actor)


def add_note(
    session: Session, candidate: Candidate, body: str, at: dt.datetime, actor: User | None = None
) -> Event:
    """An internal note: the candidate hears nothing, so the wait stays open."""
    candidates.check_not_erased(candidate, "no note can be added")
    body = clean_text(body, "note", MAX_NOTE)
    if not body:
        raise DomainError("a note needs some text")
    return record(session, candidate, EventKind.NOTE, at, actor, body=body)


def log_contact(
    session: Session,
    candidate: Candidate,
    channel: ContactChannel,
    at: dt.datetime,
    actor: User | None = None,
    note: str | None = None,
    *,
    promised: dt.date | None = None,
    settings: OrgSettings | None = None,
) -> Event:
    """The candidate heard from us (a call, a meeting, another email): closes the open wait.

    When the manager told them when they will hear next (``promised``, with ``settings``), the
    decision is still owed: the next wait opens at once, due on that date.
    """
    candidates.check_not_erased(candidate, "no contact can be logged")
    if promised is not None:
        promises.check_promise(promised, at, candidate.position.time_zone)
    closed = open_wait_of(session, candidate) if promised is not None else None
    event = record(
        session,
        candidate,
        EventKind.CONTACT_LOGGED,
        at,
        actor,
        channel=ContactChannel(channel).value,
        body=clean_text(note or "", "note", MAX_NOTE) or None,
        data={"promised_date": promised.isoformat()} if promised is not None else None,
    )
    if closed is not None:
        promises.wait_on_promise(session, candidate, closed, event, promised, settings)
    return event


def interview_held(
    session: Session,
    candidate: Candidate,
    at: dt.datetime,
    settings: OrgSettings,
    actor: User | None = None,
) -> Wait:
    """The interview was a meeting with the candidate; a decision is now owed."""
    candidates.check_active(candidate)
    event = record(session, candidate, EventKind.INTERVIEW_HELD, at, actor)
    return lifecycle.open_wait(session, candidate, WaitReason.DECISION, at, settings, event=event)


def followed_up(
    session: Session,
    candidate: Candidate,
    at: dt.datetime,
    settings: OrgSettings,
    actor: User | None = None,
    *,
    channel: str | None = None,
    body: str | None = None,
    data: dict | None = None,
) -> Wait:
    """The candidate asked for news: counted on the open wait, or opens a reply wait.

    A follow-up that came by mail has ``channel`` "email" and, as ``body``, the subject and the
    first lines of what the candidate wrote.
    """
    candidates.check_active(candidate)
    # An email the outbox sent them and has not recorded yet answered the wait before this.
    answers.record_unrecorded(session, candidate, settings)
    event = record(
        session,
        candidate,
        EventKind.FOLLOWED_UP,
        at,
        actor,
        channel=channel,
        body=clean_text(body or "", "follow-up", MAX_NOTE) or None,
        data=data,
    )
    wait = open_wait_of(session, candidate)
    if wait is None:
        return lifecycle.open_wait(session, candidate, WaitReason.FOLLOW_UP, at, settings, event=event)
    wait.follow_ups += 1
    return wait


def wrote_after_decision(
    session: Session, candidate: Candidate, at: dt.datetime, body: str, data: dict | None = None
) -> Event:
    """A candidate who is no longer active (rejected, hired, withdrawn) wrote to us by mail: on the
    timeline for the manager to read, and no wait opens or counts it (the decision was told)."""
    return record(
        session,
        candidate,
        EventKind.FOLLOWED_UP,
        at,
        channel="email",
        body=clean_text(body, "message", MAX_NOTE) or None,
        data={"counted": False, **(data or {})},
    )


def auto_replied(
    session: Session, candidate: Candidate, at: dt.datetime, subject: str, data: dict | None = None
) -> Event:
    """An out-of-office or another automatic answer to our email: on the timeline, counted for
    nothing (the wait is as it was)."""
    return record(session, candidate, EventKind.AUTO_REPLY, at, body=subject or None, data=data)


def set_promise(
    session: Session,
    candidate: Candidate,
    promised: dt.date | None,
    at: dt.datetime,
    settings: OrgSettings,
    actor: User | None = None,
) -> Wait:
    """Set, move or clear the date the candidate was promised an answer by.

    A date before the day of ``at`` (in the position's time zone) is refused: it is in the past.
    """
    wait = open_wait_of(session, candidate)
    if wait is None:
        raise DomainError(f"{candidate.name} is not waiting for an answer")
    if promised is not None:
        promises.check_promise(promised, at, candidate.position.time_zone)
    record(
        session,
        candidate,
        EventKind.PROMISE_SET,
        at,
        actor,
        data={"from": _iso(wait.promised_date), "to": _iso(promised)},
    )
    wait.promised_date = promised
    lifecycle.recompute(wait, candidate.position, settings)
    return wait


def withdraw(
    session: Session,
    candidate: Candidate,
    at: dt.datetime,
    actor: User | None = None,
    reason: str | None = None,
    *,
    channel: str | None = None,
) -> Event:
    """The candidate withdrew: nobody owes them an answer any more, so the open wait closes.

    The withdrawal is the event that closes the wait, so reports can tell it from an answer.
    ``channel`` says where the candidate told us (e.g. "status page"); None when a person records it.
    """
    body = clean_text(reason or "", "reason", MAX_REASON) or None
    return close_with_status(session, candidate, Status.WITHDRAWN, at, actor, body=body, channel=channel)


def close_with_status(
    session: Session,
    candidate: Candidate,
    status: Status,
    at: dt.datetime,
    actor: User | None = None,
    *,
    body: str | None = None,
    data: dict | None = None,
    channel: str | None = None,
) -> Event:
    """An active candidate leaves the process: the status change is the event that closes the open
    wait, and queued emails it contradicts are cancelled. ``data`` adds to the event's from/to."""
    candidates.check_active(candidate)
    event = record(
        session,
        candidate,
        EventKind.STATUS_CHANGED,
        at,
        actor,
        channel=channel,
        body=body,
        data={"from": candidate.status.value, "to": status.value, **(data or {})},
    )
    candidate.status = status
    candidate.decided_at = at
    lifecycle.close_open_wait(session, candidate, event, at)
    emailing.cancel_contradicted(session, candidate, at, status=status, actor=actor)
    return event


def update_details(
    session: Session,
    candidate: Candidate,
    name: str,
    email: str,
    time_zone: str | None = None,
    *,
    language: str | None = None,
    settings: OrgSettings | None = None,
) -> None:
    """Correct a candidate's name, email or time zone (None or empty: not known, the position's)
    and, with ``settings``, their language (None keeps it); queued and failed emails follow the
    correction, and a corrected address is no longer flagged undeliverable. A candidate whose
    personal data was erased gets none again: DomainError."""
    candidates.check_not_erased(candidate, "a name or email cannot be set again")
    candidate.time_zone = candidates.check_time_zone(time_zone)
    if language is not None and settings is not None:
        candidate.language = candidates.check_language(language, settings)
    email_before = candidate.email
    candidate.name = candidates.check_name(name)
    candidate.email = candidates.check_new_email(session, candidate.position, email, except_id=candidate.id)
    if candidate.email != email_before:
        candidate.email_undeliverable_at = None  # the corrected address has not bounced
    candidate.search_key = search_key(candidate.name, candidate.email)
    outbox.readdress_unsent(session, candidate)


def update_position(
    session: Session, position: Position, change: positions.PositionChange, settings: OrgSettings
) -> int:
    """Change a position; returns how many of its open waits got new deadlines.

    Only a change of time zone or of policy overrides moves deadlines, so only then are the
    position's open waits recomputed.
    """
    if not positions.apply_change(session, position, change):
        return 0
    return lifecycle.recompute_open_waits(session, settings, position_id=position.id)


def _iso(day: dt.date | None) -> str | None:
    return day.isoformat() if day else None
