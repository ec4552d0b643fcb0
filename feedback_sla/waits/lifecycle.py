"""How a wait opens, closes and moves: deadlines from its policy and promise. The caller commits.

These are the wait's own mechanics; outside signals reach them through ``waits.service``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Protocol

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from feedback_sla.candidates.models import Candidate, Event
from feedback_sla.positions.models import Position
from feedback_sla.waits import clock
from feedback_sla.waits.clock import Deadlines, OrgSettings
from feedback_sla.waits.models import Wait, WaitReason
from feedback_sla.waits.queries import open_wait_of


class Policy(Protocol):
    """What a wait's deadlines need of its position."""

    time_zone: str
    policy_overrides: dict | None


@dataclass(frozen=True)
class Schedule:
    """A wait's business days and the deadlines they give."""

    policy_days: int
    times: Deadlines

    def columns(self) -> dict:
        return {
            "policy_days": self.policy_days,
            "warn_at": self.times.warn_at,
            "due_at": self.times.due_at,
            "escalate_at": self.times.escalate_at,
        }


def deadlines_for(
    reason: WaitReason,
    opened_at: dt.datetime,
    position: Policy,
    settings: OrgSettings,
    promised_date: dt.date | None = None,
) -> Schedule:
    """The one place a wait's policy days and deadlines are worked out."""
    days = settings.policy_days(reason.value, position.policy_overrides)
    return Schedule(days, clock.deadlines(opened_at, days, position.time_zone, settings, promised_date))


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
    schedule = deadlines_for(reason, opened_at, candidate.position, settings, promised_date)
    wait = Wait(
        candidate=candidate,
        reason=reason,
        opened_at=opened_at,
        promised_date=promised_date,
        follow_ups=0,
        **schedule.columns(),
    )
    if event is not None:
        session.flush()
        wait.opened_by_event_id = event.id
    session.add(wait)
    session.flush()
    return wait


def close_open_wait(session: Session, candidate: Candidate, event: Event, at: dt.datetime) -> None:
    """The candidate's open wait, if any, closes at ``at``, closed by ``event``."""
    wait = open_wait_of(session, candidate)
    if wait is not None:
        session.flush()
        wait.closed_at = at
        wait.closed_by_event_id = event.id


def _moved(current, schedule: Schedule) -> bool:
    times = schedule.times
    new = (schedule.policy_days, times.warn_at, times.due_at, times.escalate_at)
    return new != (current.policy_days, current.warn_at, current.due_at, current.escalate_at)


def recompute(wait: Wait, position: Position, settings: OrgSettings) -> bool:
    """Recompute an open wait's deadlines from its policy and promise; True if anything moved."""
    schedule = deadlines_for(wait.reason, wait.opened_at, position, settings, wait.promised_date)
    if not _moved(wait, schedule):
        return False
    for column, value in schedule.columns().items():
        setattr(wait, column, value)
    return True


def recompute_open_waits(session: Session, settings: OrgSettings, *, position_id: int | None = None) -> int:
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
        schedule = deadlines_for(row.reason, row.opened_at, row, settings, row.promised_date)
        if _moved(row, schedule):
            changes.append({"id": row.id, **schedule.columns()})
    if changes:
        session.execute(update(Wait), changes)
        session.expire_all()
    return len(changes)
