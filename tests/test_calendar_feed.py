"""A manager's private calendar feed: the days answers are owed, as all-day events a calendar app
updates in place, behind a revocable token made on My settings or with ``feedback-sla users calendar``."""

from __future__ import annotations

import datetime as dt
import re

import pytest
import sqlalchemy as sa
import time_machine
from icalendar import Calendar

from feedback_sla.accounts.models import User
from feedback_sla.calendar_feed import service as calendar_feed
from feedback_sla.waits import service as waits
from feedback_sla.waits.clock import OrgSettings
from feedback_sla.waits.models import Wait

from .factories import PositionFactory, UserFactory
from .helpers import csrf_token, logged_in, text
from .inbound_support import INBOUND_CONFIG, send

ORG = OrgSettings()
LOS_ANGELES = "America/Los_Angeles"
#: Friday 30 October 2026, 10:00 in Los Angeles (daylight time, UTC-7). Daylight time ends on
#: Sunday 1 November: five business days later the deadline is Friday 6 November, 18:00 PST,
#: which is already Saturday 7 November in UTC.
APPLIED = dt.datetime(2026, 10, 30, 17, 0, tzinfo=dt.UTC)
FEED_URL = re.compile(r"http://localhost/calendar/[A-Za-z0-9_-]+\.ics")


@pytest.fixture
def app_config(app_config, tmp_path):
    app_config.update(INBOUND_CONFIG, OUTBOX_MAIL_DIR=str(tmp_path / "mail"))
    return app_config


@pytest.fixture(autouse=True)
def clock():
    """Events are recorded at the clock's time: the feed's SEQUENCE and LAST-MODIFIED follow it."""
    with time_machine.travel(APPLIED + dt.timedelta(minutes=1), tick=False) as traveller:
        yield traveller


@pytest.fixture
def manager(session) -> User:
    return UserFactory(email="maria@example.com", name="Maria Lopez", time_zone="Europe/Berlin")


def candidate_of(session, manager, name: str, title: str = "Backend Engineer", applied=APPLIED):
    position = PositionFactory(manager=manager, title=title, time_zone=LOS_ANGELES)
    candidate = waits.add_candidate(
        session, position, name, f"{name.split()[0].lower()}@example.org", applied, ORG
    )
    session.commit()
    return candidate


def token_for(session, user: User) -> str:
    secret = calendar_feed.create_token(user)
    session.commit()
    return secret


def fetch(client, secret: str) -> Calendar:
    response = client.get(f"/calendar/{secret}.ics")
    assert response.status_code == 200, response.get_data(as_text=True)
    return Calendar.from_ical(response.data)


def events_of(calendar: Calendar) -> dict[str, dict]:
    """The feed's events by summary: what a calendar app shows."""
    return {
        str(e["SUMMARY"]): {
            "uid": str(e["UID"]),
            "day": e.decoded("DTSTART"),
            "end": e.decoded("DTEND"),
            "sequence": int(e["SEQUENCE"]),
            "modified": e.decoded("LAST-MODIFIED"),
            "url": str(e["URL"]),
            "description": str(e["DESCRIPTION"]),
        }
        for e in calendar.walk("VEVENT")
    }


def test_the_feed_has_one_all_day_event_per_open_wait_on_the_day_in_the_positions_zone(
    client, session, manager
):
    ada = candidate_of(session, manager, "Ada Lovelace")
    grace = candidate_of(session, manager, "Grace <Hopper>", title="Data Engineer")
    waits.set_promise(session, grace, dt.date(2026, 11, 4), APPLIED + dt.timedelta(hours=1), ORG)
    session.commit()
    (ada_wait,) = session.scalars(sa.select(Wait).where(Wait.candidate_id == ada.id)).all()
    assert ada_wait.due_at == dt.datetime(2026, 11, 7, 2, 0, tzinfo=dt.UTC)  # Friday 18:00 PST

    response = client.get(f"/calendar/{token_for(session, manager)}.ics")
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/calendar")
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert "Set-Cookie" not in response.headers
    calendar = Calendar.from_ical(response.data)
    assert str(calendar["X-WR-CALNAME"]) == "Answers owed: Maria Lopez"
    shown = events_of(calendar)
    assert set(shown) == {
        "Ada Lovelace · Backend Engineer: answer due",
        "Grace <Hopper> · Data Engineer: answer promised",
    }
    due = shown["Ada Lovelace · Backend Engineer: answer due"]
    assert due["day"] == dt.date(2026, 11, 6) and due["end"] == dt.date(2026, 11, 7)
    assert due["uid"] == f"candidate-{ada.id}@localhost"
    assert due["url"] == f"http://localhost/candidates/{ada.id}"
    assert "Deadline: Fri 06 Nov 2026, 18:00 America/Los_Angeles" in due["description"]
    promised = shown["Grace <Hopper> · Data Engineer: answer promised"]
    assert promised["day"] == dt.date(2026, 11, 4)
    assert "Promised an answer by Wed 04 Nov 2026" in promised["description"]


def test_a_moved_promise_keeps_the_uid_and_moves_the_day(client, session, manager, clock):
    ada = candidate_of(session, manager, "Ada Lovelace")
    secret = token_for(session, manager)
    clock.move_to(APPLIED + dt.timedelta(hours=1))
    waits.set_promise(session, ada, dt.date(2026, 11, 4), APPLIED + dt.timedelta(hours=1), ORG)
    session.commit()
    (first,) = events_of(fetch(client, secret)).values()
    clock.move_to(APPLIED + dt.timedelta(days=2))
    waits.set_promise(session, ada, dt.date(2026, 11, 10), APPLIED + dt.timedelta(days=2), ORG)
    session.commit()
    (moved,) = events_of(fetch(client, secret)).values()
    assert moved["uid"] == first["uid"]
    assert (first["day"], moved["day"]) == (dt.date(2026, 11, 4), dt.date(2026, 11, 10))
    assert moved["sequence"] > first["sequence"] and moved["modified"] > first["modified"]
    assert moved["modified"] == APPLIED + dt.timedelta(days=2)


def test_an_update_sent_moves_the_event_and_an_answer_removes_it(client, session, manager, clock):
    ada = candidate_of(session, manager, "Ada Lovelace")
    secret = token_for(session, manager)
    (before,) = events_of(fetch(client, secret)).values()
    at = APPLIED + dt.timedelta(days=3)
    clock.move_to(at)
    update = send(session, ada, "update", at, promised_date=dt.date(2026, 11, 12))
    assert update.sent_at is not None
    # The update closed the application wait and opened one due by the promised date.
    assert (
        session.scalar(sa.select(sa.func.count()).select_from(Wait).where(Wait.candidate_id == ada.id)) == 2
    )
    (after,) = events_of(fetch(client, secret)).values()
    assert after["uid"] == before["uid"] and after["day"] == dt.date(2026, 11, 12)
    assert after["sequence"] > before["sequence"]

    clock.move_to(at + dt.timedelta(days=1))
    waits.log_contact(session, ada, "phone", at + dt.timedelta(days=1), manager)
    session.commit()
    assert events_of(fetch(client, secret)) == {}


def test_another_managers_candidates_are_not_in_the_feed(client, session, manager):
    candidate_of(session, manager, "Ada Lovelace")
    other = UserFactory(email="otto@example.com", name="Otto Other")
    candidate_of(session, other, "Grace Hopper")
    mine = events_of(fetch(client, token_for(session, manager)))
    theirs = events_of(fetch(client, token_for(session, other)))
    assert list(mine) == ["Ada Lovelace · Backend Engineer: answer due"]
    assert list(theirs) == ["Grace Hopper · Backend Engineer: answer due"]


def test_an_unknown_revoked_or_disabled_users_token_answers_404(client, session, manager):
    candidate_of(session, manager, "Ada Lovelace")
    secret = token_for(session, manager)
    assert client.get(f"/calendar/{'x' * 43}.ics").status_code == 404
    assert client.get(f"/calendar/{secret}.ics").status_code == 200
    manager.active = False
    session.commit()
    assert client.get(f"/calendar/{secret}.ics").status_code == 404
    manager.active = True
    session.commit()
    replaced = token_for(session, manager)  # a new link: the old one stops working
    assert client.get(f"/calendar/{secret}.ics").status_code == 404
    assert client.get(f"/calendar/{replaced}.ics").status_code == 200
    assert calendar_feed.revoke(manager)
    session.commit()
    assert client.get(f"/calendar/{replaced}.ics").status_code == 404
    assert manager.calendar_token_hash is None


def test_my_settings_creates_and_revokes_the_link_with_csrf(csrf_on, client, session, manager):
    candidate_of(session, manager, "Ada Lovelace")
    logged_in(client, manager)
    page = client.get("/account/settings")
    assert "Calendar feed" in text(page) and "Create link" in text(page)

    assert client.post("/account/calendar").status_code == 400  # no CSRF token
    session.expire_all()
    assert session.get(User, manager.id).calendar_token_hash is None

    created = client.post("/account/calendar", data={"csrf_token": csrf_token(client, "/account/settings")})
    assert created.status_code == 201
    (url,) = FEED_URL.findall(created.get_data(as_text=True))
    secret = url.rsplit("/", 1)[1].removesuffix(".ics")
    session.expire_all()
    assert session.get(User, manager.id).calendar_token_hash == calendar_feed.digest(secret)
    assert secret not in client.get("/account/settings").get_data(as_text=True)  # shown once
    assert "Revoke" in text(client.get("/account/settings"))
    assert client.get(f"/calendar/{secret}.ics").status_code == 200

    assert client.post("/account/calendar/revoke").status_code == 400  # no CSRF token
    assert client.get(f"/calendar/{secret}.ics").status_code == 200
    revoked = client.post(
        "/account/calendar/revoke", data={"csrf_token": csrf_token(client, "/account/settings")}
    )
    assert revoked.status_code == 302
    assert client.get(f"/calendar/{secret}.ics").status_code == 404


def test_the_command_prints_a_link_once_and_revokes_it(app, runner, session, manager):
    app.config["BASE_URL"] = "https://feedback.example.com"
    candidate_of(session, manager, "Ada Lovelace")
    result = runner.invoke(args=["users", "calendar", "maria@example.com"])
    assert result.exit_code == 0, result.output
    (url,) = re.findall(r"https://feedback\.example\.com/calendar/([A-Za-z0-9_-]+)\.ics", result.output)
    assert len(url) >= 43  # 256 random bits
    session.expire_all()
    assert session.get(User, manager.id).calendar_token_hash == calendar_feed.digest(url)

    revoked = runner.invoke(args=["users", "calendar", "maria@example.com", "--revoke"])
    assert revoked.exit_code == 0 and "revoked the calendar link of maria@example.com" in revoked.output
    session.expire_all()
    assert session.get(User, manager.id).calendar_token_hash is None

    unknown = runner.invoke(args=["users", "calendar", "nobody@example.com"])
    assert unknown.exit_code != 0 and "nobody@example.com" in unknown.output
