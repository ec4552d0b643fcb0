"""The layout every page shares: the menu with the page the reader is on marked for screen
readers, the admin menu for admins only, and every address of the layout under the root the app
is served from (the menus are routed once for each root, not once a page)."""

from __future__ import annotations

import datetime as dt
import re

import pytest
import time_machine

from feedback_sla.models import Role

from .factories import UserFactory
from .helpers import logged_in

NOW = dt.datetime(2026, 11, 25, 15, 0, tzinfo=dt.UTC)


@pytest.fixture(autouse=True)
def clock():
    with time_machine.travel(NOW, tick=False):
        yield


def navigation(html: str) -> str:
    return html[html.index("<nav") : html.index("</nav>")]


def addresses(html: str) -> list[str]:
    """Every address the layout links to: the menus, the stylesheets and the scripts."""
    layout = navigation(html) + html[: html.index("<body")] + html[html.index("</main>") :]
    return re.findall(r'(?:href|src|action)="([^"#]+)"', layout)


def test_the_menu_marks_the_page_the_reader_is_on_and_no_other(client, session):
    logged_in(client, UserFactory())

    menu = navigation(client.get("/positions").get_data(as_text=True))

    assert '<a class="nav-link active" aria-current="page" href="/positions">Positions</a>' in menu
    assert '<a class="nav-link" href="/">Triage</a>' in menu
    assert '<a class="nav-link" href="/candidates">Candidates</a>' in menu
    assert menu.count('aria-current="page"') == 1
    assert "Admin</summary>" not in menu
    menu = navigation(client.get("/candidates").get_data(as_text=True))
    assert '<a class="nav-link active" aria-current="page" href="/candidates">Candidates</a>' in menu
    assert '<a class="nav-link" href="/positions">Positions</a>' in menu


def test_an_admin_has_the_admin_menu_with_the_page_they_are_on(client, session):
    logged_in(client, UserFactory(role=Role.ADMIN))

    menu = navigation(client.get("/admin/users").get_data(as_text=True))

    assert '<summary class="nav-link active">Admin</summary>' in menu
    assert '<li><a href="/admin/users" aria-current="page">Users</a></li>' in menu
    assert '<li><a href="/admin/settings">Settings</a></li>' in menu
    assert menu.count('aria-current="page"') == 1


def test_served_under_a_prefix_every_address_of_the_layout_carries_it(client, session):
    logged_in(client, UserFactory())

    prefixed = client.get("/positions", base_url="http://localhost/hiring").get_data(as_text=True)
    at_the_root = client.get("/positions").get_data(as_text=True)

    assert addresses(prefixed) and all(a.startswith("/hiring/") for a in addresses(prefixed))
    assert '<link rel="stylesheet" href="/hiring/static/app.css">' in prefixed
    assert '<form method="post" action="/hiring/logout">' in prefixed
    assert addresses(at_the_root) == [a.removeprefix("/hiring") for a in addresses(prefixed)]
