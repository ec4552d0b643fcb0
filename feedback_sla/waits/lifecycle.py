"""How a wait opens, closes and moves: deadlines from its policy and promise. The caller commits.

These are the wait's own mechanics; outside signals reach them through ``waits.service``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Sequence
from dataclasses import astuple, dataclass
from typing import Protocol

from sqlalchemy import Connection, Row, Select, bindparam, select, update
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
    if event is not None:
        session.flush()
    wait = new_wait(candidate, reason, opened_at, settings, promised_date=promised_date, event=event)
    session.add(wait)
    session.flush()
    return wait


def new_wait(
    candidate: Candidate,
    reason: WaitReason,
    opened_at: dt.datetime,
    settings: OrgSettings,
    *,
    promised_date: dt.date | None = None,
    event: Event | None = None,
) -> Wait:
    """A wait opening at ``opened_at``, with its deadlines, not yet added to a session (``event``,
    the one that opened it, is already written)."""
    schedule = deadlines_for(reason, opened_at, candidate.position, settings, promised_date)
    return Wait(
        candidate=candidate,
        position_id=candidate.position_id,  # the database would look it up again otherwise
        reason=reason,
        opened_at=opened_at,
        promised_date=promised_date,
        follow_ups=0,
        opened_by_event_id=event.id if event is not None else None,
        **schedule.columns(),
    )


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
    written by one executemany UPDATE by primary key, both through the session's connection: no
    ORM object is loaded, so nothing piles up in the session. Positions are read once each, as
    their waits come: memory grows with the positions, never with the waits.
    """
    batch = batch or RECOMPUTE_BATCH
    session.flush()  # the change that moves them (a position's time zone) is read as it is now
    connection = session.connection()
    query = _open_waits(position_id, reasons).limit(batch)
    positions: dict[int, Policy] = {}
    total, after = Recomputed(), 0
    while rows := connection.execute(query.where(Wait.id > after)).all():
        _read_positions(connection, positions, {row.position_id for row in rows})
        changes, moved = _changes(rows, positions, settings)
        if changes:
            connection.execute(_SET_DEADLINES, changes)
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
            Candidate.position_id,
        )
        .join(Candidate, Wait.candidate_id == Candidate.id)
        .where(Wait.closed_at.is_(None))
        .order_by(Wait.id)
    )
    if position_id is not None:
        query = query.where(Candidate.position_id == position_id)
    if reasons is not None:
        query = query.where(Wait.reason.in_(list(reasons)))
    return query


_POSITIONS = select(Position.id, Position.time_zone, Position.policy_overrides).where(
    Position.id.in_(bindparam("ids", expanding=True))
)

#: One wait's new deadlines by its id; the columns set are the keys of each row given.
_SET_DEADLINES = update(Wait.__table__).where(Wait.__table__.c.id == bindparam("wait_id"))


def _read_positions(connection: Connection, positions: dict[int, Policy], ids: set[int]) -> None:
    """Add the positions among ``ids`` not read yet to ``positions``: each one's time zone and
    overrides (read once, not decoded again with every wait)."""
    missing = ids - positions.keys()
    if missing:
        positions.update((row.id, row) for row in connection.execute(_POSITIONS, {"ids": list(missing)}))


#: The columns a recompute may move, in the order ``_changes`` keeps them.
_DEADLINE_COLUMNS = ("policy_days", "warn_at", "due_at", "escalate_at")


def _changes(
    rows: Sequence[Row], positions: dict[int, Policy], settings: OrgSettings
) -> tuple[list[dict], Recomputed]:
    """The waits among ``rows`` that moved, each with the columns that moved in any of them (a
    new warning window rewrites ``warn_at`` alone), and what moved."""
    moved = []
    days_moved = warn_moved = due_moved = escalate_moved = warn_only = 0
    for wait_id, reason, opened_at, promised, days, warn_at, due_at, escalate_at, position_id in rows:
        schedule = deadlines_for(reason, opened_at, positions[position_id], settings, promised)
        new = schedule.times
        values = (schedule.policy_days, new.warn_at, new.due_at, new.escalate_at)
        if values == (days, warn_at, due_at, escalate_at):
            continue
        moved.append((wait_id, values))
        days_moved += values[0] != days
        warn_moved += values[1] != warn_at
        due_moved += values[2] != due_at
        escalate_moved += values[3] != escalate_at
        warn_only += values[2] == due_at and values[1] != warn_at
    counts = (days_moved, warn_moved, due_moved, escalate_moved)
    columns = [(i, name) for i, name in enumerate(_DEADLINE_COLUMNS) if counts[i]]
    changes = [{"wait_id": wait_id, **{name: values[i] for i, name in columns}} for wait_id, values in moved]
    return changes, Recomputed(len(moved), due_moved, warn_only, escalate_moved)
