"""A large organisation's digests: every manager gets their own, read one manager at a time."""

from __future__ import annotations

import datetime as dt
import tracemalloc

import pytest
import sqlalchemy as sa

from feedback_sla.candidates.models import Candidate
from feedback_sla.database import db
from feedback_sla.digest import service as digest_service
from feedback_sla.emails.models import EmailKind, OutboxMessage
from feedback_sla.settings import service as settings_service
from feedback_sla.testing.bulk import NewWait, open_waits_bulk
from feedback_sla.waits.models import Wait, WaitReason

from .factories import CandidateFactory, PositionFactory, UserFactory

BASE_URL = "https://feedback.example.com"
#: A Wednesday, 18:00 UTC: past the 08:00 digest hour in every zone below.
NOW = dt.datetime(2026, 11, 25, 18, tzinfo=dt.UTC)
ZONES = ("UTC", "Europe/Berlin", "America/New_York", "America/Los_Angeles")


@pytest.fixture
def app_config(app_config):
    app_config["BASE_URL"] = BASE_URL
    return app_config


def add_waiting(session, manager, label: str, overdue: int, on_track: int = 0) -> None:
    """``overdue`` candidates opened 8 to 10 days ago (owed), ``on_track`` opened today (not owed)."""
    position = PositionFactory(manager=manager, title=f"{label} Engineer")
    opened = [NOW - dt.timedelta(days=8, minutes=7 * i) for i in range(overdue)]
    opened += [NOW - dt.timedelta(hours=1 + i % 5) for i in range(on_track)]
    people = [CandidateFactory(position=position, name=f"{label} {i:03d}") for i in range(len(opened))]
    waits = [
        NewWait(person.id, WaitReason.APPLICATION, at, position.time_zone, {})
        for person, at in zip(people, opened, strict=True)
    ]
    open_waits_bulk(session, waits, settings_service.load(session))


def most_urgent(session, manager) -> list[str]:
    """The names of the manager's overdue candidates, oldest deadline first (then the earliest added)."""
    return session.scalars(
        sa.select(Candidate.name)
        .join(Wait, Wait.candidate_id == Candidate.id)
        .join(Candidate.position)
        .where(Candidate.position.has(manager_id=manager.id), Wait.due_at <= NOW)
        .order_by(Wait.due_at, Candidate.id)
    ).all()


def digest_to(session, manager) -> OutboxMessage:
    [message] = session.scalars(
        sa.select(OutboxMessage).where(
            OutboxMessage.kind == EmailKind.DIGEST, OutboxMessage.to_address == manager.email
        )
    ).all()
    return message


@pytest.mark.parametrize("fetch", [7, digest_service.FETCH], ids=["small batches", "default batches"])
def test_each_manager_gets_their_own_25_most_urgent_and_a_count_of_the_rest(
    runner, session, monkeypatch, fetch
):
    monkeypatch.setattr(digest_service, "FETCH", fetch)  # batches that split a manager's rows
    owed = {"Ada": 40, "Bo": 26, "Cy": 25, "Di": 3}
    managers = {label: UserFactory(time_zone=zone) for label, zone in zip(owed, ZONES, strict=True)}
    for label, manager in managers.items():
        add_waiting(session, manager, label, owed[label], on_track=12)
    session.commit()
    result = runner.invoke(args=["digest", "send", "--now", NOW.isoformat()])
    assert result.exit_code == 0, result.output
    assert "4 digest(s) queued" in result.output
    for label, manager in managers.items():
        message = digest_to(session, manager)
        expected = most_urgent(session, manager)
        assert len(expected) == owed[label]
        assert message.subject == f"Candidates waiting on you: {owed[label]} overdue"
        text = message.text_body
        listed = [line[2:].split(" · ")[0] for line in text.splitlines() if line.startswith("* ")]
        assert listed == expected[:25]
        others = [name for name in managers if name != label]
        assert not any(f"{other} 0" in text for other in others)
        more = owed[label] - 25
        assert (f"...and {more} more on your triage page." in text) == (more > 0)


def test_a_manager_with_many_candidates_costs_the_same_statements_as_one_with_few(app, runner, session):
    few, many = UserFactory(), UserFactory()
    add_waiting(session, few, "Few", overdue=3, on_track=2)
    add_waiting(session, many, "Many", overdue=300, on_track=200)
    session.commit()
    statements = []
    sa.event.listen(db.engine, "before_cursor_execute", lambda *a: statements.append(a[2]))
    counts = {}
    for manager in (few, many):
        statements.clear()
        result = runner.invoke(args=["digest", "send", "--now", NOW.isoformat(), "--manager", manager.email])
        assert result.exit_code == 0, result.output
        counts[manager.email] = len(statements)
    assert counts[few.email] == counts[many.email], counts
    assert "...and 275 more on your triage page." in digest_to(session, many).text_body


def test_a_digest_keeps_only_the_candidates_it_lists(app, session):
    manager = UserFactory()
    add_waiting(session, manager, "Ada", overdue=300, on_track=50)
    session.commit()
    settings = settings_service.load(session)
    digest = digest_service.digest_for(session, NOW, settings, manager, NOW.date(), BASE_URL)
    assert len(digest.items) == 300 and len(digest.shown) == 25 and digest.more == 275
    assert [item.row.candidate for item in digest.shown] == most_urgent(session, manager)[:25]
    assert digest.subject == "Candidates waiting on you: 300 overdue"


def test_due_today_is_the_positions_own_today(app, runner, session):
    """23:30 UTC on Wednesday is Thursday 08:30 in Tokyo: due Thursday is due today there."""
    now = dt.datetime(2026, 11, 25, 23, 30, tzinfo=dt.UTC)
    manager = UserFactory(time_zone="Asia/Tokyo")
    position = PositionFactory(manager=manager, time_zone="Asia/Tokyo")
    today, tomorrow = (CandidateFactory(position=position, name=n) for n in ("Thursday", "Friday"))
    opened = now - dt.timedelta(hours=2)
    open_waits_bulk(
        session,
        [
            NewWait(today.id, WaitReason.APPLICATION, opened, "Asia/Tokyo", {}, dt.date(2026, 11, 26)),
            NewWait(tomorrow.id, WaitReason.APPLICATION, opened, "Asia/Tokyo", {}, dt.date(2026, 11, 27)),
        ],
        settings_service.load(session),
    )
    session.commit()
    result = runner.invoke(args=["digest", "send", "--now", now.isoformat()])
    assert result.exit_code == 0, result.output
    message = digest_to(session, manager)
    assert message.subject == "Candidates waiting on you: 1 due today"
    assert "Thursday" in message.text_body and "Friday" not in message.text_body


def test_a_managers_rows_are_let_go_as_they_are_read(app, session, monkeypatch):
    """Ten times the candidates, about the same memory: only a batch of rows is held at once."""
    monkeypatch.setattr(digest_service, "FETCH", 50)
    few, many = UserFactory(), UserFactory()
    add_waiting(session, few, "Few", overdue=200)
    add_waiting(session, many, "Many", overdue=2000)
    session.commit()
    settings = settings_service.load(session)
    digest_service.owed_to(session, NOW, settings, few.id, BASE_URL)  # the statement compiled once
    peaks = {}
    for manager in (few, many):
        tracemalloc.start()
        owed = digest_service.owed_to(session, NOW, settings, manager.id, BASE_URL)
        peaks[manager.id] = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        assert len(owed.shown) == 25
    assert peaks[many.id] < 1.5 * peaks[few.id], peaks
