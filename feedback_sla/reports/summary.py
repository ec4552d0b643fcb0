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
- ``overdue_now``: how many of those are past their deadline (escalated ones included).
"""

from __future__ import annotations

import datetime as dt
import enum
import math
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from sqlalchemy import case, select
from sqlalchemy.orm import Session

from .. import clock
from ..accounts.models import User
from ..candidates.models import Candidate, Wait
from ..errors import DomainError
from ..positions.models import Position
from ..settings.service import OrgSettings
from ..timeutil import as_utc, zone
from .period import opened_bounds

BATCH_SIZE = 5000


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
    median_days: int | None
    p90_days: int | None
    within_deadline: float | None
    open_now: int
    overdue_now: int


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


@dataclass
class _Tally:
    group_id: int
    group: str
    manager: str
    waits: int = 0
    answered: int = 0
    met: int = 0
    open_now: int = 0
    overdue_now: int = 0
    days: Counter[int] = field(default_factory=Counter)

    def summary(self) -> GroupSummary:
        decided = self.answered + self.overdue_now
        return GroupSummary(
            group_id=self.group_id,
            group=self.group,
            manager=self.manager,
            waits=self.waits,
            answered=self.answered,
            median_days=percentile(self.days, 50),
            p90_days=percentile(self.days, 90),
            within_deadline=self.met / decided if decided else None,
            open_now=self.open_now,
            overdue_now=self.overdue_now,
        )


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
    if by == GroupBy.MANAGER:
        group_id, group = User.id, User.email
    else:
        group_id, group = Position.id, Position.title
    query = (
        select(
            group_id,
            group,
            User.email,
            Position.time_zone,
            Wait.opened_at,
            Wait.closed_at,
            case((Wait.closed_at <= Wait.due_at, True), else_=False),
            case((Wait.due_at <= now, True), else_=False),
        )
        .join(Candidate, Wait.candidate_id == Candidate.id)
        .join(Position, Candidate.position_id == Position.id)
        .join(User, Position.manager_id == User.id)
    )
    start, end = opened_bounds(since, until, settings.time_zone)
    if start is not None:
        query = query.where(Wait.opened_at >= start)
    if end is not None:
        query = query.where(Wait.opened_at < end)
    if manager_id is not None:
        query = query.where(Position.manager_id == manager_id)
    result = session.execute(query, execution_options={"yield_per": BATCH_SIZE})
    try:
        tallies = _tally(result, settings.holiday_calendar)
    finally:
        result.close()
    return [t.summary() for t in sorted(tallies.values(), key=lambda t: (t.group, t.group_id))]


def _tally(rows: Iterable, calendar: str) -> dict[int, _Tally]:
    tallies: dict[int, _Tally] = {}
    zones: dict[str, ZoneInfo] = {}
    for key, group, manager, time_zone, opened_at, closed_at, met, past_due in rows:
        tally = tallies.get(key)
        if tally is None:
            tally = tallies[key] = _Tally(key, group, manager)
        tally.waits += 1
        if closed_at is None:
            tally.open_now += 1
            tally.overdue_now += bool(past_due)
            continue
        tally.answered += 1
        tally.met += bool(met)
        tz = zones.get(time_zone)
        if tz is None:
            try:
                tz = zones[time_zone] = zone(time_zone)
            except ValueError as exc:
                raise DomainError(f"a position of {group} has an {exc}") from None
        days = clock.business_days_between(
            opened_at.astimezone(tz).date(), closed_at.astimezone(tz).date(), calendar
        )
        tally.days[days] += 1
    return tallies
