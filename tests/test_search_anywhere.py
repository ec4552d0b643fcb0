"""Search from anywhere: the top bar's box finds a candidate by name or email, accents ignored, from
every signed-in page, and shows a manager only their own candidates."""

from __future__ import annotations

import datetime as dt
import re

import pytest
import time_machine

from feedback_sla.waits import service
from feedback_sla.waits.clock import OrgSettings

from .factories import PositionFactory, UserFactory
from .helpers import logged_in as login

NOW = dt.datetime(2026, 11, 18, 15, 0, tzinfo=dt.UTC)

#: The top bar's search form: where it sends the words typed, and the field they go in.
TOP_BAR_SEARCH = re.compile(
    r'<form class="nav-search[^"]*" method="get" action="(?P<action>[^"]+)"\s+role="search"[^>]*>'
    r'.*?<input id="nav-q" name="(?P<field>[^"]+)"',
    re.S,
)


@pytest.fixture
def people(session):
    maria = UserFactory(name="Maria Lopez", time_zone="UTC")
    omar = UserFactory(name="Omar Haddad", time_zone="UTC")
    backend = PositionFactory(title="Backend Engineer", manager=maria, time_zone="UTC")
    design = PositionFactory(title="Product Designer", manager=omar, time_zone="UTC")
    for position, name, email in (
        (backend, "Zoë O'Brien", "zoe@example.com"),
        (backend, "Ana Okafor", "ana@example.com"),
        (design, "Zoe Zhang", "zhang@example.org"),
    ):
        service.add_candidate(session, position, name, email, NOW - dt.timedelta(days=2), OrgSettings())
    session.commit()
    return maria, omar


def top_bar_search(client, path: str) -> tuple[str, str]:
    response = client.get(path)
    assert response.status_code == 200, path
    found = TOP_BAR_SEARCH.search(response.get_data(as_text=True))
    assert found, f"no search box in the top bar of {path}"
    return found["action"], found["field"]


@time_machine.travel(NOW, tick=False)
@pytest.mark.parametrize("path", ["/", "/candidates", "/positions", "/metrics", "/account/settings"])
def test_every_signed_in_page_has_the_search_box(client, people, path):
    login(client, people[0])
    assert top_bar_search(client, path) == ("/candidates", "q")


@time_machine.travel(NOW, tick=False)
def test_the_sign_in_page_has_none(client, people):
    assert "nav-q" not in client.get("/login").get_data(as_text=True)


@time_machine.travel(NOW, tick=False)
def test_a_manager_finds_their_candidate_without_accents_and_never_another_managers(client, people):
    maria, omar = people
    login(client, maria)
    action, field = top_bar_search(client, "/")
    page = client.get(action, query_string={field: "zoe"}).get_data(as_text=True)
    assert "Zoë O&#39;Brien" in page
    assert "Zoe Zhang" not in page  # Omar's candidate
    page = client.get(action, query_string={field: "ANA@example"}).get_data(as_text=True)
    assert "Ana Okafor" in page


@time_machine.travel(NOW, tick=False)
def test_an_admin_finds_every_managers_candidates(client, session, people):
    admin = UserFactory(name="Ada Admin", time_zone="UTC", role="admin")
    session.commit()
    login(client, admin)
    action, field = top_bar_search(client, "/metrics")
    page = client.get(action, query_string={field: "zoe"}).get_data(as_text=True)
    assert "Zoë O&#39;Brien" in page and "Zoe Zhang" in page
