"""Delivery reports prove which email they are about (RELIABILITY 35): our token in the address they
came to, or our Message-ID in their returned headers or In-Reply-To/References. One that names the
email only by its failed address (anyone who knows a candidate's address can mail one) changes
nothing and waits for an admin, who may apply it.

The sample reports follow real servers' reports, as collected in sisimai/set-of-emails
(https://github.com/sisimai/set-of-emails, commit 18e585c), with our addresses filled in:
tests/mail/postfix_dsn.eml has the shape of Postfix's maildir/bsd/lhost-postfix-09.eml (notification,
delivery status, the returned headers as text/rfc822-headers); tests/mail/exim_bounce.eml that of
Exim 4.86's maildir/bsd/lhost-exim-48.eml and lhost-exim-60.eml (an ``eximdsn`` boundary,
X-Failed-Recipients, lower-case ``Content-type``, the original attached as message/rfc822);
tests/mail/exchange_ndr.eml that of Office 365's maildir/bsd/lhost-office365-04.eml (sent to the
From address, In-Reply-To and References naming the original, a plain and an HTML notification
with the original's headers quoted, delivery status, the original attached as message/rfc822).
"""

from __future__ import annotations

import datetime as dt
import re

import pytest
import sqlalchemy as sa
import time_machine

from feedback_sla.candidates.models import Candidate, EventKind, Status
from feedback_sla.emails.models import OutboxMessage, OutboxStatus
from feedback_sla.inbound import bounces, reading
from feedback_sla.inbound.models import Confirmation, InboundMessage
from feedback_sla.retention import service as retention
from feedback_sla.waits.queries import open_wait_of

from .emails_support import T0, make_candidate
from .factories import UserFactory
from .helpers import logged_in
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
APPLIED = T0 + dt.timedelta(hours=3)
SHAPES = ("postfix_dsn", "exim_bounce", "exchange_ndr")


@pytest.fixture
def app_config(app_config, tmp_path):
    app_config.update(INBOUND_CONFIG, OUTBOX_MAIL_DIR=str(tmp_path / "mail"))
    return app_config


@pytest.fixture
def zoe(session) -> Candidate:
    return make_candidate(session, name="Zoë O'Brien", email_address=ZOE)


@pytest.fixture
def admin(session):
    return UserFactory(name="Ann Admin", role="admin")


def state(session, candidate: Candidate, email: OutboxMessage) -> dict:
    """What a bounce would change: the candidate's wait, status, address flag and timeline, and the
    email's status."""
    session.expire_all()
    wait = open_wait_of(session, candidate)
    return {
        "wait": (wait.id, wait.due_at, wait.closed_at) if wait else None,
        "status": candidate.status,
        "undeliverable_at": candidate.email_undeliverable_at,
        "email": (email.status, email.bounced_at, email.bounce_reason),
        "events": [e.id for e in events(session, candidate)],
    }


def forged(shape: str) -> bytes:
    """A report in a real server's shape naming Zoë's address, but with no token of ours (the
    Exchange one comes to the plain address; the others to the bounce address with a token of the
    right form that names no email) and no Message-ID of ours anywhere."""
    return mail(shape, token=NOT_OURS, message_id="<forged-1@mx.example.net>", address=ZOE)


def csrf_token(page: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


# --- proven reports ---------------------------------------------------------------------------------


@pytest.mark.parametrize("shape", SHAPES)
def test_each_servers_report_finds_our_message_id_in_its_returned_headers(shape):
    incoming = reading.read(mail(shape, message_id="<ours-1@acme.example>", address=ZOE))
    assert incoming.kind == reading.Kind.BOUNCE and incoming.failed == (ZOE,)
    assert incoming.original_message_id == "<ours-1@acme.example>"
    assert "550 5.1.1" in incoming.reason or "RecipientNotFound" in incoming.reason


@pytest.mark.parametrize("shape", SHAPES)
def test_a_report_with_our_message_id_and_no_token_of_ours_reopens_the_wait(runner, session, zoe, shape):
    opened = open_wait_of(session, zoe)
    due_at = opened.due_at
    rejection = send(session, zoe, "rejection", T0)
    raw = mail(shape, **{**about(rejection), "token": NOT_OURS})
    if shape == "exchange_ndr":  # the returned original alone proves it
        raw = re.sub(rb"(In-Reply-To|References): [^\r\n]+\r\n", b"", raw)
    result = pipe(runner, raw, LATER)
    assert result.exit_code == 0 and "marked bounced" in result.output and "open again" in result.output
    session.expire_all()
    wait = open_wait_of(session, zoe)
    assert wait.id == opened.id and wait.due_at == due_at
    assert zoe.status == Status.ACTIVE and zoe.email_undeliverable_at == LATER
    assert rejection.status == OutboxStatus.BOUNCED
    [row] = inbound_rows(session)
    assert row.confirmation is None and row.outbox_message_id == rejection.id


def test_an_exim_report_with_our_token_reopens_the_wait(runner, session, zoe):
    update = send(session, zoe, "update", T0)
    result = pipe(runner, mail("exim_bounce", **{**about(update), "message_id": "<x@mx.example.net>"}), LATER)
    assert "marked bounced" in result.output and "flagged undeliverable" in result.output
    session.expire_all()
    assert update.status == OutboxStatus.BOUNCED and zoe.email_undeliverable_at == LATER


# --- forged reports ---------------------------------------------------------------------------------


@pytest.mark.parametrize("shape", SHAPES)
def test_a_forged_report_changes_nothing_but_the_admins_list(runner, session, client, zoe, admin, shape):
    rejection = send(session, zoe, "rejection", T0)
    before = state(session, zoe, rejection)
    assert before["status"] == Status.REJECTED and before["wait"] is None

    result = pipe(runner, forged(shape), LATER)
    assert result.exit_code == 0 and "unconfirmed bounce" in result.output, result.output
    assert state(session, zoe, rejection) == before
    [email] = listed(runner, LATER, "emails", "list")
    assert email["status"] == "sent"
    [row] = listed(runner, LATER, "inbound", "list", "--unconfirmed")
    assert row["candidate_id"] == zoe.id and row["kind"] == "bounce" and "nothing changed" in row["outcome"]
    [kept] = inbound_rows(session)
    assert kept.confirmation == Confirmation.UNCONFIRMED and kept.outbox_message_id == rejection.id
    assert "550 5.1.1" in kept.reason or "RecipientNotFound" in kept.reason

    # The same report again is the same row.
    assert pipe(runner, forged(shape), LATER).exit_code == 0
    assert len(inbound_rows(session)) == 1 and state(session, zoe, rejection) == before

    with time_machine.travel(LATER, tick=False):
        logged_in(client, admin)
        page = client.get("/admin/inbound").get_data(as_text=True)
    assert "Delivery reports to confirm" in page and f'data-unconfirmed="{kept.id}"' in page
    assert f"/admin/inbound/{kept.id}/apply" in page and ZOE in page and "Unconfirmed" in page


def test_applying_a_forged_report_through_the_button_reopens_the_wait(
    csrf_on, runner, session, client, zoe, admin
):
    opened = open_wait_of(session, zoe)
    due_at = opened.due_at
    rejection = send(session, zoe, "rejection", T0)
    assert "unconfirmed" in pipe(runner, forged("exchange_ndr"), LATER).output
    [row] = inbound_rows(session)

    with time_machine.travel(APPLIED, tick=False):
        logged_in(client, admin)
        page = client.get("/admin/inbound").get_data(as_text=True)
        assert client.post(f"/admin/inbound/{row.id}/apply").status_code == 400  # no CSRF token
        assert state(session, zoe, rejection)["email"][0] == OutboxStatus.SENT
        response = client.post(f"/admin/inbound/{row.id}/apply", data={"csrf_token": csrf_token(page)})
        assert response.status_code == 302 and response.headers["Location"].endswith("/admin/inbound")
        page = client.get("/admin/inbound").get_data(as_text=True)
    assert "Applied: bounce of the rejection" in page and "Delivery reports to confirm" not in page
    assert "by Ann Admin" in page

    session.expire_all()
    wait = open_wait_of(session, zoe)
    assert wait.id == opened.id and wait.due_at == due_at  # its original deadline
    assert zoe.status == Status.ACTIVE and zoe.email_undeliverable_at == APPLIED
    assert rejection.status == OutboxStatus.BOUNCED and "RecipientNotFound" in rejection.bounce_reason
    assert events(session, zoe)[-1].kind == EventKind.EMAIL_BOUNCED
    row = session.get(InboundMessage, row.id)
    assert row.confirmation == Confirmation.APPLIED and row.applied_at == APPLIED
    assert row.applied_by_id == admin.id and "open again" in row.outcome

    with time_machine.travel(APPLIED, tick=False):  # a second press changes nothing
        page = client.get("/admin/inbound").get_data(as_text=True)
        client.post(f"/admin/inbound/{row.id}/apply", data={"csrf_token": csrf_token(page)})
        page = client.get("/admin/inbound").get_data(as_text=True)
    assert "Not applied" in page
    assert [e.kind for e in events(session, zoe)].count(EventKind.EMAIL_BOUNCED) == 1


def test_the_command_line_lists_and_applies_an_unconfirmed_report(runner, session, zoe):
    update = send(session, zoe, "update", T0)
    pipe(runner, forged("postfix_dsn"), LATER)
    [row] = listed(runner, LATER, "inbound", "list", "--unconfirmed")
    with time_machine.travel(APPLIED, tick=False):
        result = runner.invoke(args=["inbound", "apply", str(row["id"]), "--yes"])
        assert result.exit_code == 0 and "marked bounced" in result.output, result.output
        again = runner.invoke(args=["inbound", "apply", str(row["id"]), "--yes"])
        assert again.exit_code != 0 and "applied already" in again.output
        assert runner.invoke(args=["inbound", "apply", "999999", "--yes"]).exit_code != 0
    session.expire_all()
    assert update.status == OutboxStatus.BOUNCED and zoe.email_undeliverable_at == APPLIED
    assert listed(runner, APPLIED, "inbound", "list", "--unconfirmed") == []


def test_a_delay_warning_by_address_alone_is_kept_unconfirmed_too(runner, session, zoe):
    rejection = send(session, zoe, "rejection", T0)
    before = state(session, zoe, rejection)
    result = pipe(runner, mail("delay_warning", token=NOT_OURS, address=ZOE), LATER)
    assert "unconfirmed delay warning" in result.output
    assert state(session, zoe, rejection) == before


def test_an_unconfirmed_report_about_a_candidate_erased_since_cannot_be_applied(runner, session, zoe):
    send(session, zoe, "rejection", T0)
    pipe(runner, forged("exim_bounce"), LATER)
    [row] = inbound_rows(session)
    retention.erase(session, zoe, APPLIED, retention.request_by("test", "on request"))
    session.commit()
    kept = session.get(InboundMessage, row.id)
    assert kept.reason is None and ZOE not in kept.outcome
    with pytest.raises(bounces.NotApplicable, match="erased"):
        bounces.apply(session, row.id, APPLIED, None)
    session.rollback()
    assert session.get(InboundMessage, row.id).confirmation == Confirmation.UNCONFIRMED


def test_a_manager_cannot_apply_a_report(runner, session, client, zoe):
    rejection = send(session, zoe, "rejection", T0)
    pipe(runner, forged("exchange_ndr"), LATER)
    [row] = inbound_rows(session)
    with time_machine.travel(APPLIED, tick=False):
        logged_in(client, zoe.position.manager)
        assert client.post(f"/admin/inbound/{row.id}/apply").status_code == 404
    session.expire_all()
    assert rejection.status == OutboxStatus.SENT
    applied = sa.select(InboundMessage.id).where(InboundMessage.applied_at.is_not(None))
    assert session.scalars(applied).all() == []
