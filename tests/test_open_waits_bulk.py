"""Opening waits in bulk (imports): the same deadlines as one by one, and the same database guard."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from feedback_sla.models import WaitReason
from feedback_sla.testing.bulk import NewWait, open_waits_bulk
from feedback_sla.waits import lifecycle
from feedback_sla.waits.clock import OrgSettings
from feedback_sla.waits.models import Wait

from .factories import CandidateFactory, PositionFactory

SETTINGS = OrgSettings(holiday_calendar="US")
NEW_YORK = ZoneInfo("America/New_York")
TOKYO = ZoneInfo("Asia/Tokyo")

# (position time zone, policy overrides, reason, opened at, promised date)
CASES = [
    # Friday afternoon: the weekend is skipped.
    ("America/New_York", {}, WaitReason.DECISION, dt.datetime(2026, 11, 13, 15, tzinfo=NEW_YORK), None),
    # Over US Thanksgiving.
    ("America/New_York", {}, WaitReason.APPLICATION, dt.datetime(2026, 11, 24, 9, tzinfo=NEW_YORK), None),
    # Across the end of daylight saving time in New York.
    ("America/New_York", {}, WaitReason.FOLLOW_UP, dt.datetime(2026, 10, 30, 17, tzinfo=NEW_YORK), None),
    # Already Saturday in Tokyo while it is Friday in UTC.
    ("Asia/Tokyo", {}, WaitReason.APPLICATION, dt.datetime(2026, 11, 14, 8, tzinfo=TOKYO), None),
    # A position that answers applications within 2 business days.
    ("Asia/Tokyo", {"application": 2}, WaitReason.APPLICATION, dt.datetime(2026, 11, 9, tzinfo=TOKYO), None),
    # A promise earlier than the policy.
    (
        "America/New_York",
        {},
        WaitReason.APPLICATION,
        dt.datetime(2026, 11, 2, 10, tzinfo=NEW_YORK),
        dt.date(2026, 11, 4),
    ),
]


def deadline_columns(wait: Wait) -> tuple:
    return (
        wait.reason,
        wait.opened_at,
        wait.policy_days,
        wait.promised_date,
        wait.warn_at,
        wait.due_at,
        wait.escalate_at,
        wait.follow_ups,
        wait.closed_at,
    )


def test_bulk_opened_waits_store_the_deadlines_open_wait_stores(session):
    one_by_one, in_bulk = [], []
    for time_zone, overrides, reason, opened_at, promised in CASES:
        position = PositionFactory(time_zone=time_zone, policy_overrides=overrides)
        single, bulk = CandidateFactory(position=position), CandidateFactory(position=position)
        lifecycle.open_wait(session, single, reason, opened_at, SETTINGS, promised_date=promised)
        one_by_one.append(single.id)
        in_bulk.append(
            NewWait(
                candidate_id=bulk.id,
                reason=reason,
                opened_at=opened_at,
                time_zone=time_zone,
                policy_overrides=overrides,
                promised_date=promised,
            )
        )
    assert open_waits_bulk(session, in_bulk, SETTINGS) == len(CASES)
    session.commit()
    session.expire_all()

    def stored(candidate_id: int) -> Wait:
        return session.scalars(sa.select(Wait).where(Wait.candidate_id == candidate_id)).one()

    for single_id, new in zip(one_by_one, in_bulk, strict=True):
        assert deadline_columns(stored(new.candidate_id)) == deadline_columns(stored(single_id))
    thanksgiving = stored(in_bulk[1].candidate_id)
    # Tuesday 24th + 5 business days, Thursday 26th a holiday: due Wednesday 2 December, 18:00 New York.
    assert thanksgiving.due_at == dt.datetime(2026, 12, 2, 18, tzinfo=NEW_YORK)


def test_a_bulk_wait_for_a_candidate_already_waiting_is_refused_and_nothing_is_written(session):
    position = PositionFactory(time_zone="UTC")
    waiting, fresh = CandidateFactory(position=position), CandidateFactory(position=position)
    opened_at = dt.datetime(2026, 11, 2, 9, tzinfo=dt.UTC)
    lifecycle.open_wait(session, waiting, WaitReason.APPLICATION, opened_at, SETTINGS)
    session.commit()

    batch = [
        NewWait(fresh.id, WaitReason.APPLICATION, opened_at, "UTC"),
        NewWait(waiting.id, WaitReason.FOLLOW_UP, opened_at, "UTC"),
    ]
    with pytest.raises(IntegrityError):
        open_waits_bulk(session, batch, SETTINGS)
        session.commit()
    session.rollback()

    assert session.scalar(sa.select(sa.func.count()).select_from(Wait)) == 1


def test_an_empty_batch_opens_nothing(session):
    assert open_waits_bulk(session, [], SETTINGS) == 0
