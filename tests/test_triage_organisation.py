"""The whole organisation's triage list, read from one index, lists what the filtered list lists.

The organisation-wide list counts and pages its open waits from ``ix_waits_listed_due`` and the
``candidate_active`` flag the database keeps; a list filtered to managers goes through candidates
and positions. Both must show the same rows in the same order, page by page, in every state and
every sort, whatever happened to the candidates (a decision queued and undone, a withdrawal).
"""

from __future__ import annotations

import datetime as dt
import random
import re

import pytest
import sqlalchemy as sa
import time_machine

from feedback_sla.candidates.models import Candidate, Status
from feedback_sla.triage.service import EVERYONE, TriageSort, triage
from feedback_sla.waits import service
from feedback_sla.waits.clock import OrgSettings, State
from feedback_sla.waits.models import Wait
from feedback_sla.waits.queries import PAGE_SIZE, Filters

from .factories import PASSWORD, PositionFactory, UserFactory

NOW = dt.datetime(2026, 3, 18, 15, 0, tzinfo=dt.UTC)  # a Wednesday


@pytest.fixture
def organisation(session):
    """Three managers, 140 waiting candidates opened over five weeks, some followed up."""
    rng = random.Random(7)
    managers = [UserFactory() for _ in range(3)]
    positions = [
        PositionFactory(manager=m, time_zone=zone)
        for m in managers
        for zone in ("UTC", "Asia/Tokyo", "America/New_York")
    ]
    settings = OrgSettings()
    candidates = []
    for i in range(140):
        opened = NOW - dt.timedelta(hours=rng.randrange(1, 24 * 35))
        candidate = service.add_candidate(
            session, rng.choice(positions), f"Cand {i:03d}", f"c{i}@example.com", opened, settings
        )
        if i % 9 == 0:
            service.followed_up(session, candidate, opened + dt.timedelta(hours=1), settings)
        candidates.append(candidate)
    session.commit()
    return [m.id for m in managers], candidates


def _every_page(session, filters: Filters, state: State | None, sort: TriageSort) -> list[tuple]:
    first = triage(session, NOW, OrgSettings(), filters, state, sort=sort)
    rows = list(first.rows)
    for page in range(2, first.pages + 1):
        rows += triage(session, NOW, OrgSettings(), filters, state, sort=sort, page=page).rows
    assert len(rows) == first.shown
    return [(r.wait_id, r.state) for r in rows]


def _same_lists(session, manager_ids: list[int]) -> None:
    everyone_by_manager = Filters(manager_ids=tuple(manager_ids))
    for sort in TriageSort:
        for state in (None, *State):
            wide = _every_page(session, EVERYONE, state, sort)
            narrow = _every_page(session, everyone_by_manager, state, sort)
            if sort == TriageSort.NAME:
                assert sorted(wide) == sorted(narrow), (sort, state)
            else:
                assert wide == narrow, (sort, state)
    wide = triage(session, NOW, OrgSettings(), EVERYONE)
    assert wide.counts == triage(session, NOW, OrgSettings(), everyone_by_manager).counts


def test_the_organisation_list_pages_as_the_filtered_one_in_every_state_and_sort(session, organisation):
    manager_ids, _ = organisation
    result = triage(session, NOW, OrgSettings(), EVERYONE)
    assert result.total == 140 and result.pages == 3
    assert sum(1 for count in result.counts.values() if count) >= 3  # the pages cross states
    _same_lists(session, manager_ids)


def test_a_page_past_the_last_shows_the_last(session, organisation):
    last = triage(session, NOW, OrgSettings(), EVERYONE, page=99)
    assert last.page == 3 and len(last.rows) == 140 - 2 * PAGE_SIZE


def test_a_candidate_who_leaves_the_list_leaves_it_everywhere(session, organisation):
    """A rejection queued (the candidate's status changes while the wait stays open until it is
    sent) takes the candidate off both lists; its undo brings them back; a withdrawal closes."""
    manager_ids, candidates = organisation
    rejected, withdrawn = candidates[3], candidates[4]
    rejected.status = Status.REJECTED
    service.withdraw(session, withdrawn, NOW, None)
    session.commit()
    listed = session.scalar(sa.select(Wait.candidate_active).where(Wait.candidate_id == rejected.id))
    assert listed is False
    ids = {r.candidate_id for r in triage(session, NOW, OrgSettings(), EVERYONE, page=1).rows}
    ids |= {
        r.candidate_id for p in (2, 3) for r in triage(session, NOW, OrgSettings(), EVERYONE, page=p).rows
    }
    assert rejected.id not in ids and withdrawn.id not in ids and len(ids) == 138
    _same_lists(session, manager_ids)

    session.get(Candidate, rejected.id).status = Status.ACTIVE  # the rejection undone
    session.commit()
    assert triage(session, NOW, OrgSettings(), EVERYONE).total == 139
    _same_lists(session, manager_ids)


def test_a_wait_opened_for_a_candidate_who_is_not_active_is_not_listed(session, organisation):
    _, candidates = organisation
    offered = candidates[5]
    service.close_with_status(session, offered, Status.OFFERED, NOW)
    session.commit()
    session.add(
        Wait(
            candidate_id=offered.id,
            reason="decision",
            opened_at=NOW,
            warn_at=NOW,
            due_at=NOW,
            escalate_at=NOW,
            policy_days=3,
        )
    )
    session.commit()
    assert (
        session.scalar(
            sa.select(Wait.candidate_active).where(Wait.closed_at.is_(None), Wait.candidate_id == offered.id)
        )
        is False
    )
    assert triage(session, NOW, OrgSettings(), EVERYONE).total == 139


def test_next_and_previous_pages_from_a_cursor_are_the_numbered_pages(session, organisation):
    """Deep pages are read from where the last page ended, not counted through from the first:
    following Next from page 1 and Previous from the last gives the numbered pages exactly."""
    settings = OrgSettings()
    for state in (None, State.ESCALATED):
        first = triage(session, NOW, settings, EVERYONE, state)
        numbered = [first] + [
            triage(session, NOW, settings, EVERYONE, state, page=p) for p in range(2, first.pages + 1)
        ]
        page = first
        for expected in numbered[1:]:
            page = triage(session, NOW, settings, EVERYONE, state, page=page.page + 1, after=page.next_cursor)
            assert [r.wait_id for r in page.rows] == [r.wait_id for r in expected.rows]
        for expected in reversed(numbered[:-1]):
            page = triage(
                session, NOW, settings, EVERYONE, state, page=page.page - 1, before=page.previous_cursor
            )
            assert page.page == expected.page
            assert [r.wait_id for r in page.rows] == [r.wait_id for r in expected.rows]


def test_the_pages_links_carry_the_cursor_and_a_forged_one_is_ignored(client, session, organisation):
    admin = UserFactory(role="admin")
    session.commit()
    with time_machine.travel(NOW, tick=False):
        client.post("/login", data={"email": admin.email, "password": PASSWORD})
        first = client.get("/").get_data(as_text=True)
        following = re.search(r'rel="next" href="([^"]+)"', first).group(1).replace("&amp;", "&")
        assert "after=" in following and "page=2" in following
        second = client.get(following).get_data(as_text=True)
        expected = triage(session, NOW, OrgSettings(), EVERYONE, page=2).rows
        assert _ids(second) == [r.candidate_id for r in expected]
        back = re.search(r'rel="prev" href="([^"]+)"', second).group(1).replace("&amp;", "&")
        assert "before=" in back and "after=" not in back
        assert _ids(client.get(back).get_data(as_text=True)) == _ids(first)
        for forged in ("9.1.1", "0.99999999999999999999.1", "x", "1.-5.2", "0.1.99999999999"):
            response = client.get(f"/?page=2&after={forged}")
            assert response.status_code == 200
            assert _ids(response.get_data(as_text=True)) == [r.candidate_id for r in expected]


def _ids(html: str) -> list[int]:
    return [int(i) for i in re.findall(r'data-candidate-id="(\d+)"', html)]
