"""Autopilot: a status update to every candidate whose deadline is near and who has heard nothing.

For positions with autopilot on, ``run`` finds in one statement every open wait whose deadline
falls within the lead time (``autopilot.lead_business_hours`` business hours, see
``clock.business_hours_before``) or has already passed: a wait that went overdue while autopilot
was on is owed its message all the more. It queues, through the wait's door, the position's update
template promising the deadline a fresh wait would have, with the usual undo window, and counts it
on the wait. Once sent, the update answers the wait and its promise opens the next one, which
autopilot keeps in its turn. A wait already written to ``autopilot.max_per_wait`` times (its
updates failed or were cancelled) gets nothing more: the digest tells its manager and the admins.

Safe on several hosts at once: each wait is claimed by an UPDATE that re-checks, under the row's
lock, that it is still open, unanswered and at the count the run read; a run that loses the race
skips the wait, and the idempotency key (the wait and its update number) queues one message
whatever happens. Each wait is queued inside its own savepoint, committed per batch: one wait's
failure is reported and the rest go on.
"""

from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass, field

from sqlalchemy import and_, bindparam, exists, select, update
from sqlalchemy.orm import Session, aliased, contains_eager
from sqlalchemy.orm.attributes import set_committed_value

from feedback_sla.candidates.models import Candidate, Status
from feedback_sla.emails.checks import EmailRequest
from feedback_sla.emails.config import EmailConfig
from feedback_sla.emails.models import EmailKind, OutboxMessage, OutboxStatus
from feedback_sla.errors import DomainError
from feedback_sla.positions.models import Position
from feedback_sla.settings import service as settings_service
from feedback_sla.timeutil import local_date
from feedback_sla.waits import answers, lifecycle
from feedback_sla.waits.clock import OrgSettings
from feedback_sla.waits.lead_time import email_on_its_way, within_lead_time
from feedback_sla.waits.models import Wait

#: Waits queued and committed together.
BATCH = 200
#: The statuses of a candidate who is still owed news.
WAITING = (Status.ACTIVE, Status.OFFERED)


@dataclass(frozen=True)
class Limits:
    """The organisation's autopilot settings."""

    lead_business_hours: int = 4
    max_per_wait: int = 2

    @classmethod
    def load(cls, session: Session) -> Limits:
        return cls(
            int(settings_service.value_of(session, "autopilot.lead_business_hours")),
            int(settings_service.value_of(session, "autopilot.max_per_wait")),
        )


@dataclass(frozen=True)
class Owed:
    """One wait autopilot writes to, as the run found it."""

    wait_id: int
    candidate_id: int
    candidate: str
    position: str
    time_zone: str
    due_at: dt.datetime
    updates: int


@dataclass(frozen=True)
class Sent:
    owed: Owed
    outbox_id: int
    promised_date: dt.date


@dataclass
class Outcome:
    """What a run queued, skipped (another run or a person got there first) and failed to queue."""

    queued: list[Sent] = field(default_factory=list)
    skipped: list[Owed] = field(default_factory=list)
    failed: list[tuple[Owed, str]] = field(default_factory=list)
    #: Dry run: what it would queue.
    owed: list[Owed] = field(default_factory=list)


# --- which waits ----------------------------------------------------------------------------------


def unanswered():
    """The wait's candidate is owed news, can be written to, and has no candidate email on its way;
    nor has a person undone an autopilot update since the wait opened (they answer it themselves)."""
    candidate_id, candidate = Wait.candidate_id, aliased(Candidate)
    return and_(
        exists().where(
            candidate.id == candidate_id,
            candidate.status.in_(WAITING),
            candidate.email_undeliverable_at.is_(None),
            candidate.erased_at.is_(None),
            candidate.email != "",
        ),
        ~email_on_its_way(candidate_id),
        ~exists().where(
            OutboxMessage.candidate_id == candidate_id,
            OutboxMessage.autopilot.is_(True),
            OutboxMessage.status == OutboxStatus.CANCELLED,
            OutboxMessage.queued_at >= Wait.opened_at,
        ),
    )


def owed_query(session: Session, now: dt.datetime, settings: OrgSettings, limits: Limits):
    """Every open wait autopilot owes an update now, soonest deadline first (one statement)."""
    return (
        select(
            Wait.id,
            Wait.candidate_id,
            Candidate.name,
            Position.title,
            Position.time_zone,
            Wait.due_at,
            Wait.autopilot_updates,
        )
        .join(Candidate, Wait.candidate_id == Candidate.id)
        .join(Position, Candidate.position_id == Position.id)
        .where(
            Wait.closed_at.is_(None),
            Position.autopilot.is_(True),
            Wait.autopilot_updates < limits.max_per_wait,
            within_lead_time(session, now, limits.lead_business_hours, settings),
            unanswered(),
        )
        .order_by(Wait.due_at, Wait.id)
    )


def owed(session: Session, now: dt.datetime, settings: OrgSettings, limits: Limits) -> list[Owed]:
    return [Owed(*row) for row in session.execute(owed_query(session, now, settings, limits))]


# --- queueing ------------------------------------------------------------------------------------


def run(
    session: Session,
    now: dt.datetime,
    settings: OrgSettings,
    config: EmailConfig,
    *,
    limits: Limits | None = None,
    dry_run: bool = False,
) -> Outcome:
    """Queue an update for every wait autopilot owes one; commits per batch. ``dry_run``: read only."""
    limits = limits or Limits.load(session)
    found = owed(session, now, settings, limits)
    outcome = Outcome()
    if dry_run:
        outcome.owed = found
        session.rollback()
        return outcome
    session.commit()  # the run's reads end here; each wait is claimed afresh
    for start in range(0, len(found), BATCH):
        batch = found[start : start + BATCH]
        waits = _load(session, [o.wait_id for o in batch])
        for item in batch:
            wait = waits.get(item.wait_id)
            if wait is None:  # gone since the run read it (the candidate was erased)
                outcome.skipped.append(item)
                continue
            _queue_one(session, item, wait, now, settings, config, outcome)
        session.commit()
    return outcome


def _load(session: Session, wait_ids: list[int]) -> dict[int, Wait]:
    """The batch's waits with their candidate and position (the manager joins itself), at once."""
    query = (
        select(Wait)
        .join(Wait.candidate)
        .join(Candidate.position)
        .options(contains_eager(Wait.candidate).contains_eager(Candidate.position))
        .where(Wait.id.in_(wait_ids))
    )
    return {wait.id: wait for wait in session.scalars(query).unique()}


def _queue_one(
    session: Session,
    item: Owed,
    wait: Wait,
    now: dt.datetime,
    settings: OrgSettings,
    config: EmailConfig,
    outcome: Outcome,
) -> None:
    savepoint = session.begin_nested()
    try:
        if not _claim(session, item):
            savepoint.rollback()
            outcome.skipped.append(item)
            return
        set_committed_value(wait, "autopilot_updates", item.updates + 1)
        promised = next_promise(wait, now, settings)
        message = answers.queue_email(session, _request(wait, item, promised, now), config, settings)
        savepoint.commit()
    except DomainError as exc:  # EmailError among them: this wait only
        savepoint.rollback()
        outcome.failed.append((item, str(exc)))
        return
    outcome.queued.append(Sent(item, message.id, promised))


def _claim(session: Session, item: Owed) -> bool:
    """Count the update on the wait if it is still as the run found it: open, at the same count,
    unanswered. Waits for a concurrent run's claim to commit, then sees its count."""
    claimed = session.connection().execute(
        _claim_statement(), {"wait_id": item.wait_id, "seen": item.updates}
    )
    return claimed.rowcount == 1


@functools.cache
def _claim_statement():
    """``_claim``'s UPDATE, built once (building it costs more than running it)."""
    return (
        update(Wait.__table__)
        .where(
            Wait.id == bindparam("wait_id"),
            Wait.closed_at.is_(None),
            Wait.autopilot_updates == bindparam("seen"),
            unanswered(),
        )
        .values(autopilot_updates=Wait.autopilot_updates + 1)
    )


def next_promise(wait: Wait, now: dt.datetime, settings: OrgSettings) -> dt.date:
    """The date an autopilot update promises: the deadline a wait of the same kind opened now
    would have, by the position's policy."""
    position = wait.candidate.position
    due_at = lifecycle.deadlines_for(wait.reason, now, position, settings).times.due_at
    return local_date(due_at, position.time_zone)


def _request(wait: Wait, item: Owed, promised: dt.date, now: dt.datetime) -> EmailRequest:
    return EmailRequest(
        candidate=wait.candidate,
        kind=EmailKind.UPDATE,
        idempotency_key=idempotency_key(item),
        now=now,
        actor=None,
        promised_date=promised,
        autopilot=True,
    )


def idempotency_key(item: Owed) -> str:
    """One key per wait and update number: two runs queue the same update once."""
    return f"autopilot:{item.wait_id}:{item.updates + 1}"
