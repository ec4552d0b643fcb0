"""The metrics page's counts come from the database; they must equal the report's, counted wait by wait.

``reports.summary.summarize`` reads every answered wait and counts its business days with the
clock; ``metrics.figures`` has the database count them. Same waits, same figures: across weekends,
US public holidays, daylight-saving changes (New York, Berlin, Lord Howe's half hour), zones a
half or three quarters of an hour off, and answers a microsecond either side of local midnight.
"""

from __future__ import annotations

import datetime as dt
import random
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from feedback_sla.errors import DomainError
from feedback_sla.metrics import figures
from feedback_sla.metrics.local_days import offset_changes
from feedback_sla.reports.summary import GroupBy, summarize
from feedback_sla.testing.bulk import NewWait, open_waits_bulk
from feedback_sla.waits.clock import OrgSettings
from feedback_sla.waits.models import Wait, WaitReason

from .factories import CandidateFactory, PositionFactory, UserFactory

ZONES = (
    "America/New_York",
    "Europe/Berlin",
    "Asia/Kolkata",
    "Australia/Lord_Howe",
    "Pacific/Chatham",
    "America/St_Johns",
    "UTC",
)
SINCE, UNTIL = dt.date(2026, 9, 28), dt.date(2026, 12, 31)
NOW = dt.datetime(2027, 1, 20, 12, tzinfo=dt.UTC)


def _waits(session, settings: OrgSettings, count: int, seed: int) -> None:
    """``count`` waits opened from late September to the end of December, most of them answered."""
    rng = random.Random(seed)
    managers = [UserFactory() for _ in range(3)]
    positions = [PositionFactory(manager=managers[i % 3], time_zone=zone) for i, zone in enumerate(ZONES)]
    new, closings = [], []
    start = dt.datetime.combine(SINCE, dt.time(), tzinfo=dt.UTC) - dt.timedelta(hours=14)
    for i in range(count):
        position = positions[i % len(positions)]
        candidate = CandidateFactory(position=position)
        opened = start + dt.timedelta(seconds=rng.randint(0, 96 * 86_400))
        tz = ZoneInfo(position.time_zone)
        if i % 5 == 0:  # answered a microsecond before or exactly at a local midnight
            day = (opened + dt.timedelta(days=rng.randint(1, 12))).astimezone(tz).date()
            midnight = dt.datetime.combine(day, dt.time(), tzinfo=tz).astimezone(dt.UTC)
            closed = midnight - dt.timedelta(microseconds=rng.choice((0, 1)))
        else:
            closed = opened + dt.timedelta(
                seconds=rng.randint(0, 20 * 86_400), microseconds=rng.randint(0, 10**6)
            )
        new.append(NewWait(candidate.id, WaitReason.APPLICATION, opened, position.time_zone))
        closings.append(None if i % 7 == 0 else max(closed, opened))
    open_waits_bulk(session, new, settings)
    ids = session.scalars(sa.select(Wait.id).order_by(Wait.id)).all()
    session.execute(
        sa.update(Wait.__table__).where(Wait.__table__.c.id == sa.bindparam("wait_id")),
        [{"wait_id": i, "closed_at": c} for i, c in zip(ids, closings, strict=True) if c is not None],
    )
    session.commit()


@pytest.mark.parametrize("calendar", ["", "US"])
@pytest.mark.parametrize("by", list(GroupBy))
def test_the_database_counts_what_the_report_counts(session, calendar, by):
    settings = OrgSettings(holiday_calendar=calendar, time_zone="Europe/Berlin")
    _waits(session, settings, 420, seed=len(calendar))

    expected = summarize(session, NOW, settings, SINCE, UNTIL, by)
    counted = figures.group_summaries(session, NOW, settings, SINCE, UNTIL, by)

    assert counted == expected
    assert sum(g.answered for g in counted) > 300


def test_one_managers_figures(session):
    settings = OrgSettings(holiday_calendar="US")
    _waits(session, settings, 60, seed=3)
    manager_id = session.scalar(sa.select(sa.func.min(sa.text("id"))).select_from(sa.text("users")))

    expected = summarize(session, NOW, settings, SINCE, UNTIL, GroupBy.POSITION, manager_id=manager_id)
    assert (
        figures.group_summaries(session, NOW, settings, SINCE, UNTIL, GroupBy.POSITION, manager_id)
        == expected
    )


def test_an_unknown_zone_on_an_answered_wait_is_named(session):
    settings = OrgSettings()
    _waits(session, settings, 10, seed=4)
    session.execute(sa.text("UPDATE positions SET time_zone = 'Mars/Olympus_Mons' WHERE time_zone = 'UTC'"))

    with pytest.raises(DomainError, match="a position has an unknown time zone 'Mars/Olympus_Mons'"):
        figures.group_summaries(session, NOW, settings, SINCE, UNTIL, GroupBy.MANAGER)


def test_offset_changes_are_found_to_the_second():
    start = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    changes = offset_changes("Europe/Berlin", start, dt.datetime(2027, 1, 1, tzinfo=dt.UTC))
    assert changes == (
        (start, 3600),
        (dt.datetime(2026, 3, 29, 1, tzinfo=dt.UTC), 7200),
        (dt.datetime(2026, 10, 25, 1, tzinfo=dt.UTC), 3600),
    )
    assert offset_changes("Asia/Kolkata", start, dt.datetime(2027, 1, 1, tzinfo=dt.UTC)) == ((start, 19800),)
