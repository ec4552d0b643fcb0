"""A candidate's timeline on the real database: which events open, close or move a wait."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from feedback_sla.errors import DomainError
from feedback_sla.models import ContactChannel, Event, EventKind, WaitReason
from feedback_sla.settings import service as settings_service
from feedback_sla.waits import clock, lifecycle, service
from feedback_sla.waits.clock import OrgSettings, State
from feedback_sla.waits.models import Wait
from feedback_sla.waits.queries import Filters, waiting

from .factories import CandidateFactory, PositionFactory, UserFactory
from .helpers import ny

SETTINGS = OrgSettings()


@pytest.fixture
def manager():
    return UserFactory(time_zone="America/New_York")


@pytest.fixture
def position(manager):
    return PositionFactory(manager=manager, time_zone="America/New_York")


@pytest.fixture
def candidate(session, position):
    """Applied Monday 16 November 2026, 09:00 New York: due Monday 23rd, 18:00."""
    applicant = service.add_candidate(
        session, position, "Ana Okafor", "ana@example.com", ny(2026, 11, 16, 9), SETTINGS
    )
    session.commit()
    return applicant


def open_waits(session, candidate) -> list[Wait]:
    return list(
        session.scalars(sa.select(Wait).where(Wait.candidate_id == candidate.id, Wait.closed_at.is_(None)))
    )


def all_waits(session, candidate) -> list[Wait]:
    return list(session.scalars(sa.select(Wait).where(Wait.candidate_id == candidate.id).order_by(Wait.id)))


def test_a_new_applicant_waits_for_an_answer_to_the_application(session, candidate):
    (wait,) = all_waits(session, candidate)
    assert wait.reason is WaitReason.APPLICATION
    assert wait.opened_at == ny(2026, 11, 16, 9)
    assert wait.policy_days == 5
    assert wait.due_at == ny(2026, 11, 23, 18)
    assert wait.warn_at == ny(2026, 11, 20, 18)
    assert wait.escalate_at == ny(2026, 11, 30, 9)
    created = session.get(Event, wait.opened_by_event_id)
    assert created.kind is EventKind.CREATED


def test_a_note_and_a_stage_move_never_close_a_wait(session, candidate, manager):
    (before,) = all_waits(session, candidate)
    due_at = before.due_at
    service.add_note(session, candidate, "Strong portfolio.", ny(2026, 11, 17, 10), manager)
    service.move_stage(session, candidate, "screen", ny(2026, 11, 17, 11), manager)
    session.commit()

    (wait,) = all_waits(session, candidate)
    assert wait.closed_at is None
    assert wait.closed_by_event_id is None
    assert wait.due_at == due_at
    assert candidate.stage == "screen"
    kinds = [e.kind for e in session.scalars(sa.select(Event).where(Event.candidate_id == candidate.id))]
    assert EventKind.NOTE in kinds and EventKind.STAGE_MOVED in kinds


def test_an_empty_note_is_refused(session, candidate):
    with pytest.raises(DomainError, match="note needs some text"):
        service.add_note(session, candidate, "   ", ny(2026, 11, 17, 10))


def test_a_logged_contact_closes_the_wait_at_its_time(session, candidate, manager):
    at = ny(2026, 11, 18, 14, 30)
    event = service.log_contact(session, candidate, ContactChannel.PHONE, at, manager, "Told her Friday.")
    session.commit()

    (wait,) = all_waits(session, candidate)
    assert wait.closed_at == at
    assert wait.closed_by_event_id == event.id
    assert wait.closed_by.kind is EventKind.CONTACT_LOGGED
    assert wait.closed_by.channel == "phone"
    assert wait.closed_by.body == "Told her Friday."
    assert wait.closed_by.actor_id == manager.id
    assert open_waits(session, candidate) == []


def test_a_closed_wait_leaves_the_waiting_list(session, candidate, manager):
    now = ny(2026, 11, 25, 9)
    assert [r.candidate for r in waiting(session, now, SETTINGS)] == ["Ana Okafor"]
    service.log_contact(session, candidate, ContactChannel.MEETING, ny(2026, 11, 18, 14), manager)
    session.commit()
    assert waiting(session, now, SETTINGS) == []


def test_a_follow_up_while_waiting_is_counted_and_keeps_the_deadline(session, candidate):
    (before,) = all_waits(session, candidate)
    due_at, warn_at = before.due_at, before.warn_at
    returned = service.followed_up(session, candidate, ny(2026, 11, 19, 8), SETTINGS)
    session.commit()

    (wait,) = all_waits(session, candidate)
    assert returned.id == wait.id
    assert wait.follow_ups == 1
    assert (wait.due_at, wait.warn_at) == (due_at, warn_at)
    assert wait.closed_at is None
    assert clock.state(wait, ny(2026, 11, 19, 9), SETTINGS) is State.ON_TRACK


def test_a_follow_up_with_no_open_wait_opens_a_reply_wait(session, candidate, manager):
    service.log_contact(session, candidate, ContactChannel.PHONE, ny(2026, 11, 17, 10), manager)
    asked = ny(2026, 11, 19, 16)  # Thursday
    wait = service.followed_up(session, candidate, asked, SETTINGS)
    session.commit()

    assert wait.reason is WaitReason.FOLLOW_UP
    assert wait.opened_at == asked
    assert wait.policy_days == 2
    assert wait.due_at == ny(2026, 11, 23, 18)
    assert wait.follow_ups == 0
    assert session.get(Event, wait.opened_by_event_id).kind is EventKind.FOLLOWED_UP
    assert [w.reason for w in all_waits(session, candidate)] == [WaitReason.APPLICATION, WaitReason.FOLLOW_UP]


def test_two_follow_ups_escalate_the_wait(session, candidate):
    early = ny(2026, 11, 17, 12)  # long before the deadline
    service.followed_up(session, candidate, ny(2026, 11, 17, 9), SETTINGS)
    session.commit()
    assert waiting(session, early, SETTINGS)[0].state is State.ON_TRACK

    service.followed_up(session, candidate, ny(2026, 11, 17, 11), SETTINGS)
    session.commit()
    (wait,) = open_waits(session, candidate)
    assert wait.follow_ups == 2
    assert clock.state(wait, early, SETTINGS) is State.ESCALATED
    (row,) = waiting(session, early, SETTINGS)
    assert row.state is State.ESCALATED
    assert [r.candidate for r in waiting(session, early, SETTINGS, Filters(states={State.ESCALATED}))] == [
        "Ana Okafor"
    ]


def test_holding_the_interview_closes_the_application_wait_and_opens_a_decision_wait(
    session, candidate, manager
):
    held = ny(2026, 11, 19, 15)  # Thursday
    decision = service.interview_held(session, candidate, held, SETTINGS, manager)
    session.commit()

    application, second = all_waits(session, candidate)
    assert application.reason is WaitReason.APPLICATION
    assert application.closed_at == held
    assert application.closed_by.kind is EventKind.INTERVIEW_HELD
    assert second.id == decision.id
    assert decision.reason is WaitReason.DECISION
    assert decision.opened_at == held
    assert decision.policy_days == 3
    assert decision.due_at == ny(2026, 11, 24, 18)
    assert decision.opened_by_event_id == application.closed_by_event_id
    assert open_waits(session, candidate) == [decision]


def test_setting_a_promise_recomputes_the_deadline(session, candidate, manager):
    wait = service.set_promise(
        session, candidate, dt.date(2026, 11, 18), ny(2026, 11, 16, 12), SETTINGS, manager
    )
    session.commit()
    session.refresh(wait)
    assert wait.promised_date == dt.date(2026, 11, 18)
    assert wait.due_at == ny(2026, 11, 18, 18)
    assert wait.warn_at == ny(2026, 11, 17, 18)
    assert wait.closed_at is None  # a promise is internal bookkeeping, not an answer

    service.set_promise(session, candidate, None, ny(2026, 11, 16, 13), SETTINGS, manager)
    session.commit()
    session.refresh(wait)
    assert wait.promised_date is None
    assert wait.due_at == ny(2026, 11, 23, 18)

    promises = session.scalars(
        sa.select(Event).where(Event.kind == EventKind.PROMISE_SET).order_by(Event.id)
    ).all()
    assert [e.data for e in promises] == [
        {"from": None, "to": "2026-11-18"},
        {"from": "2026-11-18", "to": None},
    ]


def test_a_promise_needs_an_open_wait(session, candidate, manager):
    service.log_contact(session, candidate, ContactChannel.PHONE, ny(2026, 11, 17, 10), manager)
    with pytest.raises(DomainError, match="not waiting for an answer"):
        service.set_promise(session, candidate, dt.date(2026, 11, 20), ny(2026, 11, 17, 11), SETTINGS)


def test_position_policy_overrides_replace_the_organisation_policy(session, manager):
    quick = PositionFactory(
        manager=manager, time_zone="America/New_York", policy_overrides={"application": 2}
    )
    applicant = service.add_candidate(
        session, quick, "Ben Silva", "ben@example.com", ny(2026, 11, 16, 9), SETTINGS
    )
    session.commit()
    (wait,) = all_waits(session, applicant)
    assert wait.policy_days == 2
    assert wait.due_at == ny(2026, 11, 18, 18)

    decision = service.interview_held(session, applicant, ny(2026, 11, 17, 10), SETTINGS)
    assert decision.policy_days == 3  # no override for decisions: the organisation's


def test_the_position_time_zone_counts_not_the_managers(session):
    berlin_manager = UserFactory(time_zone="Europe/Berlin")
    la = ZoneInfo("America/Los_Angeles")
    position = PositionFactory(
        manager=berlin_manager, time_zone="America/Los_Angeles", policy_overrides={"application": 1}
    )
    opened = dt.datetime(2026, 11, 19, 22, 30, tzinfo=la)  # Thursday in LA, Friday in Berlin
    applicant = service.add_candidate(session, position, "Chloé Chen", "chloe@example.com", opened, SETTINGS)
    session.commit()
    (wait,) = all_waits(session, applicant)
    assert wait.due_at == dt.datetime(2026, 11, 20, 18, tzinfo=la)


def test_settings_set_policy_recomputes_open_waits(app, runner, session, manager, position, candidate):
    closed = service.add_candidate(
        session, position, "Dmitri Novak", "dmitri@example.com", ny(2026, 11, 16, 10), SETTINGS
    )
    service.log_contact(session, closed, ContactChannel.PHONE, ny(2026, 11, 17, 10), manager)
    fixed = PositionFactory(
        manager=manager, time_zone="America/New_York", policy_overrides={"application": 4}
    )
    pinned = service.add_candidate(
        session, fixed, "Elif Haddad", "elif@example.com", ny(2026, 11, 16, 9), SETTINGS
    )
    session.commit()
    closed_wait = all_waits(session, closed)[0]
    closed_due = closed_wait.due_at
    pinned_due = all_waits(session, pinned)[0].due_at

    result = runner.invoke(args=["settings", "set", "policy.application", "7"])

    assert result.exit_code == 0, result.output
    assert "policy.application = 7" in result.output
    assert "1 open wait(s) recomputed" in result.output
    session.expire_all()
    (wait,) = all_waits(session, candidate)
    assert wait.policy_days == 7
    assert wait.due_at == ny(2026, 11, 25, 18)
    assert wait.warn_at == ny(2026, 11, 24, 18)
    assert all_waits(session, closed)[0].due_at == closed_due
    assert all_waits(session, pinned)[0].due_at == pinned_due
    assert settings_service.load(session).policy_application == 7


def test_settings_set_holiday_calendar_recomputes_only_waits_it_moves(runner, session, position):
    service.add_candidate(
        session, position, "Farah Patel", "farah@example.com", ny(2026, 11, 23, 9), SETTINGS
    )
    service.add_candidate(session, position, "Gus Moreau", "gus@example.com", ny(2026, 11, 2, 9), SETTINGS)
    session.commit()

    result = runner.invoke(args=["settings", "set", "holiday_calendar", "US"])

    assert result.exit_code == 0, result.output
    assert "1 open wait(s) recomputed" in result.output
    session.expire_all()
    due = {
        r.candidate: r.due_at for r in waiting(session, ny(2026, 11, 23, 10), settings_service.load(session))
    }
    assert due["Farah Patel"] == ny(2026, 12, 1, 18)  # Thanksgiving skipped
    assert due["Gus Moreau"] == ny(2026, 11, 9, 18)


def test_the_database_refuses_a_second_open_wait(session):
    candidate = CandidateFactory()
    opened = dt.datetime(2026, 11, 20, 15, tzinfo=dt.UTC)
    lifecycle.open_wait(session, candidate, WaitReason.APPLICATION, opened, OrgSettings())
    session.commit()
    with pytest.raises(IntegrityError):
        session.execute(
            sa.insert(Wait).values(
                candidate_id=candidate.id,
                reason="decision",
                opened_at=opened,
                warn_at=opened,
                due_at=opened,
                escalate_at=opened,
                policy_days=3,
                follow_ups=0,
            )
        )
    session.rollback()
    assert session.scalar(sa.select(sa.func.count()).select_from(Wait)) == 1


def test_the_database_accepts_many_closed_waits_and_one_open(session):
    candidate = CandidateFactory()
    opened = dt.datetime(2026, 11, 20, 15, tzinfo=dt.UTC)
    values = dict(
        candidate_id=candidate.id,
        reason="application",
        opened_at=opened,
        warn_at=opened,
        due_at=opened,
        escalate_at=opened,
        policy_days=3,
        follow_ups=0,
    )
    session.execute(sa.insert(Wait), [values | {"closed_at": opened}, values | {"closed_at": opened}, values])
    session.commit()
    assert session.scalar(sa.select(sa.func.count()).select_from(Wait)) == 3
