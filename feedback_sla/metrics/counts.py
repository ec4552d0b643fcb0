"""The metrics page's counts for a period: answered waits from the rollup, open waits from kept counts.

What a request reads does not grow with the organisation: the totals come from the rollup's
rows per day (``AnsweredByDay``: a few thousand a year) and the open waits by state and week from
the counts the database keeps (``open_counts``; one manager's from their open waits); the summary's
lines come a page of groups at a time (``GROUPS_PER_PAGE``, sorted by name as the report sorts
them), each group's figures read from its positions' rows and open waits only (by
``waits.position_id``, from one index).
The figures mean what ``reports.summary`` says; ``figures`` counts the same from the waits.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass

from sqlalchemy import Select, case, exists, func, literal, null, or_, select
from sqlalchemy.orm import Session

from feedback_sla.accounts.models import User
from feedback_sla.errors import DomainError
from feedback_sla.metrics import open_counts
from feedback_sla.metrics.local_days import EPOCH, TO_MONDAY, monday_of
from feedback_sla.metrics.models import AnsweredByDay, AnsweredByPosition
from feedback_sla.metrics.rollup import UNKNOWN_ZONE, known_zone
from feedback_sla.positions.models import Position
from feedback_sla.reports.period import opened_bounds
from feedback_sla.reports.summary import GroupBy, GroupSummary, summary_line
from feedback_sla.timeutil import as_utc
from feedback_sla.waits.clock import OrgSettings, State
from feedback_sla.waits.models import Wait
from feedback_sla.waits.queries import PAGE_SIZE, state_expression

#: Lines of the summary a page shows, as the other paged lists.
GROUPS_PER_PAGE = PAGE_SIZE
#: Up to this many open waits opened in the period, the groups that have one are found from those
#: waits; beyond it, group by group (most groups then have an answer in the period already, and
#: are found by that first).
FEW_OPEN = 20_000


@dataclass(frozen=True)
class Period:
    """Waits opened in [start, end) (UTC), the days ``first`` to ``last`` in the rollup's numbers;
    the Monday of each week it touches, and when each week after the first begins (UTC)."""

    start: dt.datetime
    end: dt.datetime
    first: int
    last: int
    mondays: tuple[dt.date, ...]
    week_starts: tuple[dt.datetime, ...]


def period_of(since: dt.date, until: dt.date, settings: OrgSettings) -> Period:
    start, end = opened_bounds(since, until, settings.time_zone)
    first = since - dt.timedelta(days=since.weekday())
    mondays = tuple(first + dt.timedelta(weeks=i) for i in range((until - first).days // 7 + 1))
    week_starts = tuple(opened_bounds(monday, None, settings.time_zone)[0] for monday in mondays[1:])
    return Period(start, end, (since - EPOCH).days, (until - EPOCH).days, mondays, week_starts)


def monday_of_day(day: int) -> dt.date:
    return monday_of((day + TO_MONDAY) // 7)


@dataclass
class Totals:
    """Every group of the period taken together, week by week, and the open waits by state now."""

    line: GroupSummary
    #: Per Monday: waits opened, decided, answered in time.
    weeks: dict[dt.date, tuple[int, int, int]]
    open_states: dict[State, int]
    #: Open waits opened in the period.
    open_in_period: int = 0


def totals(
    session: Session, now: dt.datetime, settings: OrgSettings, period: Period, manager_id: int | None
) -> Totals:
    """The totals line, the weekly shares' counts and the open waits by state: two statements."""
    weeks: dict[dt.date, list[int]] = {}
    days: Counter[int] = Counter()
    answered = met = autopilot = 0
    for day, day_count, n, n_met, n_autopilot in session.execute(_answered_by_day(period, manager_id)):
        if day_count == UNKNOWN_ZONE:
            raise DomainError(f"a position has an {_unknown_zone(session)}")
        week = weeks.setdefault(monday_of_day(day), [0, 0, 0])
        week[0] += n
        week[1] += n
        week[2] += n_met
        days[day_count] += n
        answered, met, autopilot = answered + n, met + n_met, autopilot + n_autopilot
    states = dict.fromkeys(State, 0)
    open_now = overdue = 0
    for state, week_number, late, n in _open_rows(session, now, settings, period, manager_id):
        states[State(state)] += n
        if week_number is not None:
            week = weeks.setdefault(period.mondays[week_number], [0, 0, 0])
            week[0] += n
            week[1] += n * late
            open_now += n
            overdue += n * late
    line = GroupSummary(
        group_id=0,
        group="all",
        manager="",
        waits=answered + open_now,
        answered=answered,
        met=met,
        open_now=open_now,
        overdue_now=overdue,
        days=days,
        by_autopilot=autopilot,
    )
    return Totals(line, {w: tuple(c) for w, c in weeks.items()}, states, open_now)


def _answered_by_day(period: Period, manager_id: int | None) -> Select:
    if manager_id is None:
        rows = AnsweredByDay
        query = select(rows.opened_day, rows.days, rows.answered, rows.met, rows.autopilot)
    else:
        rows = AnsweredByPosition
        query = (
            select(
                rows.opened_day, rows.days, *(func.sum(c) for c in (rows.answered, rows.met, rows.autopilot))
            )
            .join(Position, Position.id == rows.position_id)
            .where(Position.manager_id == manager_id)
            .group_by(rows.opened_day, rows.days)
        )
    return query.where(rows.opened_day.between(period.first, period.last))


def _open_rows(
    session: Session, now: dt.datetime, settings: OrgSettings, period: Period, manager_id: int | None
) -> list:
    """The open waits by state, week and lateness (``_open_waits``): the organisation's from the
    counts the database keeps, one manager's (a few thousand at most) from the waits."""
    bounds = (period.start, *period.week_starts, period.end)
    if manager_id is None and open_counts.countable(bounds):
        return open_counts.open_rows(
            session, now, settings, bounds, lambda where: _open_waits(now, settings, period, None, where)
        )
    return session.execute(_open_waits(now, settings, period, manager_id)).all()


def _open_waits(
    now: dt.datetime, settings: OrgSettings, period: Period, manager_id: int | None, where=None
) -> Select:
    """Every open wait (meeting ``where``, if given) counted by state now, week of opening (the
    index of its Monday in the period; NULL outside it) and whether it is past its deadline."""
    now = as_utc(now)
    # The week by comparing the instant with when each week begins: a few comparisons per wait,
    # cheaper than working out its local day (the page counts every open wait at every request).
    week = case(
        (Wait.opened_at < period.start, null()),
        *((Wait.opened_at < begins, literal(i)) for i, begins in enumerate(period.week_starts)),
        (Wait.opened_at < period.end, literal(len(period.week_starts))),
        else_=null(),
    )
    inner = select(
        state_expression(now, settings).label("state"),
        week.label("week"),
        case((Wait.due_at <= now, 1), else_=0).label("late"),
    ).where(Wait.closed_at.is_(None))
    if where is not None:
        inner = inner.where(where)
    if manager_id is not None:
        inner = inner.join(Position, Wait.position_id == Position.id).where(Position.manager_id == manager_id)
    waits = inner.subquery()
    return select(waits.c.state, waits.c.week, waits.c.late, func.count()).group_by(
        waits.c.state, waits.c.week, waits.c.late
    )


def _unknown_zone(session: Session) -> str:
    """Why a position's zone cannot be used: the zone database's words."""
    for name in session.scalars(select(Position.time_zone).distinct()):
        if not known_zone(name):
            return f"unknown time zone {name!r} (use an IANA name such as Europe/Berlin)"
    return "unknown time zone"  # pragma: no cover - changed since it was counted


# --- a page of groups ----------------------------------------------------------------------


@dataclass(frozen=True)
class GroupPage:
    lines: list[GroupSummary]
    #: Groups with a wait in the period, on every page.
    total: int
    page: int
    pages: int


def group_page(
    session: Session,
    now: dt.datetime,
    period: Period,
    by: GroupBy,
    manager_id: int | None,
    page: int,
    open_in_period: int,
) -> GroupPage:
    """The summary's lines of page ``page`` (the last one beyond it), sorted by the group's name."""
    listed = _groups(session, period, by, manager_id, open_in_period)

    def rows_of(page: int) -> list:
        return session.execute(listed.limit(GROUPS_PER_PAGE).offset((page - 1) * GROUPS_PER_PAGE)).all()

    page = max(1, page)
    found = rows_of(page)
    if not found and page > 1:  # past the last page: the last one
        page = _pages(session.scalar(select(func.count()).select_from(listed.subquery())))
        found = rows_of(page)
    if not found:
        return GroupPage([], 0, 1, 1)
    total = found[0][-1]
    return GroupPage(
        _lines(session, now, period, by, [row[:-1] for row in found]), total, page, _pages(total)
    )


def _pages(groups: int) -> int:
    return max(1, -(-groups // GROUPS_PER_PAGE))


def _groups(session: Session, period: Period, by: GroupBy, manager_id: int | None, open_in_period: int):
    """The groups with a wait opened in the period, by name then id, each row with their number."""
    has_waits = exists().where(
        AnsweredByPosition.position_id == Position.id,
        AnsweredByPosition.opened_day.between(period.first, period.last),
    )
    if open_in_period:
        open_waits = select(Wait.position_id).where(
            Wait.closed_at.is_(None), Wait.opened_at >= period.start, Wait.opened_at < period.end
        )
        if open_in_period <= FEW_OPEN:
            has_waits = or_(has_waits, Position.id.in_(open_waits))
        else:
            has_waits = or_(has_waits, exists(open_waits.where(Wait.position_id == Position.id)))
    dialect = session.get_bind().dialect.name
    counted = func.count().over()
    if by == GroupBy.MANAGER:
        query = select(User.id, User.email, User.email, User.name, counted).where(
            exists().where(Position.manager_id == User.id, has_waits)
        )
        if manager_id is not None:
            query = query.where(User.id == manager_id)
        return query.order_by(_as_python_sorts(User.email, dialect), User.id)
    query = select(Position.id, Position.title, User.email, User.name, counted).join(
        User, User.id == Position.manager_id
    )
    if manager_id is not None:
        query = query.where(Position.manager_id == manager_id)
    return query.where(has_waits).order_by(_as_python_sorts(Position.title, dialect), Position.id)


def _as_python_sorts(column, dialect: str):
    """Text compared by code point, as Python sorts it (the report's order), whatever the
    database's collation."""
    return column.collate("C" if dialect == "postgresql" else "BINARY")


def _lines(
    session: Session, now: dt.datetime, period: Period, by: GroupBy, groups: list
) -> list[GroupSummary]:
    """The figures of ``groups`` (id, name, manager's email, manager's name): two statements."""
    rows = AnsweredByPosition
    group = Position.manager_id if by == GroupBy.MANAGER else Position.id
    ids = [g[0] for g in groups]
    answered = (
        select(group, rows.days, *(func.sum(c) for c in (rows.answered, rows.met, rows.autopilot)))
        .join(Position, Position.id == rows.position_id)
        .where(group.in_(ids), rows.opened_day.between(period.first, period.last))
        .group_by(group, rows.days)
    )
    counts = {key: [0, 0, 0, Counter(), 0, 0] for key in ids}  # answered, met, autopilot, days, open, late
    for key, days, n, met, autopilot in session.execute(answered):
        line = counts[key]
        line[0], line[1], line[2] = line[0] + n, line[1] + met, line[2] + autopilot
        line[3][days] += n
    open_waits = (
        select(group, func.count(), func.sum(case((Wait.due_at <= as_utc(now), 1), else_=0)))
        .join(Position, Wait.position_id == Position.id)
        .where(Wait.closed_at.is_(None), Wait.opened_at >= period.start, Wait.opened_at < period.end)
        .where(group.in_(ids))
        .group_by(group)
    )
    for key, n, late in session.execute(open_waits):
        counts[key][4], counts[key][5] = n, late
    lines = []
    for key, name, manager, manager_name in groups:
        n, met, autopilot, days, open_now, late = counts[key]
        lines.append(
            summary_line(key, name, manager, manager_name, n + open_now, n, met, late, days, autopilot)
        )
    return lines
