"""Positions in the browser: list, create, edit (deadlines move), close, and who may touch what."""

from __future__ import annotations

import datetime as dt
import re

import pytest
import sqlalchemy as sa

from feedback_sla.database import db
from feedback_sla.models import Candidate, ContactChannel, Position, Role
from feedback_sla.waits import service as candidates
from feedback_sla.waits.clock import OrgSettings
from feedback_sla.waits.models import Wait
from feedback_sla.waits.queries import waiting_per_position

from .factories import PositionFactory, UserFactory
from .helpers import BERLIN, field_errors, ny, text
from .helpers import logged_in as login

SETTINGS = OrgSettings()


@pytest.fixture
def manager():
    return UserFactory(name="Ada Manager", time_zone="America/New_York")


@pytest.fixture
def other_manager():
    return UserFactory(name="Bo Other", time_zone="Europe/Berlin")


@pytest.fixture
def admin():
    return UserFactory(name="Ann Admin", role=Role.ADMIN)


@pytest.fixture
def position(manager):
    return PositionFactory(manager=manager, title="Backend engineer", time_zone="America/New_York")


def apply(session, position, n: int, *, at=None) -> list:
    """``n`` applicants, each with an open application wait (opened Monday 16 Nov 2026, 09:00 NY)."""
    people = [
        candidates.add_candidate(
            session,
            position,
            f"Applicant {i}",
            f"a{i}-{position.id}@example.com",
            at or ny(2026, 11, 16, 9),
            SETTINGS,
        )
        for i in range(n)
    ]
    session.commit()
    return people


def open_due_dates(session, position) -> list[dt.datetime]:
    return list(
        session.scalars(
            sa.select(Wait.due_at)
            .join(Candidate, Wait.candidate_id == Candidate.id)
            .where(Candidate.position_id == position.id, Wait.closed_at.is_(None))
        )
    )


# --- creating ------------------------------------------------------------------------------


def test_a_manager_creates_a_position_that_is_theirs_whatever_manager_they_post(
    client, session, manager, other_manager
):
    session.commit()
    login(client, manager)
    page = client.get("/positions/new")
    assert page.status_code == 200
    assert 'name="manager_id"' not in text(page)  # managers are not offered the choice
    assert '<option selected value="America/New_York">' in text(page)  # their own zone first
    assert "The hiring manager's time zone" not in text(page)

    response = client.post(
        "/positions/new",
        data={
            "title": "Data analyst",
            "time_zone": "Europe/Lisbon",
            "manager_id": other_manager.id,
            "application": "7",
            "decision": "",
            "follow_up": " ",
        },
    )
    assert response.status_code == 302

    created = session.scalars(sa.select(Position)).one()
    assert created.title == "Data analyst"
    assert created.manager_id == manager.id
    assert created.time_zone == "Europe/Lisbon"
    assert created.policy_overrides == {"application": 7}
    assert created.is_open


def test_an_admin_chooses_the_hiring_manager(client, session, admin, manager):
    session.commit()
    login(client, admin)
    page = text(client.get("/positions/new"))
    assert "Ada Manager" in page and 'name="manager_id"' in page

    assert '<option selected value="">The hiring manager\'s time zone</option>' in page

    response = client.post(
        "/positions/new",
        data={"title": "Designer", "time_zone": "", "manager_id": manager.id},
        follow_redirects=True,
    )
    assert "Position Designer created." in text(response)
    created = session.scalars(sa.select(Position)).one()
    assert created.manager_id == manager.id
    assert created.time_zone == "America/New_York"  # the manager's, not the admin's UTC
    assert created.policy_overrides == {}


def test_a_disabled_user_cannot_be_chosen_as_hiring_manager(client, session, admin):
    gone = UserFactory(active=False)
    session.commit()
    login(client, admin)
    assert f'value="{gone.id}"' not in text(client.get("/positions/new"))
    response = client.post(
        "/positions/new", data={"title": "Designer", "time_zone": "UTC", "manager_id": gone.id}
    )
    assert response.status_code == 422
    assert session.scalar(sa.select(sa.func.count()).select_from(Position)) == 0


@pytest.mark.parametrize(
    ("field", "value", "reason"),
    [
        (
            "time_zone",
            "Mars/Olympus",
            "unknown time zone 'Mars/Olympus' (use an IANA name such as Europe/Berlin)",
        ),
        ("application", "0", "business days must be between 1 and 90, got 0"),
        ("decision", "three", "'three' is not a whole number of business days"),
        ("title", "   ", "This field is required."),
    ],
)
def test_bad_input_is_refused_on_its_field_and_nothing_is_created(
    client, session, manager, field, value, reason
):
    session.commit()
    login(client, manager)
    data = {"title": "Data analyst", "time_zone": "UTC", field: value}
    response = client.post("/positions/new", data=data)
    assert response.status_code == 422
    page = text(response)
    assert field_errors(page, field) == [reason]
    assert session.scalar(sa.select(sa.func.count()).select_from(Position)) == 0


# --- listing -------------------------------------------------------------------------------


def test_the_list_shows_the_viewers_positions_with_their_waiting_candidates(
    client, session, manager, other_manager, position
):
    theirs = PositionFactory(manager=other_manager, title="Their position")
    quiet = PositionFactory(manager=manager, title="Quiet position")
    people = apply(session, position, 3)
    apply(session, theirs, 2)
    candidates.log_contact(session, people[0], ContactChannel.PHONE, ny(2026, 11, 17, 9), manager, "Called")
    session.commit()

    login(client, manager)
    page = text(client.get("/positions"))
    assert "Their position" not in page
    assert re.search(rf'data-position="{position.id}".*?data-waiting="2"', page, re.S)
    assert re.search(rf'data-position="{quiet.id}".*?data-waiting="0"', page, re.S)
    assert "Hiring manager" not in page  # a manager's list does not repeat their own name


def test_an_admin_sees_every_position_with_its_manager(client, session, admin, position, other_manager):
    PositionFactory(manager=other_manager, title="Their position")
    session.commit()
    login(client, admin)
    page = text(client.get("/positions"))
    assert "Backend engineer" in page and "Their position" in page
    assert "Ada Manager" in page and "Bo Other" in page


def count_statements(client, url: str) -> int:
    statements = []

    def record(*_args):
        statements.append(1)

    sa.event.listen(db.engine, "before_cursor_execute", record)
    try:
        assert client.get(url).status_code == 200
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", record)
    return len(statements)


def test_the_list_costs_the_same_number_of_queries_for_2_and_for_20_positions(client, session, admin):
    session.commit()
    login(client, admin)

    def add_positions(n):
        for _ in range(n):
            apply(session, PositionFactory(manager=UserFactory()), 2)

    add_positions(2)
    few = count_statements(client, "/positions")
    add_positions(18)
    many = count_statements(client, "/positions")
    assert text(client.get("/positions")).count('data-waiting="2"') == 20
    assert few == many


def _titles(html: str) -> list[str]:
    return re.findall(r'data-position="\d+">\s*<td class="text-break">([^<]*)', html)


def test_the_list_shows_50_positions_a_page_with_links_that_keep_the_filter(client, session, admin):
    for i in range(120):
        PositionFactory(title=f"Role {i:03d}", is_open=i % 4 != 0)  # 90 open, 30 closed
    login(client, admin)

    first = client.get("/positions?show=all").get_data(as_text=True)
    assert _titles(first) == [f"Role {i:03d}" for i in range(120) if i % 4][:50]
    assert 'data-total="120"' in first and "Page 1 of 3" in first
    assert 'href="/positions?show=all&amp;page=2"' in first

    last = client.get("/positions?show=all&page=3").get_data(as_text=True)
    assert len(_titles(last)) == 20 and "Role 116" in last and "Page 3 of 3" in last
    assert 'href="/positions?show=all&amp;page=2"' in last
    # Beyond the last page: the last page; nonsense: the first.
    assert _titles(client.get("/positions?show=all&page=99").get_data(as_text=True)) == _titles(last)
    assert _titles(client.get("/positions?show=all&page=x").get_data(as_text=True)) == _titles(first)

    open_only = client.get("/positions?page=2").get_data(as_text=True)
    assert 'data-total="90"' in open_only and "Page 2 of 2" in open_only and len(_titles(open_only)) == 40


def test_one_page_and_no_page_links_for_a_short_list(client, session, manager, position):
    login(client, manager)
    html = client.get("/positions").get_data(as_text=True)
    assert (
        'data-total="1"' in html and "Page 1 of" not in html and 'aria-label="Pages of positions"' not in html
    )


def test_the_waiting_counts_are_only_those_of_the_positions_asked_for(session, manager, position):
    other = PositionFactory(manager=manager)
    apply(session, position, 3)
    apply(session, other, 2)

    def counts(ids):
        subquery = waiting_per_position(ids)
        return dict(session.execute(sa.select(subquery.c.position_id, subquery.c.waiting)).all())

    assert counts([position.id, other.id]) == {position.id: 3, other.id: 2}
    assert counts([other.id]) == {other.id: 2}
    assert counts([]) == {}


# --- editing -------------------------------------------------------------------------------


def test_an_override_moves_the_open_deadlines_and_the_flash_says_how_many(client, session, manager, position):
    people = apply(session, position, 3)
    candidates.log_contact(session, people[0], ContactChannel.PHONE, ny(2026, 11, 17, 9), manager, "Called")
    elsewhere = PositionFactory(manager=manager, time_zone="America/New_York")
    apply(session, elsewhere, 1)
    session.commit()
    assert open_due_dates(session, position) == [ny(2026, 11, 23, 18)] * 2

    login(client, manager)
    form = text(client.get(f"/positions/{position.id}/edit"))
    assert 'value="Backend engineer"' in form
    assert 'placeholder="5 (default)"' in form  # the organisation's figure behind a blank field

    response = client.post(
        f"/positions/{position.id}/edit",
        data={"title": "Backend engineer", "time_zone": "America/New_York", "application": "10"},
        follow_redirects=True,
    )
    assert "Saved. 2 open waits got new deadlines." in text(response)
    # Monday 16th + 10 business days: Monday 30 November, end of the business day.
    assert open_due_dates(session, position) == [ny(2026, 11, 30, 18)] * 2
    assert open_due_dates(session, elsewhere) == [ny(2026, 11, 23, 18)]
    assert session.get(Position, position.id).policy_overrides == {"application": 10}

    # A new title alone moves nothing, and says so.
    response = client.post(
        f"/positions/{position.id}/edit",
        data={"title": "Senior backend engineer", "time_zone": "America/New_York", "application": "10"},
        follow_redirects=True,
    )
    assert "Saved. No open wait's deadline changed." in text(response)
    assert open_due_dates(session, position) == [ny(2026, 11, 30, 18)] * 2

    # Clearing the override goes back to the organisation's five days.
    response = client.post(
        f"/positions/{position.id}/edit",
        data={"title": "Senior backend engineer", "time_zone": "America/New_York", "application": ""},
        follow_redirects=True,
    )
    assert "Saved. 2 open waits got new deadlines." in text(response)
    assert open_due_dates(session, position) == [ny(2026, 11, 23, 18)] * 2
    assert session.get(Position, position.id).policy_overrides == {}


def test_a_new_time_zone_moves_deadlines_to_that_zones_end_of_day(client, session, manager, position):
    apply(session, position, 1)
    login(client, manager)
    response = client.post(
        f"/positions/{position.id}/edit",
        data={"title": "Backend engineer", "time_zone": "Europe/Berlin"},
        follow_redirects=True,
    )
    assert "Saved. 1 open wait got a new deadline." in text(response)
    # Opened 15:00 in Berlin on Monday 16th: due Monday 23rd at 18:00 Berlin time.
    assert open_due_dates(session, position) == [dt.datetime(2026, 11, 23, 18, tzinfo=BERLIN)]


def test_a_refused_edit_changes_nothing(client, session, manager, position):
    apply(session, position, 1)
    login(client, manager)
    response = client.post(
        f"/positions/{position.id}/edit",
        data={"title": "Renamed", "time_zone": "America/New_York", "application": "10", "decision": "91"},
    )
    assert response.status_code == 422
    assert "business days must be between 1 and 90, got 91" in text(response)
    session.expire_all()
    saved = session.get(Position, position.id)
    assert (saved.title, saved.policy_overrides) == ("Backend engineer", {})
    assert open_due_dates(session, position) == [ny(2026, 11, 23, 18)]


def test_a_manager_cannot_hand_their_position_to_someone_else(
    client, session, manager, other_manager, position
):
    login(client, manager)
    client.post(
        f"/positions/{position.id}/edit",
        data={"title": "Backend engineer", "time_zone": "America/New_York", "manager_id": other_manager.id},
    )
    assert session.get(Position, position.id).manager_id == manager.id


def test_an_admin_reassigns_a_position(client, session, admin, other_manager, position):
    login(client, admin)
    client.post(
        f"/positions/{position.id}/edit",
        data={"title": "Backend engineer", "time_zone": "America/New_York", "manager_id": other_manager.id},
    )
    assert session.get(Position, position.id).manager_id == other_manager.id


# --- closing -------------------------------------------------------------------------------


def test_closing_keeps_the_waiting_candidates_waiting_and_reopening_restores_it(
    client, session, manager, position
):
    apply(session, position, 2)
    login(client, manager)

    response = client.post(f"/positions/{position.id}/close", follow_redirects=True)
    assert "Backend engineer is closed. Candidates already waiting still need an answer." in text(response)
    assert session.get(Position, position.id).is_open is False
    assert len(open_due_dates(session, position)) == 2

    assert "Backend engineer" not in text(client.get("/positions"))  # the default list: open ones
    closed = text(client.get("/positions?show=closed"))
    assert re.search(r"Backend engineer.*?data-waiting=\"2\".*?Closed.*?Reopen", closed, re.S)

    client.post(f"/positions/{position.id}/reopen")
    assert session.get(Position, position.id).is_open is True
    assert "Backend engineer" in text(client.get("/positions"))


def test_closing_needs_a_post(client, session, manager, position):
    login(client, manager)
    assert client.get(f"/positions/{position.id}/close").status_code == 405
    assert session.get(Position, position.id).is_open is True


# --- access --------------------------------------------------------------------------------


def position_urls(app, position_id: int) -> list[tuple[str, str]]:
    """Every (method, url) of the app that takes just a position id."""
    urls = []
    with app.test_request_context():
        for rule in app.url_map.iter_rules():
            if rule.arguments != {"position_id"} or rule.rule.startswith("/api/"):
                continue  # the API takes no session: tests/test_api_access.py walks it with tokens
            url = app.url_for(rule.endpoint, position_id=position_id, _external=False)
            urls += [(method, url) for method in sorted(rule.methods - {"HEAD", "OPTIONS"})]
    return urls


def snapshot(session):
    session.expire_all()
    positions = session.execute(
        sa.select(
            Position.id,
            Position.title,
            Position.manager_id,
            Position.time_zone,
            Position.policy_overrides,
            Position.is_open,
        ).order_by(Position.id)
    ).all()
    waits = session.execute(sa.select(Wait.id, Wait.due_at, Wait.closed_at).order_by(Wait.id)).all()
    return positions, waits


def test_another_manager_gets_404_on_every_url_of_a_position_and_nothing_changes(
    app, client, session, other_manager, position
):
    apply(session, position, 1)
    urls = position_urls(app, position.id)
    assert {
        ("GET", f"/positions/{position.id}/edit"),
        ("POST", f"/positions/{position.id}/edit"),
        ("POST", f"/positions/{position.id}/close"),
        ("POST", f"/positions/{position.id}/reopen"),
    } <= set(urls)
    before = snapshot(session)

    login(client, other_manager)
    for method, url in urls:
        response = client.open(
            url,
            method=method,
            data={"title": "Taken", "time_zone": "UTC", "application": "1", "manager_id": other_manager.id},
        )
        assert response.status_code == 404, (method, url)
        assert "Backend engineer" not in text(response)
    assert "Backend engineer" not in text(client.get("/positions?show=all"))
    assert snapshot(session) == before


def test_a_logged_out_visitor_is_sent_to_log_in(client, session, position):
    session.commit()
    response = client.get("/positions")
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    response = client.post(f"/positions/{position.id}/close")
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    assert db.session.get(Position, position.id).is_open is True


def test_titles_are_escaped(client, session, manager):
    PositionFactory(manager=manager, title='"><img src=x onerror=alert(1)><script>alert(2)</script>')
    session.commit()
    login(client, manager)
    page = client.get("/positions").get_data(as_text=True)
    assert "<script>alert(2)" not in page and "<img src=x" not in page
    assert "&lt;script&gt;alert(2)&lt;/script&gt;" in page


def test_with_csrf_on_a_post_without_the_token_is_refused(csrf_on, client, session, manager, position):
    login(client, manager)
    assert client.post(f"/positions/{position.id}/close").status_code == 400
    assert client.post("/positions/new", data={"title": "X", "time_zone": "UTC"}).status_code == 400
    assert session.get(Position, position.id).is_open is True
    assert session.scalar(sa.select(sa.func.count()).select_from(Position)) == 1

    # The page's own form carries the token and goes through.
    page = client.get("/positions").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    response = client.post(f"/positions/{position.id}/close", data={"csrf_token": token})
    assert response.status_code == 302
    assert session.get(Position, position.id).is_open is False


def test_the_list_shows_each_reasons_days_and_marks_a_positions_own(client, session):
    manager = UserFactory()
    PositionFactory(title="Backend engineer", manager=manager, policy_overrides={"decision": 2})
    session.commit()
    login(client, manager)
    html = client.get("/positions").get_data(as_text=True)
    days = dict(re.findall(r'<span data-days="(\w+)">(\d+)</span>', html))
    assert days == {"application": "5", "decision": "2", "follow_up": "2"}
    assert html.count("(this position's own)") == 1
