"""The daily digest: once per manager and local day, at their hour, only what is owed."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys

import pytest
import sqlalchemy as sa
import time_machine

from feedback_sla import demo
from feedback_sla.digest import service as digest_service
from feedback_sla.digest.models import DigestDay
from feedback_sla.emails.models import EmailKind, OutboxMessage
from feedback_sla.models import ContactChannel
from feedback_sla.waits import service
from feedback_sla.waits.clock import OrgSettings

from .factories import PositionFactory, UserFactory
from .helpers import logged_in

BASE_URL = "https://feedback.example.com"


@pytest.fixture
def app_config(app_config):
    app_config["BASE_URL"] = BASE_URL
    return app_config


def utc(*args) -> dt.datetime:
    return dt.datetime(*args, tzinfo=dt.UTC)


def digests(session) -> list[OutboxMessage]:
    return session.scalars(
        sa.select(OutboxMessage).where(OutboxMessage.kind == EmailKind.DIGEST).order_by(OutboxMessage.id)
    ).all()


def send(runner, now: dt.datetime, *args):
    result = runner.invoke(args=["digest", "send", "--now", now.isoformat(), *args])
    assert result.exit_code == 0, result.output
    return result


EARLY_NOVEMBER = utc(2026, 11, 2, 9)


def overdue_candidate(session, manager, name="Ada Lovelace", opened=EARLY_NOVEMBER):
    position = PositionFactory(manager=manager, title="Backend Engineer")
    return service.add_candidate(session, position, name, "ada@example.org", opened, OrgSettings())


def test_one_digest_at_the_managers_hour_and_never_twice(runner, session):
    manager = UserFactory(time_zone="Europe/Berlin", digest_hour=8)
    overdue_candidate(session, manager)
    session.commit()
    send(runner, utc(2026, 11, 25, 6, 30))  # 07:30 in Berlin: too early
    assert digests(session) == []
    result = send(runner, utc(2026, 11, 25, 7, 0))  # 08:00 in Berlin
    assert "1 digest(s) queued" in result.output
    send(runner, utc(2026, 11, 25, 7, 15))
    send(runner, utc(2026, 11, 25, 22, 59))  # 23:59 the same local day
    [message] = digests(session)
    assert message.to_address == manager.email
    assert "1 escalated" in message.subject
    assert f"{BASE_URL}/candidates/" in message.text_body
    send(runner, utc(2026, 11, 25, 23, 0))  # midnight in Berlin: a new day, before the hour
    assert len(digests(session)) == 1
    send(runner, utc(2026, 11, 26, 7, 0))  # 08:00 the next day
    assert len(digests(session)) == 2


def test_a_missed_day_sends_only_todays_digest(runner, session):
    manager = UserFactory(time_zone="UTC", digest_hour=8)
    overdue_candidate(session, manager)
    session.commit()
    send(runner, utc(2026, 11, 23, 9))
    send(runner, utc(2026, 11, 26, 9))  # nothing ran on the 24th and 25th
    days = session.scalars(sa.select(DigestDay.local_date).order_by(DigestDay.local_date)).all()
    assert days == [dt.date(2026, 11, 23), dt.date(2026, 11, 26)]


def test_the_local_date_of_a_manager_in_tokyo(runner, session):
    manager = UserFactory(time_zone="Asia/Tokyo", digest_hour=8)
    overdue_candidate(session, manager)
    session.commit()
    # 23:30 UTC on the 25th is 08:30 on the 26th in Tokyo.
    send(runner, utc(2026, 11, 25, 23, 30))
    day = session.scalar(sa.select(DigestDay))
    assert day.local_date == dt.date(2026, 11, 26)
    send(runner, utc(2026, 11, 26, 10))  # still the 26th in Tokyo (19:00)
    assert len(digests(session)) == 1


@pytest.mark.parametrize(
    ("time_zone", "before", "at_hour"),
    [
        # America/New_York: 8:00 EST is 13:00 UTC; 8:00 EDT is 12:00 UTC.
        ("America/New_York", utc(2026, 3, 9, 11, 59), utc(2026, 3, 9, 12, 0)),  # after spring forward
        ("America/New_York", utc(2026, 11, 2, 12, 59), utc(2026, 11, 2, 13, 0)),  # after fall back
        # Europe/Berlin: 8:00 CET is 07:00 UTC; 8:00 CEST is 06:00 UTC.
        ("Europe/Berlin", utc(2026, 3, 30, 5, 59), utc(2026, 3, 30, 6, 0)),
        ("Europe/Berlin", utc(2026, 10, 26, 6, 59), utc(2026, 10, 26, 7, 0)),
    ],
)
def test_the_digest_hour_follows_daylight_saving_time(runner, session, time_zone, before, at_hour):
    manager = UserFactory(time_zone=time_zone, digest_hour=8)
    overdue_candidate(session, manager, opened=before - dt.timedelta(days=20))
    session.commit()
    send(runner, before)
    assert digests(session) == []
    send(runner, at_hour)
    assert len(digests(session)) == 1
    assert session.scalar(sa.select(DigestDay.local_date)) == at_hour.date()


def test_nothing_owed_nothing_sent_unless_asked(runner, session):
    quiet = UserFactory(digest_hour=8)
    wants_empty = UserFactory(digest_hour=8, digest_empty=True)
    position = PositionFactory(manager=quiet)
    now = utc(2026, 11, 25, 9)
    service.add_candidate(
        session, position, "Fresh Applicant", "fresh@example.org", now - dt.timedelta(hours=2), OrgSettings()
    )  # on track
    session.commit()
    send(runner, now)
    [message] = digests(session)
    assert message.to_address == wants_empty.email
    assert "Nobody is waiting on you" in message.text_body
    assert session.scalar(sa.select(sa.func.count()).select_from(DigestDay)) == 2


def test_disabled_digests_and_users_get_none(runner, session):
    manager = UserFactory(digest_enabled=False)
    inactive = UserFactory(active=False)
    overdue_candidate(session, manager)
    position = PositionFactory(manager=inactive)
    service.add_candidate(session, position, "Bo", "bo@example.org", utc(2026, 11, 2, 9), OrgSettings())
    session.commit()
    send(runner, utc(2026, 11, 25, 12))
    assert digests(session) == []


def test_contents_most_urgent_first_with_due_today_and_escalated(runner, session):
    manager = UserFactory(time_zone="UTC", digest_hour=8)
    position = PositionFactory(manager=manager)
    settings = OrgSettings()
    now = utc(2026, 11, 25, 9)  # Wednesday
    add = lambda name, opened: service.add_candidate(  # noqa: E731
        session, position, name, f"{name.split()[0].lower()}@example.org", opened, settings
    )
    on_track = add("Olga OnTrack", utc(2026, 11, 24, 9))
    due_today = add("Dora DueToday", utc(2026, 11, 18, 9))  # due Wed 25th 18:00
    overdue = add("Otto Overdue", utc(2026, 11, 16, 9))  # due Mon 23rd
    escalated = add("Erik Escalated", utc(2026, 11, 20, 9))
    service.followed_up(session, escalated, utc(2026, 11, 23, 9), settings)
    service.followed_up(session, escalated, utc(2026, 11, 24, 9), settings)
    answered = add("Anna Answered", utc(2026, 11, 2, 9))
    service.log_contact(session, answered, ContactChannel.PHONE, utc(2026, 11, 3, 9))
    session.commit()
    send(runner, now)
    [message] = digests(session)
    text = message.text_body
    positions = [text.index(name) for name in ("Erik Escalated", "Otto Overdue", "Dora DueToday")]
    assert positions == sorted(positions)
    assert on_track.name not in text and answered.name not in text
    assert "due today" in text and "2 business days overdue" in text
    assert "Followed up 2 times" in text
    assert f"{BASE_URL}/candidates/{overdue.id}" in text
    assert f"{BASE_URL}/candidates/{due_today.id}" in message.html_body
    assert message.subject == "Candidates waiting on you: 1 escalated, 1 overdue, 1 due today"


def test_a_hostile_candidate_name_is_escaped_in_the_html_part(runner, session):
    manager = UserFactory()
    overdue_candidate(session, manager, name='"><img src=x onerror=alert(1)><script>x()</script>')
    session.commit()
    send(runner, utc(2026, 11, 25, 12))
    [message] = digests(session)
    assert "<script>" not in message.html_body
    assert "<img src=x" not in message.html_body
    assert "&lt;script&gt;" in message.html_body


def test_dry_run_prints_and_writes_nothing(runner, session):
    manager = UserFactory()
    overdue_candidate(session, manager)
    session.commit()
    result = send(runner, utc(2026, 11, 25, 12), "--dry-run")
    assert manager.email in result.output
    assert "Ada Lovelace" in result.output
    assert digests(session) == []
    assert session.scalar(sa.select(sa.func.count()).select_from(DigestDay)) == 0


def test_manager_option_limits_the_run(runner, session):
    first, second = UserFactory(), UserFactory()
    overdue_candidate(session, first)
    position = PositionFactory(manager=second)
    service.add_candidate(session, position, "Bo", "bo@example.org", utc(2026, 11, 2, 9), OrgSettings())
    session.commit()
    send(runner, utc(2026, 11, 25, 12), "--manager", second.email)
    assert [m.to_address for m in digests(session)] == [second.email]


def test_bad_options_are_clear_errors(runner, session):
    result = runner.invoke(args=["digest", "send", "--now", "yesterday"])
    assert result.exit_code != 0 and "--now" in result.output
    result = runner.invoke(args=["digest", "send", "--manager", "nobody@example.com"])
    assert result.exit_code != 0 and "--manager" in result.output


def test_sending_without_a_base_url_is_a_clear_error(app, runner, session):
    app.config["BASE_URL"] = None
    overdue_candidate(session, UserFactory())
    session.commit()
    result = runner.invoke(args=["digest", "send"])
    assert result.exit_code != 0
    assert "FEEDBACK_SLA_BASE_URL is not set" in result.output
    assert digests(session) == []


def test_the_demo_links_its_digests_to_the_address_it_serves_on(app, runner, session):
    app.config["BASE_URL"] = None
    seeded = utc(2026, 11, 18, 14)  # a Wednesday, past 08:00 in New York, Berlin and Tokyo
    with time_machine.travel(seeded, tick=False):
        result = runner.invoke(args=["demo", "--no-serve", "--port", "8123"])
    assert result.exit_code == 0, result.output
    result = send(runner, seeded)
    assert "3 digest(s) queued" in result.output
    for message in digests(session):
        for body in (message.text_body, message.html_body):
            assert "http://127.0.0.1:8123/candidates/" in body
            assert "http://127.0.0.1:8123/account/settings" in body
        assert BASE_URL not in message.text_body
    app.config["BASE_URL"] = BASE_URL  # an operator's setting still wins
    send(runner, seeded + dt.timedelta(days=1), "--manager", "maria@example.com")
    latest = digests(session)[-1]
    assert latest.to_address == "maria@example.com"
    assert f"{BASE_URL}/candidates/" in latest.text_body


@pytest.mark.parametrize(
    ("host", "address"),
    [
        ("127.0.0.1", "http://127.0.0.1:5000"),
        ("0.0.0.0", "http://127.0.0.1:5000"),  # noqa: S104  (every interface, reached on loopback)
        ("::", "http://[::1]:5000"),
        ("demo.internal", "http://demo.internal:5000"),
    ],
)
def test_the_demo_address_is_one_a_browser_opens(host, address):
    assert demo.address(host, 5000) == address


def test_a_link_only_opens_a_page(app, client, session):
    """Mail scanners fetch every link: following one from a digest changes nothing."""
    manager = UserFactory()
    candidate = overdue_candidate(session, manager)
    session.commit()
    response = client.get(f"/candidates/{candidate.id}")
    assert response.status_code in (302, 401, 404)  # not logged in: the login page, nothing more
    assert service.open_wait_of(session, candidate).closed_at is None


def test_two_concurrent_runs_send_one_digest_per_manager(app, session, tmp_path):
    managers = [UserFactory(time_zone=tz) for tz in ("UTC", "Europe/Berlin", "America/New_York")]
    for manager in managers:
        overdue_candidate(session, manager)
    session.commit()
    env = {
        **os.environ,
        "FEEDBACK_SLA_DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"],
        "FEEDBACK_SLA_INSTANCE_PATH": str(tmp_path / "instance"),
        "FEEDBACK_SLA_BASE_URL": BASE_URL,
    }
    now = utc(2026, 11, 25, 18).isoformat()
    command = [sys.executable, "-m", "feedback_sla", "digest", "send", "--now", now]
    runs = [
        subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    outputs = [run.communicate(timeout=60) for run in runs]
    assert [run.returncode for run in runs] == [0, 0], outputs
    session.expire_all()
    sent_to = sorted(m.to_address for m in digests(session))
    assert sent_to == sorted(m.email for m in managers)
    assert session.scalar(sa.select(sa.func.count()).select_from(DigestDay)) == 3


def test_render_uses_the_managers_time_zone(app, session):
    manager = UserFactory(time_zone="Asia/Tokyo")
    overdue_candidate(session, manager)
    session.commit()
    now = utc(2026, 11, 25, 12)
    with time_machine.travel(now, tick=False):
        digest = digest_service.digest_for(
            session, now, OrgSettings(), manager, dt.date(2026, 11, 25), BASE_URL
        )
        text, html = digest_service.render(digest)
    assert "Asia/Tokyo" in text and "Asia/Tokyo" in html


def test_a_manager_sets_their_digest_on_their_settings_page(client, session):
    manager = UserFactory(time_zone="UTC", digest_hour=8)
    logged_in(client, manager)
    page = client.get("/account/settings").get_data(as_text=True)
    assert "Send me the daily digest" in page
    response = client.post(
        "/account/settings",
        data={
            "name": "Ada Manager",
            "time_zone": "Asia/Tokyo",
            "digest_enabled": "y",
            "digest_hour": "7",
            "digest_empty": "y",
        },
    )
    assert response.status_code == 302
    session.refresh(manager)
    assert (manager.time_zone, manager.digest_hour, manager.digest_enabled, manager.digest_empty) == (
        "Asia/Tokyo",
        7,
        True,
        True,
    )
    refused = client.post(
        "/account/settings",
        data={
            "name": "Ada Manager",
            "time_zone": "Mars/Olympus",
            "digest_hour": "9",
        },
    )
    assert "unknown time zone" in refused.get_data(as_text=True)
    session.refresh(manager)
    assert (manager.time_zone, manager.digest_hour, manager.digest_enabled) == ("Asia/Tokyo", 7, True)
    # Turned off: no digest, whatever is owed.
    client.post("/account/settings", data={"name": "Ada Manager", "time_zone": "UTC", "digest_hour": "8"})
    overdue_candidate(session, manager)
    session.commit()
    send(client.application.test_cli_runner(), utc(2026, 11, 25, 12))
    assert digests(session) == []


def test_a_long_digest_lists_the_25_most_urgent_greets_by_first_name_and_links_the_settings(runner, session):
    manager = UserFactory(name="Maria José Lopez", time_zone="UTC", digest_hour=8)
    position = PositionFactory(manager=manager)
    for i in range(30):  # the earlier the application, the more overdue
        service.add_candidate(
            session,
            position,
            f"Candidate {i:02d}",
            f"c{i}@example.org",
            utc(2026, 11, 2, 9 + i % 8) - dt.timedelta(days=i),
            OrgSettings(),
        )
    session.commit()
    send(runner, utc(2026, 11, 25, 9))
    [message] = digests(session)
    for body in (message.text_body, message.html_body):
        assert "Hello Maria," in body
        assert "30 candidates waiting on you" in body
        assert body.count(f"{BASE_URL}/candidates/") == 25
        assert "and 5 more on your triage page" in body
        assert f"{BASE_URL}/account/settings" in body
    assert "Candidate 29" in message.text_body and "Candidate 00" not in message.text_body
    assert 'name="viewport"' in message.html_body and "max-width: 560px" in message.html_body
