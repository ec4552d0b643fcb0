"""The date range a report covers, applied to the moment each wait opened."""

from __future__ import annotations

import datetime as dt

from feedback_sla.errors import DomainError
from feedback_sla.timeutil import UTC, zone

ONE_DAY = dt.timedelta(days=1)


class PeriodError(DomainError):
    """A range whose end comes before its start."""


def opened_bounds(
    since: dt.date | None, until: dt.date | None, time_zone: str
) -> tuple[dt.datetime | None, dt.datetime | None]:
    """UTC bounds [start, end) for waits opened from ``since`` through ``until``, both days included.

    The days are calendar days in ``time_zone`` (the organisation's): one range for every position,
    so a report for November covers the same instants whichever zone a position is in.
    """
    if since is not None and until is not None and until < since:
        raise PeriodError(f"until ({until.isoformat()}) is before since ({since.isoformat()})")
    tz = zone(time_zone)
    start = _midnight(since, tz) if since is not None else None
    end = _midnight(until + ONE_DAY, tz) if until is not None else None
    return start, end


def _midnight(day: dt.date, tz) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(), tzinfo=tz).astimezone(UTC)
