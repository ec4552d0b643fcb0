"""The response clock: business days, deadlines and states, as plain functions of their inputs.

Counting rule: the day a wait opens is day 0 whatever the hour; business day 1 is the next day that
is neither Saturday, Sunday nor a public holiday of the calendar, in the position's time zone. The
deadline is the end of business day N (local end-of-business hour); a date promised to the candidate
replaces it, earlier or later: the date they were last told is the one they hold us to.
"""

from __future__ import annotations

import datetime as dt
import enum
import functools
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol
from zoneinfo import ZoneInfo

from feedback_sla.languages import DEFAULT as DEFAULT_LANGUAGE
from feedback_sla.languages import SHIPPED, enabled_with_default
from feedback_sla.timeutil import UTC, as_utc, zone

if TYPE_CHECKING:
    from holidays import HolidayBase

ONE_DAY = dt.timedelta(days=1)


@dataclass(frozen=True)
class OrgSettings:
    """Typed snapshot of the organisation settings the clock needs."""

    time_zone: str = "UTC"
    holiday_calendar: str = ""
    end_of_business_day: dt.time = dt.time(18, 0)
    warning_business_days: int = 1
    escalate_after_days: int = 14
    escalate_after_followups: int = 2
    policy_application: int = 5
    policy_decision: int = 3
    policy_follow_up: int = 2
    #: The languages candidates may be written to in, and the one they are by default.
    languages_enabled: tuple[str, ...] = SHIPPED
    languages_default: str = DEFAULT_LANGUAGE

    @property
    def languages(self) -> tuple[str, ...]:
        """The organisation's languages, its default first (always enabled)."""
        return enabled_with_default(self.languages_enabled, self.languages_default)

    def policy_days(self, reason: str, overrides: dict | None = None) -> int:
        """Business days for a wait reason, a position's override first."""
        if overrides and reason in overrides:
            return int(overrides[reason])
        return getattr(self, f"policy_{reason}")


class State(enum.StrEnum):
    ESCALATED = "escalated"
    OVERDUE = "overdue"
    DUE_SOON = "due_soon"
    ON_TRACK = "on_track"

    @property
    def label(self) -> str:
        return self.value.replace("_", " ")

    @property
    def title(self) -> str:
        """The label as a badge shows it: "Due soon"."""
        return self.label.capitalize()

    @property
    def urgency(self) -> int:
        """Sort key: most urgent first."""
        return _URGENCY[self]


_URGENCY = {State.ESCALATED: 0, State.OVERDUE: 1, State.DUE_SOON: 2, State.ON_TRACK: 3}


@functools.lru_cache(maxsize=64)
def holiday_calendar(code: str) -> HolidayBase | None:
    """Public holidays for ``US``, ``US-NY``, ``DE-BY``…; None for an empty code.

    ValueError names the reason for an unknown country or subdivision.
    """
    code = code.strip()
    if not code:
        return None
    country, _, subdivision = code.partition("-")
    try:
        import holidays  # loads every country's rules: only when a calendar is configured

        return holidays.country_holidays(country.upper(), subdiv=subdivision.upper() or None)
    except NotImplementedError as exc:
        raise ValueError(f"unknown holiday calendar {code!r}: {exc}") from None


@functools.lru_cache(maxsize=512)
def _weekday_holidays(code: str, year: int) -> frozenset[dt.date]:
    calendar = holiday_calendar(code)
    if calendar is None:
        return frozenset()
    start = dt.date(year, 1, 1)
    return frozenset(
        start + ONE_DAY * i
        for i in range((dt.date(year + 1, 1, 1) - start).days)
        if (start + ONE_DAY * i).weekday() < 5 and (start + ONE_DAY * i) in calendar
    )


def is_business_day(day: dt.date, calendar: str) -> bool:
    return day.weekday() < 5 and day not in _weekday_holidays(calendar, day.year)


def add_business_days(start: dt.date, count: int, calendar: str) -> dt.date:
    """The date of business day ``count`` when ``start`` is day 0."""
    day = start
    while count > 0:
        day += ONE_DAY
        if is_business_day(day, calendar):
            count -= 1
    return day


def subtract_business_days(start: dt.date, count: int, calendar: str) -> dt.date:
    day = start
    while count > 0:
        day -= ONE_DAY
        if is_business_day(day, calendar):
            count -= 1
    return day


def business_days_between(start: dt.date, end: dt.date, calendar: str) -> int:
    """Business days in (start, end]: how many business days have begun since day 0."""
    if end <= start:
        return 0
    weeks, rest = divmod((end - start).days, 7)
    count = weeks * 5
    day = start + dt.timedelta(days=weeks * 7)
    for _ in range(rest):
        day += ONE_DAY
        if day.weekday() < 5:
            count += 1
    if calendar:
        for year in range(start.year, end.year + 1):
            count -= sum(1 for h in _weekday_holidays(calendar, year) if start < h <= end)
    return count


class BusinessDays:
    """Numbers local dates so that the business days in (a, b] are ``number(b) - number(a)``.

    A date's number is the business days from ``anchor`` to it (negative before): for any two
    dates, the difference is ``business_days_between``. Numbers are remembered per date
    (a report meets the same few hundred dates again and again), forgotten all at once beyond
    ``LIMIT`` so memory stays flat.
    """

    LIMIT = 100_000

    def __init__(self, calendar: str, anchor: dt.date):
        self.calendar = calendar
        self.anchor = anchor
        self.numbers: dict[str, int] = {}

    def number(self, date: str) -> int:
        """The number of a date written ``YYYY-MM-DD``."""
        number = self.numbers.get(date)
        if number is None:
            if len(self.numbers) >= self.LIMIT:
                self.numbers.clear()
            day = dt.date.fromisoformat(date)
            if day >= self.anchor:
                number = business_days_between(self.anchor, day, self.calendar)
            else:
                number = -business_days_between(day, self.anchor, self.calendar)
            self.numbers[date] = number
        return number

    def between(self, start: str, end: str) -> int:
        """Business days in (start, end], 0 when end is not after start."""
        return max(0, self.number(end) - self.number(start))


@functools.lru_cache(maxsize=8192)
def end_of_business(day: dt.date, time_zone: str, end_of_day: dt.time) -> dt.datetime:
    """The end of business on a local date, in UTC."""
    return dt.datetime.combine(day, end_of_day, tzinfo=zone(time_zone)).astimezone(UTC)


@dataclass(frozen=True)
class Deadlines:
    warn_at: dt.datetime
    due_at: dt.datetime
    escalate_at: dt.datetime


def deadlines(
    opened_at: dt.datetime,
    policy_days: int,
    time_zone: str,
    settings: OrgSettings,
    promised_date: dt.date | None = None,
) -> Deadlines:
    """When a wait opened at ``opened_at`` becomes due soon, due, and escalated."""
    opened_at = as_utc(opened_at)
    day_zero = opened_at.astimezone(zone(time_zone)).date()
    due_date, warn_date = _deadline_dates(
        day_zero, policy_days, settings.holiday_calendar, promised_date, settings.warning_business_days
    )
    due_at = end_of_business(due_date, time_zone, settings.end_of_business_day)
    if warn_date is not None:
        warn_at = end_of_business(warn_date, time_zone, settings.end_of_business_day)
        warn_at = min(max(warn_at, opened_at), due_at)
    else:
        warn_at = due_at
    escalate_at = opened_at + dt.timedelta(days=settings.escalate_after_days)
    return Deadlines(warn_at=warn_at, due_at=due_at, escalate_at=escalate_at)


@functools.lru_cache(maxsize=8192)
def _deadline_dates(
    day_zero: dt.date,
    policy_days: int,
    calendar: str,
    promised_date: dt.date | None,
    warning_business_days: int,
) -> tuple[dt.date, dt.date | None]:
    """The local due date and warning date (None without a warning window).

    Cached: a bulk import opens thousands of waits on the same few days.
    """
    if promised_date is not None:  # the date the candidate was told is the deadline, earlier or later
        due_date = promised_date
    else:
        due_date = add_business_days(day_zero, policy_days, calendar)
    if not warning_business_days:
        return due_date, None
    return due_date, subtract_business_days(due_date, warning_business_days, calendar)


class WaitLike(Protocol):
    warn_at: dt.datetime
    due_at: dt.datetime
    escalate_at: dt.datetime
    follow_ups: int


def state(wait: WaitLike, now: dt.datetime, settings: OrgSettings) -> State:
    """A wait's state at ``now``: escalated, overdue, due soon or on track."""
    now = as_utc(now)
    if wait.follow_ups >= settings.escalate_after_followups or now >= as_utc(wait.escalate_at):
        return State.ESCALATED
    if now >= as_utc(wait.due_at):
        return State.OVERDUE
    if now >= as_utc(wait.warn_at):
        return State.DUE_SOON
    return State.ON_TRACK


def business_days_waited(
    opened_at: dt.datetime, until: dt.datetime, time_zone: str, settings: OrgSettings
) -> int:
    tz = zone(time_zone)
    return business_days_between(
        as_utc(opened_at).astimezone(tz).date(),
        as_utc(until).astimezone(tz).date(),
        settings.holiday_calendar,
    )


def business_days_counter(now: dt.datetime, settings: OrgSettings):
    """``business_days_waited`` up to ``now`` for many waits: zones and day counts are reused."""
    now = as_utc(now)
    calendar = settings.holiday_calendar
    todays: dict[str, tuple[ZoneInfo, dt.date]] = {}
    counts: dict[tuple[dt.date, dt.date], int] = {}

    def waited(opened_at: dt.datetime, time_zone: str) -> int:
        known = todays.get(time_zone)
        if known is None:
            tz = zone(time_zone)
            known = todays[time_zone] = (tz, now.astimezone(tz).date())
        tz, today = known
        key = (opened_at.astimezone(tz).date(), today)
        count = counts.get(key)
        if count is None:
            count = counts[key] = business_days_between(key[0], today, calendar)
        return count

    return waited


# --- business hours: autopilot's lead time ------------------------------------------------------

#: A business day's hours: the ``BUSINESS_DAY_HOURS`` hours that end at the organisation's
#: end-of-business time, local wall-clock time, on business days (not Saturday, Sunday or a holiday).
BUSINESS_DAY_HOURS = 8


def _business_window(day: dt.date, end_of_day: dt.time) -> tuple[dt.datetime, dt.datetime]:
    """A local day's business hours as naive local times, within the day: they start at midnight
    at the earliest, and an end of business at 00:00 is the midnight that ends the day."""
    midnight = dt.datetime.combine(day, dt.time())
    end = dt.datetime.combine(day, end_of_day)
    if end == midnight:
        end += ONE_DAY
    return max(end - dt.timedelta(hours=BUSINESS_DAY_HOURS), midnight), end


def business_hours_before(
    deadline: dt.datetime, hours: int, time_zone: str, settings: OrgSettings
) -> dt.datetime:
    """The moment ``hours`` business hours before ``deadline``, in UTC.

    Counted in local wall-clock time of ``time_zone`` (a daylight-saving change does not move it),
    backwards through each business day's hours (see ``BUSINESS_DAY_HOURS``); weekends and holidays
    have none. A count that ends at the start of a business day ends at the close of the business
    day before (no business hour lies between): 8 hours before Wednesday 18:00 is Tuesday 18:00.
    0 hours is the deadline itself.
    """
    deadline = as_utc(deadline)
    if hours <= 0:
        return deadline
    tz = zone(time_zone)
    cursor = deadline.astimezone(tz).replace(tzinfo=None)
    left = dt.timedelta(hours=hours)
    day = cursor.date()
    while True:
        if is_business_day(day, settings.holiday_calendar):
            start, end = _business_window(day, settings.end_of_business_day)
            end = min(end, cursor)
            if end > start:
                if end - start > left:
                    return _utc_of_local(end - left, tz)
                left -= end - start
        day -= ONE_DAY
        cursor = dt.datetime.combine(day + ONE_DAY, dt.time())


def business_hours_after(now: dt.datetime, hours: int, time_zone: str, settings: OrgSettings) -> dt.datetime:
    """The latest deadline whose lead time of ``hours`` business hours has begun at ``now``, in UTC:
    ``business_hours_before(d, hours, …) <= now`` exactly when ``d <= business_hours_after(now, …)``.

    Counted forwards through business hours as ``business_hours_before`` counts back; when the count
    ends with a business day, the hours after it up to the next business day's start count too
    (nothing is lost in them).
    """
    now = as_utc(now)
    if hours <= 0:
        return now
    tz = zone(time_zone)
    cursor = now.astimezone(tz).replace(tzinfo=None)
    left = dt.timedelta(hours=hours)
    day = cursor.date()
    while True:
        if is_business_day(day, settings.holiday_calendar):
            start, end = _business_window(day, settings.end_of_business_day)
            if not left:
                return _utc_of_local(max(start, cursor), tz)
            start = max(start, cursor)
            if end > start:
                if end - start > left:
                    return _utc_of_local(start + left, tz)
                left -= end - start
        day += ONE_DAY
        cursor = max(cursor, dt.datetime.combine(day, dt.time()))


def _utc_of_local(local: dt.datetime, tz: ZoneInfo) -> dt.datetime:
    return local.replace(tzinfo=tz).astimezone(UTC)
