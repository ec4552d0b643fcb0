"""The metrics page: the summary table, three SVG charts, who sees what, bad filters, query count."""

from __future__ import annotations

import datetime as dt
import re
import xml.etree.ElementTree as ET
from html.parser import HTMLParser

import pytest
import time_machine

from feedback_sla.metrics import service as metrics
from feedback_sla.models import ContactChannel, Role
from feedback_sla.reports.summary import GroupBy
from feedback_sla.settings import service as settings_service
from feedback_sla.waits import service
from feedback_sla.waits.clock import State

from .factories import PositionFactory, UserFactory
from .helpers import count_statements, ny
from .helpers import logged_in as login
from .organisations import answering_org

SVG = "{http://www.w3.org/2000/svg}"


#: Friday 13 November 2026, noon in New York. The organisation's zone is UTC, so the default
#: period runs from Monday 24 August through Friday 13 November 2026 (12 weeks).
NOW = ny(2026, 11, 13, 12)


@pytest.fixture
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def org(session, frozen):
    """The report's organisation (``answering_org``), an admin, and two more open waits of Maria's:
    Lea, due today at 18:00 (due soon), and Kim, who applied in August before the period began
    (escalated: waiting over 14 days).
    """
    org = answering_org(session)
    admin = UserFactory(email="hr@example.com", name="Hana HR", role=Role.ADMIN)
    for name, applied_at in (("Lea", ny(2026, 11, 5, 9)), ("Kim", ny(2026, 8, 3, 9))):
        email = f"{name.lower()}@example.com"
        service.add_candidate(session, org["designer"], name, email, applied_at, org["settings"])
    session.commit()
    return {**org, "admin": admin}


class Page(HTMLParser):
    """The summary table's figures by (row, figure), and the page's SVG charts parsed as XML."""

    def __init__(self, html: str):
        super().__init__()
        self.html = html
        self.figures: dict[tuple[str, str], str] = {}
        self._row: str | None = None
        self._cell: str | None = None
        self._text: list[str] = []
        self.feed(html)
        # Our own page's markup, parsed as XML: each chart must be well-formed SVG.
        fragments = re.findall(r"<svg\b.*?</svg>", html, re.DOTALL)
        self.svgs = {svg.get("id"): svg for svg in map(ET.fromstring, fragments)}  # noqa: S314

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "tr":
            self._row = attrs.get("data-group")
        elif "data-figure" in attrs and self._row is not None:
            self._cell, self._text = attrs["data-figure"], []

    def handle_data(self, data):
        if self._cell is not None:
            self._text.append(data)

    def handle_endtag(self, tag):
        if self._cell is not None and tag in ("td", "th"):
            self.figures[(self._row, self._cell)] = " ".join("".join(self._text).split())
            self._cell = None

    def row(self, group) -> tuple[str, ...]:
        names = ("waits", "answered", "median_days", "p90_days", "within_deadline", "open_now", "overdue_now")
        return tuple(self.figures[(str(group), name)] for name in names)

    @property
    def groups(self) -> list[str]:
        return list(dict.fromkeys(row for row, _ in self.figures))

    def values(self, chart_id: str) -> dict[str, str]:
        """The value labels of one chart, by what they measure."""
        return {
            text.get("data-value"): text.text
            for text in self.svgs[chart_id].iter(f"{SVG}text")
            if text.get("data-value")
        }


def get_page(client, query: str = "") -> Page:
    response = client.get(f"/metrics{query}")
    assert response.status_code == 200, response.get_data(as_text=True)
    return Page(response.get_data(as_text=True))


def test_admin_sees_every_manager_with_the_known_figures(client, org):
    login(client, org["admin"])
    page = get_page(client)

    assert 'value="2026-08-24"' in page.html and 'value="2026-11-13"' in page.html
    maria, jonas = org["maria"].id, org["jonas"].id
    assert page.groups == [str(jonas), str(maria), "all"]
    assert page.figures[(str(maria), "name")] == "Maria Lopez maria@example.com"
    # Jonas: 2 answered in time; Ivan is past his deadline: 2 of 3 decided in time.
    assert page.row(jonas) == ("3", "2", "0", "5", "66.7%", "1", "1")
    # Maria: Eve's answer came late and Fay is overdue: 4 of 6 decided. Kim opened in August.
    assert page.row(maria) == ("8", "5", "2", "7", "66.7%", "3", "1")
    # Over everyone: days 0, 1, 2, 2, 4, 5, 7: median 2, 90th percentile 7; 6 of 9 in time.
    assert page.row("all") == ("11", "7", "2", "7", "66.7%", "4", "2")


def test_the_three_charts_carry_their_numbers_as_text(client, org):
    login(client, org["admin"])
    page = get_page(client)

    assert set(page.svgs) == {"chart-weekly", "chart-days", "chart-states"}
    for svg in page.svgs.values():
        assert svg.get("role") == "img"
        assert svg.find(f"{SVG}title").text and svg.find(f"{SVG}desc").text
        labelled_by = svg.get("aria-labelledby").split()
        assert labelled_by == [f"{svg.get('id')}-title", f"{svg.get('id')}-desc"]

    weekly = page.values("chart-weekly")
    assert len(weekly) == 12
    assert weekly["week-2026-10-12"] == "100% (1 of 1)"  # Jade
    assert weekly["week-2026-11-02"] == "62.5% (5 of 8)"  # Lea is open and not late yet
    assert weekly["week-2026-11-09"] == "none decided yet"  # Gil
    assert weekly["week-2026-08-24"] == "no waits"

    days = page.values("chart-days")
    assert days == {
        f"days-{d}": str(n)
        for d, n in {
            "0": 1,
            "1": 1,
            "2": 2,
            "3": 0,
            "4": 1,
            "5": 1,
            "6": 0,
            "7": 1,
            "8": 0,
            "9": 0,
            "10+": 0,
        }.items()
    }
    axis = [t.text for t in page.svgs["chart-days"].iter(f"{SVG}text") if not t.get("data-value")]
    assert axis[-12:] == [*map(str, range(10)), "10+", "business days to answer"]

    # Every open wait, whenever it opened: Kim (August) is escalated with Ivan.
    assert page.values("chart-states") == {
        "state-escalated": "2",
        "state-overdue": "1",
        "state-due_soon": "1",
        "state-on_track": "1",
    }
    states = [t.text for t in page.svgs["chart-states"].iter(f"{SVG}text") if not t.get("data-value")]
    assert states == ["Escalated", "Overdue", "Due soon", "On track"]
    # Distinct patterns, not only colours, tell the states apart.
    patterns = page.svgs["chart-states"].findall(f"{SVG}defs/{SVG}pattern")
    assert len(patterns) == 4


def test_screen_readers_get_the_same_numbers_in_tables(client, org):
    login(client, org["admin"])
    html = get_page(client).html

    weekly = re.search(r'<table class="visually-hidden" id="table-weekly">.*?</table>', html, re.DOTALL)
    assert re.search(
        r"<th scope=\"row\">2 Nov 2026</th><td>9</td><td>8</td><td>5</td><td>62.5%</td>", weekly.group(0)
    )
    days = re.search(r'id="table-days">.*?</table>', html, re.DOTALL).group(0)
    assert '<th scope="row">2</th><td>2</td>' in days
    states = re.search(r'id="table-states">.*?</table>', html, re.DOTALL).group(0)
    assert '<th scope="row">Escalated</th><td>2</td>' in states


def test_no_inline_style_or_script_in_the_page(client, org):
    """The CSP forbids inline styles and scripts: the charts use presentation attributes."""
    login(client, org["admin"])
    response = client.get("/metrics")

    html = response.get_data(as_text=True)
    assert "style=" not in html and "<style" not in html
    assert all(" src=" in tag for tag in re.findall(r"<script\b[^>]*>", html))
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]


def test_a_manager_sees_only_their_own_figures(client, org):
    login(client, org["maria"])
    # The manager argument belongs to admins: a manager asking for Jonas still gets their own.
    page = get_page(client, f"?manager={org['jonas'].id}")

    assert page.groups == [str(org["maria"].id)]
    assert page.row(org["maria"].id) == ("8", "5", "2", "7", "66.7%", "3", "1")
    assert "jonas@example.com" not in page.html and "Jonas Berg" not in page.html
    assert 'name="manager"' not in page.html
    assert page.values("chart-states") == {
        "state-escalated": "1",
        "state-overdue": "1",
        "state-due_soon": "1",
        "state-on_track": "1",
    }
    assert page.values("chart-days")["days-0"] == "0"  # Hana's 0 days were Jonas's

    by_position = get_page(client, "?by=position")
    assert by_position.groups == [str(org["backend"].id), str(org["designer"].id), "all"]
    assert by_position.figures[(str(org["backend"].id), "name")] == "Backend Engineer"
    assert by_position.row(org["backend"].id) == ("6", "5", "2", "7", "66.7%", "1", "1")
    assert by_position.row(org["designer"].id) == ("2", "0", "n/a", "n/a", "n/a", "2", "0")


def test_an_admin_can_pick_one_manager(client, org):
    login(client, org["admin"])
    page = get_page(client, f"?manager={org['jonas'].id}")

    assert page.groups == [str(org["jonas"].id)]
    assert page.row(org["jonas"].id) == ("3", "2", "0", "5", "66.7%", "1", "1")
    # The picker's field shows whom the figures are of (a text field: no list of every user).
    assert re.search(
        r'<input id="m-manager" name="manager" type="search"[^>]* value="jonas@example.com"', page.html
    )
    assert '<option value="jonas@example.com">Jonas Berg</option>' in page.html
    assert page.values("chart-states")["state-escalated"] == "1"
    assert page.values("chart-days") == {
        f"days-{d}": ("1" if d in ("0", "5") else "0") for d in [*map(str, range(10)), "10+"]
    }


def test_a_chosen_period(client, org):
    login(client, org["admin"])
    page = get_page(client, "?since=2026-10-01&until=2026-10-31")

    assert page.groups == [str(org["jonas"].id)]
    assert page.row(org["jonas"].id) == ("1", "1", "5", "5", "100%", "0", "0")
    assert list(page.values("chart-weekly")) == [
        "week-2026-09-28",
        "week-2026-10-05",
        "week-2026-10-12",
        "week-2026-10-19",
        "week-2026-10-26",
    ]
    # The backlog is today's, whatever the period.
    assert page.values("chart-states")["state-escalated"] == "2"


def test_a_period_without_waits(client, org):
    login(client, org["maria"])
    page = get_page(client, "?since=2025-01-06&until=2025-01-31")

    assert "No wait opened in this period." in page.html
    assert set(page.values("chart-days").values()) == {"0"}
    assert set(page.values("chart-weekly").values()) == {"no waits"}


@pytest.mark.parametrize(
    ("query", "field", "message"),
    [
        ("?since=2026-13-01", "since", "since: '2026-13-01' is not an ISO 8601 date (e.g. 2026-11-20)"),
        ("?until=yesterday", "until", "until: 'yesterday' is not an ISO 8601 date (e.g. 2026-11-20)"),
        ("?since=2026-11-10&until=2026-11-01", "until", "until: 2026-11-01 is before since (2026-11-10)"),
        ("?since=2024-01-01&until=2026-01-01", "since", "the page shows at most 53"),
        ("?by=team", "by", "by: 'team' is not one of manager, position"),
        ("?manager=9999", "manager", "manager: no hiring manager with id '9999'"),
        ("?manager=x", "manager", "manager: no hiring manager with id 'x'"),
    ],
)
def test_a_bad_filter_gets_a_clear_message(client, org, query, field, message):
    login(client, org["admin"])
    response = client.get(f"/metrics{query}")

    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert f'data-error-field="{field}"' in html
    assert message.replace("'", "&#39;") in html
    assert "<svg" not in html


def test_names_are_escaped(client, session, frozen):
    settings = settings_service.load(session)
    admin = UserFactory(role=Role.ADMIN)
    evil = UserFactory(name="<script>alert(1)</script>", email="evil@example.com")
    position = PositionFactory(title='"><img src=x onerror=alert(2)>', manager=evil)
    service.add_candidate(session, position, "Zed", "zed@example.com", NOW - dt.timedelta(days=1), settings)
    login(client, admin)

    for query in ("", "?by=position", f"?manager={evil.id}"):
        html = get_page(client, query).html
        assert "<script>alert(1)" not in html and "<img src=x" not in html
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "&#34;&gt;&lt;img src=x onerror=alert(2)&gt;" in get_page(client, "?by=position").html


def test_unauthenticated_visitors_are_sent_to_login(client):
    response = client.get("/metrics")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def _managers_with_waits(session, count: int, start: int) -> None:
    settings = settings_service.load(session)
    for i in range(start, start + count):
        position = PositionFactory(manager=UserFactory())
        for j in range(3):
            candidate = service.add_candidate(
                session,
                position,
                f"C{i}-{j}",
                f"c{i}-{j}@example.com",
                NOW - dt.timedelta(days=7 * j + i),
                settings,
            )
            if j:
                service.log_contact(
                    session, candidate, ContactChannel.PHONE, NOW - dt.timedelta(days=7 * j + i - 2)
                )
    session.commit()


@pytest.mark.parametrize("by", ["manager", "position"])
def test_same_statement_count_for_1_and_5_managers(client, session, frozen, by):
    admin = UserFactory(role=Role.ADMIN)
    login(client, admin)
    _managers_with_waits(session, 1, 0)
    client.get("/metrics")
    with count_statements() as one:
        page = get_page(client, f"?by={by}")
    assert len(page.groups) == 1

    _managers_with_waits(session, 4, 1)
    with count_statements() as five:
        page = get_page(client, f"?by={by}")
    assert len(page.groups) == 6  # five and the total
    assert len(five) == len(one), (one, five)


def test_parse_filters_defaults_and_manager_scope():
    today = dt.date(2026, 11, 13)
    assert metrics.parse_filters({}, today) == metrics.MetricsFilters(
        dt.date(2026, 8, 24), today, GroupBy.MANAGER, None
    )
    # Only a start: through today, or through that day when it lies ahead.
    assert metrics.parse_filters({"since": "2026-11-01"}, today).until == today
    assert metrics.parse_filters({"since": "2026-12-01"}, today).until == dt.date(2026, 12, 1)
    # Only an end: the 12 weeks up to it.
    assert metrics.parse_filters({"until": "2026-06-30"}, today).since == dt.date(2026, 4, 13)
    # A manager's own id wins over the argument; an admin's choice must be a known manager.
    assert metrics.parse_filters({"manager": "7"}, today, own_manager_id=3).manager_id == 3
    assert metrics.parse_filters({"manager": "7"}, today, manager_ids=[7]).manager_id == 7
    assert metrics.parse_filters({"manager": ""}, today, manager_ids=[7]).manager_id is None
    # A year from any weekday fits.
    assert len(metrics.parse_filters({"since": "2025-01-01", "until": "2025-12-31"}, today).weeks) == 53


def test_open_by_state_counts_in_sql(session, org):
    settings = settings_service.load(session)
    counts = metrics.open_by_state(session, NOW, settings)
    assert counts == {State.ESCALATED: 2, State.OVERDUE: 1, State.DUE_SOON: 1, State.ON_TRACK: 1}
    assert list(counts) == [State.ESCALATED, State.OVERDUE, State.DUE_SOON, State.ON_TRACK]
    # Two days later Lea's deadline has passed and Fay has waited over 14 days.
    later = metrics.open_by_state(session, ny(2026, 11, 17, 12), settings, org["maria"].id)
    assert later == {State.ESCALATED: 2, State.OVERDUE: 1, State.DUE_SOON: 0, State.ON_TRACK: 1}
