"""Property tests: the SQL twins of the clock agree with the clock on random waits.

* ``queries.waiting`` (``urgency_expression``) and ``queries.state_expression`` give the state
  ``clock.state`` gives, at instants before, on and after each wait's deadlines;
* the business days the triage rows and the response-time export show are the clock's;
* ``clock.BusinessDays`` numbers dates so that differences are ``clock.business_days_between``.

Each example writes its waits into the real database inside the test's transaction and rolls
them back afterwards, so examples never see each other's rows.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from feedback_sla.models import Status
from feedback_sla.reports.export import COLUMNS, export_rows
from feedback_sla.testing.bulk import NewWait, open_waits_bulk
from feedback_sla.timeutil import UTC, as_utc
from feedback_sla.waits import clock, lifecycle, queries
from feedback_sla.waits.clock import BusinessDays, OrgSettings
from feedback_sla.waits.models import Wait, WaitReason

from .factories import CandidateFactory, PositionFactory, UserFactory

ONE_DAY = dt.timedelta(days=1)
ONE_HOUR = dt.timedelta(hours=1)
ONE_MICROSECOND = dt.timedelta(microseconds=1)

#: Whole-hour zones with and without daylight saving (north and south), and for the export's
#: local-time arithmetic zones a half or three quarters of an hour off UTC, with daylight saving
#: (St John's, Chatham) or without (Kolkata, Kathmandu), and Lord Howe, whose clocks move by 30 minutes.
ZONES = (
    "UTC",
    "America/New_York",
    "Europe/Berlin",
    "Asia/Tokyo",
    "Australia/Sydney",
    "Asia/Kolkata",
    "America/St_Johns",
    "Australia/Lord_Howe",
    "Asia/Kathmandu",
    "Pacific/Chatham",
)
WAIT_CALENDARS = ("", "US", "DE-BY")
CALENDARS = ("", "US", "DE-BY", "GB-ENG")

FIRST = dt.datetime(2024, 1, 1, tzinfo=UTC)
LAST = dt.datetime(2029, 1, 1, tzinfo=UTC)


def _offset_changes(name: str) -> list[dt.datetime]:
    """The UTC hours in which ``name`` changes its offset between FIRST and LAST."""
    tz = ZoneInfo(name)
    changes = []
    day, offset = FIRST, FIRST.astimezone(tz).utcoffset()
    while day < LAST:
        following = (day + ONE_DAY).astimezone(tz).utcoffset()
        if following != offset:
            hour = day
            while (hour + ONE_HOUR).astimezone(tz).utcoffset() == offset:
                hour += ONE_HOUR
            changes.append(hour)
            offset = following
        day += ONE_DAY
    return changes


#: Daylight-saving changes of every zone: waits open and clocks are read around them.
OFFSET_CHANGES = sorted({change for name in ZONES for change in _offset_changes(name)})
assert len(OFFSET_CHANGES) >= 40, OFFSET_CHANGES

# -- strategies -------------------------------------------------------------------------------------

instants = st.one_of(
    st.datetimes(
        min_value=FIRST.replace(tzinfo=None), max_value=LAST.replace(tzinfo=None) - ONE_DAY * 60
    ).map(lambda moment: moment.replace(tzinfo=UTC)),
    st.builds(
        lambda change, shift: change + shift,
        st.sampled_from(OFFSET_CHANGES),
        st.timedeltas(min_value=-ONE_DAY * 3, max_value=ONE_DAY * 3),
    ),
)

org_settings = st.builds(
    OrgSettings,
    time_zone=st.sampled_from(ZONES),
    holiday_calendar=st.sampled_from(WAIT_CALENDARS),
    end_of_business_day=st.builds(
        dt.time, st.integers(0, 23), st.one_of(st.sampled_from([0, 30]), st.integers(0, 59))
    ),
    warning_business_days=st.integers(0, 3),
    escalate_after_days=st.one_of(st.integers(1, 20), st.just(365)),
    escalate_after_followups=st.integers(1, 3),
    policy_application=st.integers(1, 10),
    policy_decision=st.integers(1, 10),
    policy_follow_up=st.integers(1, 10),
)


@dataclass(frozen=True)
class WaitSpec:
    time_zone: str
    overrides: dict
    reason: WaitReason
    opened_at: dt.datetime
    #: Days from the policy's due date to the promised date; None for no promise.
    promise_shift: int | None
    follow_ups: int
    #: How long after opening the wait was closed; None while it is open.
    closed_after: dt.timedelta | None
    status: Status
    #: Opened through the ORM one at a time (as ``service.add_candidate`` does), not in bulk.
    one_by_one: bool


wait_specs = st.builds(
    WaitSpec,
    time_zone=st.sampled_from(ZONES),
    overrides=st.fixed_dictionaries({}, optional={reason.value: st.integers(1, 10) for reason in WaitReason}),
    reason=st.sampled_from(WaitReason),
    opened_at=instants,
    promise_shift=st.one_of(st.none(), st.integers(-4, 3)),
    follow_ups=st.integers(0, 3),
    closed_after=st.one_of(
        st.none(),
        st.none(),
        st.timedeltas(min_value=dt.timedelta(0), max_value=ONE_DAY * 30),
    ),
    status=st.sampled_from([Status.ACTIVE, Status.ACTIVE, Status.ACTIVE, Status.WITHDRAWN]),
    one_by_one=st.booleans(),
)


@dataclass(frozen=True)
class Moment:
    """An instant relative to one of the example's waits: one of its deadlines or its opening."""

    wait: int
    anchor: str
    shift: dt.timedelta
    #: The zone ``now`` is given in: the same instant, whatever the zone.
    zone: str


moments = st.builds(
    Moment,
    wait=st.integers(0, 50),
    anchor=st.sampled_from(["opened_at", "warn_at", "due_at", "escalate_at"]),
    shift=st.one_of(
        st.sampled_from([-ONE_MICROSECOND, dt.timedelta(0), ONE_MICROSECOND]),
        st.timedeltas(min_value=-ONE_DAY * 5, max_value=ONE_DAY * 40),
    ),
    zone=st.sampled_from(ZONES),
)

# -- the example's database rows --------------------------------------------------------------------


@dataclass(frozen=True)
class Stored:
    """A wait as the ORM reads it back, with what the checks need of its candidate and position."""

    wait: Wait
    time_zone: str
    active: bool


def promised_date(spec: WaitSpec, org: OrgSettings) -> dt.date | None:
    """A date near the wait's policy deadline (before it: the promise moves the deadline)."""
    if spec.promise_shift is None:
        return None
    days = org.policy_days(spec.reason.value, spec.overrides)
    day_zero = spec.opened_at.astimezone(ZoneInfo(spec.time_zone)).date()
    return clock.add_business_days(day_zero, days, org.holiday_calendar) + ONE_DAY * spec.promise_shift


def store_waits(session, org: OrgSettings, specs: list[WaitSpec]) -> dict[int, Stored]:
    """One candidate per spec, each of its own position, and their waits: some opened through the
    ORM one by one, the others in one bulk statement."""
    manager = UserFactory()
    candidates, bulk = [], []
    for spec in specs:
        position = PositionFactory(manager=manager, time_zone=spec.time_zone, policy_overrides=spec.overrides)
        candidate = CandidateFactory(position=position, status=spec.status)
        candidates.append(candidate)
        promised = promised_date(spec, org)
        if spec.one_by_one:
            lifecycle.open_wait(session, candidate, spec.reason, spec.opened_at, org, promised_date=promised)
        else:
            bulk.append(
                NewWait(
                    candidate_id=candidate.id,
                    reason=spec.reason,
                    opened_at=spec.opened_at,
                    time_zone=spec.time_zone,
                    policy_overrides=spec.overrides,
                    promised_date=promised,
                )
            )
    assert open_waits_bulk(session, bulk, org) == len(bulk)
    session.flush()
    for candidate, spec in zip(candidates, specs, strict=True):
        closed_at = None if spec.closed_after is None else spec.opened_at + spec.closed_after
        if spec.follow_ups or closed_at is not None:
            session.execute(
                sa.update(Wait)
                .where(Wait.candidate_id == candidate.id)
                .values(follow_ups=spec.follow_ups, closed_at=closed_at)
            )
    session.expire_all()
    by_candidate = {candidate.id: spec for candidate, spec in zip(candidates, specs, strict=True)}
    stored = {}
    for wait in session.scalars(sa.select(Wait)):
        spec = by_candidate[wait.candidate_id]
        stored[wait.id] = Stored(wait, spec.time_zone, spec.status == Status.ACTIVE)
    assert len(stored) == len(specs)
    return stored


def describe(stored: Stored, now: dt.datetime, org: OrgSettings) -> str:
    wait = stored.wait
    return (
        f"\n  now={as_utc(now).isoformat()}\n  {org}\n  zone={stored.time_zone} reason={wait.reason.value}"
        f" policy_days={wait.policy_days} promised={wait.promised_date} follow_ups={wait.follow_ups}"
        f"\n  opened_at={wait.opened_at.isoformat()} warn_at={wait.warn_at.isoformat()}"
        f" due_at={wait.due_at.isoformat()} escalate_at={wait.escalate_at.isoformat()}"
        f" closed_at={wait.closed_at.isoformat() if wait.closed_at else None}"
    )


def instants_to_check(stored: dict[int, Stored], chosen: list[Moment]) -> list[dt.datetime]:
    """The drawn moments, each relative to one of the waits and written in the moment's zone."""
    waits = [stored[wait_id].wait for wait_id in sorted(stored)]
    return [
        (getattr(waits[m.wait % len(waits)], m.anchor) + m.shift).astimezone(ZoneInfo(m.zone)) for m in chosen
    ]


# -- the checks -------------------------------------------------------------------------------------


def check_waiting(session, now: dt.datetime, org: OrgSettings, stored: dict[int, Stored]) -> None:
    """The triage rows: open waits of active candidates, with the clock's state and business days."""
    rows = queries.waiting(session, now, org)
    listed = {row.wait_id: row for row in rows}
    expected = {i for i, s in stored.items() if s.active and s.wait.closed_at is None}
    assert set(listed) == expected, f"waiting() lists {sorted(listed)}, open and active: {sorted(expected)}"
    urgencies = [row.state.urgency for row in rows]
    assert urgencies == sorted(urgencies), f"not most urgent first: {[row.state for row in rows]}"
    for wait_id, row in listed.items():
        s = stored[wait_id]
        want = clock.state(s.wait, now, org)
        assert row.state == want, f"SQL state {row.state} != clock state {want}{describe(s, now, org)}"
        days = clock.business_days_waited(s.wait.opened_at, now, s.time_zone, org)
        assert row.business_days_waited == days, (
            f"waiting() says {row.business_days_waited} business days waited, the clock {days}"
            f"{describe(s, now, org)}"
        )


def check_state_expression(session, now: dt.datetime, org: OrgSettings, stored: dict[int, Stored]) -> None:
    """``state_expression`` on every wait, open or closed, against ``clock.state``."""
    found = dict(session.execute(sa.select(Wait.id, queries.state_expression(now, org))).all())
    assert set(found) == set(stored)
    for wait_id, name in found.items():
        s = stored[wait_id]
        want = clock.state(s.wait, now, org)
        assert name == want.value, (
            f"state_expression {name!r} != clock state {want.value!r}{describe(s, now, org)}"
        )


def check_export(session, now: dt.datetime, org: OrgSettings, stored: dict[int, Stored]) -> None:
    """The export's local timestamps, business days and outcome, against the clock."""
    rows = [dict(zip(COLUMNS, row, strict=True)) for row in export_rows(session, now, org, empty="")]
    assert [row["wait_id"] for row in rows] == sorted(stored)
    for row in rows:
        s = stored[row["wait_id"]]
        wait, tz = s.wait, ZoneInfo(s.time_zone)
        context = describe(s, now, org)
        local = {
            "opened_at": wait.opened_at.astimezone(tz).isoformat(timespec="seconds"),
            "due_at": wait.due_at.astimezone(tz).isoformat(timespec="seconds"),
            "closed_at": wait.closed_at.astimezone(tz).isoformat(timespec="seconds")
            if wait.closed_at
            else "",
            "promised_date": wait.promised_date.isoformat() if wait.promised_date else "",
        }
        shown = {column: row[column] for column in local}
        assert shown == local, f"export shows {shown}, expected {local}{context}"
        days = clock.business_days_waited(wait.opened_at, wait.closed_at or now, s.time_zone, org)
        assert row["business_days_waited"] == days, (
            f"export says {row['business_days_waited']} business days waited, the clock {days}{context}"
        )
        if wait.closed_at is None:
            outcome = clock.state(wait, now, org).value
        else:
            outcome = "met" if wait.closed_at <= wait.due_at else "breached"
        assert row["outcome"] == outcome, f"export outcome {row['outcome']!r} != {outcome!r}{context}"


@settings(
    max_examples=200,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    org=org_settings,
    specs=st.lists(wait_specs, min_size=1, max_size=6),
    chosen=st.lists(moments, min_size=1, max_size=8),
)
def test_sql_states_and_business_days_equal_the_clock(session, org, specs, chosen):
    try:
        stored = store_waits(session, org, specs)
        for now in instants_to_check(stored, chosen):
            check_waiting(session, now, org, stored)
            check_state_expression(session, now, org, stored)
            check_export(session, now, org, stored)
    finally:
        session.rollback()
    assert session.scalar(sa.select(sa.func.count()).select_from(Wait)) == 0


# -- business days ----------------------------------------------------------------------------------

days = st.dates(min_value=dt.date(2018, 1, 1), max_value=dt.date(2032, 12, 31))
#: Far apart (years), and near each other (the same weeks, in either order).
day_pairs = st.one_of(
    st.tuples(days, days),
    st.builds(lambda start, gap: (start, start + ONE_DAY * gap), days, st.integers(-20, 60)),
)


def counted_day_by_day(start: dt.date, end: dt.date, calendar: str) -> int:
    """Business days in (start, end], one day at a time."""
    return sum(
        1 for i in range(1, (end - start).days + 1) if clock.is_business_day(start + ONE_DAY * i, calendar)
    )


@settings(max_examples=600, deadline=None, database=None)
@given(
    calendar=st.sampled_from(CALENDARS),
    anchor=days,
    pairs=st.lists(day_pairs, min_size=1, max_size=12),
)
def test_business_day_numbers_count_what_the_clock_counts(calendar, anchor, pairs):
    numbers = BusinessDays(calendar, anchor)  # one numbering for every pair, as the export uses it
    for start, end in pairs:
        got = numbers.between(start.isoformat(), end.isoformat())
        want = clock.business_days_between(start, end, calendar)
        context = f"calendar={calendar!r} anchor={anchor} start={start} end={end}"
        assert got == want, f"BusinessDays.between = {got}, business_days_between = {want}: {context}"
        if end <= start:
            assert want == 0, f"no business days when end is not after start, got {want}: {context}"
        elif (end - start).days <= 800:
            by_hand = counted_day_by_day(start, end, calendar)
            assert want == by_hand, f"business_days_between = {want}, counted day by day {by_hand}: {context}"
