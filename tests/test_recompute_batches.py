"""An organisation-wide change of settings recomputes the open waits a batch at a time, in the one
transaction of the change: every open wait gets what it would get on its own, memory does not grow
with the open waits, and the admin is told what really moved."""

from __future__ import annotations

import dataclasses
import datetime as dt
import gc
import tracemalloc

import pytest
import sqlalchemy as sa

from feedback_sla.candidates.models import Candidate, Status
from feedback_sla.database import db
from feedback_sla.models import Role, Setting
from feedback_sla.settings import service as settings_service
from feedback_sla.testing.bulk import NewWait, open_waits_bulk
from feedback_sla.waits import lifecycle
from feedback_sla.waits.models import Wait, WaitReason

from .factories import PositionFactory, UserFactory
from .helpers import logged_in, text

#: Monday 16 November 2026, 14:00 UTC: the waits below opened over the three weeks before.
NOW = dt.datetime(2026, 11, 16, 14, tzinfo=dt.UTC)
ZONES = ("America/New_York", "Europe/Berlin", "Asia/Tokyo")
REASONS = (WaitReason.APPLICATION, WaitReason.DECISION, WaitReason.FOLLOW_UP)
COLUMNS = ("policy_days", "warn_at", "due_at", "escalate_at")
DEFAULTS = {key.replace(".", "_"): d.default for key, d in settings_service.DEFINITIONS.items()}


def organisation(session, count: int) -> None:
    """``count`` candidates over three positions (one answers applications in 3 business days),
    each with an open wait of a reason in turn, one in seven of them promised a date; one in five
    of the waits is closed."""
    manager = UserFactory(time_zone="UTC")
    positions = [
        PositionFactory(manager=manager, time_zone=zone, policy_overrides={"application": 3} if i else {})
        for i, zone in enumerate(ZONES)
    ]
    first = (session.scalar(sa.select(sa.func.max(Candidate.id))) or 0) + 1
    people = [
        {
            "id": first + n,
            "name": f"Candidate {n}",
            "email": f"candidate{n}@example.com",
            "position_id": positions[n % 3].id,
            "stage": "applied",
            "status": Status.ACTIVE,
            "created_at": NOW - dt.timedelta(days=21),
        }
        for n in range(count)
    ]
    session.execute(sa.insert(Candidate), people)
    waits = []
    for n, person in enumerate(people):
        position = positions[n % 3]
        opened = NOW - dt.timedelta(hours=5 * n % 500, minutes=n % 60)
        promised = opened.date() + dt.timedelta(days=9) if n % 7 == 3 else None
        waits.append(
            NewWait(
                person["id"],
                REASONS[n % 3 if n % 4 else 0],
                opened,
                position.time_zone,
                position.policy_overrides,
                promised,
            )
        )
    open_waits_bulk(session, waits, settings_service.load(session))
    closing = sa.select(Wait.id).where(Wait.candidate_id % 5 == 0).scalar_subquery()
    session.execute(sa.update(Wait).where(Wait.id.in_(closing)).values(closed_at=NOW))
    session.commit()


def snapshot(session) -> dict[int, tuple]:
    session.expire_all()
    return {
        row.id: tuple(row[1:]) for row in session.execute(sa.select(Wait.id, *_columns(), Wait.closed_at))
    }


def _columns():
    return [getattr(Wait, column) for column in COLUMNS]


def one_by_one(session) -> dict[int, tuple]:
    """Each open wait's columns as ``lifecycle.recompute`` gives them to that wait alone."""
    settings = settings_service.load(session)
    expected = {}
    for wait in session.scalars(sa.select(Wait).where(Wait.closed_at.is_(None))):
        schedule = lifecycle.deadlines_for(
            wait.reason, wait.opened_at, wait.candidate.position, settings, wait.promised_date
        )
        expected[wait.id] = tuple(schedule.columns()[column] for column in COLUMNS)
    return expected


@pytest.fixture
def small_batches(monkeypatch):
    monkeypatch.setattr(lifecycle, "RECOMPUTE_BATCH", 7)


def test_a_policy_change_moves_every_open_wait_as_it_would_alone_across_batches(
    runner, session, small_batches
):
    organisation(session, 60)
    before = snapshot(session)

    result = runner.invoke(args=["settings", "set", "policy.application", "8"])

    assert result.exit_code == 0, result.output
    after = snapshot(session)
    expected = one_by_one(session)
    assert len(expected) == 48  # twelve of the sixty were closed
    assert {key: value[:4] for key, value in after.items() if key in expected} == expected
    assert {key: value for key, value in after.items() if key not in expected} == {
        key: value for key, value in before.items() if key not in expected
    }
    moved = sum(after[key] != before[key] for key in expected)
    new_deadlines = sum(after[key][2] != before[key][2] for key in expected)
    # Applications of the two positions that keep their own 3 days, promised waits' deadlines,
    # decisions and follow-ups stay where they were.
    assert 0 < new_deadlines <= moved < 48
    assert f"{moved} open wait(s) recomputed: {new_deadlines} new deadline(s)" in result.output


def test_a_failure_halfway_saves_neither_the_setting_nor_any_deadline(app, session, small_batches):
    organisation(session, 60)
    before = snapshot(session)
    updates = []

    def lose_the_connection(_conn, _cursor, statement, *_args):
        if statement.lstrip().upper().startswith("UPDATE WAITS"):
            updates.append(statement)
            if len(updates) == 2:
                raise ConnectionError("connection to the database lost")

    sa.event.listen(db.engine, "before_cursor_execute", lose_the_connection)
    try:
        with pytest.raises(ConnectionError):
            settings_service.update(session, {"policy.application": "8"})
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", lose_the_connection)
        session.rollback()  # as the page or the command does on any error

    assert snapshot(session) == before
    assert session.scalars(sa.select(Setting)).all() == []
    assert settings_service.load(session).policy_application == 5


def recompute_peak(session, count: int) -> int:
    """Bytes allocated at the peak of a recompute of ``count`` open waits, all of which move."""
    organisation(session, count)
    settings = settings_service.load(session)
    lifecycle.recompute_waits(session, settings)  # compiled statements and caches, untimed
    session.rollback()
    moved = dataclasses.replace(settings, policy_decision=6, escalate_after_days=20)
    gc.collect()
    tracemalloc.start()
    try:
        done = lifecycle.recompute_waits(session, moved)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
        session.rollback()
    assert (
        done.escalate
        == done.changed
        == session.scalar(sa.select(sa.func.count()).select_from(Wait).where(Wait.closed_at.is_(None)))
    )
    return peak


def test_memory_does_not_grow_with_the_open_waits(app, session, monkeypatch):
    monkeypatch.setattr(lifecycle, "RECOMPUTE_BATCH", 100)
    small = recompute_peak(session, 800)
    session.execute(sa.delete(Wait))
    session.execute(sa.delete(Candidate))
    session.commit()
    large = recompute_peak(session, 4_800)
    assert large < 1.5 * small, (small, large)


# --- what the admin is told ----------------------------------------------------------------------


@pytest.fixture
def admin():
    return UserFactory(name="Ann Admin", email="ann@example.com", role=Role.ADMIN)


@pytest.fixture
def waiting(session):
    """Two applicants and one candidate who asked for news, waiting since Monday 9 November 2026,
    09:00 New York: the applicants are due Monday 16th, 18:00, the follow-up Wednesday 11th."""
    position = PositionFactory(manager=UserFactory(), time_zone="America/New_York")
    people = [
        {
            "name": f"Applicant {n}",
            "email": f"a{n}@example.com",
            "position_id": position.id,
            "stage": "applied",
            "status": Status.ACTIVE,
            "created_at": NOW,
        }
        for n in range(3)
    ]
    ids = session.scalars(sa.insert(Candidate).returning(Candidate.id), people).all()
    opened = dt.datetime(2026, 11, 9, 14, tzinfo=dt.UTC)
    reasons = (WaitReason.APPLICATION, WaitReason.APPLICATION, WaitReason.FOLLOW_UP)
    waits = [NewWait(i, r, opened, "America/New_York", {}) for i, r in zip(ids, reasons, strict=True)]
    open_waits_bulk(session, waits, settings_service.load(session))
    session.commit()


def saved(client, **changes) -> str:
    response = client.post("/admin/settings", data={**DEFAULTS, **changes}, follow_redirects=True)
    return text(response)


def test_a_new_warning_window_says_no_deadline_moved(client, session, admin, waiting):
    before = snapshot(session)
    logged_in(client, admin)

    page = saved(client, warning_business_days="2")

    assert "Saved. No open wait's deadline changed. 3 open waits become due soon at a new time." in page
    assert "got new deadlines" not in page
    after = snapshot(session)
    assert [value[2] for value in after.values()] == [value[2] for value in before.values()]
    assert all(after[key][1] < before[key][1] for key in before)


def test_a_new_escalation_period_says_no_deadline_moved(client, session, admin, waiting):
    logged_in(client, admin)
    page = saved(client, escalate_after_days="21")
    assert "Saved. No open wait's deadline changed. 3 open waits escalate at a new time." in page


def test_a_reasons_business_days_move_only_the_waits_of_that_reason(client, session, admin, waiting):
    before = snapshot(session)
    logged_in(client, admin)

    page = saved(client, policy_follow_up="4")

    assert "Saved. 1 open wait got a new deadline." in page
    after = snapshot(session)
    assert sum(after[key] != before[key] for key in before) == 1


def test_the_command_says_what_a_new_warning_window_moved(runner, session, waiting):
    result = runner.invoke(args=["settings", "set", "warning_business_days", "3"])
    assert result.exit_code == 0, result.output
    assert (
        "3 open wait(s) recomputed: 0 new deadline(s), 3 due soon at a new time with the same "
        "deadline, 0 escalating at a new time"
    ) in result.output
