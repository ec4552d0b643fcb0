"""The candidates page: every candidate the viewer may see, answered ones too, found by name or
email whatever the case or accents, filtered, sorted and paged."""

from __future__ import annotations

import datetime as dt
import re

import pytest
import sqlalchemy as sa

from feedback_sla.database import db
from feedback_sla.models import Candidate, Status
from feedback_sla.waits import service
from feedback_sla.waits.clock import OrgSettings

from .factories import PositionFactory, UserFactory
from .helpers import logged_in as login

NOW = dt.datetime(2026, 11, 18, 15, 0, tzinfo=dt.UTC)
ORG = OrgSettings()


@pytest.fixture
def maria(session):
    user = UserFactory(name="Maria Lopez", time_zone="UTC")
    session.commit()
    return user


@pytest.fixture
def backend(session, maria):
    position = PositionFactory(title="Backend Engineer", manager=maria, time_zone="UTC")
    session.commit()
    return position


def add(session, position, name, email, days_ago=1):
    candidate = service.add_candidate(session, position, name, email, NOW - dt.timedelta(days=days_ago), ORG)
    session.commit()
    return candidate


#: A row's name: the cell after the row's checkbox (answering many at once).
ROW_NAME = re.compile(
    r'<tr data-candidate="\d+">\s*(?:<td><input [^>]*data-bulk-row></td>\s*)?'
    r'<td[^>]*><a href="[^"]+">([^<]+)</a>'
)


def listed(client, **args) -> list[str]:
    response = client.get("/candidates", query_string=args)
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    return re.findall(ROW_NAME, html)


def test_a_search_finds_a_rejected_candidate_whatever_the_case_and_accents(client, session, maria, backend):
    zoe = add(session, backend, "Zoë O'Brien", "zoe@example.com")
    add(session, backend, "Ana Okafor", "ana@example.com")
    zoe.status = Status.REJECTED
    session.commit()
    login(client, maria)
    assert listed(client, q="zoe") == ["Zoë O&#39;Brien"]
    assert listed(client, q="ZOË") == ["Zoë O&#39;Brien"]
    assert listed(client, q="o'brien") == ["Zoë O&#39;Brien"]
    assert listed(client, q="ana@EXAMPLE") == ["Ana Okafor"]
    assert listed(client, q="%") == []  # a wildcard is a character, not a pattern
    assert listed(client, status="rejected") == ["Zoë O&#39;Brien"]


def test_a_manager_sees_only_their_own_candidates_an_admin_everyone(client, session, maria, backend):
    jonas = UserFactory(name="Jonas Becker")
    admin = UserFactory(name="Avery Admin", role="admin")
    theirs = PositionFactory(title="Designer", manager=jonas)
    session.commit()
    add(session, backend, "Ana Okafor", "ana@example.com")
    add(session, theirs, "Ben Larsen", "ben@example.com")
    login(client, maria)
    assert listed(client) == ["Ana Okafor"]
    assert listed(client, position=theirs.id) == ["Ana Okafor"]  # another's position is ignored
    client.post("/logout")
    login(client, admin)
    assert listed(client) == ["Ana Okafor", "Ben Larsen"]
    assert listed(client, position=theirs.id) == ["Ben Larsen"]


def test_fifty_a_page_and_the_page_links_keep_the_search(client, session, maria, backend):
    for i in range(53):
        add(session, backend, f"Candidate {i:02d}", f"c{i}@example.com", days_ago=i % 9 + 1)
    login(client, maria)
    first = listed(client, q="candidate")
    assert len(first) == 50 and first[0] == "Candidate 00"
    assert listed(client, q="candidate", page=2) == ["Candidate 50", "Candidate 51", "Candidate 52"]
    html = client.get("/candidates", query_string={"q": "candidate"}).get_data(as_text=True)
    assert "Page 1 of 2" in html and "53 candidates" in html
    assert re.search(r'href="/candidates\?q=candidate&amp;page=2"', html)
    assert listed(client, q="candidate", page=99) == listed(client, q="candidate", page=2)  # the last page
    assert listed(client, sort="name", order="desc")[:2] == ["Candidate 52", "Candidate 51"]


def test_sorting_by_the_answer_due_puts_those_nobody_owes_last(client, session, maria, backend):
    old = add(session, backend, "Old Applicant", "old@example.com", days_ago=6)
    add(session, backend, "New Applicant", "new@example.com", days_ago=1)
    answered = add(session, backend, "Answered Applicant", "done@example.com", days_ago=3)
    service.log_contact(session, answered, "phone", NOW)
    session.commit()
    login(client, maria)
    assert listed(client, sort="due") == ["Old Applicant", "New Applicant", "Answered Applicant"]
    assert listed(client, sort="applied") == ["Old Applicant", "Answered Applicant", "New Applicant"]
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Candidate)) == 3
    assert old.id


def test_nonsense_in_the_query_string_is_ignored_not_an_error(client, session, maria, backend):
    add(session, backend, "Ana Okafor", "ana@example.com")
    login(client, maria)
    weird = {"page": "-1", "sort": "drop table", "status": "nope", "stage": "x", "position": "9" * 30}
    assert listed(client, **weird) == ["Ana Okafor"]
    assert listed(client, q="a" * 5_000) == []
