"""The clock's business-day count written in SQL, so the database counts every answer of a period.

``waits.clock.BusinessDays`` counts the business days in (day opened, day answered], both days
local to the position's zone. The metrics page needs that count for every answered wait of the
period, but only as a histogram per group: reading 100,000 waits into Python to count each one's
days took seconds. Here the database counts them and hands back one row per group and count:

- a timestamp's **local day** (days since 1970-01-01 in the position's zone) is its UTC second plus
  the zone's UTC offset at that instant, divided by 86,400. The offsets come from Python's zone
  database, as the clock's do: each zone's offset changes over the period (daylight saving),
  written as a CASE on the position's zone and the instant;
- a local day's **number** is the Mondays-to-Fridays from a fixed Monday through it, less the
  weekday public holidays of the organisation's calendar through it. Only the holidays within the
  period matter (earlier ones cancel out of every difference); they come from
  ``clock.is_business_day``.

The difference of two numbers is the clock's ``business_days_between``; the tests check the two
agree across weekends, public holidays and daylight-saving changes, on SQLite and PostgreSQL.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Iterable

from sqlalchemy import BigInteger, Integer, case, cast, func, literal
from sqlalchemy.sql import ColumnElement

from feedback_sla.timeutil import UTC, zone
from feedback_sla.waits.clock import is_business_day

DAY_SECONDS = 86_400
ONE_DAY = dt.timedelta(days=1)
#: Offsets are looked at this often, then the change is narrowed down to the second.
PROBE = dt.timedelta(hours=6)
#: 1970-01-01 is a Thursday: adding 3 counts days from Monday 29 December 1969.
TO_MONDAY = 3
EPOCH = dt.date(1970, 1, 1)


def epoch_seconds(column, dialect: str) -> ColumnElement[int]:
    """Whole UTC seconds since 1970 of a timestamp column (NULL stays NULL)."""
    if dialect == "postgresql":
        return cast(func.floor(func.date_part("epoch", column)), BigInteger)
    # SQLite stores UTC text; strftime rounds fractions of a second, so they are cut off first.
    return cast(func.strftime("%s", func.substr(column, 1, 19)), Integer)


@functools.lru_cache(maxsize=256)
def offset_changes(
    time_zone: str, start: dt.datetime, end: dt.datetime
) -> tuple[tuple[dt.datetime, int], ...]:
    """The zone's UTC offset in seconds at ``start``, then each (instant, new offset) until ``end``."""
    tz = zone(time_zone)

    def offset(instant: dt.datetime) -> int:
        return int(instant.astimezone(tz).utcoffset().total_seconds())

    changes = [(start, offset(start))]
    probe = start
    while probe < end:
        after = min(probe + PROBE, end)
        if offset(after) != changes[-1][1]:
            low, high = probe, after  # the offset changes in (low, high]
            while high - low > dt.timedelta(seconds=1):
                middle = low + (high - low) / 2
                low, high = (low, middle) if offset(middle) != changes[-1][1] else (middle, high)
            changes.append((high.replace(microsecond=0), offset(high)))
        probe = after
    return tuple(changes)


@functools.lru_cache(maxsize=64)
def weekday_holidays(calendar: str, first: dt.date, last: dt.date) -> tuple[int, ...]:
    """The calendar's public holidays from Monday to Friday, ``first`` through ``last``, as epoch days."""
    if not calendar:
        return ()
    days = (first + ONE_DAY * i for i in range((last - first).days + 1))
    return tuple(
        (day - EPOCH).days for day in days if day.weekday() < 5 and not is_business_day(day, calendar)
    )


class DayCounter:
    """SQL for local days and their business-day numbers, for instants from ``start`` through ``end``.

    ``zones`` are the positions' zone names; one the zone database does not know is left out, and a
    timestamp of its positions gets a NULL day (``broken`` keeps the reason, for the caller to say).
    """

    def __init__(
        self, zones: Iterable[str], calendar: str, start: dt.datetime, end: dt.datetime, dialect: str
    ):
        self.dialect = dialect
        # Whole days either side: the cache above then serves every request of the day.
        start = dt.datetime.combine(start.astimezone(UTC).date() - ONE_DAY, dt.time(), tzinfo=UTC)
        end = dt.datetime.combine(end.astimezone(UTC).date() + ONE_DAY * 2, dt.time(), tzinfo=UTC)
        self.offsets: dict[str, tuple[tuple[dt.datetime, int], ...]] = {}
        self.broken: dict[str, ValueError] = {}
        for name in sorted(set(zones)):
            try:
                self.offsets[name] = offset_changes(name, start, end)
            except ValueError as exc:
                self.broken[name] = exc
        self.holidays = weekday_holidays(calendar, start.date() - ONE_DAY, end.date() + ONE_DAY)

    def local_day(self, column, zone_column=None) -> ColumnElement[int]:
        """The local day of a timestamp in the zone ``zone_column`` names, or in the only zone."""
        offsets = {name: self._offset(column, changes) for name, changes in self.offsets.items()}
        if zone_column is None:
            (offset,) = offsets.values()
        elif not offsets:
            offset = literal(None, Integer)
        else:
            offset = case(offsets, value=zone_column)
        return (epoch_seconds(column, self.dialect) + offset) // DAY_SECONDS

    @staticmethod
    def _offset(column, changes: tuple[tuple[dt.datetime, int], ...]):
        if len(changes) == 1:
            return literal(changes[0][1], Integer)
        whens = [
            (column < changes[i + 1][0], literal(changes[i][1], Integer)) for i in range(len(changes) - 1)
        ]
        return case(*whens, else_=literal(changes[-1][1], Integer))

    def number(self, day) -> ColumnElement[int]:
        """The business-day number of a local day: differences count the business days in (a, b].

        ``day`` is referred to several times: pass a column of a subquery, not the expression.
        """
        monday_based = day + TO_MONDAY
        weekday = monday_based % 7
        weekdays = 5 * (monday_based // 7) + case((weekday >= 4, 5), else_=weekday + 1)
        if not self.holidays:
            return weekdays
        passed = case(
            *[(day < holiday, literal(i, Integer)) for i, holiday in enumerate(self.holidays)],
            else_=literal(len(self.holidays), Integer),
        )
        return weekdays - passed


def week_index(day) -> ColumnElement[int]:
    """The week of a local day, counted in whole weeks from Monday 29 December 1969."""
    return (day + TO_MONDAY) // 7


def monday_of(week: int) -> dt.date:
    """The Monday that starts the week ``week_index`` gives."""
    return EPOCH + dt.timedelta(days=week * 7 - TO_MONDAY)
