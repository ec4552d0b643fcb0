"""How a wait opens, closes and moves: deadlines from its policy and promise. The caller commits.

These are the wait's own mechanics; outside signals reach them through ``waits.service``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Sequence
from dataclasses import astuple, dataclass
from typing import Protocol

from sqlalchemy import Row, Select, select, update
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


#: Open waits read and rewritten per statement by ``recompute_waits``: a few thousand rows at a
#: time keeps its memory flat however many waits are open, and its statements few.
RECOMPUTE_BATCH = 4_000


@dataclass(frozen=True)
class Recomputed:
    """What a recompute of open waits moved, counted in waits.

    ``changed`` counts every wait rewritten (a promised wait may change its policy days only);
    ``due`` those whose deadline moved; ``warn_only`` those that become due soon at a new time
    while their deadline stays; ``escalate`` those that escalate at a new time.
    """

    changed: int = 0
    due: int = 0
    warn_only: int = 0
    escalate: int = 0

    def __add__(self, other: Recomputed) -> Recomputed:
        return Recomputed(*(a + b for a, b in zip(astuple(self), astuple(other), strict=True)))


def recompute_open_waits(session: Session, settings: OrgSettings, *, position_id: int | None = None) -> int:
    """Recompute every open wait (of one position, if given); returns how many changed."""
    return recompute_waits(session, settings, position_id=position_id).changed


def recompute_waits(
    session: Session,
    settings: OrgSettings,
    *,
    position_id: int | None = None,
    reasons: Collection[WaitReason] | None = None,
    batch: int | None = None,
) -> Recomputed:
    """Recompute the open waits (of one position, of some reasons, if given) in the caller's
    transaction; the caller commits, so the change that moved them lands with them or not at all.

    The waits are read ``batch`` (default ``RECOMPUTE_BATCH``) at a time in id order (keyset:
    each batch starts after the last id of the one before), and each batch's moved waits are
    written by one executemany UPDATE by primary key. No ORM object is loaded, so nothing piles
    up in the session.
    """
    batch = batch or RECOMPUTE_BATCH
    query = _open_waits(position_id, reasons).limit(batch)
    total, after = Recomputed(), 0
    while rows := session.execute(query.where(Wait.id > after)).all():
        changes, moved = _changes(rows, settings)
        if changes:
            session.execute(update(Wait), changes)
        total += moved
        if len(rows) < batch:
            break
        after = rows[-1].id
    if total.changed:
        session.expire_all()  # waits this session had loaded read their new deadlines again
    return total


def _open_waits(position_id: int | None, reasons: Collection[WaitReason] | None) -> Select:
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
        .order_by(Wait.id)
    )
    if position_id is not None:
        query = query.where(Position.id == position_id)
    if reasons is not None:
        query = query.where(Wait.reason.in_(list(reasons)))
    return query


def _changes(rows: Sequence[Row], settings: OrgSettings) -> tuple[list[dict], Recomputed]:
    """The new columns of the waits among ``rows`` that moved, and what moved."""
    changes = []
    due = warn_only = escalate = 0
    for row in rows:
        schedule = deadlines_for(row.reason, row.opened_at, row, settings, row.promised_date)
        if not _moved(row, schedule):
            continue
        times = schedule.times
        changes.append({"id": row.id, **schedule.columns()})
        due += times.due_at != row.due_at
        warn_only += times.due_at == row.due_at and times.warn_at != row.warn_at
        escalate += times.escalate_at != row.escalate_at
    return changes, Recomputed(len(changes), due, warn_only, escalate)
