"""The metrics page counts the organisation's open waits from counts the database keeps as they
change (``open_wait_counts``), and finds a page of groups' open waits by ``waits.position_id``.
Whatever changes a wait (a door of the app, a settings change that moves every deadline, a
candidate moved to another position, a deletion), the counts must be the open waits counted again,
and the page must show what counting the waits themselves shows, at any instant: also within the
hour in which a wait warns, falls due or escalates.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter

import sqlalchemy as sa
import time_machine

from feedback_sla.candidates.models import Candidate
from feedback_sla.database import db
from feedback_sla.metrics import open_counts, service
from feedback_sla.metrics.models import OpenWaitCount
from feedback_sla.models import ContactChannel
from feedback_sla.reports.summary import GroupBy
from feedback_sla.settings import service as settings_service
from feedback_sla.waits import service as waits
from feedback_sla.waits.models import Wait

from .factories import PositionFactory, UserFactory
from .helpers import ny
from .organisations import answering_org

#: Friday 13 November 2026, noon in New York; the default period is the 12 weeks up to it.
NOW = ny(2026, 11, 13, 12)
SINCE, UNTIL = dt.date(2026, 8, 24), dt.date(2026, 11, 13)


def _hours(at: dt.datetime, seconds: int = 3600) -> int:
    return int(at.timestamp()) // seconds


def kept(session) -> Counter:
    rows = session.execute(sa.select(OpenWaitCount.__table__)).all()
    assert all(row.waits > 0 for row in rows)  # a count that reaches nothing goes
    return Counter({tuple(row[:-1]): row.waits for row in rows})


def counted_again(session) -> Counter:
    """The open waits counted by the same key, in Python."""
    found = Counter()
    for wait in session.scalars(sa.select(Wait).where(Wait.closed_at.is_(None))):
        key = (
            _hours(wait.opened_at, 900),
            _hours(wait.warn_at),
            _hours(wait.due_at),
            _hours(wait.escalate_at),
        )
        found[(*key, wait.follow_ups)] += 1
    return found


def assert_counts_and_page_agree(session, *instants: dt.datetime) -> None:
    session.commit()
    session.expire_all()
    assert kept(session) == counted_again(session)
    open_counts.recount(session)  # the operator's mend, counted in SQL: the same counts
    assert kept(session) == counted_again(session)
    session.commit()
    positions = dict(session.execute(sa.select(Candidate.id, Candidate.position_id)).all())
    for wait in session.scalars(sa.select(Wait)):
        assert wait.position_id == positions[wait.candidate_id]
    settings = settings_service.load(session)
    for now in instants or (NOW,):
        for by in GroupBy:
            filters = service.MetricsFilters(SINCE, UNTIL, by)
            shown = service.metrics(session, now, settings, filters)
            scratch = service.from_scratch(session, now, settings, filters)
            assert shown.open_states == scratch.open_states, now
            assert shown.weeks == scratch.weeks, now
            assert shown.groups == scratch.groups[: len(shown.groups)], now
            assert shown == scratch, now


def test_the_counts_follow_every_change_of_a_wait(session):
    with time_machine.travel(NOW, tick=False):
        org = answering_org(session)
        settings = org["settings"]
        assert_counts_and_page_agree(session)

        # New waits in another zone; a follow-up that escalates one; a contact that answers one.
        tokyo = PositionFactory(
            title="SRE", manager=UserFactory(email="kei@example.com"), time_zone="Asia/Tokyo"
        )
        aiko = waits.add_candidate(session, tokyo, "Aiko", "aiko@example.jp", ny(2026, 11, 10, 20), settings)
        ren = waits.add_candidate(session, tokyo, "Ren", "ren@example.jp", ny(2026, 11, 11, 3), settings)
        waits.followed_up(session, aiko, ny(2026, 11, 12, 9), settings)
        waits.followed_up(session, aiko, ny(2026, 11, 12, 10), settings)
        waits.log_contact(session, ren, ContactChannel.EMAIL, ny(2026, 11, 12, 11), None)
        assert_counts_and_page_agree(session)

        # Every deadline moves at once (a settings change recomputes the open waits in SQL batches).
        settings_service.update(
            session, {"policy.application": "2", "warning_business_days": "2", "escalate_after_days": "1"}
        )
        assert_counts_and_page_agree(session)

        # An instant a breath before the hour belongs to the hour it is in (SQLite's strftime would
        # round it up to the next).
        fay = session.scalars(sa.select(Wait).join(Candidate).where(Candidate.name == "Fay")).one()
        fay.escalate_at = fay.escalate_at.replace(minute=59, second=59, microsecond=999_600)
        assert_counts_and_page_agree(session, NOW, fay.escalate_at, fay.escalate_at + dt.timedelta(seconds=1))

        # A candidate moved to another position takes their waits along; a wait deleted is no longer counted.
        aiko = session.get(Candidate, aiko.id)
        session.execute(
            sa.update(Candidate).where(Candidate.id == aiko.id).values(position_id=org["analyst"].id)
        )
        assert_counts_and_page_agree(session)
        session.execute(sa.delete(Wait).where(Wait.candidate_id == aiko.id, Wait.closed_at.is_(None)))
        assert_counts_and_page_agree(session)


def test_within_the_hour_of_a_deadline_the_page_counts_to_the_minute(session):
    with time_machine.travel(NOW, tick=False):
        org = answering_org(session)
        session.commit()
    fay = session.scalars(sa.select(Wait).join(Candidate).where(Candidate.name == "Fay")).one()
    due, warn = fay.due_at, fay.warn_at
    minute = dt.timedelta(minutes=1)
    # Before, at and after Fay's warning and deadline, within their hours and beyond them.
    instants = [warn - 30 * minute, warn - minute, warn, warn + minute, due - minute, due, due + minute]
    instants += [due + 61 * minute]
    assert_counts_and_page_agree(session, *instants)
    settings = org["settings"]
    states = {
        at: service.metrics(session, at, settings, service.MetricsFilters(SINCE, UNTIL)).open_states
        for at in (due - minute, due + minute)
    }
    assert states[due + minute]["overdue"] == states[due - minute]["overdue"] + 1


def test_an_upgrade_counts_the_open_waits_there_are(session):
    """The migration counts what is open; the counts then match (the suite's databases are built by
    the migrations, so deleting and refilling by the migration's statement is what an upgrade does)."""
    with time_machine.travel(NOW, tick=False):
        answering_org(session)
        session.commit()
    before = kept(session)
    assert sum(before.values()) == session.scalar(
        sa.select(sa.func.count()).select_from(Wait).where(Wait.closed_at.is_(None))
    )
    assert db.session.get_bind().dialect.name in ("sqlite", "postgresql")
