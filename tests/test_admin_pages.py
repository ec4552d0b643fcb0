"""Admin pages: users (create, role, disable, enable) and organisation settings."""

from __future__ import annotations

import datetime as dt
import re

import pytest
import sqlalchemy as sa

from feedback_sla.models import Candidate, Position, Role, Setting, User
from feedback_sla.settings import service as settings_service
from feedback_sla.waits import service as candidates
from feedback_sla.waits.clock import OrgSettings
from feedback_sla.waits.models import Wait

from .factories import PositionFactory, UserFactory
from .helpers import field_errors, logged_in, login, ny, text

#: What the settings form posts when nothing is changed.
DEFAULTS = {key.replace(".", "_"): d.default for key, d in settings_service.DEFINITIONS.items()}


@pytest.fixture
def admin():
    return UserFactory(name="Ann Admin", email="ann@example.com", role=Role.ADMIN)


@pytest.fixture
def manager():
    return UserFactory(name="Ada Manager", email="ada@example.com", time_zone="America/New_York")


def users_snapshot(session):
    session.expire_all()
    return session.execute(
        sa.select(User.id, User.email, User.role, User.active, User.session_version).order_by(User.id)
    ).all()


def settings_snapshot(session):
    return session.execute(sa.select(Setting.key, Setting.value).order_by(Setting.key)).all()


# --- access --------------------------------------------------------------------------------


def admin_urls(app, user_id: int) -> list[tuple[str, str]]:
    urls = []
    with app.test_request_context():
        for rule in app.url_map.iter_rules():
            if not rule.endpoint.startswith("admin."):
                continue
            args = {name: user_id for name in rule.arguments}
            url = app.url_for(rule.endpoint, **args, _external=False)
            urls += [(method, url) for method in sorted(rule.methods - {"HEAD", "OPTIONS"})]
    return urls


def test_a_manager_gets_404_on_every_admin_url_and_nothing_changes(app, client, session, admin, manager):
    urls = admin_urls(app, admin.id)
    assert len(urls) >= 8
    session.commit()
    users_before, settings_before = users_snapshot(session), settings_snapshot(session)

    logged_in(client, manager)
    for method, url in urls:
        response = client.open(
            url,
            method=method,
            data={
                **DEFAULTS,
                "holiday_calendar": "US",
                "role": "manager",
                "email": "x@example.com",
                "name": "X",
                "time_zone": "UTC",
                "password": "long enough password",
            },
        )
        assert response.status_code == 404, (method, url)
    assert users_snapshot(session) == users_before
    assert settings_snapshot(session) == settings_before
    # Nor does the menu offer them.
    assert "/admin/" not in client.get("/positions").get_data(as_text=True)


def test_a_logged_out_visitor_is_sent_to_log_in(client, session, admin):
    session.commit()
    for url in ("/admin/users", "/admin/settings"):
        response = client.get(url)
        assert response.status_code == 302 and "/login" in response.headers["Location"]
    response = client.post(f"/admin/users/{admin.id}/disable")
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    assert session.get(User, admin.id).active is True


# --- users ---------------------------------------------------------------------------------


def test_the_user_list_shows_role_time_zone_and_status(client, session, admin, manager):
    UserFactory(name="Gone Manager", active=False)
    UserFactory(name="<script>alert(1)</script>")
    logged_in(client, admin)
    response = client.get("/admin/users")
    page = text(response)
    for expected in (
        "Ann Admin",
        "(you)",
        "Ada Manager",
        "America/New_York",
        "Gone Manager",
        "Disabled",
        "Active",
    ):
        assert expected in page
    assert "<script>alert(1)" not in response.get_data(as_text=True)
    assert re.search(rf'data-user="{manager.id}".*?<option value="manager" selected>', page, re.S)
    # No button to disable yourself.
    own_row = page.split(f'data-user="{admin.id}"')[1].split("</tr>")[0]
    assert "Disable" not in own_row


def test_the_user_list_shows_50_accounts_a_page_the_active_ones_first(client, session, admin):
    for i in range(64):
        UserFactory(name=f"User {i:02d}", active=i % 8 != 0)  # 8 disabled
    logged_in(client, admin)

    first = client.get("/admin/users").get_data(as_text=True)
    rows = re.findall(r'data-user="(\d+)"', first)
    assert len(rows) == 50 and rows[0] == str(admin.id)  # "Ann Admin" sorts first
    assert 'data-total="65"' in first and "Page 1 of 2" in first
    assert 'href="/admin/users?page=2"' in first and "Disabled" not in first

    second = client.get("/admin/users?page=2").get_data(as_text=True)
    assert len(re.findall(r'data-user="(\d+)"', second)) == 15
    assert second.count('<span class="badge bg-secondary">Disabled</span>') == 2 * 8  # phone and wide
    assert client.get("/admin/users?page=-3").get_data(as_text=True).count("data-user=") == 50


def test_an_admin_creates_a_user_who_can_then_log_in(app, client, session, admin):
    logged_in(client, admin)
    page = client.get("/admin/users/new")
    assert page.status_code == 200
    response = client.post(
        "/admin/users/new",
        data={
            "email": " New.Person@Example.com ",
            "name": "New Person",
            "role": "manager",
            "time_zone": "Europe/Paris",
            "password": "a long first password",
        },
        follow_redirects=True,
    )
    assert "New Person (new.person@example.com) can now log in." in text(response)
    user = session.scalars(sa.select(User).where(User.email == "new.person@example.com")).one()
    assert (user.role, user.time_zone, user.active) == (Role.MANAGER, "Europe/Paris", True)

    newcomer = app.test_client()
    assert login(newcomer, "new.person@example.com", "a long first password").status_code == 302
    assert newcomer.get("/positions").status_code == 200
    assert newcomer.get("/admin/users").status_code == 404


def test_the_new_user_form_defaults_to_the_organisation_time_zone(client, session, admin):
    settings_service.store(session, "time_zone", "Europe/Madrid")
    logged_in(client, admin)
    page = text(client.get("/admin/users/new"))
    assert '<option selected value="Europe/Madrid">' in page


@pytest.mark.parametrize(
    ("changes", "field", "reason"),
    [
        ({"password": "short"}, "password", "Field must be between 8 and 1024 characters long."),
        ({"email": "not an address"}, "email", "'not an address' is not a valid email address"),
        (
            {"time_zone": "Nowhere/City"},
            "time_zone",
            "unknown time zone 'Nowhere/City' (use an IANA name such as Europe/Berlin)",
        ),
        ({"role": "owner"}, "role", "Not a valid choice."),
    ],
)
def test_bad_user_input_is_shown_on_its_field_and_nobody_is_created(
    client, session, admin, changes, field, reason
):
    logged_in(client, admin)
    data = {
        "email": "new@example.com",
        "name": "New",
        "role": "manager",
        "time_zone": "UTC",
        "password": "long enough password",
        **changes,
    }
    response = client.post("/admin/users/new", data=data)
    assert response.status_code == 422
    errors = field_errors(text(response), field)
    assert len(errors) == 1 and errors[0].startswith(reason), errors
    assert session.scalar(sa.select(sa.func.count()).select_from(User)) == 1


def test_an_email_already_taken_is_refused(client, session, admin, manager):
    logged_in(client, admin)
    response = client.post(
        "/admin/users/new",
        data={
            "email": "ADA@example.com",
            "name": "Ada Again",
            "role": "manager",
            "time_zone": "UTC",
            "password": "long enough password",
        },
    )
    assert response.status_code == 422
    assert "a user with email ada@example.com already exists" in text(response)
    assert session.scalar(sa.select(sa.func.count()).select_from(User)) == 2


def test_disabling_a_user_ends_their_open_session_at_once(app, client, session, admin, manager):
    theirs = app.test_client()
    logged_in(theirs, manager)
    assert theirs.get("/positions").status_code == 200

    logged_in(client, admin)
    response = client.post(f"/admin/users/{manager.id}/disable", follow_redirects=True)
    assert "Ada Manager is disabled and logged out everywhere." in text(response)

    # Their very next request with the cookie they hold is sent to the login page.
    response = theirs.get("/positions")
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    # And they cannot log in again.
    assert login(app.test_client(), manager).status_code == 401

    # Enabled again, they may log in anew; the old cookie stays dead.
    client.post(f"/admin/users/{manager.id}/enable")
    assert session.get(User, manager.id).active is True
    assert theirs.get("/positions").status_code == 302
    assert login(app.test_client(), manager).status_code == 302


def test_an_admin_cannot_disable_themself(client, session, admin):
    UserFactory(role=Role.ADMIN)  # another admin: the refusal is about yourself, not the last admin
    logged_in(client, admin)
    response = client.post(f"/admin/users/{admin.id}/disable", follow_redirects=True)
    assert "Not changed: you cannot disable your own account." in text(response)
    assert session.get(User, admin.id).active is True


def test_the_last_active_admin_can_be_neither_demoted_nor_disabled(app, client, session, admin):
    other = UserFactory(role=Role.ADMIN, name="Other Admin")
    UserFactory(role=Role.ADMIN, active=False)  # a disabled admin does not count
    logged_in(client, admin)

    response = client.post(f"/admin/users/{other.id}/disable", follow_redirects=True)
    assert "Other Admin is disabled" in text(response)
    # Now only one active admin is left: themself.
    response = client.post(f"/admin/users/{admin.id}/role", data={"role": "manager"}, follow_redirects=True)
    assert f"Not changed: {admin.email} is the last active admin and cannot be demoted." in text(response)
    assert session.get(User, admin.id).role is Role.ADMIN

    # Re-enabled, the other admin may demote them; then the other is the last one.
    client.post(f"/admin/users/{other.id}/enable")
    response = client.post(f"/admin/users/{admin.id}/role", data={"role": "manager"}, follow_redirects=True)
    assert "Ann Admin is now a hiring manager." in text(response)
    assert session.get(User, admin.id).role is Role.MANAGER
    assert client.get("/admin/users").status_code == 404  # their own demotion holds at once

    theirs = app.test_client()
    logged_in(theirs, other)
    response = theirs.post(f"/admin/users/{other.id}/role", data={"role": "manager"}, follow_redirects=True)
    assert "is the last active admin and cannot be demoted" in text(response)


def test_an_admin_promotes_a_manager(app, client, session, admin, manager):
    logged_in(client, admin)
    response = client.post(f"/admin/users/{manager.id}/role", data={"role": "admin"}, follow_redirects=True)
    assert "Ada Manager is now an admin." in text(response)
    theirs = app.test_client()
    logged_in(theirs, manager)
    assert theirs.get("/admin/users").status_code == 200


def test_an_unknown_role_or_user_changes_nothing(client, session, admin, manager):
    logged_in(client, admin)
    response = client.post(f"/admin/users/{manager.id}/role", data={"role": "owner"}, follow_redirects=True)
    assert "Not changed: choose a role from the list." in text(response)
    assert session.get(User, manager.id).role is Role.MANAGER
    assert client.post("/admin/users/999999/disable").status_code == 404
    assert client.post("/admin/users/999999/role", data={"role": "admin"}).status_code == 404


def test_disable_and_role_need_a_post(client, session, admin, manager):
    logged_in(client, admin)
    assert client.get(f"/admin/users/{manager.id}/disable").status_code == 405
    assert client.get(f"/admin/users/{manager.id}/role?role=admin").status_code == 405
    assert session.get(User, manager.id).active is True


# --- settings ------------------------------------------------------------------------------


@pytest.fixture
def waiting(session, manager):
    """Two applicants waiting since Monday 16 Nov 2026, 09:00 New York (due Monday 23rd, 18:00)."""
    position = PositionFactory(manager=manager, time_zone="America/New_York")
    people = [
        candidates.add_candidate(
            session, position, f"Applicant {i}", f"a{i}@example.com", ny(2026, 11, 16, 9), OrgSettings()
        )
        for i in range(2)
    ]
    session.commit()
    return people


def open_due_dates(session) -> list[dt.datetime]:
    session.expire_all()
    return list(
        session.scalars(
            sa.select(Wait.due_at)
            .join(Candidate, Wait.candidate_id == Candidate.id)
            .join(Position, Candidate.position_id == Position.id)
            .where(Wait.closed_at.is_(None))
        )
    )


def test_the_settings_page_shows_every_setting_with_its_meaning(client, session, admin):
    logged_in(client, admin)
    page = text(client.get("/admin/settings"))
    for key, definition in settings_service.DEFINITIONS.items():
        assert f'name="{key.replace(".", "_")}"' in page, key
        assert definition.help in page
    assert 'name="end_of_business_day" type="time" value="18:00"' in page


def test_an_unknown_holiday_calendar_is_refused_with_the_reason_and_nothing_is_saved(
    client, session, admin, waiting
):
    logged_in(client, admin)
    response = client.post(
        "/admin/settings",
        data={
            **DEFAULTS,
            "holiday_calendar": "XX",
            "policy_application": "7",
            "end_of_business_day": "25:00",
        },
    )
    assert response.status_code == 422
    page = text(response)
    (reason,) = field_errors(page, "holiday_calendar")
    assert reason.startswith("unknown holiday calendar 'XX'")
    assert field_errors(page, "end_of_business_day") == ["'25:00' is not a time of day HH:MM (e.g. 18:00)"]
    assert "Nothing was saved." in page
    assert 'value="XX"' in page  # what the admin typed stays in the form
    assert settings_snapshot(session) == []
    assert open_due_dates(session) == [ny(2026, 11, 23, 18)] * 2


def test_a_deadline_setting_recomputes_the_open_waits_and_says_how_many(client, session, admin, waiting):
    logged_in(client, admin)
    response = client.post(
        "/admin/settings",
        data={**DEFAULTS, "policy_application": "8", "holiday_calendar": "US"},
        follow_redirects=True,
    )
    assert "Saved. 2 open waits got new deadlines." in text(response)
    # Eight business days from Monday 16th: Thursday 26th, but that is Thanksgiving, so Friday 27th.
    assert open_due_dates(session) == [ny(2026, 11, 27, 18)] * 2
    assert dict(settings_snapshot(session)) == {"holiday_calendar": "US", "policy.application": "8"}
    assert settings_service.load(session).policy_application == 8


def test_a_setting_that_moves_no_deadline_saves_without_recomputing(client, session, admin, waiting):
    logged_in(client, admin)
    response = client.post(
        "/admin/settings", data={**DEFAULTS, "escalate_after_followups": "3"}, follow_redirects=True
    )
    page = text(response)
    assert "Saved." in page and "open wait" not in page
    assert dict(settings_snapshot(session)) == {"escalate_after_followups": "3"}

    response = client.post(
        "/admin/settings", data={**DEFAULTS, "escalate_after_followups": "3"}, follow_redirects=True
    )
    assert "Nothing changed." in text(response)


def test_a_deadline_setting_that_moves_nothing_says_so(client, session, admin, waiting):
    logged_in(client, admin)
    # Germany's holidays fall on no business day between the 16th and the 23rd of November 2026.
    response = client.post(
        "/admin/settings", data={**DEFAULTS, "holiday_calendar": "DE"}, follow_redirects=True
    )
    assert "Saved. No open wait's deadline changed." in text(response)
    assert open_due_dates(session) == [ny(2026, 11, 23, 18)] * 2


def test_with_csrf_on_admin_posts_without_the_token_are_refused(csrf_on, client, session, admin, manager):
    logged_in(client, admin)
    assert client.post(f"/admin/users/{manager.id}/disable").status_code == 400
    assert client.post(f"/admin/users/{manager.id}/role", data={"role": "admin"}).status_code == 400
    assert client.post("/admin/settings", data={**DEFAULTS, "policy_application": "9"}).status_code == 400
    assert session.get(User, manager.id).active is True
    assert session.get(User, manager.id).role is Role.MANAGER
    assert settings_snapshot(session) == []

    # Each page's own forms carry the token.
    page = client.get("/admin/users").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    response = client.post(f"/admin/users/{manager.id}/disable", data={"csrf_token": token})
    assert response.status_code == 302
    assert session.get(User, manager.id).active is False
    page = client.get("/admin/settings").get_data(as_text=True)
    assert 'name="csrf_token" type="hidden"' in page


def test_settings_use_a_calendar_list_a_time_box_and_number_boxes(client, session, admin):
    logged_in(client, admin)
    page = client.get("/admin/settings").get_data(as_text=True)
    calendar = re.search(r'<select[^>]*name="holiday_calendar".*?</select>', page, re.S).group(0)
    assert '<option selected value="">No public holidays</option>' in calendar
    assert '<optgroup label="Germany">' in calendar and 'value="DE-BY"' in calendar
    assert 'value="US-NY"' in calendar
    assert re.search(r'<input[^>]*name="end_of_business_day"[^>]*type="time"', page)
    assert re.search(
        r'<input[^>]*max="30"[^>]*min="0"[^>]*name="warning_business_days"[^>]*type="number"', page
    )
    response = client.post(
        "/admin/settings", data={**DEFAULTS, "holiday_calendar": "DE-BY"}, follow_redirects=True
    )
    assert response.status_code == 200
    assert settings_service.load(session).holiday_calendar == "DE-BY"
