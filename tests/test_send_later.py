"""Send later: an email scheduled on the candidate's clock stays queued, undoable and cancellable
until its time, and the worker sends it then; its wait closes when it is really sent."""

from __future__ import annotations

import datetime as dt
import re

import pytest
import sqlalchemy as sa
import time_machine

from feedback_sla.candidates.models import Status
from feedback_sla.emails import scheduling
from feedback_sla.emails.checks import EmailRequest
from feedback_sla.emails.config import EmailConfig
from feedback_sla.emails.models import OutboxMessage, OutboxStatus
from feedback_sla.waits import answers, bulk
from feedback_sla.waits import service as waits
from feedback_sla.waits.clock import OrgSettings
from feedback_sla.waits.models import Wait
from feedback_sla.worker import run_worker

from .api_support import manager_with_token
from .emails_support import SmtpSink, free_port
from .factories import PositionFactory, UserFactory
from .helpers import logged_in, text

ORG = OrgSettings()
#: Monday 7 December 2026, 15:00 in Berlin (14:00 UTC): "tomorrow 09:00" is Tuesday 8 December.
MONDAY = dt.datetime(2026, 12, 7, 14, 0, tzinfo=dt.UTC)
#: Tuesday 8 December, 09:00 in Berlin.
TUESDAY_NINE_BERLIN = dt.datetime(2026, 12, 8, 8, 0, tzinfo=dt.UTC)


def hiring(session, *, position_zone="Europe/Berlin", names=("Ana Okafor",), at=MONDAY):
    manager = UserFactory(name="Maria Lopez", time_zone=position_zone)
    position = PositionFactory(manager=manager, title="Backend Engineer", time_zone=position_zone)
    people = [
        waits.add_candidate(session, position, name, f"c{i}@example.com", at - dt.timedelta(days=1), ORG)
        for i, name in enumerate(names)
    ]
    session.commit()
    return manager, position, people


def nonce_of(page: str) -> str:
    return re.search(r'name="nonce" type="hidden" value="([^"]+)"', page).group(1)


def customize_form(page: str, **when: str) -> dict:
    """The customize page's form as posted to queue the email, sent when ``when`` says."""
    fields = {"subject": "x", "text": "x", "shown_subject": "x", "shown_text": "x"}
    return {"nonce": nonce_of(page), **fields, **when, "action": "queue"}


def schedule_rejection_tomorrow(client, candidate) -> OutboxMessage:
    url = f"/candidates/{candidate.id}/emails/rejection/customize"
    page = text(client.get(url))
    assert "Tomorrow at 09:00 (position&#39;s time, Europe/Berlin)" in page or (
        "Tomorrow at 09:00 (position's time, Europe/Berlin)" in page
    )
    form = customize_form(page, send_when="tomorrow")
    queued = client.post(url, data=form)
    assert queued.status_code == 302, text(queued)
    return queued


def worker(make_app, port):
    return make_app(MAIL_BACKEND="smtp", MAIL_SERVER="127.0.0.1", MAIL_PORT=port, MAIL_TIMEOUT=5)


def test_a_rejection_scheduled_for_tomorrow_nine_is_sent_then_and_closes_the_wait_then(
    client, session, make_app
):
    """The acceptance: scheduled from the customize page, nothing goes before 09:00 on the
    candidate's clock, the worker sends it at 09:00, and the wait closes when it is sent."""
    with time_machine.travel(MONDAY, tick=False) as clock:
        manager, _, [ana] = hiring(session)
        logged_in(client, manager)
        queued = schedule_rejection_tomorrow(client, ana)
        assert "scheduled for Tue 8 Dec 09:00 (position's time)" in text(client.get(queued.location))
        [message] = session.scalars(sa.select(OutboxMessage)).all()
        assert (message.send_after, message.send_at_zone) == (TUESDAY_NINE_BERLIN, "Europe/Berlin")
        assert ana.status == Status.REJECTED
        page = text(client.get(f"/candidates/{ana.id}"))
        assert "scheduled for Tue 8 Dec 09:00 (position's time)" in page and "Undo" in page

        port = free_port()
        with SmtpSink(port=port) as received:
            clock.move_to(TUESDAY_NINE_BERLIN - dt.timedelta(minutes=1))
            early = run_worker(worker(make_app, port), once=True)
            assert received.messages == [] and early.sent == 0
            session.expire_all()
            assert session.scalar(sa.select(Wait.closed_at)) is None  # nobody has heard yet

            clock.move_to(TUESDAY_NINE_BERLIN)
            run_worker(worker(make_app, port), once=True)
        [mail] = received.messages
        assert mail["To"].addresses[0].addr_spec == "c0@example.com"
        session.expire_all()
        sent = session.get(OutboxMessage, message.id)
        assert (sent.status, sent.sent_at) == (OutboxStatus.SENT, TUESDAY_NINE_BERLIN)
        assert session.scalar(sa.select(Wait.closed_at)) == TUESDAY_NINE_BERLIN


def test_a_scheduled_rejection_can_be_undone_the_evening_before_and_is_never_sent(client, session, make_app):
    with time_machine.travel(MONDAY, tick=False) as clock:
        manager, _, [ana] = hiring(session)
        logged_in(client, manager)
        schedule_rejection_tomorrow(client, ana)
        [message] = session.scalars(sa.select(OutboxMessage)).all()
        clock.move_to(dt.datetime(2026, 12, 7, 21, 0, tzinfo=dt.UTC))  # 22:00 in Berlin
        logged_in(client, manager)  # the session of the afternoon has timed out
        undone = client.post(f"/emails/{message.id}/undo")
        assert undone.status_code == 302
        assert "Undone" in text(client.get(undone.location)), text(client.get(undone.location))[-3000:]
        session.expire_all()
        assert session.get(OutboxMessage, message.id).status == OutboxStatus.CANCELLED
        assert session.get(type(ana), ana.id).status == Status.ACTIVE
        port = free_port()
        with SmtpSink(port=port) as received:
            clock.move_to(TUESDAY_NINE_BERLIN + dt.timedelta(hours=1))
            run_worker(worker(make_app, port), once=True)
        assert received.messages == []


def test_a_scheduled_rejection_is_cancelled_when_the_candidate_moves_on_before_it_goes(app, session):
    _, _, [ana] = hiring(session)
    wanted = EmailRequest(
        ana, "rejection", "later", MONDAY, None, send_at=scheduling.SendAt(tomorrow=scheduling.MORNING)
    )
    message = answers.queue_email(session, wanted, EmailConfig.from_app(app), ORG)
    session.commit()
    evening = MONDAY + dt.timedelta(hours=6)
    cancelled = waits.move_stage(session, ana, "interview", evening)
    session.commit()
    assert [m.id for m in cancelled] == [message.id]
    assert message.status == OutboxStatus.CANCELLED and "moved to interview" in message.cancel_reason
    assert ana.status == Status.ACTIVE


@pytest.mark.parametrize(
    ("zone", "now", "expected"),
    [
        # Saturday 24 October 2026, noon in Berlin (summer time): Sunday 09:00 is winter time.
        (
            "Europe/Berlin",
            dt.datetime(2026, 10, 24, 10, 0, tzinfo=dt.UTC),
            dt.datetime(2026, 10, 25, 8, 0, tzinfo=dt.UTC),
        ),
        # Saturday 31 October 2026 in New York: Sunday 1 November 09:00 is after the clocks go back.
        (
            "America/New_York",
            dt.datetime(2026, 10, 31, 16, 0, tzinfo=dt.UTC),
            dt.datetime(2026, 11, 1, 14, 0, tzinfo=dt.UTC),
        ),
        # Saturday 27 March 2027 in Berlin: Sunday 09:00 is summer time already.
        (
            "Europe/Berlin",
            dt.datetime(2027, 3, 27, 10, 0, tzinfo=dt.UTC),
            dt.datetime(2027, 3, 28, 7, 0, tzinfo=dt.UTC),
        ),
    ],
)
def test_tomorrow_nine_across_a_daylight_saving_change(app, session, zone, now, expected):
    _, _, [ana] = hiring(session, position_zone=zone, at=now)
    wanted = EmailRequest(
        ana, "rejection", "dst", now, None, send_at=scheduling.SendAt(tomorrow=scheduling.MORNING)
    )
    message = answers.queue_email(session, wanted, EmailConfig.from_app(app), ORG)
    assert message.send_after == expected
    assert scheduling.describe(message.send_after, zone, None).endswith("09:00 (position's time)")


def test_a_time_the_clocks_skip_falls_just_after_the_change(app):
    """02:30 on the night Berlin goes to summer time does not exist: it is taken as 03:30."""
    instant = scheduling.parse("2027-03-28 02:30").instant("Europe/Berlin", MONDAY)
    assert instant == dt.datetime(2027, 3, 28, 1, 30, tzinfo=dt.UTC)


def test_the_candidates_own_zone_comes_before_the_positions(client, session):
    with time_machine.travel(MONDAY, tick=False):
        manager, _, [ana, ben] = hiring(session, names=("Ana Okafor", "Ben Ode"))
        ana.time_zone = "America/New_York"
        session.commit()
        logged_in(client, manager)
        page = text(client.get(f"/candidates/{ana.id}/emails/rejection/customize"))
        assert "Tomorrow at 09:00 (candidate's time, America/New_York)" in page.replace("&#39;", "'")
        form = customize_form(page, send_when="at", send_at="2026-12-08T09:00")
        assert client.post(f"/candidates/{ana.id}/emails/rejection/customize", data=form).status_code == 302
        message = session.scalar(sa.select(OutboxMessage).where(OutboxMessage.candidate_id == ana.id))
        assert message.send_after == dt.datetime(2026, 12, 8, 14, 0, tzinfo=dt.UTC)  # 09:00 in New York
        assert message.send_at_zone == "America/New_York"
        shown = text(client.get(f"/candidates/{ana.id}"))
        assert "scheduled for Tue 8 Dec 09:00 (candidate's time)" in shown

        # One answer to both: each at 09:00 on their own clock, one Undo for both until then.
        config = EmailConfig.from_app(client.application)
        done = bulk.answer_many(
            session,
            [ben.id],
            bulk.Answer(bulk.EmailKind.NEXT_STEP, send_at=scheduling.SendAt(tomorrow=scheduling.MORNING)),
            config,
            ORG,
            MONDAY,
            key="both",
            actor=manager,
            manager_id=manager.id,
        )
        session.commit()
        [(_, scheduled)] = done.queued
        assert scheduled.send_after == TUESDAY_NINE_BERLIN
        undone = bulk.undo_batch(
            session, done.batch_id, MONDAY + dt.timedelta(hours=8), manager, manager_id=manager.id
        )
        assert [m.id for m in undone.undone] == [scheduled.id]


def test_a_time_in_the_past_or_too_far_ahead_is_refused_naming_the_field(app, client, session):
    with time_machine.travel(MONDAY, tick=False):
        manager, _, [ana, ben] = hiring(session, names=("Ana Okafor", "Ben Ode"))
        logged_in(client, manager)
        url = f"/candidates/{ana.id}/emails/rejection/customize"
        page = text(client.get(url))
        form = customize_form(page, send_when="at", send_at="2026-12-07T09:00")
        refused = client.post(url, data=form)
        assert refused.status_code == 409
        assert "Send at: 2026-12-07 09:00 (Europe/Berlin) has passed" in text(refused)
        far = client.post(url, data={**form, "send_at": "2027-02-01T09:00"})
        assert far.status_code == 409 and "is more than 30 days ahead" in text(far)
        assert session.scalar(sa.select(sa.func.count()).select_from(OutboxMessage)) == 0

        runner = app.test_cli_runner()
        past = runner.invoke(
            args=["emails", "queue", str(ana.id), "rejection", "--send-at", "2026-12-07 09:00"]
        )
        assert past.exit_code == 2 and "'--send-at'" in past.output and "has passed" in past.output
        bad = runner.invoke(args=["emails", "queue", str(ana.id), "rejection", "--send-at", "tomorrow"])
        assert bad.exit_code == 2 and "'--send-at'" in bad.output
        many = runner.invoke(
            args=[
                "emails",
                "queue",
                "rejection",
                "--candidate",
                str(ana.id),
                "--candidate",
                str(ben.id),
                "--send-at",
                "2027-03-01 09:00",
            ]
        )
        assert many.exit_code == 2 and "more than 30 days ahead for Ana Okafor" in many.output
        assert session.scalar(sa.select(sa.func.count()).select_from(OutboxMessage)) == 0

        ok = runner.invoke(
            args=["emails", "queue", str(ana.id), "rejection", "--send-at", "2026-12-08 09:00"]
        )
        assert ok.exit_code == 0 and "sent after 2026-12-08T09:00:00+01:00" in ok.output


def test_the_api_schedules_one_email_and_a_batch(client, session):
    with time_machine.travel(MONDAY, tick=False):
        manager, secret = manager_with_token(session, time_zone="Europe/Berlin")
        position = PositionFactory(manager=manager, time_zone="Europe/Berlin")
        ana, ben = (
            waits.add_candidate(
                session, position, name, f"{name[:3]}@example.com", MONDAY - dt.timedelta(days=1), ORG
            )
            for name in ("Ana Okafor", "Ben Ode")
        )
        session.commit()
        headers = {"Authorization": f"Bearer {secret}"}
        one = client.post(
            f"/api/v1/candidates/{ana.id}/emails",
            json={"kind": "rejection", "send_at": "2026-12-08T09:00"},
            headers={**headers, "Idempotency-Key": "one"},
        )
        assert one.status_code == 201, one.json
        assert (one.json["send_after"], one.json["scheduled_in"]) == (
            "2026-12-08T08:00:00+00:00",
            "Europe/Berlin",
        )
        past = client.post(
            "/api/v1/emails/batches",
            json={"kind": "rejection", "candidate_ids": [ben.id], "send_at": "2026-12-01T09:00:00+00:00"},
            headers={**headers, "Idempotency-Key": "past"},
        )
        assert past.status_code == 409 and past.json["detail"].startswith("send at:")
        batch = client.post(
            "/api/v1/emails/batches",
            json={"kind": "rejection", "candidate_ids": [ben.id], "send_at": "2026-12-08T10:00:00+01:00"},
            headers={**headers, "Idempotency-Key": "batch"},
        )
        assert batch.status_code == 201
        assert batch.json["queued"][0]["email"]["send_after"] == "2026-12-08T09:00:00+00:00"


def test_an_update_cannot_arrive_after_the_date_it_promises(app, session):
    _, _, [ana] = hiring(session)
    wanted = EmailRequest(
        ana,
        "update",
        "late-update",
        MONDAY,
        None,
        promised_date=dt.date(2026, 12, 9),
        send_at=scheduling.SendAt(at=dt.datetime(2026, 12, 10, 9, 0)),
        waiting=True,
    )
    with pytest.raises(Exception, match="send at: after Wed 09 Dec 2026"):
        answers.queue_email(session, wanted, EmailConfig.from_app(app), ORG)


def test_the_bulk_page_schedules_each_email_on_its_candidates_clock(client, session):
    with time_machine.travel(MONDAY, tick=False):
        manager, _, [ana, ben] = hiring(session, names=("Ana Okafor", "Ben Ode"))
        ana.time_zone = "Asia/Tokyo"
        session.commit()
        logged_in(client, manager)
        ids = [ana.id, ben.id]
        page = text(client.get("/emails/bulk", query_string={"candidate": ids, "kind": "rejection"}))
        assert "Tomorrow at 09:00, each candidate's time" in page.replace("&#39;", "'")
        refused = client.post(
            "/emails/bulk",
            data={
                "nonce": nonce_of(page)[:-4] + "beef",
                "kind": "rejection",
                "candidate": ids,
                "send_when": "at",
                "send_at": "9999-12-31T23:59",
                "action": "queue",
            },
        )
        assert refused.status_code == 409 and "Send at: 9999-12-31 23:59" in text(refused)
        posted = client.post(
            "/emails/bulk",
            data={
                "nonce": nonce_of(page),
                "kind": "rejection",
                "candidate": ids,
                "send_when": "tomorrow",
                "action": "queue",
            },
        )
        assert posted.status_code == 302
        assert "scheduled for" in text(client.get(posted.location))
        sent_after = dict(
            session.execute(sa.select(OutboxMessage.candidate_id, OutboxMessage.send_after)).all()
        )
        # Tuesday 09:00 in Tokyo is midnight UTC; in Berlin 08:00 UTC.
        assert sent_after == {
            ana.id: dt.datetime(2026, 12, 8, 0, 0, tzinfo=dt.UTC),
            ben.id: TUESDAY_NINE_BERLIN,
        }


def test_a_scheduled_update_says_when_it_goes_on_its_triage_row(app, client, session):
    """The row keeps its candidate (an update leaves them waiting) and says when the email goes."""
    with time_machine.travel(MONDAY, tick=False):
        manager, _, [ana] = hiring(session)
        wanted = EmailRequest(
            ana,
            "update",
            "scheduled-update",
            MONDAY,
            manager,
            promised_date=dt.date(2026, 12, 11),
            send_at=scheduling.SendAt(tomorrow=dt.time(9, 0)),
            waiting=True,
        )
        answers.queue_email(session, wanted, EmailConfig.from_app(app), ORG)
        session.commit()
        logged_in(client, manager)
        page = text(client.get("/"))
        row = re.search(rf'<tr data-candidate-id="{ana.id}".*?</tr>', page, re.S).group(0)
        shown = "Queued</span> status update, <span data-scheduled>scheduled for Tue 8 Dec 09:00"
        assert f"{shown} (position's time)</span>" in row
