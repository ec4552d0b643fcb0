"""Autopilot: status updates queued before a deadline passes, once per wait, capped, on a controlled clock."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import threading

import pytest
import time_machine
from flask import current_app
from sqlalchemy import func, select

from feedback_sla.candidates.models import ContactChannel, Event, EventKind
from feedback_sla.database import db
from feedback_sla.digest import service as digest
from feedback_sla.emails import composing
from feedback_sla.emails.checks import EmailRequest
from feedback_sla.emails.config import EmailConfig
from feedback_sla.emails.errors import EmailError
from feedback_sla.emails.models import EmailKind, OutboxMessage, OutboxStatus
from feedback_sla.emails.transport import backend_for
from feedback_sla.models import Position, Role
from feedback_sla.settings import service as settings_service
from feedback_sla.waits import answers
from feedback_sla.waits import service as waits
from feedback_sla.waits.models import Wait
from feedback_sla.worker import deliver_due

from .api_support import bearer, manager_with_token
from .emails_support import Recorder, SmtpSink, free_port
from .factories import PositionFactory, UserFactory
from .helpers import login, ny

UTC = dt.UTC
#: Wednesday 18 November 2026, 15:00: three business hours before Wednesday's close (18:00).
NOW = dt.datetime(2026, 11, 18, 15, 0, tzinfo=UTC)
#: Applied on these days, a wait is due (5 business days) on the 18th, the 17th and the 19th.
DUE_TODAY, OVERDUE, DUE_TOMORROW = (dt.datetime(2026, 11, d, 9, 0, tzinfo=UTC) for d in (11, 10, 12))


@pytest.fixture
def smtp_port():
    return free_port()


@pytest.fixture
def app_config(app_config, request):
    """Tests that ask for ``smtp_port`` send through a real SMTP server listening there."""
    if "smtp_port" in request.fixturenames:
        port = request.getfixturevalue("smtp_port")
        app_config.update(MAIL_BACKEND="smtp", MAIL_SERVER="127.0.0.1", MAIL_PORT=port, MAIL_TIMEOUT=10)
    return app_config


@pytest.fixture
def maria(session):
    return UserFactory(name="Maria Lopez", email="maria@example.com")


@pytest.fixture
def backend(session, maria):
    return PositionFactory(manager=maria, title="Backend Engineer", time_zone="UTC", autopilot=True)


def settings(session):
    return settings_service.load(session)


def add(session, position, name: str, applied_at: dt.datetime):
    address = name.lower().replace(" ", ".") + "@example.com"
    return waits.add_candidate(session, position, name, address, applied_at, settings(session))


def autopilot(runner, at: dt.datetime, *args: str):
    db.session.commit()
    with time_machine.travel(at, tick=False):
        return runner.invoke(args=["autopilot", "run", *args])


def deliver(session, at: dt.datetime) -> None:
    """The worker, once the undo window of what was queued before ``at`` is over."""
    config = EmailConfig.from_app(current_app)
    sent_at = at + dt.timedelta(seconds=config.undo_seconds + 1)
    deliver_due(session, config, backend_for(current_app, config), clock=lambda: sent_at)
    session.expire_all()


def open_wait(session, candidate) -> Wait:
    return session.scalar(select(Wait).where(Wait.candidate_id == candidate.id, Wait.closed_at.is_(None)))


def autopilot_messages(session) -> list[OutboxMessage]:
    query = select(OutboxMessage).where(OutboxMessage.autopilot.is_(True)).order_by(OutboxMessage.id)
    return list(session.scalars(query))


def queue_update(session, candidate, at: dt.datetime, actor=None) -> OutboxMessage:
    config = EmailConfig.from_app(current_app)
    request = EmailRequest(candidate, "update", f"own-{candidate.id}", at, actor, default_promise=True)
    message = answers.queue_email(session, request, config, settings(session))
    session.commit()
    return message


# --- the acceptance: one update per wait inside the lead time, none the second time -------------


def test_a_run_before_the_deadline_queues_one_update_per_wait_inside_the_lead_time(runner, session, backend):
    ann = add(session, backend, "Ann Lee", DUE_TODAY)
    bob = add(session, backend, "Bob Stone", OVERDUE)  # past due already: owed a message all the more
    cid = add(session, backend, "Cid Moss", DUE_TOMORROW)  # 11 business hours away: not yet

    first = autopilot(runner, NOW)
    assert first.exit_code == 0, first.output
    assert "2 update(s) queued; 0 skipped; 0 failed" in first.output
    assert "queued: Ann Lee" in first.output and "queued: Bob Stone" in first.output
    messages = autopilot_messages(session)
    assert {m.candidate_id for m in messages} == {ann.id, bob.id}
    for message in messages:
        assert message.kind == EmailKind.UPDATE and message.status == OutboxStatus.PENDING
        assert message.queued_by_id is None
        assert message.send_after > NOW  # the usual undo window
        # The next deadline by the policy: 5 business days from today.
        assert message.promised_date == dt.date(2026, 11, 25)
        assert "25" in message.text_body and "November" in message.text_body

    second = autopilot(runner, NOW + dt.timedelta(minutes=15))
    assert second.exit_code == 0, second.output
    assert "0 update(s) queued" in second.output
    assert len(autopilot_messages(session)) == 2

    deliver(session, NOW + dt.timedelta(minutes=15))
    for candidate in (ann, bob):
        wait = open_wait(session, candidate)
        assert wait.due_at == dt.datetime(2026, 11, 25, 18, 0, tzinfo=UTC)
        assert wait.promised_date == dt.date(2026, 11, 25)
        assert wait.autopilot_updates == 0  # a new promise: autopilot may keep it in its turn
    assert open_wait(session, cid).autopilot_updates == 0
    sent = session.scalars(select(Event).where(Event.kind == EventKind.EMAIL_SENT)).all()
    assert len(sent) == 2 and all(event.data["autopilot"] is True for event in sent)


def test_positions_with_autopilot_off_get_nothing(runner, session, maria, backend):
    manual = PositionFactory(manager=maria, title="Designer", time_zone="UTC")
    add(session, manual, "Dee Park", DUE_TODAY)
    add(session, backend, "Ann Lee", DUE_TOMORROW)

    result = autopilot(runner, NOW)

    assert result.exit_code == 0, result.output
    assert "0 update(s) queued" in result.output
    assert autopilot_messages(session) == []


def test_a_wait_the_manager_answered_meanwhile_gets_nothing(runner, session, maria, backend):
    queued = add(session, backend, "Ann Lee", DUE_TODAY)
    queue_update(session, queued, NOW - dt.timedelta(minutes=1), maria)  # still in its undo window
    called = add(session, backend, "Bob Stone", DUE_TODAY)
    waits.log_contact(session, called, ContactChannel.PHONE, NOW - dt.timedelta(hours=1), maria)
    bounced = add(session, backend, "Cid Moss", DUE_TODAY)
    bounced.email_undeliverable_at = NOW - dt.timedelta(days=1)
    rejected = add(session, backend, "Dee Park", DUE_TODAY)
    answers.queue_email(
        session,
        EmailRequest(rejected, "rejection", "no-thanks", NOW - dt.timedelta(minutes=2), maria),
        EmailConfig.from_app(current_app),
        settings(session),
    )

    result = autopilot(runner, NOW)

    assert result.exit_code == 0, result.output
    assert "0 update(s) queued" in result.output
    assert autopilot_messages(session) == []


def test_an_email_queued_while_the_run_works_wins_and_the_run_skips_that_wait(
    runner, session, maria, backend, monkeypatch
):
    ann = add(session, backend, "Ann Lee", DUE_TODAY)
    add(session, backend, "Bob Stone", DUE_TODAY)
    session.commit()
    from feedback_sla.autopilot import service

    read = service.owed

    def manager_answers_after_the_read(*args, **kwargs):
        found = read(*args, **kwargs)
        queue_update(session, ann, NOW, maria)
        return found

    monkeypatch.setattr(service, "owed", manager_answers_after_the_read)
    result = autopilot(runner, NOW)

    assert result.exit_code == 0, result.output
    assert "1 update(s) queued; 1 skipped" in result.output
    assert "skipped: Ann Lee" in result.output
    assert [m.candidate.name for m in autopilot_messages(session)] == ["Bob Stone"]
    assert open_wait(session, ann).autopilot_updates == 0


def test_an_update_a_person_undid_is_not_queued_again(runner, session, maria, backend):
    ann = add(session, backend, "Ann Lee", DUE_TODAY)
    autopilot(runner, NOW)
    (message,) = autopilot_messages(session)
    answers.undo_email(session, message, NOW + dt.timedelta(seconds=5), maria)
    session.commit()

    again = autopilot(runner, NOW + dt.timedelta(minutes=15))

    assert "0 update(s) queued" in again.output
    assert len(autopilot_messages(session)) == 1
    assert open_wait(session, ann).promised_date is None


# --- safe on several hosts -------------------------------------------------------------------------


def test_two_concurrent_runs_queue_one_update_per_wait(app, session, backend, monkeypatch):
    names = [f"Candidate {i}" for i in range(12)]
    for name in names:
        add(session, backend, name, DUE_TODAY)
    session.commit()
    from feedback_sla.autopilot import service

    read = service.owed
    both_have_read = threading.Barrier(2, timeout=30)

    def read_then_wait(*args, **kwargs):
        found = read(*args, **kwargs)
        both_have_read.wait()  # both runs hold the whole list before either queues
        return found

    monkeypatch.setattr(service, "owed", read_then_wait)
    outcomes, errors = [], []

    def one_run():
        try:
            with app.app_context():
                config = EmailConfig.from_app(app)
                outcomes.append(service.run(db.session, NOW, settings_service.load(db.session), config))
                db.session.remove()
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=one_run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)

    assert errors == []
    assert sum(len(o.queued) for o in outcomes) == len(names)
    assert sum(len(o.skipped) for o in outcomes) == len(names)
    assert all(not o.failed for o in outcomes)
    session.expire_all()
    messages = autopilot_messages(session)
    assert sorted(m.candidate.name for m in messages) == sorted(names)
    counts = session.scalars(select(Wait.autopilot_updates).where(Wait.closed_at.is_(None))).all()
    assert counts == [1] * len(names)


# --- the cap and the digest -------------------------------------------------------------------------


def test_each_promise_gets_its_own_update_so_no_deadline_passes_in_silence(runner, session, maria, backend):
    ann = add(session, backend, "Ann Lee", DUE_TODAY)
    # Each update promises 5 business days on; just before that deadline autopilot writes again.
    for run_at in (
        NOW,
        dt.datetime(2026, 11, 25, 15, 0, tzinfo=UTC),
        dt.datetime(2026, 12, 2, 15, 0, tzinfo=UTC),
    ):
        result = autopilot(runner, run_at)
        assert "1 update(s) queued" in result.output, result.output
        deliver(session, run_at)
        wait = open_wait(session, ann)
        assert wait.autopilot_updates == 0 and wait.due_at > run_at + dt.timedelta(days=5)
    assert [m.status for m in autopilot_messages(session)] == [OutboxStatus.SENT] * 3


def test_the_cap_stops_updates_that_do_not_reach_the_candidate_and_the_digest_tells_the_manager_and_admins(
    runner, session, maria, backend, smtp_port
):
    ann = add(session, backend, "Ann Lee", DUE_TODAY)
    admin = UserFactory(name="Ada Admin", email="ada@example.com", role=Role.ADMIN)
    other = UserFactory(name="Jonas Berg", email="jonas@example.com")
    # The candidate's mail server refuses both updates for good: the wait stays open and due.
    with SmtpSink(Recorder(answers=("550 5.1.1 No such mailbox",) * 2), port=smtp_port):
        for number, run_at in ((1, NOW), (2, NOW + dt.timedelta(hours=1))):
            result = autopilot(runner, run_at)
            assert "1 update(s) queued" in result.output, result.output
            deliver(session, run_at)
            assert open_wait(session, ann).autopilot_updates == number
    third = NOW + dt.timedelta(hours=2)

    result = autopilot(runner, third)

    assert "0 update(s) queued" in result.output
    assert [m.status for m in autopilot_messages(session)] == [OutboxStatus.FAILED] * 2
    base = "https://feedback.example.com"
    for user in (maria, admin):
        notice = digest.digest_for(session, third, settings(session), user, third.date(), base)
        assert notice.autopilot_capped.sentence == (
            "Autopilot has written to 1 candidate twice; they need your answer"
        )
        text, html = digest.render(notice)
        assert "Autopilot has written to 1 candidate twice; they need your answer" in text
        assert f"{base}/candidates/{ann.id}" in text and "Ann Lee" in html
    others = digest.digest_for(session, third, settings(session), other, third.date(), base)
    assert not others.autopilot_capped
    # The admin, who is owed nothing themselves, still gets a digest for it.
    config = EmailConfig.from_app(current_app)
    notice = digest.digest_for(session, third, settings(session), admin, third.date(), base)
    assert notice.subject == "Autopilot has written to 1 candidate twice; they need your answer"
    assert digest.queue(session, notice, third, config).outbox_message_id is not None


def test_the_cap_setting_limits_the_updates(runner, session, backend):
    settings_service.store(session, "autopilot.max_per_wait", "1")
    ann = add(session, backend, "Ann Lee", DUE_TODAY)
    autopilot(runner, NOW)
    # The update is undeliverable for now: a second one would be the second on this wait.
    message = autopilot_messages(session)[0]
    message.status, message.failed_at = OutboxStatus.FAILED, NOW
    session.commit()
    result = autopilot(runner, NOW + dt.timedelta(hours=1))
    assert "0 update(s) queued" in result.output
    assert open_wait(session, ann).autopilot_updates == 1


# --- the lead time on the position's calendar -------------------------------------------------------


def test_the_lead_time_skips_a_holiday(runner, session, maria):
    settings_service.store(session, "holiday_calendar", "US")
    settings_service.store(session, "autopilot.lead_business_hours", "10")
    position = PositionFactory(manager=maria, time_zone="America/New_York", autopilot=True)
    # Applied Thursday 19 November: business day 5 is Friday 27 (Thanksgiving, the 26th, skipped).
    ann = add(session, position, "Ann Lee", ny(2026, 11, 19, 9))
    assert open_wait(session, ann).due_at == ny(2026, 11, 27, 18)

    # Ten business hours before Friday 18:00: Friday's eight, and two of Wednesday's.
    early = autopilot(runner, ny(2026, 11, 25, 15, 30))
    assert "0 update(s) queued" in early.output
    on_time = autopilot(runner, ny(2026, 11, 25, 16, 30))
    assert "1 update(s) queued" in on_time.output, on_time.output


def test_the_lead_time_across_a_daylight_saving_change_is_counted_in_local_hours(runner, session, maria):
    settings_service.store(session, "autopilot.lead_business_hours", "12")
    position = PositionFactory(manager=maria, time_zone="America/New_York", autopilot=True)
    # Due Monday 9 March 2026, 18:00 EDT; the clocks went forward on Sunday the 8th.
    ann = add(session, position, "Ann Lee", ny(2026, 3, 2, 12))
    assert open_wait(session, ann).due_at == ny(2026, 3, 9, 18)

    # Twelve business hours before: Monday's eight, and Friday from 14:00 EST (19:00 UTC).
    early = autopilot(runner, dt.datetime(2026, 3, 6, 18, 30, tzinfo=UTC))
    assert "0 update(s) queued" in early.output
    on_time = autopilot(runner, dt.datetime(2026, 3, 6, 19, 30, tzinfo=UTC))
    assert "1 update(s) queued" in on_time.output, on_time.output


# --- the command ------------------------------------------------------------------------------------


def test_dry_run_lists_what_it_would_queue_and_writes_nothing(runner, session, backend):
    add(session, backend, "Ann Lee", DUE_TODAY)

    result = autopilot(runner, NOW, "--dry-run")

    assert result.exit_code == 0, result.output
    assert "would queue: Ann Lee" in result.output and "update 1" in result.output
    assert "dry run: 1 update(s) to queue; nothing written" in result.output
    assert autopilot_messages(session) == []
    assert session.scalar(select(func.max(Wait.autopilot_updates))) == 0


def test_one_wait_that_fails_is_reported_the_others_are_queued_and_the_command_fails(
    runner, session, maria, backend
):
    add(session, backend, "Anna Lee", DUE_TODAY)
    broken = add(session, backend, "Bob Stone", DUE_TODAY)
    add(session, backend, "Carla Moss", DUE_TODAY)
    # An admin's edit that renders for every first name but one of three letters: 6 / 0.
    sentence = (
        "Dear {{ candidate_first_name }}, you will hear from us by {{ promised_date }} "
        "({{ 6 / (candidate_first_name|length - 3) }})."
    )
    composing.save_template(
        session, "update", "{{ position }}: an update", sentence, f"<p>{sentence}</p>", maria, NOW
    )

    result = autopilot(runner, NOW)

    assert result.exit_code == 1
    assert "failed: Bob Stone" in result.output and "cannot be rendered (division by zero)" in result.output
    assert "2 update(s) queued; 0 skipped; 1 failed" in result.output
    messages = autopilot_messages(session)
    assert sorted(m.candidate.name for m in messages) == ["Anna Lee", "Carla Moss"]
    assert open_wait(session, broken).autopilot_updates == 0  # its count given back
    queued = session.scalars(select(Event.candidate_id).where(Event.kind == EventKind.EMAIL_QUEUED)).all()
    assert sorted(queued) == sorted(m.candidate_id for m in messages)

    composing.reset_template(session, "update")
    again = autopilot(runner, NOW + dt.timedelta(minutes=5))
    assert again.exit_code == 0 and "queued: Bob Stone" in again.output
    assert "1 update(s) queued; 0 skipped; 0 failed" in again.output


def test_a_batch_that_fails_as_a_whole_is_queued_again_wait_by_wait(runner, session, backend, monkeypatch):
    add(session, backend, "Anna Lee", DUE_TODAY)
    changed = add(session, backend, "Bob Stone", DUE_TODAY)
    add(session, backend, "Carla Moss", DUE_TODAY)
    queue_emails = answers.queue_emails

    def someone_changes_bob_meanwhile(session, requests, *args, **kwargs):
        if any(request.candidate.id == changed.id for request in requests):
            raise EmailError("Bob Stone was changed by someone else meanwhile; reload and try again")
        return queue_emails(session, requests, *args, **kwargs)

    monkeypatch.setattr(answers, "queue_emails", someone_changes_bob_meanwhile)
    result = autopilot(runner, NOW)

    assert result.exit_code == 1
    assert "failed: Bob Stone" in result.output and "changed by someone else meanwhile" in result.output
    assert "2 update(s) queued; 0 skipped; 1 failed" in result.output
    assert sorted(m.candidate.name for m in autopilot_messages(session)) == ["Anna Lee", "Carla Moss"]
    assert open_wait(session, changed).autopilot_updates == 0


def test_a_bad_now_is_refused_naming_the_option(runner, session, backend):
    result = runner.invoke(args=["autopilot", "run", "--now", "yesterday"])
    assert result.exit_code == 2
    assert "--now" in result.output


# --- what people see afterwards ---------------------------------------------------------------------


def test_timeline_export_report_and_metrics_tell_the_autopilot_answers(
    runner, client, session, maria, backend
):
    ann = add(session, backend, "Ann Lee", DUE_TODAY)
    add(session, backend, "Bob Stone", DUE_TOMORROW)
    autopilot(runner, NOW)
    deliver(session, NOW)
    later = NOW + dt.timedelta(hours=1)

    with time_machine.travel(later, tick=False):
        exported = runner.invoke(args=["export", "response-times", "--format", "csv"])
        report = runner.invoke(args=["report", "--format", "json"])
        login(client, maria)
        page = client.get(f"/candidates/{ann.id}").get_data(as_text=True)
        metrics = client.get("/metrics").get_data(as_text=True)

    rows = list(csv.DictReader(io.StringIO(exported.output)))
    assert [r["closed_by"] for r in rows if r["candidate_name"] == "Ann Lee"] == ["autopilot", ""]
    assert json.loads(report.output)[0]["by_autopilot"] == 1
    assert "sent by autopilot" in page
    assert 'data-figure="by_autopilot">1<' in metrics


# --- the switch per position ------------------------------------------------------------------------


def test_a_manager_turns_autopilot_on_and_off_on_the_position_form(client, session, maria):
    position = PositionFactory(manager=maria, title="Backend Engineer", time_zone="UTC")
    login(client, maria)
    form = client.get(f"/positions/{position.id}/edit").get_data(as_text=True)
    assert 'name="autopilot"' in form and "4 business hours before their deadline" in form

    data = {"title": "Backend Engineer", "time_zone": "UTC", "autopilot": "y"}
    assert client.post(f"/positions/{position.id}/edit", data=data).status_code == 302
    session.expire_all()
    assert session.get(type(position), position.id).autopilot is True
    assert "data-autopilot>Autopilot<" in client.get("/positions").get_data(as_text=True)

    data.pop("autopilot")  # an unticked box is not posted
    client.post(f"/positions/{position.id}/edit", data=data)
    session.expire_all()
    assert session.get(type(position), position.id).autopilot is False


def test_a_new_position_can_start_with_autopilot_on(client, session, maria):
    login(client, maria)
    client.post("/positions/new", data={"title": "Data Analyst", "time_zone": "UTC", "autopilot": "y"})
    client.post("/positions/new", data={"title": "Designer", "time_zone": "UTC"})
    positions = dict(session.execute(select(Position.title, Position.autopilot)).all())
    assert positions == {"Data Analyst": True, "Designer": False}


def test_the_positions_command_creates_lists_and_switches_autopilot(runner, session, maria):
    session.commit()
    created = runner.invoke(
        args=["positions", "create", "Data Analyst", "--manager", "maria@example.com", "--autopilot"]
    )
    assert created.exit_code == 0, created.output
    position = session.scalar(select(Position).where(Position.title == "Data Analyst"))
    assert position.autopilot is True
    listed = runner.invoke(args=["positions", "list", "--format", "json"])
    assert json.loads(listed.output)[0]["autopilot"] is True

    off = runner.invoke(args=["positions", "autopilot", str(position.id), "off"])
    assert off.exit_code == 0 and "autopilot off for position" in off.output
    session.expire_all()
    assert session.get(Position, position.id).autopilot is False
    unknown = runner.invoke(args=["positions", "autopilot", "999", "on"])
    assert unknown.exit_code == 2 and "no position with id 999" in unknown.output
    wrong = runner.invoke(args=["positions", "autopilot", str(position.id), "maybe"])
    assert wrong.exit_code == 2 and "'maybe' is not one of 'on', 'off'" in wrong.output


def test_the_api_tells_whether_a_position_has_autopilot(client, session):
    manager, secret = manager_with_token(session)
    position = PositionFactory(manager=manager, autopilot=True)
    session.commit()
    response = client.get(f"/api/v1/positions/{position.id}", headers=bearer(secret))
    assert response.status_code == 200 and response.get_json()["autopilot"] is True


def test_the_demo_has_one_position_with_autopilot_on(runner, session):
    result = runner.invoke(args=["demo", "--no-serve"])
    assert result.exit_code == 0, result.output
    assert session.scalars(select(Position.title).where(Position.autopilot.is_(True))).all() == [
        "Site Reliability Engineer"
    ]


def test_an_autopilot_update_carries_the_status_page_link_and_the_company_name_the_admins_set(
    app, runner, session, backend
):
    app.config["BASE_URL"] = "https://hiring.example.com"
    settings_service.store(session, "company_name", "Northwind Trading")
    ann = add(session, backend, "Ann Lee", DUE_TODAY)

    result = autopilot(runner, NOW)

    assert result.exit_code == 0, result.output
    [message] = autopilot_messages(session)
    assert "https://hiring.example.com/status/" in message.text_body
    assert "Northwind Trading" in message.text_body
    deliver(session, NOW)
    path = message.text_body.split("https://hiring.example.com", 1)[1].split()[0]
    page = app.test_client().get(path)
    assert page.status_code == 200
    assert "Backend Engineer" in page.get_data(as_text=True)
    assert ann.id == message.candidate_id
