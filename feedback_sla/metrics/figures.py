"""The summary and the weekly shares, counted by the database: rows per group and figure, not per wait.

The summary's figures mean what ``reports.summary`` says they mean (the report counts them wait
by wait; the page cannot afford to at 100,000 waits). One statement counts, per group and per
number of business days an answer took, the waits, the answered, the met and the overdue; the
day counts come from ``local_days``. What reaches Python is a few rows per group.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter

from sqlalchemy import Select, and_, case, func, or_, select
from sqlalchemy.orm import Session

from feedback_sla.accounts.models import User
from feedback_sla.candidates.models import Candidate, Event
from feedback_sla.errors import DomainError
from feedback_sla.metrics.local_days import DayCounter, monday_of, week_index
from feedback_sla.positions.models import Position
from feedback_sla.reports.export import autopilot_sent
from feedback_sla.reports.period import opened_bounds
from feedback_sla.reports.summary import GroupBy, GroupSummary, summary_line
from feedback_sla.timeutil import as_utc
from feedback_sla.waits.clock import OrgSettings
from feedback_sla.waits.models import Wait

#: Answers are recorded when they happen; this much beyond ``now`` covers clocks a little ahead.
AHEAD = dt.timedelta(days=7)


def _in_period(
    query: Select, start: dt.datetime, end: dt.datetime, manager_id: int | None, *, joined: bool = False
) -> Select:
    """``query``'s waits opened in [start, end), of one manager's positions if given (``joined``:
    the query has joined the waits' candidates and positions already)."""
    query = query.where(Wait.opened_at >= start, Wait.opened_at < end)
    if manager_id is not None:
        if not joined:
            query = query.join(Candidate, Wait.candidate_id == Candidate.id).join(
                Position, Candidate.position_id == Position.id
            )
        query = query.where(Position.manager_id == manager_id)
    return query


def group_summaries(
    session: Session,
    now: dt.datetime,
    settings: OrgSettings,
    since: dt.date,
    until: dt.date,
    by: GroupBy,
    manager_id: int | None = None,
) -> list[GroupSummary]:
    """The summary's lines for waits opened from ``since`` through ``until``, by group name then id."""
    now = as_utc(now)
    start, end = opened_bounds(since, until, settings.time_zone)
    zones = select(Position.time_zone).distinct()
    if manager_id is not None:
        zones = zones.where(Position.manager_id == manager_id)
    dialect = session.get_bind().dialect.name
    counter = DayCounter(
        session.scalars(zones), settings.holiday_calendar, start, max(end, now) + AHEAD, dialect
    )
    waits = _one_row_per_wait(counter, by, now, start, end, manager_id)
    # Counted by group id and number of days only (names would lengthen every row sorted), then
    # the few counted rows are given their names.
    days = counter.number(waits.c.closed) - counter.number(waits.c.opened)
    counts = (
        select(
            waits.c.group_id,
            days.label("days"),
            func.count().label("waits"),
            func.sum(waits.c.answered).label("answered"),
            func.sum(waits.c.met).label("met"),
            func.sum(waits.c.overdue).label("overdue"),
            func.sum(waits.c.autopilot).label("autopilot"),
        )
        .group_by(waits.c.group_id, days)
        .subquery()
    )
    named = select(counts.c.group_id, *_names(by), *list(counts.c)[1:])
    if by == GroupBy.MANAGER:
        named = named.join(User, User.id == counts.c.group_id)
    else:
        named = named.join(Position, Position.id == counts.c.group_id).join(
            User, User.id == Position.manager_id
        )
    return _summaries(session.execute(named), counter)


def _one_row_per_wait(
    counter: DayCounter,
    by: GroupBy,
    now: dt.datetime,
    start: dt.datetime,
    end: dt.datetime,
    manager_id: int | None,
):
    """Each wait's group, whether it is answered, met or overdue now, and its two local days.

    OFFSET 0 keeps the database from merging this into the query that counts: that would work
    out each local day again wherever the count refers to it.
    """
    waits = (
        select(
            (Position.manager_id if by == GroupBy.MANAGER else Position.id).label("group_id"),
            case((Wait.closed_at.is_not(None), 1), else_=0).label("answered"),
            case((Wait.closed_at <= Wait.due_at, 1), else_=0).label("met"),
            case((and_(Wait.closed_at.is_(None), Wait.due_at <= now), 1), else_=0).label("overdue"),
            case((autopilot_sent(), 1), else_=0).label("autopilot"),
            # Only an answer has a number of days: an open wait's opening day is not worked out.
            case((Wait.closed_at.is_not(None), counter.local_day(Wait.opened_at, Position.time_zone))).label(
                "opened"
            ),
            counter.local_day(Wait.closed_at, Position.time_zone).label("closed"),
        )
        .join(Candidate, Wait.candidate_id == Candidate.id)
        .join(Position, Candidate.position_id == Position.id)
        .outerjoin(Event, Event.id == Wait.closed_by_event_id)
    )
    return _in_period(waits, start, end, manager_id, joined=True).offset(0).subquery()


def _names(by: GroupBy) -> tuple:
    """The group's name, its manager's email and their name."""
    return (User.email if by == GroupBy.MANAGER else Position.title, User.email, User.name)


def _summaries(rows, counter: DayCounter) -> list[GroupSummary]:
    """Each group's line from its rows, one per number of business days (None: not answered)."""
    groups: dict[int, list] = {}
    for key, name, manager, manager_name, days, waits, answered, met, overdue, autopilot in rows:
        line = groups.get(key)
        if line is None:
            line = groups[key] = [name, manager, manager_name, 0, 0, 0, 0, Counter(), 0]
        line[3] += waits
        line[4] += answered
        line[5] += met
        line[6] += overdue
        line[8] += autopilot
        if days is not None:
            line[7][max(0, days)] += answered
        elif answered:  # an answered wait without a day: its position's zone is unknown
            raise DomainError(f"a position has an {next(iter(counter.broken.values()))}")
    summaries = [summary_line(key, *line) for key, line in groups.items()]
    return sorted(summaries, key=lambda s: (s.group, s.group_id))


def weekly_counts(
    session: Session,
    now: dt.datetime,
    settings: OrgSettings,
    since: dt.date,
    until: dt.date,
    manager_id: int | None = None,
) -> dict[dt.date, tuple[int, int, int]]:
    """Per Monday, for the waits opened that week in the organisation's zone: (waits, decided, met).

    Decided means answered, or still open past the deadline, as in the summary.
    """
    now = as_utc(now)
    start, end = opened_bounds(since, until, settings.time_zone)
    counter = DayCounter([settings.time_zone], "", start, end, session.get_bind().dialect.name)
    week = week_index(counter.local_day(Wait.opened_at))
    decided = or_(Wait.closed_at.is_not(None), Wait.due_at <= now)
    query = _in_period(
        select(
            week,
            func.count(),
            func.sum(case((decided, 1), else_=0)),
            func.sum(case((Wait.closed_at <= Wait.due_at, 1), else_=0)),
        ),
        start,
        end,
        manager_id,
    ).group_by(week)
    return {monday_of(index): (waits, decided, met) for index, waits, decided, met in session.execute(query)}
