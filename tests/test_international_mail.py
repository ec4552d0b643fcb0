"""Internationalized addresses (RFC 6531) on the wire: a non-ASCII local part reaches a server that
offers SMTPUTF8 and fails, with the reason shown, at one that does not; an IDN domain goes as its
A-labels to any server; mail that comes back from such an address finds its candidate."""

from __future__ import annotations

import datetime as dt
import email
from email import policy

import pytest
import sqlalchemy as sa
import time_machine
from flask import current_app

from feedback_sla.addresses import needs_smtputf8
from feedback_sla.candidates.models import Candidate, Event, EventKind
from feedback_sla.emails import checks
from feedback_sla.emails.checks import EmailRequest
from feedback_sla.emails.config import EmailConfig
from feedback_sla.emails.models import OutboxMessage, OutboxStatus
from feedback_sla.models import Role
from feedback_sla.waits import answers
from feedback_sla.worker import run_worker

from .emails_support import ORG, T0, Recorder, SevenBitRecorder, SmtpSink, free_port, make_candidate
from .factories import UserFactory
from .helpers import logged_in, text
from .inbound_support import INBOUND_CONFIG, about, events, mail, pipe, send

CHLOE = "chloé.nakamura2@example.com"  # as the demo seeds her
MUNICH = "jonas@münchen.example.de"
T1 = T0 + dt.timedelta(minutes=5)


@pytest.fixture
def port():
    return free_port()


@pytest.fixture
def app_config(app_config, port):
    app_config.update(
        INBOUND_CONFIG,
        MAIL_BACKEND="smtp",
        MAIL_SERVER="127.0.0.1",
        MAIL_PORT=port,
        MAIL_TIMEOUT=2,
        OUTBOX_MAX_ATTEMPTS=3,
    )
    return app_config


def queue(session, candidate, kind="rejection") -> OutboxMessage:
    request = EmailRequest(candidate, kind, checks.new_idempotency_key(), T0, candidate.position.manager)
    message = answers.queue_email(session, request, EmailConfig.from_app(current_app), ORG)
    session.commit()
    return message


def reload(session, message) -> OutboxMessage:
    session.expire_all()
    return session.get(OutboxMessage, message.id)


def received(raw: bytes) -> email.message.EmailMessage:
    """A message as a client that reads UTF-8 headers (RFC 6532) sees it."""
    return email.message_from_string(raw.decode("utf-8"), policy=policy.default)


def test_a_non_ascii_local_part_reaches_a_server_that_offers_smtputf8(app, session, port):
    candidate = make_candidate(session, name="Chloé Nakamura", email_address=CHLOE)
    message = queue(session, candidate)
    with SmtpSink(port=port, smtputf8=True) as sink:
        report = run_worker(app, once=True, clock=lambda: T1)
    assert report.sent == 1, reload(session, message).last_error
    assert [rcpt for _, rcpt in sink.envelopes] == [[CHLOE]]
    [raw] = sink.raw
    [to] = received(raw)["To"].addresses
    assert (to.display_name, to.addr_spec) == ("Chloé Nakamura", CHLOE)
    body = raw.split(b"\r\n\r\n", 1)[1]
    assert all(byte < 128 for byte in body)  # only the headers need more than 7 bits
    assert max(len(line) for line in raw.split(b"\r\n")) <= 998
    assert reload(session, message).status == OutboxStatus.SENT


@pytest.mark.parametrize("handler", [Recorder, SevenBitRecorder], ids=["no-smtputf8", "no-8bitmime"])
def test_a_server_without_smtputf8_fails_the_email_at_once_with_the_reason(app, session, port, handler):
    candidate = make_candidate(session, name="Chloé Nakamura", email_address=CHLOE)
    others = [make_candidate(session) for _ in range(2)]
    message = queue(session, candidate)
    for other in others:
        queue(session, other)
    with SmtpSink(handler(), port=port) as sink:
        report = run_worker(app, once=True, clock=lambda: T1)
    assert (report.sent, report.failed) == (2, 1)  # the others in the batch still go
    assert sorted(rcpt for _, [rcpt] in sink.envelopes) == sorted(o.email for o in others)
    row = reload(session, message)
    assert (row.status, row.attempts) == (OutboxStatus.FAILED, 1)
    assert row.last_error == (
        f"the mail server does not offer SMTPUTF8, which {CHLOE} needs "
        "(non-ASCII characters before the @); nothing was sent"
    )
    failed = session.scalar(sa.select(Event).where(Event.kind == EventKind.EMAIL_FAILED))
    assert failed.candidate_id == candidate.id and failed.body == row.last_error


def test_the_manager_and_the_admin_see_why_the_email_failed(app, session, client, port):
    candidate = make_candidate(session, name="Chloé Nakamura", email_address=CHLOE)
    queue(session, candidate)
    with SmtpSink(port=port):
        run_worker(app, once=True, clock=lambda: T1)
    reason = "the mail server does not offer SMTPUTF8"
    admin = UserFactory(role=Role.ADMIN)
    with time_machine.travel(T1 + dt.timedelta(hours=1), tick=False):
        logged_in(client, candidate.position.manager)
        page = text(client.get(f"/candidates/{candidate.id}"))
        assert "Email failed: the rejection could not be sent after 1 attempt" in page
        assert reason in page and CHLOE in page
        admins = app.test_client()
        logged_in(admins, admin)
        triage = text(admins.get("/"))
    assert "Emails to check" in triage and reason in triage and "Chloé Nakamura" in triage


def test_an_idn_domain_goes_as_its_a_labels_to_a_server_without_smtputf8(app, session, port):
    candidate = make_candidate(session, name="Jonas Becker", email_address="Jonas@MÜNCHEN.example.de")
    assert candidate.email == MUNICH  # kept in Unicode, lower case
    message = queue(session, candidate)
    with SmtpSink(SevenBitRecorder(), port=port) as sink:
        report = run_worker(app, once=True, clock=lambda: T1)
    assert report.sent == 1, reload(session, message).last_error
    assert sink.envelopes[0][1] == ["jonas@xn--mnchen-3ya.example.de"]
    [raw] = sink.raw
    assert all(byte < 128 for byte in raw)
    assert received(raw)["To"].addresses[0].addr_spec == "jonas@xn--mnchen-3ya.example.de"


def test_the_file_backend_writes_an_internationalized_message(app, session, tmp_path):
    app.config.update(MAIL_BACKEND="file", OUTBOX_MAIL_DIR=str(tmp_path / "mail"))
    candidate = make_candidate(session, name="Chloé Nakamura", email_address=CHLOE)
    queue(session, candidate)
    assert run_worker(app, once=True, clock=lambda: T1).sent == 1
    [path] = (tmp_path / "mail").iterdir()
    assert received(path.read_bytes())["To"].addresses[0].addr_spec == CHLOE


# --- mail that comes back -------------------------------------------------------------------------


def test_a_reply_from_the_address_in_another_case_in_a_utf8_header_is_the_candidates(runner, session, port):
    candidate = make_candidate(session, name="Chloé Nakamura", email_address=CHLOE)
    with SmtpSink(port=port, smtputf8=True):
        update = send(session, candidate, "update", T0)
    assert update.status == OutboxStatus.SENT, update.last_error
    reply = mail("webmail_reply", **about(update)).replace(
        b"From: =?UTF-8?Q?Zo=C3=AB_O=27Brien?= <zoe.obrien@example.net>",
        "From: Chloé <CHLOÉ.Nakamura2@Example.COM>".encode(),
    )
    result = pipe(runner, reply, T0 + dt.timedelta(hours=1))
    assert result.exit_code == 0, result.output
    assert "follow-up from Chloé Nakamura" in result.output and "differs" not in result.output
    follow_up = events(session, candidate)[-1]
    assert follow_up.kind == EventKind.FOLLOWED_UP
    assert (follow_up.data["sender"], follow_up.data["sender_differs"]) == (CHLOE, False)


def test_a_bounce_naming_the_a_labels_of_the_domain_finds_the_email_it_bounced(runner, session, port):
    candidate = make_candidate(session, name="Jonas Becker", email_address=MUNICH)
    with SmtpSink(port=port):
        rejection = send(session, candidate, "rejection", T0)
    assert rejection.status == OutboxStatus.SENT, rejection.last_error
    report = mail("postfix_dsn", address="jonas@xn--mnchen-3ya.example.de")
    result = pipe(runner, report, T0 + dt.timedelta(days=1))
    assert result.exit_code == 0, result.output
    # Found by its address alone: kept for an admin to confirm (RELIABILITY 35).
    assert f"unconfirmed bounce: it names {MUNICH}, the address of the rejection (email {rejection.id})" in (
        result.output
    )


# --- the demo -------------------------------------------------------------------------------------


def test_the_demo_seeds_accented_addresses_and_emails_to_them_go_out(app, session, port):
    from feedback_sla import demo

    assert demo.seed(session, T0)
    session.commit()
    candidates = session.scalars(sa.select(Candidate).order_by(Candidate.id)).all()
    accented = [c for c in candidates if needs_smtputf8(c.email)]
    assert CHLOE in {c.email for c in accented}
    for candidate in accented:
        queue(session, candidate)
    with SmtpSink(port=port, smtputf8=True) as sink:
        report = run_worker(app, once=True, clock=lambda: T1)
    assert (report.sent, report.failed) == (len(accented), 0)
    assert sorted(rcpt for _, [rcpt] in sink.envelopes) == sorted(c.email for c in accented)
