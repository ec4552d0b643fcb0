"""Response times per hiring manager or per position: the figures behind ``feedback-sla report``.

For the waits that opened in the period (days in the organisation's time zone), each group shows:

- ``waits``: how many opened;
- ``answered``: how many have closed (the candidate heard from us);
- ``median_days`` and ``p90_days``: business days to answer over the answered waits, by the
  nearest-rank method: the p-th percentile of n sorted values is the value at rank ceil(p/100 * n)
  (1-based), so the median of 1, 2, 3, 4 is 2, and every figure is a day count that occurred;
- ``within_deadline``: the share, from 0 to 1, of the waits already decided that were answered by
  their deadline. Decided means answered, or still open past the deadline (already breached);
  open waits still inside their deadline count neither way. None when nothing is decided yet;
- ``open_now``: how many are still open at ``now``;
- ``overdue_now``: how many of those are past their deadline (escalated ones included);
- ``by_autopilot``: how many were answered by an update autopilot sent.
"""

from __future__ import annotations

import datetime as dt
import enum
import functools
import math
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from sqlalchemy import Select, and_, case, func, select
from sqlalchemy.orm import Session, aliased

from feedback_sla.accounts.models import User
from feedback_sla.candidates.models import Candidate, Event
from feedback_sla.errors import DomainError
from feedback_sla.positions.models import Position
from feedback_sla.reports.export import autopilot_sent, stream_options
from feedback_sla.reports.period import opened_bounds
from feedback_sla.reports.utc_text import LocalClock, utc_text
from feedback_sla.timeutil import as_utc, zone
from feedback_sla.waits.clock import BusinessDays, OrgSettings
from feedback_sla.waits.models import Wait


class GroupBy(enum.StrEnum):
    MANAGER = "manager"
    POSITION = "position"


@dataclass(frozen=True)
class GroupSummary:
    """One line of the report; ``group_id`` and ``group`` are the manager's or the position's."""

    group_id: int
    group: str
    manager: str
    waits: int
    answered: int
    #: Answered by the deadline.
    met: int
    open_now: int
    overdue_now: int
    #: Answered waits by the business days they took.
    days: Counter[int] = field(default_factory=Counter)
    #: The manager's name (``manager`` is their email address).
    manager_name: str = ""
    #: Answered by an update autopilot sent.
    by_autopilot: int = 0

    @property
    def median_days(self) -> int | None:
        return percentile(self.days, 50)

    @property
    def p90_days(self) -> int | None:
        return percentile(self.days, 90)

    @property
    def within_deadline(self) -> float | None:
        decided = self.answered + self.overdue_now
        return self.met / decided if decided else None


def total(groups: Iterable[GroupSummary], name: str = "all") -> GroupSummary:
    """The figures of several groups taken together: the report's last line."""
    groups = list(groups)
    return GroupSummary(
        group_id=0,
        group=name,
        manager="",
        waits=sum(g.waits for g in groups),
        answered=sum(g.answered for g in groups),
        met=sum(g.met for g in groups),
        open_now=sum(g.open_now for g in groups),
        overdue_now=sum(g.overdue_now for g in groups),
        days=sum((g.days for g in groups), Counter()),
        by_autopilot=sum(g.by_autopilot for g in groups),
    )


def percentile(histogram: Counter[int], p: float) -> int | None:
    """Nearest-rank percentile of the values counted in ``histogram``; None when it is empty."""
    n = sum(histogram.values())
    if n == 0:
        return None
    rank = max(1, math.ceil(p / 100 * n))
    seen = 0
    for value in sorted(histogram):
        seen += histogram[value]
        if seen >= rank:
            return value
    raise AssertionError("unreachable: rank <= n")  # pragma: no cover


def summarize(
    session: Session,
    now: dt.datetime,
    settings: OrgSettings,
    since: dt.date | None = None,
    until: dt.date | None = None,
    by: GroupBy | str = GroupBy.MANAGER,
    *,
    manager_id: int | None = None,
) -> list[GroupSummary]:
    """Response-time figures per group for waits opened from ``since`` through ``until``.

    Groups with no wait in the period are left out; groups come sorted by name (manager email or
    position title), then id. ``manager_id`` limits the report to one manager's positions.
    """
    now = as_utc(now)
    by = GroupBy(by)
    group_id, group = (User.id, User.email) if by == GroupBy.MANAGER else (Position.id, Position.title)
    start, end = opened_bounds(since, until, settings.time_zone)
    scoped = functools.partial(_scoped, start=start, end=end, manager_id=manager_id)
    counts = session.execute(
        scoped(_counts_query(group_id, group, now)).group_by(group_id, group, User.email, User.name)
    ).all()
    days = _days_to_answer(session, scoped, group_id, BusinessDays(settings.holiday_calendar, now.date()))
    summaries = [summary_line(*row[:-1], days.get(row[0], Counter()), row[-1]) for row in counts]
    return sorted(summaries, key=lambda s: (s.group, s.group_id))


def _scoped(
    query: Select, *, start: dt.datetime | None, end: dt.datetime | None, manager_id: int | None
) -> Select:
    """``query``'s waits joined to candidate, position and manager; only those in the period and scope."""
    query = (
        query.join(Candidate, Wait.candidate_id == Candidate.id)
        .join(Position, Candidate.position_id == Position.id)
        .join(User, Position.manager_id == User.id)
    )
    if start is not None:
        query = query.where(Wait.opened_at >= start)
    if end is not None:
        query = query.where(Wait.opened_at < end)
    if manager_id is not None:
        query = query.where(Position.manager_id == manager_id)
    return query


def _counts_query(group_id, group, now: dt.datetime) -> Select:
    """The group, its manager's email and name, and its counts of waits, answered, met, overdue now
    and answered by autopilot."""
    autopilot = aliased(Event)
    return select(
        group_id,
        group,
        User.email,
        User.name,
        func.count(),
        func.count(Wait.closed_at),
        func.sum(case((Wait.closed_at <= Wait.due_at, 1), else_=0)),
        func.sum(case((and_(Wait.closed_at.is_(None), Wait.due_at <= now), 1), else_=0)),
        func.count(autopilot.id),
    ).outerjoin(autopilot, and_(autopilot.id == Wait.closed_by_event_id, autopilot_sent(autopilot)))


def summary_line(
    key: int,
    name: str,
    manager: str,
    manager_name: str,
    waits: int,
    answered: int,
    met: int,
    overdue: int,
    days: Counter[int],
    by_autopilot: int = 0,
) -> GroupSummary:
    """A group's line from its counts (those of ``_counts_query``) and its histogram of days."""
    return GroupSummary(
        group_id=key,
        group=name,
        manager=manager,
        waits=waits,
        answered=answered,
        met=met,
        open_now=waits - answered,
        overdue_now=overdue,
        days=days,
        manager_name=manager_name,
        by_autopilot=by_autopilot or 0,
    )


def _days_to_answer(
    session: Session, scoped, group_id, business_days: BusinessDays
) -> dict[int, Counter[int]]:
    """Per group, how many answered waits took each number of business days."""
    connection = session.connection()
    dialect = connection.dialect.name
    query = scoped(
        select(
            group_id,
            Position.time_zone,
            utc_text(Wait.opened_at, dialect),
            utc_text(Wait.closed_at, dialect),
        )
    ).where(Wait.closed_at.is_not(None))
    histograms: dict[int, Counter[int]] = {}
    clocks: dict[str, Callable[[str], str]] = {}
    result = connection.execute(query, execution_options=stream_options(dialect))
    try:
        for key, time_zone, opened_at, closed_at in result:
            iso = clocks.get(time_zone)
            if iso is None:
                try:
                    iso = clocks[time_zone] = LocalClock(zone(time_zone)).iso
                except ValueError as exc:
                    raise DomainError(f"a position has an {exc}") from None
            histogram = histograms.get(key)
            if histogram is None:
                histogram = histograms[key] = Counter()
            histogram[business_days.between(iso(opened_at)[:10], iso(closed_at)[:10])] += 1
    finally:
        result.close()
    return histograms
