"""Mail that comes back, piped into ``feedback-sla inbound receive``: replies, automatic replies, bounces.

Emails are really queued and sent by the worker (to files, or to an SMTP server on loopback), and
the sample messages of tests/mail come back through the command, as a mail server's pipe runs it.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import subprocess
import sys
from html import unescape

import pytest
import sqlalchemy as sa
import time_machine

from feedback_sla.candidates.models import Candidate, EventKind, Status
from feedback_sla.config import ConfigurationError
from feedback_sla.database import db
from feedback_sla.emails import to_users
from feedback_sla.emails.composing import RenderedEmail
from feedback_sla.emails.config import EmailConfig
from feedback_sla.emails.models import EmailKind, OutboxStatus
from feedback_sla.inbound import service as inbound
from feedback_sla.settings import service as settings_service
from feedback_sla.waits import service as waits
from feedback_sla.waits.models import Wait, WaitReason
from feedback_sla.waits.queries import open_wait_of

from .emails_support import ORG, T0, SmtpSink, free_port, make_candidate
from .factories import UserFactory
from .helpers import logged_in, text
from .inbound_support import (
    INBOUND_CONFIG,
    NOT_OURS,
    ZOE,
    about,
    events,
    inbound_rows,
    listed,
    mail,
    pipe,
    send,
)

LATER = T0 + dt.timedelta(hours=1)


@pytest.fixture
def app_config(app_config, tmp_path):
    app_config.update(INBOUND_CONFIG, OUTBOX_MAIL_DIR=str(tmp_path / "mail"))
    return app_config


@pytest.fixture
def zoe(session) -> Candidate:
    return make_candidate(session, name="Zoë O'Brien", email_address=ZOE)


def kinds(session, candidate) -> list[EventKind]:
    return [e.kind for e in events(session, candidate)]


def waiting_row(runner, at, email=ZOE) -> dict | None:
    rows = [r for r in listed(runner, at, "candidates", "list") if r["email"] == email]
    return rows[0] if rows else None


# --- replies --------------------------------------------------------------------------------------


def test_a_reply_counts_as_a_follow_up_once_and_an_out_of_office_for_nothing(runner, session, zoe):
    update = send(session, zoe, "update", T0)
    assert update.status == OutboxStatus.SENT and waiting_row(runner, LATER)["follow_ups"] == 0

    reply = mail("webmail_reply", **about(update))
    first = pipe(runner, reply, LATER)
    assert first.exit_code == 0, first.output
    assert "follow-up from Zoë O'Brien: 1 during this wait" in first.output
    assert waiting_row(runner, LATER)["follow_ups"] == 1
    with_csv = runner.invoke(args=["candidates", "list", "--format", "csv"])
    assert with_csv.output.splitlines()[0].endswith(",state,follow_ups")

    before = kinds(session, zoe)
    again = pipe(runner, reply, LATER + dt.timedelta(minutes=5))
    assert again.exit_code == 0 and first.output.split(":")[0] == again.output.split(":")[0]
    assert kinds(session, zoe) == before and len(inbound_rows(session)) == 1
    assert waiting_row(runner, LATER)["follow_ups"] == 1

    away = pipe(runner, mail("out_of_office", **about(update)), LATER)
    assert away.exit_code == 0 and "automatic reply" in away.output
    assert waiting_row(runner, LATER)["follow_ups"] == 1
    assert kinds(session, zoe) == [*before, EventKind.AUTO_REPLY]

    [follow_up] = [e for e in events(session, zoe) if e.kind == EventKind.FOLLOWED_UP]
    assert follow_up.channel == "email" and follow_up.actor_id is None
    assert follow_up.body.startswith("Re: Your application for Backend Engineer\n\nHi Maria,")
    assert "Is there any news about the role?" in follow_up.body
    assert "Thank you for applying" not in follow_up.body  # the quoted original is left out
    assert follow_up.data["sender_differs"] is False and follow_up.data["matched_by"] == "token"


def test_the_configured_follow_ups_escalate_the_wait(runner, session, zoe):
    update = send(session, zoe, "update", T0)
    reply = mail("webmail_reply", **about(update))
    pipe(runner, reply, LATER)
    second = reply.replace(b"<CAF=reply-1-zoe@mail.example.net>", b"<CAF=reply-2-zoe@mail.example.net>")
    assert pipe(runner, second, LATER).exit_code == 0
    row = waiting_row(runner, LATER)
    assert row["follow_ups"] == 2 and row["state"] == "escalated"


def test_a_reply_with_a_valid_token_from_another_address_counts_with_a_note(runner, session, zoe):
    update = send(session, zoe, "update", T0)
    result = pipe(runner, mail("token_only_reply", token=update.reply_token), LATER)
    assert result.exit_code == 0, result.output
    assert "differs from the candidate's address" in result.output
    assert waiting_row(runner, LATER)["follow_ups"] == 1
    follow_up = events(session, zoe)[-1]
    assert follow_up.kind == EventKind.FOLLOWED_UP and follow_up.data["sender_differs"] is True
    assert f"Sent from zoe.home@example.org, not the candidate's address {ZOE}." in follow_up.body
    [row] = listed(runner, LATER, "inbound", "list")
    assert row["candidate"] == "Zoë O'Brien" and "differs" in row["outcome"]


def test_the_managers_own_answer_with_the_token_is_no_follow_up(runner, session, zoe):
    update = send(session, zoe, "update", T0)
    manager = zoe.position.manager.email
    raw = mail("token_only_reply", token=update.reply_token).replace(
        b"zoe.home@example.org", manager.encode()
    )
    result = pipe(runner, raw, LATER)
    assert result.exit_code == 0 and "from the hiring manager" in result.output
    assert waiting_row(runner, LATER)["follow_ups"] == 0
    assert EventKind.FOLLOWED_UP not in kinds(session, zoe)


def test_the_timeline_says_a_follow_up_came_by_email(runner, session, client, zoe):
    update = send(session, zoe, "update", T0)
    pipe(runner, mail("webmail_reply", **about(update)), LATER)
    pipe(runner, mail("out_of_office", **about(update)), LATER)
    logged_in(client, zoe.position.manager)
    page = text(client.get(f"/candidates/{zoe.id}"))
    assert "Candidate followed up</strong> · by email" in page
    assert "Automatic reply</strong>" in page and "Is there any news about the role?" in page


def test_a_token_that_came_through_the_bounce_address_is_no_follow_up_from_a_stranger(runner, session, zoe):
    update = send(session, zoe, "update", T0)
    raw = mail("token_only_reply", token=update.reply_token).replace(b"replies+", b"bounces+")
    assert pipe(runner, raw, LATER).exit_code == 0
    assert waiting_row(runner, LATER)["follow_ups"] == 0
    [row] = listed(runner, LATER, "inbound", "list", "--unmatched")
    assert row["candidate_id"] is None and "not the candidate's address" in row["outcome"]


def test_a_reply_without_a_token_is_matched_by_in_reply_to(runner, session, zoe):
    update = send(session, zoe, "update", T0)
    result = pipe(runner, mail("webmail_reply", token=NOT_OURS, message_id=update.message_id), LATER)
    assert result.exit_code == 0 and "follow-up from" in result.output
    assert waiting_row(runner, LATER)["follow_ups"] == 1
    assert events(session, zoe)[-1].data["matched_by"] == "Message-ID"

    # The same answer from someone else's address, without a token: kept, and counted for nothing.
    other = mail("webmail_reply", token=NOT_OURS, message_id=update.message_id)
    other = other.replace(b"zoe.obrien@example.net>\r\nDate", b"someone@example.org>\r\nDate")
    other = other.replace(b"reply-1-zoe", b"reply-from-someone")
    assert pipe(runner, other, LATER).exit_code == 0
    assert waiting_row(runner, LATER)["follow_ups"] == 1
    [unmatched] = listed(runner, LATER, "inbound", "list", "--unmatched")
    assert "comes from someone@example.org, not the candidate's address" in unmatched["outcome"]


def test_a_reply_after_the_decision_is_on_the_timeline_and_opens_no_wait(runner, session, zoe):
    rejection = send(session, zoe, "rejection", T0)
    assert pipe(runner, mail("webmail_reply", **about(rejection)), LATER).exit_code == 0
    session.expire_all()
    assert open_wait_of(session, zoe) is None and zoe.status == Status.REJECTED
    last = events(session, zoe)[-1]
    assert last.kind == EventKind.FOLLOWED_UP and last.data["counted"] is False


def test_nul_and_control_characters_from_outside_are_left_out(runner, session, zoe):
    update = send(session, zoe, "update", T0)
    raw = (
        "From: Zoe <zoe.obrien@example.net>\r\n"
        f"To: replies+{update.reply_token}@acme.example\r\n"
        "Subject: =?utf-8?q?Any_news=00=7F=C2=85?=\r\n"
        "Message-ID: <nul-1@example.net>\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n\r\n"
        "Hello\x00 there,\r\nany news\x7f about the role?\r\n"
    ).encode()
    result = pipe(runner, raw, LATER)
    assert result.exit_code == 0, result.output
    follow_up = events(session, zoe)[-1]
    assert follow_up.kind == EventKind.FOLLOWED_UP
    assert "\x00" not in follow_up.body and "\x7f" not in follow_up.body
    assert "any news" in follow_up.body and "\x00" not in inbound_rows(session)[0].subject


# --- bounces --------------------------------------------------------------------------------------


def test_a_bounce_of_a_sent_rejection_marks_it_bounced_and_the_candidate_waits_again(
    runner, session, client, zoe
):
    opened = open_wait_of(session, zoe)
    due_at = opened.due_at
    rejection = send(session, zoe, "rejection", T0)
    assert rejection.status == OutboxStatus.SENT and waiting_row(runner, LATER) is None

    result = pipe(runner, mail("postfix_dsn", **about(rejection)), LATER)
    assert result.exit_code == 0, result.output
    assert "marked bounced" in result.output and "open again" in result.output
    [listed_email] = listed(runner, LATER, "emails", "list")
    assert listed_email["status"] == "bounced" and "550 5.1.1" in listed_email["bounce_reason"]
    row = waiting_row(runner, LATER)
    assert row is not None and row["reason"] == "application"
    session.expire_all()
    wait = open_wait_of(session, zoe)
    assert wait.id == opened.id and wait.due_at == due_at  # its original deadline
    assert zoe.status == Status.ACTIVE and zoe.email_undeliverable_at == LATER
    bounced = events(session, zoe)[-1]
    assert bounced.kind == EventKind.EMAIL_BOUNCED and "User unknown" in bounced.body
    assert bounced.data["status"] == {"from": "rejected", "to": "active"}

    before = kinds(session, zoe)
    assert pipe(runner, mail("postfix_dsn", **about(rejection)), LATER).exit_code == 0
    assert kinds(session, zoe) == before and len(inbound_rows(session)) == 1

    with time_machine.travel(LATER, tick=False):  # the triage page lists the emails of the last days
        logged_in(client, zoe.position.manager)
        page = client.get(f"/candidates/{zoe.id}").get_data(as_text=True)
        triage = client.get("/").get_data(as_text=True)
    assert "data-undeliverable" in page and 'data-email-status="bounced"' in page
    assert ">Bounced</span>" in page and "data-email-bounced" in page
    assert f'data-attention-email="{rejection.id}" data-email-status="bounced"' in triage

    waits.update_details(session, zoe, zoe.name, "zoe@example.org")
    session.commit()
    assert zoe.email_undeliverable_at is None


def test_a_bounced_update_takes_back_the_wait_it_opened_and_reopens_the_one_it_closed(runner, session, zoe):
    application = open_wait_of(session, zoe)
    update = send(session, zoe, "update", T0)
    follow_on = open_wait_of(session, zoe)
    assert follow_on.id != application.id and follow_on.opened_at > T0
    assert pipe(runner, mail("postfix_dsn", **about(update)), LATER).exit_code == 0
    session.expire_all()
    assert open_wait_of(session, zoe).id == application.id
    assert session.get(Wait, follow_on.id) is None


def test_a_bounce_leaves_a_newer_wait_as_it_is(runner, session, zoe):
    next_step = send(session, zoe, "next_step", T0)
    assert open_wait_of(session, zoe) is None
    follow_up = waits.followed_up(session, zoe, T0 + dt.timedelta(minutes=30), ORG)
    session.commit()
    result = pipe(runner, mail("postfix_dsn", **about(next_step)), LATER)
    assert "no wait reopened" in result.output and "flagged undeliverable" in result.output
    session.expire_all()
    assert open_wait_of(session, zoe).id == follow_up.id and follow_up.reason == WaitReason.FOLLOW_UP


def test_an_exchange_report_names_by_its_failed_recipient_the_email_of_the_last_30_days(runner, session, zoe):
    """Matched by address alone, whatever its case, it is kept unconfirmed for that email
    (tests/test_inbound_bounces.py); with our Message-ID it marks the email bounced."""
    rejection = send(session, zoe, "rejection", T0)
    at = T0 + dt.timedelta(days=29)
    result = pipe(runner, mail("exchange_ndr", address=ZOE.upper()), at)
    assert result.exit_code == 0 and "unconfirmed bounce" in result.output
    [row] = listed(runner, at, "inbound", "list", "--unconfirmed")
    assert row["candidate_id"] == zoe.id and f"(email {rejection.id})" in row["outcome"]
    proven = mail("exchange_ndr", message_id=rejection.message_id, address=ZOE.upper())
    result = pipe(runner, proven.replace(b"<ndr-3f1e@", b"<ndr-3f1f@"), at)  # another report
    assert result.exit_code == 0 and "marked bounced" in result.output
    [email] = listed(runner, at, "emails", "list")
    assert email["id"] == rejection.id and email["status"] == "bounced"
    assert "RecipientNotFound" in email["bounce_reason"]


def test_a_report_after_30_days_matches_nothing_and_is_kept(runner, session, zoe):
    send(session, zoe, "rejection", T0)
    at = T0 + dt.timedelta(days=31)
    assert pipe(runner, mail("exchange_ndr"), at).exit_code == 0
    [email] = listed(runner, at, "emails", "list")
    assert email["status"] == "sent"
    [row] = listed(runner, at, "inbound", "list", "--unmatched")
    assert row["kind"] == "bounce" and "in the last 30 days" in row["outcome"]


def test_a_delay_warning_is_recorded_only(runner, session, zoe):
    rejection = send(session, zoe, "rejection", T0)
    result = pipe(runner, mail("delay_warning", **about(rejection)), LATER)
    assert result.exit_code == 0 and "delay warning" in result.output
    [email] = listed(runner, LATER, "emails", "list")
    assert email["status"] == "sent"
    session.expire_all()
    assert zoe.status == Status.REJECTED and open_wait_of(session, zoe) is None
    assert zoe.email_undeliverable_at is None
    delayed = events(session, zoe)[-1]
    assert delayed.kind == EventKind.EMAIL_DELAYED and "Connection timed out" in delayed.body


# --- what matches nothing, limits ----------------------------------------------------------------


def test_a_strangers_message_is_kept_unmatched_and_shown_to_admins(runner, session, client, zoe):
    result = pipe(runner, mail("stranger"), LATER)
    assert result.exit_code == 0 and "unmatched reply" in result.output
    [row] = listed(runner, LATER, "inbound", "list", "--unmatched")
    assert row["sender"] == "sam@leads.example" and row["subject"] == "Grow your hiring pipeline 10x"
    assert row["candidate_id"] is None and row["kind"] == "reply" and row["source"] == "pipe"
    table = runner.invoke(args=["inbound", "list"])
    assert table.exit_code == 0 and "sam@leads.example" in table.output

    logged_in(client, UserFactory(role="admin"))
    page = client.get("/admin/inbound").get_data(as_text=True)
    assert "Grow your hiring pipeline 10x" in page and "Unmatched" in page
    assert "alert(1)" not in page and "We help teams hire faster" not in page  # outside HTML never shown
    assert "Inbound mail" in client.get("/admin/users").get_data(as_text=True)  # in the admin menu
    manager = client.application.test_client()
    logged_in(manager, zoe.position.manager)
    assert manager.get("/admin/inbound").status_code == 404


def test_the_same_message_without_a_message_id_is_recorded_once(runner, session):
    raw = mail("stranger").replace(b"Message-ID: <offer-991@leads.example>\r\n", b"")
    assert pipe(runner, raw, LATER).exit_code == 0
    assert pipe(runner, raw, LATER).exit_code == 0
    [row] = inbound_rows(session)
    assert row.message_id is None and len(row.fingerprint) == 64


def test_the_same_imap_message_is_recorded_once_by_its_key(app, session):
    config = EmailConfig.from_app(app)
    settings = settings_service.load(session)
    first = inbound.receive(
        session, mail("stranger"), LATER, settings, config, source="imap", imap_key="INBOX:7:1"
    )
    session.commit()
    changed = mail("stranger").replace(b"Hello!", b"Hello again!")
    second = inbound.receive(session, changed, LATER, settings, config, source="imap", imap_key="INBOX:7:1")
    assert second.id == first.id and len(inbound_rows(session)) == 1


def test_a_message_over_the_size_limit_is_refused(runner, session):
    raw = mail("stranger") + b"x" * (10 * 1024 * 1024)
    result = pipe(runner, raw, LATER)
    assert result.exit_code == 65
    size = f"{len(raw):,}"
    assert f"inbound: refused: the message is {size} bytes; the limit is 10,485,760" in result.stderr
    assert inbound_rows(session) == []


@pytest.mark.parametrize(
    "url", ["sqlite:////nonexistent/folder/feedback.sqlite3", "postgresql://postgres@127.0.0.1:1/feedback"]
)
def test_an_unreachable_database_exits_75_so_the_mail_server_tries_again(tmp_path, url):
    env = {k: v for k, v in os.environ.items() if not k.startswith("FEEDBACK_SLA_")}
    env.update(FEEDBACK_SLA_INSTANCE_PATH=str(tmp_path), FEEDBACK_SLA_DATABASE_URL=url)
    result = subprocess.run(
        [sys.executable, "-m", "feedback_sla", "inbound", "receive"],
        input=mail("stranger"),
        env=env,
        capture_output=True,
        timeout=60,
    )
    assert result.returncode == 75, result.stderr
    assert b"cannot record the message now; try again later" in result.stderr


# --- outgoing addresses ---------------------------------------------------------------------------


def test_candidate_emails_carry_the_token_in_their_envelope_sender_and_reply_to(make_app, session, zoe):
    port = free_port()
    other = make_app(MAIL_BACKEND="smtp", MAIL_SERVER="127.0.0.1", MAIL_PORT=port, MAIL_TIMEOUT=2)
    with SmtpSink(port=port) as server, other.app_context():
        candidate = db.session.get(Candidate, zoe.id)
        message = send(db.session, candidate, "next_step", T0)
        manager = candidate.position.manager
        config = EmailConfig.from_app(other)
        to_users.queue_to_user(
            db.session,
            manager,
            EmailKind.DIGEST,
            RenderedEmail("Digest", "text", "<p>html</p>"),
            T0,
            config,
            idempotency_key="digest-test",
        )
        db.session.commit()
        send_due(other, T0 + dt.timedelta(minutes=5))
        token, manager_email = message.reply_token, manager.email
    assert len(token) == 32 and token == token.lower()
    (sender, recipients), (digest_sender, _) = server.envelopes
    assert sender == f"bounces+{token}@acme.example" and recipients == [ZOE]
    reply_to = [a.addr_spec for a in server.messages[0]["Reply-To"].addresses]
    assert reply_to == [manager_email, f"replies+{token}@acme.example"]
    assert digest_sender == "jobs@acme.example" and server.messages[1]["Reply-To"] is None


def test_without_the_addresses_nothing_changes(make_app, session, zoe):
    port = free_port()
    other = make_app(
        MAIL_BACKEND="smtp", MAIL_SERVER="127.0.0.1", MAIL_PORT=port, BOUNCE_ADDRESS=None, REPLY_ADDRESS=None
    )
    with SmtpSink(port=port) as server, other.app_context():
        send(db.session, db.session.get(Candidate, zoe.id), "next_step", T0)
    [(sender, _)] = server.envelopes
    assert sender == "jobs@acme.example"
    assert [a.addr_spec for a in server.messages[0]["Reply-To"].addresses] == [zoe.position.manager.email]


def send_due(app, at):
    from feedback_sla.emails.transport import backend_for
    from feedback_sla.worker import deliver_due

    config = EmailConfig.from_app(app)
    deliver_due(db.session, config, backend_for(app, config), clock=lambda: at)


@pytest.mark.parametrize(
    ("value", "problem"),
    [("bounces+x@acme.example", "must not contain '+'"), ("not an address", "is not a valid email address")],
)
def test_a_bad_bounce_or_reply_address_stops_the_app_with_its_name(make_app, value, problem):
    for key in ("BOUNCE_ADDRESS", "REPLY_ADDRESS"):
        with pytest.raises(ConfigurationError, match=re.escape(f"{key} (FEEDBACK_SLA_{key})")) as refused:
            make_app(**{key: value})
        assert problem in str(refused.value)


def test_a_correction_of_the_address_clears_the_undeliverable_flag_only_when_it_changes(session, zoe):
    zoe.email_undeliverable_at = T0
    waits.update_details(session, zoe, "Zoë Renamed", zoe.email)
    assert zoe.email_undeliverable_at == T0
    waits.update_details(session, zoe, zoe.name, "zoe@example.org")
    assert zoe.email_undeliverable_at is None
    assert session.scalar(sa.select(sa.func.count(Wait.id))) == 1


def test_the_digest_lists_the_emails_that_bounced(runner, session, zoe):
    from feedback_sla.digest import service as digest

    rejection = send(session, zoe, "rejection", T0)
    pipe(runner, mail("postfix_dsn", **about(rejection)), LATER)
    manager = zoe.position.manager
    owed = digest.digest_for(session, LATER, ORG, manager, LATER.date(), "https://feedback.example.com")
    text, html = digest.render(owed)
    assert "Emails that bounced (the candidate never heard from you):" in text
    assert f"* Zoë O'Brien: the rejection to {ZOE}" in text and "User unknown" in text
    assert f"https://feedback.example.com/candidates/{zoe.id}" in html and "Zoë O'Brien</a>" in unescape(html)
    tomorrow = digest.digest_for(
        session, LATER + dt.timedelta(days=1, hours=1), ORG, manager, LATER.date(), "x"
    )
    assert tomorrow.bounced == ()
