"""The organisation's open waits counted by state, week of opening and lateness, without reading them.

The database keeps ``OpenWaitCount`` (triggers, migration 0015): the open waits counted by the
quarter hour they opened in, the hours of their warning, deadline and escalation, and their
follow-ups. A count's state at ``now`` follows from comparing those hours with the hour of ``now``:
a wait that warns, falls due or escalates in an hour before it has done so, in an hour after it
has not. Only the waits with one of the three in the hour of ``now`` itself cannot be told apart
by their count: those (a few) are counted from the waits, with the same expressions as before.
The weeks of the period begin at midnight in the organisation's zone, on a quarter hour in UTC in
every zone in use, so the quarter hour a wait opened in says which week it opened in.

What a request reads is the count rows (one per quarter hour and set of deadline hours: a few tens
of thousands for an organisation of 400,000 open waits) and the waits of the current hour.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence

from sqlalchemy import (
    Integer,
    and_,
    case,
    cast,
    delete,
    extract,
    func,
    literal,
    not_,
    null,
    or_,
    select,
    text,
    union_all,
)
from sqlalchemy.orm import Session

from feedback_sla.metrics.models import OpenWaitCount
from feedback_sla.timeutil import as_utc
from feedback_sla.waits.clock import OrgSettings, State
from feedback_sla.waits.models import Wait

SLOT = 900
HOUR = 3600


def _periods(at: dt.datetime, seconds: int) -> int:
    return int(as_utc(at).timestamp()) // seconds


def countable(bounds: Sequence[dt.datetime]) -> bool:
    """Every bound of the period's weeks falls on a quarter hour (so the counts can tell them)."""
    return all(int(as_utc(at).timestamp()) % SLOT == 0 for at in bounds)


def open_rows(
    session: Session,
    now: dt.datetime,
    settings: OrgSettings,
    bounds: Sequence[dt.datetime],
    live: Callable,
) -> list[tuple[str, int | None, int, int]]:
    """(state, week, late, waits) rows of every open wait at ``now``: ``week`` the index of the
    week of opening among ``bounds`` (the period's start, each following week's start, its end;
    None outside), ``late`` 1 past its deadline. ``live(condition)`` is the same count from the
    waits, of those meeting the condition."""
    hour = _periods(now, HOUR)
    counted = OpenWaitCount
    state = case(
        (
            or_(counted.follow_ups >= settings.escalate_after_followups, counted.escalate_hour < hour),
            literal(State.ESCALATED.value),
        ),
        (counted.due_hour < hour, literal(State.OVERDUE.value)),
        (counted.warn_hour < hour, literal(State.DUE_SOON.value)),
        else_=literal(State.ON_TRACK.value),
    )
    slots = [_periods(at, SLOT) for at in bounds]
    week = case(
        (counted.opened_slot < slots[0], null()),
        *((counted.opened_slot < slot, literal(i)) for i, slot in enumerate(slots[1:])),
        else_=null(),
    )
    late = case((counted.due_hour < hour, 1), else_=0)
    in_this_hour = or_(counted.warn_hour == hour, counted.due_hour == hour, counted.escalate_hour == hour)
    kept = select(state, week, late, func.sum(counted.waits)).where(not_(in_this_hour))
    start = dt.datetime.fromtimestamp(hour * HOUR, dt.UTC)
    end = start + dt.timedelta(seconds=HOUR)
    this_hour = or_(
        *(and_(column >= start, column < end) for column in (Wait.warn_at, Wait.due_at, Wait.escalate_at))
    )
    # One statement, so both parts see the waits as of the same moment.
    both = union_all(kept.group_by(state, week, late), live(this_hour))
    return [tuple(row) for row in session.execute(both)]


def _periods_of(column, seconds: int, dialect: str):
    """``column``'s whole periods of ``seconds`` since 1970, in SQL, as the triggers count them."""
    if dialect == "postgresql":
        return cast(func.floor(extract("epoch", column) / seconds), Integer)
    # The whole second: strftime would round 10:59:59.9996 up to the next hour.
    return cast(func.strftime("%s", func.substr(column, 1, 19)), Integer) // seconds


def recount(session: Session) -> int:
    """Count the open waits again from the waits (the triggers keep the counts; this mends them
    should the triggers ever have been missing); returns how many. The caller commits."""
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":  # no wait changes while it is counted (SQLite writes one at a time)
        session.execute(text("LOCK TABLE waits IN SHARE MODE"))
    key = [
        _periods_of(Wait.opened_at, SLOT, dialect),
        _periods_of(Wait.warn_at, HOUR, dialect),
        _periods_of(Wait.due_at, HOUR, dialect),
        _periods_of(Wait.escalate_at, HOUR, dialect),
        Wait.follow_ups,
    ]
    counted = select(*key, func.count()).where(Wait.closed_at.is_(None)).group_by(*key)
    columns = ["opened_slot", "warn_hour", "due_hour", "escalate_hour", "follow_ups", "waits"]
    session.execute(delete(OpenWaitCount))
    session.execute(OpenWaitCount.__table__.insert().from_select(columns, counted))
    return session.scalar(select(func.coalesce(func.sum(OpenWaitCount.waits), 0)))
