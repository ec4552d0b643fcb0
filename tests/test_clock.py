"""The response clock as pure functions: explicit datetimes in, deadlines and states out."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo

import pytest

from feedback_sla.timeutil import zone
from feedback_sla.waits import clock
from feedback_sla.waits.clock import OrgSettings, State

UTC = dt.UTC
NEW_YORK = ZoneInfo("America/New_York")
BERLIN = ZoneInfo("Europe/Berlin")
DEFAULTS = OrgSettings()
US = OrgSettings(holiday_calendar="US")


def local(tz: ZoneInfo, *parts: int) -> dt.datetime:
    return dt.datetime(*parts, tzinfo=tz)


def due(opened_at, days, time_zone="UTC", settings=DEFAULTS, promised=None) -> dt.datetime:
    return clock.deadlines(opened_at, days, time_zone, settings, promised).due_at


# --- the counting rule ---------------------------------------------------------------------------


def test_friday_afternoon_with_three_days_is_due_wednesday_evening():
    opened = local(NEW_YORK, 2026, 11, 13, 15, 0)  # Friday
    due_at = due(opened, 3, "America/New_York")
    assert due_at == local(NEW_YORK, 2026, 11, 18, 18, 0)  # Wednesday 18:00
    assert due_at.tzinfo == UTC
    assert due_at == dt.datetime(2026, 11, 18, 23, 0, tzinfo=UTC)


def test_saturday_with_one_day_is_due_monday_evening():
    opened = local(NEW_YORK, 2026, 11, 14, 10, 0)  # Saturday
    assert due(opened, 1, "America/New_York") == local(NEW_YORK, 2026, 11, 16, 18, 0)


def test_sunday_with_one_day_is_due_monday_evening():
    opened = local(NEW_YORK, 2026, 11, 15, 23, 59)
    assert due(opened, 1, "America/New_York") == local(NEW_YORK, 2026, 11, 16, 18, 0)


@pytest.mark.parametrize(
    "hour, minute",
    [(0, 0), (8, 30), (17, 59), (18, 0), (19, 0), (23, 59)],
    ids=["midnight", "morning", "before-close", "at-close", "after-close", "last-minute"],
)
def test_the_opening_day_is_day_zero_whatever_the_hour(hour, minute):
    opened = local(BERLIN, 2026, 11, 13, hour, minute)  # Friday
    assert due(opened, 3, "Europe/Berlin") == local(BERLIN, 2026, 11, 18, 18, 0)


def test_opened_monday_after_close_with_one_day_is_due_the_next_evening():
    opened = local(BERLIN, 2026, 11, 16, 19, 0)
    assert due(opened, 1, "Europe/Berlin") == local(BERLIN, 2026, 11, 17, 18, 0)


def test_five_days_from_monday_skip_one_weekend():
    opened = local(BERLIN, 2026, 11, 16, 9, 0)
    assert due(opened, 5, "Europe/Berlin") == local(BERLIN, 2026, 11, 23, 18, 0)


def test_end_of_business_day_setting_sets_the_hour():
    opened = local(BERLIN, 2026, 11, 13, 15, 0)
    settings = OrgSettings(end_of_business_day=dt.time(17, 30))
    assert due(opened, 3, "Europe/Berlin", settings) == local(BERLIN, 2026, 11, 18, 17, 30)


# --- holidays ------------------------------------------------------------------------------------


def test_a_wait_over_thanksgiving_skips_the_holiday_with_the_us_calendar():
    opened = local(NEW_YORK, 2026, 11, 25, 9, 0)  # Wednesday; Thursday 26th is Thanksgiving
    assert due(opened, 3, "America/New_York", US) == local(NEW_YORK, 2026, 12, 1, 18, 0)
    assert due(opened, 3, "America/New_York", DEFAULTS) == local(NEW_YORK, 2026, 11, 30, 18, 0)


def test_thanksgiving_day_itself_is_not_business_day_one():
    opened = local(NEW_YORK, 2026, 11, 25, 17, 0)
    assert due(opened, 1, "America/New_York", US) == local(NEW_YORK, 2026, 11, 27, 18, 0)


@pytest.mark.parametrize(
    "opened, days, in_bavaria, in_germany",
    [
        # Epiphany, Tuesday 6 January 2026: a holiday in Bavaria, not in all of Germany.
        ((2026, 1, 5, 10), 1, (2026, 1, 7), (2026, 1, 6)),
        # Corpus Christi, Thursday 4 June 2026.
        ((2026, 6, 3, 10), 2, (2026, 6, 8), (2026, 6, 5)),
    ],
    ids=["epiphany", "corpus-christi"],
)
def test_a_bavarian_holiday_counts_only_with_the_de_by_calendar(opened, days, in_bavaria, in_germany):
    opened_at = local(BERLIN, *opened)
    bavaria = due(opened_at, days, "Europe/Berlin", OrgSettings(holiday_calendar="DE-BY"))
    germany = due(opened_at, days, "Europe/Berlin", OrgSettings(holiday_calendar="DE"))
    assert bavaria == local(BERLIN, *in_bavaria, 18, 0)
    assert germany == local(BERLIN, *in_germany, 18, 0)


def test_a_national_holiday_counts_in_every_subdivision():
    opened = local(BERLIN, 2026, 12, 23, 12, 0)  # Wednesday; 25th and 26th are holidays
    for calendar in ("DE", "DE-BY"):
        settings = OrgSettings(holiday_calendar=calendar)
        assert due(opened, 2, "Europe/Berlin", settings) == local(BERLIN, 2026, 12, 28, 18, 0)


def test_a_holiday_on_day_zero_does_not_move_the_count():
    opened = local(NEW_YORK, 2026, 11, 26, 11, 0)  # on Thanksgiving itself
    assert due(opened, 1, "America/New_York", US) == local(NEW_YORK, 2026, 11, 27, 18, 0)


# --- daylight saving -----------------------------------------------------------------------------


def test_spring_forward_in_new_york_moves_the_utc_deadline_an_hour_earlier():
    before = local(NEW_YORK, 2026, 3, 6, 12, 0)  # Friday, EST (UTC-5)
    due_at = due(before, 1, "America/New_York")  # Monday 9 March, EDT (UTC-4)
    assert due_at == dt.datetime(2026, 3, 9, 22, 0, tzinfo=UTC)
    same_week_before = due(local(NEW_YORK, 2026, 3, 2, 12, 0), 1, "America/New_York")
    assert same_week_before == dt.datetime(2026, 3, 3, 23, 0, tzinfo=UTC)


def test_fall_back_in_new_york_moves_the_utc_deadline_an_hour_later():
    before = local(NEW_YORK, 2026, 10, 30, 12, 0)  # Friday, EDT (UTC-4)
    due_at = due(before, 1, "America/New_York")  # Monday 2 November, EST (UTC-5)
    assert due_at == dt.datetime(2026, 11, 2, 23, 0, tzinfo=UTC)
    week_before = due(local(NEW_YORK, 2026, 10, 26, 12, 0), 1, "America/New_York")
    assert week_before == dt.datetime(2026, 10, 27, 22, 0, tzinfo=UTC)


def test_a_wait_opened_on_the_night_of_the_change_counts_local_days():
    # 01:30 on 1 November 2026 happens twice in New York; either way it is day 0 = Sunday.
    first = dt.datetime(2026, 11, 1, 5, 30, tzinfo=UTC)  # 01:30 EDT
    second = dt.datetime(2026, 11, 1, 6, 30, tzinfo=UTC)  # 01:30 EST
    for opened in (first, second):
        assert due(opened, 1, "America/New_York") == dt.datetime(2026, 11, 2, 23, 0, tzinfo=UTC)


# --- time zones ----------------------------------------------------------------------------------


def test_the_position_time_zone_decides_which_day_is_day_zero():
    # Thursday 22:30 in Los Angeles is already Friday in UTC and in Berlin (where its manager sits).
    opened = local(ZoneInfo("America/Los_Angeles"), 2026, 11, 19, 22, 30)
    assert opened.astimezone(UTC).weekday() == 4
    in_los_angeles = due(opened, 1, "America/Los_Angeles")
    assert in_los_angeles == local(ZoneInfo("America/Los_Angeles"), 2026, 11, 20, 18, 0)
    assert due(opened, 1, "UTC") == dt.datetime(2026, 11, 23, 18, 0, tzinfo=UTC)
    assert due(opened, 1, "Europe/Berlin") == local(BERLIN, 2026, 11, 23, 18, 0)


def test_the_end_of_business_day_is_local_to_the_position():
    opened = dt.datetime(2026, 11, 16, 12, 0, tzinfo=UTC)
    assert due(opened, 1, "Asia/Tokyo") == dt.datetime(2026, 11, 17, 9, 0, tzinfo=UTC)
    assert due(opened, 1, "Asia/Kolkata") == dt.datetime(2026, 11, 17, 12, 30, tzinfo=UTC)


def test_naive_opening_times_are_taken_as_utc():
    aware = dt.datetime(2026, 11, 16, 12, 0, tzinfo=UTC)
    assert due(aware.replace(tzinfo=None), 1, "UTC") == due(aware, 1, "UTC")


# --- promised dates ------------------------------------------------------------------------------


def test_a_promise_earlier_than_the_policy_caps_the_deadline():
    opened = local(NEW_YORK, 2026, 11, 16, 9, 0)  # policy: Monday 23rd
    promised = dt.date(2026, 11, 18)
    times = clock.deadlines(opened, 5, "America/New_York", DEFAULTS, promised)
    assert times.due_at == local(NEW_YORK, 2026, 11, 18, 18, 0)
    assert times.warn_at == local(NEW_YORK, 2026, 11, 17, 18, 0)


def test_a_promise_later_than_the_policy_is_the_deadline_the_candidate_holds_us_to():
    opened = local(NEW_YORK, 2026, 11, 16, 9, 0)  # policy: Monday 23rd
    promised = dt.date(2026, 11, 30)
    times = clock.deadlines(opened, 5, "America/New_York", DEFAULTS, promised)
    assert times.due_at == local(NEW_YORK, 2026, 11, 30, 18, 0)
    assert times.warn_at == local(NEW_YORK, 2026, 11, 27, 18, 0)  # Thanksgiving (26th) is skipped
    assert times.escalate_at == opened + dt.timedelta(days=14)  # escalation counts days open, as before


def test_a_promise_across_the_end_of_daylight_saving_ends_at_the_local_end_of_business():
    opened = local(NEW_YORK, 2026, 10, 30, 9, 0)  # EDT; clocks go back on Sunday 1 November
    promised = dt.date(2026, 11, 10)
    times = clock.deadlines(opened, 2, "America/New_York", DEFAULTS, promised)
    assert times.due_at == local(NEW_YORK, 2026, 11, 10, 18, 0)
    assert times.due_at.astimezone(dt.UTC).hour == 23  # 18:00 EST, not EDT


def test_a_promise_for_the_policy_day_changes_nothing():
    opened = local(NEW_YORK, 2026, 11, 16, 9, 0)
    promised = dt.date(2026, 11, 23)
    assert due(opened, 5, "America/New_York", promised=promised) == due(opened, 5, "America/New_York")


# --- warning and escalation ----------------------------------------------------------------------


def test_warn_at_is_one_business_day_before_the_deadline():
    opened = local(NEW_YORK, 2026, 11, 13, 15, 0)  # Friday, due Wednesday
    times = clock.deadlines(opened, 3, "America/New_York", DEFAULTS)
    assert times.warn_at == local(NEW_YORK, 2026, 11, 17, 18, 0)


def test_warn_at_skips_weekends_and_holidays_backwards():
    monday = local(NEW_YORK, 2026, 11, 23, 9, 0)  # due Tuesday 1 December with the US calendar
    times = clock.deadlines(monday, 5, "America/New_York", US)
    assert times.due_at == local(NEW_YORK, 2026, 12, 1, 18, 0)
    assert times.warn_at == local(NEW_YORK, 2026, 11, 30, 18, 0)
    friday_due = clock.deadlines(local(NEW_YORK, 2026, 11, 25, 9, 0), 1, "America/New_York", US)
    assert friday_due.warn_at == local(NEW_YORK, 2026, 11, 25, 18, 0)  # Wednesday, not Thanksgiving


def test_a_wider_warning_window_warns_earlier():
    opened = local(NEW_YORK, 2026, 11, 16, 9, 0)  # due Monday 23rd
    settings = OrgSettings(warning_business_days=2)
    times = clock.deadlines(opened, 5, "America/New_York", settings)
    assert times.warn_at == local(NEW_YORK, 2026, 11, 19, 18, 0)


def test_no_warning_window_means_due_soon_only_at_the_deadline():
    opened = local(NEW_YORK, 2026, 11, 16, 9, 0)
    times = clock.deadlines(opened, 5, "America/New_York", OrgSettings(warning_business_days=0))
    assert times.warn_at == times.due_at


@pytest.mark.parametrize(
    "opened",
    [
        local(NEW_YORK, 2026, 11, 16, 19, 0),  # Monday after close, due Tuesday
        local(NEW_YORK, 2026, 11, 14, 10, 0),  # Saturday, due Monday
    ],
    ids=["after-close", "weekend"],
)
def test_warn_at_is_never_before_the_wait_opened(opened):
    times = clock.deadlines(opened, 1, "America/New_York", DEFAULTS)
    assert times.warn_at == opened
    assert times.warn_at < times.due_at


def test_warn_at_is_never_after_the_deadline_with_a_past_promise():
    opened = local(NEW_YORK, 2026, 11, 18, 9, 0)
    times = clock.deadlines(opened, 5, "America/New_York", DEFAULTS, dt.date(2026, 11, 17))
    assert times.due_at == local(NEW_YORK, 2026, 11, 17, 18, 0)
    assert times.warn_at <= times.due_at


def test_escalate_at_is_calendar_days_after_opening():
    opened = local(NEW_YORK, 2026, 11, 13, 15, 0)
    times = clock.deadlines(opened, 3, "America/New_York", DEFAULTS)
    assert times.escalate_at == opened + dt.timedelta(days=14)
    shorter = clock.deadlines(opened, 3, "America/New_York", OrgSettings(escalate_after_days=7))
    assert shorter.escalate_at == opened + dt.timedelta(days=7)


# --- states --------------------------------------------------------------------------------------


@dataclass
class FakeWait:
    warn_at: dt.datetime
    due_at: dt.datetime
    escalate_at: dt.datetime
    follow_ups: int = 0


def _wait(follow_ups: int = 0) -> FakeWait:
    times = clock.deadlines(local(NEW_YORK, 2026, 11, 13, 15, 0), 3, "America/New_York", DEFAULTS)
    return FakeWait(times.warn_at, times.due_at, times.escalate_at, follow_ups)


SECOND = dt.timedelta(seconds=1)


def test_states_follow_the_deadlines():
    wait = _wait()
    assert clock.state(wait, wait.warn_at - SECOND, DEFAULTS) is State.ON_TRACK
    assert clock.state(wait, wait.warn_at, DEFAULTS) is State.DUE_SOON
    assert clock.state(wait, wait.due_at - SECOND, DEFAULTS) is State.DUE_SOON
    assert clock.state(wait, wait.due_at, DEFAULTS) is State.OVERDUE
    assert clock.state(wait, wait.escalate_at - SECOND, DEFAULTS) is State.OVERDUE
    assert clock.state(wait, wait.escalate_at, DEFAULTS) is State.ESCALATED


def test_fourteen_calendar_days_open_escalate():
    wait = _wait()
    assert wait.escalate_at == local(NEW_YORK, 2026, 11, 27, 15, 0)
    assert clock.state(wait, local(NEW_YORK, 2026, 11, 27, 15, 0), DEFAULTS) is State.ESCALATED


def test_two_follow_ups_escalate_before_the_deadline():
    early = local(NEW_YORK, 2026, 11, 16, 9, 0)
    assert clock.state(_wait(follow_ups=1), early, DEFAULTS) is State.ON_TRACK
    assert clock.state(_wait(follow_ups=2), early, DEFAULTS) is State.ESCALATED
    assert clock.state(_wait(follow_ups=3), early, DEFAULTS) is State.ESCALATED


def test_the_follow_up_threshold_is_a_setting():
    early = local(NEW_YORK, 2026, 11, 16, 9, 0)
    settings = OrgSettings(escalate_after_followups=3)
    assert clock.state(_wait(follow_ups=2), early, settings) is State.ON_TRACK
    assert clock.state(_wait(follow_ups=3), early, settings) is State.ESCALATED


def test_states_accept_now_in_any_zone():
    wait = _wait()
    assert clock.state(wait, wait.due_at.astimezone(ZoneInfo("Asia/Tokyo")), DEFAULTS) is State.OVERDUE


def test_states_sort_most_urgent_first():
    ordered = sorted(State, key=lambda s: s.urgency)
    assert ordered == [State.ESCALATED, State.OVERDUE, State.DUE_SOON, State.ON_TRACK]
    assert State.DUE_SOON.label == "due soon"


# --- business days waited ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "until, expected",
    [
        (local(NEW_YORK, 2026, 11, 13, 23, 0), 0),  # the same Friday
        (local(NEW_YORK, 2026, 11, 14, 12, 0), 0),  # Saturday
        (local(NEW_YORK, 2026, 11, 15, 12, 0), 0),  # Sunday
        (local(NEW_YORK, 2026, 11, 16, 0, 1), 1),  # Monday, just begun
        (local(NEW_YORK, 2026, 11, 20, 12, 0), 5),  # next Friday
        (local(NEW_YORK, 2026, 11, 23, 12, 0), 6),  # Monday after
        (local(NEW_YORK, 2026, 11, 30, 12, 0), 11),  # Thanksgiving counts without a calendar
    ],
)
def test_business_days_waited_across_weekends(until, expected):
    opened = local(NEW_YORK, 2026, 11, 13, 15, 0)
    assert clock.business_days_waited(opened, until, "America/New_York", DEFAULTS) == expected


def test_business_days_waited_skips_thanksgiving_with_the_us_calendar():
    opened = local(NEW_YORK, 2026, 11, 25, 9, 0)
    monday = local(NEW_YORK, 2026, 11, 30, 9, 0)
    assert clock.business_days_waited(opened, monday, "America/New_York", US) == 2
    assert clock.business_days_waited(opened, monday, "America/New_York", DEFAULTS) == 3


def test_business_days_waited_across_new_year_with_a_state_holiday():
    opened = local(BERLIN, 2026, 12, 30, 9, 0)
    until = local(BERLIN, 2027, 1, 8, 12, 0)
    # 31 Dec, 4, 5, 7, 8 Jan; 1 Jan is a holiday everywhere, 6 Jan only in Bavaria.
    bavaria = OrgSettings(holiday_calendar="DE-BY")
    assert clock.business_days_waited(opened, until, "Europe/Berlin", bavaria) == 5
    germany = OrgSettings(holiday_calendar="DE")
    assert clock.business_days_waited(opened, until, "Europe/Berlin", germany) == 6


def test_business_days_waited_counts_local_days_of_the_position():
    opened = local(ZoneInfo("America/Los_Angeles"), 2026, 11, 19, 22, 30)  # Thursday local
    friday_morning = local(ZoneInfo("America/Los_Angeles"), 2026, 11, 20, 8, 0)
    assert clock.business_days_waited(opened, friday_morning, "America/Los_Angeles", DEFAULTS) == 1
    assert clock.business_days_waited(opened, friday_morning, "UTC", DEFAULTS) == 0


def test_business_days_waited_before_opening_is_zero():
    opened = local(NEW_YORK, 2026, 11, 16, 9, 0)
    assert clock.business_days_waited(opened, opened - dt.timedelta(days=3), "UTC", DEFAULTS) == 0


@pytest.mark.parametrize("calendar", ["", "US", "DE-BY"])
def test_counting_forward_and_counting_waited_agree(calendar):
    """Business day N of a wait is exactly N business days after its day 0, over a whole year."""
    start = dt.date(2026, 1, 1)
    for offset in range(0, 366, 3):
        day_zero = start + dt.timedelta(days=offset)
        for days in (1, 2, 3, 5, 10, 30):
            due_date = clock.add_business_days(day_zero, days, calendar)
            assert clock.is_business_day(due_date, calendar)
            assert clock.business_days_between(day_zero, due_date, calendar) == days
            day_before = due_date - dt.timedelta(days=1)
            assert clock.business_days_between(day_zero, day_before, calendar) == days - 1


# --- refusals ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "code, reason",
    [("XX", "Country XX not available"), ("US-ZZ", "does not have subdivision ZZ")],
)
def test_an_unknown_holiday_calendar_is_refused_with_the_reason(code, reason):
    with pytest.raises(ValueError, match="unknown holiday calendar") as info:
        clock.holiday_calendar(code)
    assert reason in str(info.value)
    opened = dt.datetime(2026, 11, 16, 9, 0, tzinfo=UTC)
    with pytest.raises(ValueError, match=f"unknown holiday calendar '{code}'"):
        clock.deadlines(opened, 3, "UTC", OrgSettings(holiday_calendar=code))


def test_calendar_codes_are_case_insensitive_and_empty_means_none():
    assert clock.holiday_calendar("") is None
    assert dt.date(2026, 11, 26) in clock.holiday_calendar("us-ny")


@pytest.mark.parametrize("name", ["Mars/Base", "", " UTC", "utc/nowhere"])
def test_an_unknown_time_zone_is_refused_with_the_reason(name):
    with pytest.raises(ValueError, match="unknown time zone"):
        zone(name)
    opened = dt.datetime(2026, 11, 16, 9, 0, tzinfo=UTC)
    with pytest.raises(ValueError, match="unknown time zone"):
        clock.deadlines(opened, 3, name, DEFAULTS)


# --- business hours: the lead time before a deadline ---------------------------------------------
# A business day's hours are the 8 hours ending at the end of business (10:00-18:00 by default).


def before(deadline, hours, time_zone="UTC", settings=DEFAULTS) -> dt.datetime:
    return clock.business_hours_before(deadline, hours, time_zone, settings)


def test_four_business_hours_before_an_evening_deadline_is_that_afternoon():
    deadline = dt.datetime(2026, 11, 18, 18, 0, tzinfo=UTC)  # Wednesday
    assert before(deadline, 4) == dt.datetime(2026, 11, 18, 14, 0, tzinfo=UTC)
    # a whole business day before: the close of the day before (no business hour lies between)
    assert before(deadline, 8) == dt.datetime(2026, 11, 17, 18, 0, tzinfo=UTC)
    assert before(deadline, 0) == deadline


def test_the_lead_time_of_a_monday_deadline_reaches_back_over_the_weekend():
    monday = dt.datetime(2026, 11, 23, 18, 0, tzinfo=UTC)
    assert before(monday, 9) == dt.datetime(2026, 11, 20, 17, 0, tzinfo=UTC)  # Friday
    assert before(monday, 20) == dt.datetime(2026, 11, 19, 14, 0, tzinfo=UTC)  # Thursday
    morning = dt.datetime(2026, 11, 23, 9, 0, tzinfo=UTC)  # before Monday's business hours
    assert before(morning, 4) == dt.datetime(2026, 11, 20, 14, 0, tzinfo=UTC)


def test_a_deadline_on_a_saturday_counts_back_from_friday_evening():
    saturday = dt.datetime(2026, 11, 21, 18, 0, tzinfo=UTC)
    assert before(saturday, 4) == dt.datetime(2026, 11, 20, 14, 0, tzinfo=UTC)


def test_the_lead_time_skips_a_holiday_of_the_calendar():
    friday = local(NEW_YORK, 2026, 11, 27, 18, 0)  # the day after Thanksgiving
    assert before(friday, 10, "America/New_York", US) == local(NEW_YORK, 2026, 11, 25, 16, 0)
    assert before(friday, 10, "America/New_York", DEFAULTS) == local(NEW_YORK, 2026, 11, 26, 16, 0)


def test_the_lead_time_is_counted_in_local_hours_across_a_daylight_saving_change():
    # Clocks go forward in New York on Sunday 8 March 2026: Friday is EST, Monday EDT.
    monday = local(NEW_YORK, 2026, 3, 9, 18, 0)
    start = before(monday, 12, "America/New_York")
    assert start == local(NEW_YORK, 2026, 3, 6, 14, 0)
    assert start.astimezone(UTC).hour == 19 and monday.astimezone(UTC).hour == 22
    # and back on Sunday 25 October 2026 in Berlin
    berlin_monday = local(BERLIN, 2026, 10, 26, 18, 0)
    assert before(berlin_monday, 12, "Europe/Berlin") == local(BERLIN, 2026, 10, 23, 14, 0)


def test_the_end_of_business_setting_moves_the_business_hours():
    settings = OrgSettings(end_of_business_day=dt.time(17, 0))
    deadline = dt.datetime(2026, 11, 23, 17, 0, tzinfo=UTC)  # Monday
    assert before(deadline, 10, settings=settings) == dt.datetime(2026, 11, 20, 15, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    "now",
    [
        dt.datetime(2026, 11, 20, 14, 0, tzinfo=UTC),  # Friday afternoon
        dt.datetime(2026, 11, 20, 19, 30, tzinfo=UTC),  # Friday after close
        dt.datetime(2026, 11, 22, 12, 0, tzinfo=UTC),  # Sunday
        dt.datetime(2026, 11, 25, 11, 0, tzinfo=UTC),  # Wednesday before Thanksgiving
        dt.datetime(2026, 3, 6, 16, 0, tzinfo=UTC),  # Friday before the New York change
    ],
)
@pytest.mark.parametrize("hours", [1, 4, 8, 13])
@pytest.mark.parametrize("time_zone", ["UTC", "America/New_York"])
def test_business_hours_after_is_the_last_deadline_whose_lead_time_has_begun(now, hours, time_zone):
    cutoff = clock.business_hours_after(now, hours, time_zone, US)
    assert cutoff > now
    assert before(cutoff, hours, time_zone, US) <= now
    assert before(cutoff + dt.timedelta(minutes=1), hours, time_zone, US) > now


@pytest.mark.parametrize("end_of_day", [dt.time(0, 0), dt.time(6, 0), dt.time(23, 30)])
def test_business_hours_stay_within_their_day_whatever_the_end_of_business(end_of_day):
    settings = OrgSettings(end_of_business_day=end_of_day)
    deadline = clock.deadlines(dt.datetime(2026, 11, 16, 9, 0, tzinfo=UTC), 3, "UTC", settings).due_at
    start = before(deadline, 20, settings=settings)
    assert start < deadline
    assert clock.business_hours_after(start, 20, "UTC", settings) >= deadline
