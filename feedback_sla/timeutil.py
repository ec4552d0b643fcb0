"""Time helpers: UTC in storage, named zones at the edges."""

from __future__ import annotations

import datetime as dt
import functools
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

UTC = dt.UTC


def utcnow() -> dt.datetime:
    return dt.datetime.now(UTC)


def as_utc(value: dt.datetime) -> dt.datetime:
    """An aware UTC datetime; a naive value read back from SQLite is taken to be UTC already."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def zone(name: str) -> ZoneInfo:
    """The zone for an IANA name; ValueError with the reason for an unknown one."""
    if not name or name != name.strip():
        raise ValueError(f"unknown time zone {name!r}")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown time zone {name!r} (use an IANA name such as Europe/Berlin)") from exc


def is_time_zone(name: str) -> bool:
    return name in zone_names()


@functools.cache
def zone_names() -> frozenset[str]:
    """Every IANA zone name (read from the zone database once per process)."""
    return frozenset(available_timezones() | {"UTC"})


def local_date(instant: dt.datetime, time_zone: str) -> dt.date:
    """The calendar day it is at ``instant`` in ``time_zone``."""
    return as_utc(instant).astimezone(zone(time_zone)).date()


#: How pages and emails write a moment for people: "Wed 25 Nov 2026, 18:00".
DISPLAY_FORMAT = "%a %d %b %Y, %H:%M"


_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("", "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def long_date(day: dt.date) -> str:
    """A date as a candidate reads it, the same in every email and on their page: Wednesday,
    16 December 2026."""
    return f"{day:%A}, {day.day} {day:%B %Y}"


def local_time_in(value: dt.datetime | None, time_zone: str, fmt: str = DISPLAY_FORMAT) -> str:
    """A UTC timestamp in a named zone, followed by the zone's name; empty for None."""
    if value is None:
        return ""
    local = as_utc(value).astimezone(zone(time_zone))
    if fmt == DISPLAY_FORMAT:
        # What strftime writes for DISPLAY_FORMAT (Python's C locale), in half its time: pages
        # write a hundred and more of these (the candidate page, one per event and email).
        return (
            f"{_DAYS[local.weekday()]} {local.day:02} {_MONTHS[local.month]} {local.year}, "
            f"{local.hour:02}:{local.minute:02} {time_zone}"
        )
    return f"{local.strftime(fmt)} {time_zone}"


def validate_time_zone(name: str) -> str:
    if not is_time_zone(name):
        raise ValueError(f"unknown time zone {name!r} (use an IANA name such as Europe/Berlin)")
    return name


#: The dates the app takes at any door (a form, a query string, a CSV file, the API, a webhook, a
#: command's option): far wider than any hiring, and far enough from the calendar's ends (year 1,
#: year 9999) that counting days, weeks and time zones from them never overflows.
FIRST_DAY = dt.date(1970, 1, 1)
LAST_DAY = dt.date(2199, 12, 31)


#: The furthest a promise to a candidate may reach: a date beyond is a typing mistake, not a promise.
PROMISE_HORIZON = dt.timedelta(days=366)


def check_promised_day(promised: dt.date, today: dt.date) -> None:
    """ValueError unless a promise made ``today`` for ``promised`` lies between today and a year ahead."""
    if promised < today:
        raise ValueError(f"{promised.isoformat()} is in the past")
    if promised > today + PROMISE_HORIZON:
        raise ValueError(f"{promised.isoformat()} is more than a year ahead")


def check_day(day: dt.date) -> dt.date:
    """``day`` when it lies within FIRST_DAY..LAST_DAY; ValueError saying so otherwise."""
    if isinstance(day, dt.datetime):
        day = day.date()
    if not FIRST_DAY <= day <= LAST_DAY:
        raise ValueError(
            f"{day.isoformat()} is outside the dates this app takes ({FIRST_DAY.isoformat()} to "
            f"{LAST_DAY.isoformat()})"
        )
    return day


def parse_instant(text: str, default_zone: str) -> dt.datetime:
    """An ISO 8601 date or date-time; without an offset it is local time in ``default_zone``.

    A bare date means the start of that day; one outside FIRST_DAY..LAST_DAY is refused.
    """
    text = text.strip()
    if not text:
        raise ValueError("empty date")
    try:
        value = dt.datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{text!r} is not an ISO 8601 date (e.g. 2026-11-20 or 2026-11-20T14:30)") from None
    check_day(value.date())
    if value.tzinfo is None:
        value = value.replace(tzinfo=zone(default_zone))
    return value.astimezone(UTC)


def parse_date(text: str) -> dt.date:
    """An ISO 8601 calendar day within FIRST_DAY..LAST_DAY."""
    try:
        day = dt.date.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(f"{text!r} is not an ISO 8601 date (e.g. 2026-11-20)") from None
    return check_day(day)


def iso(value: dt.datetime | None, tz: str = "UTC") -> str:
    """ISO 8601 with its offset, in the given zone."""
    if value is None:
        return ""
    return as_utc(value).astimezone(zone(tz)).isoformat(timespec="seconds")
