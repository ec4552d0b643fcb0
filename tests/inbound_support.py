"""Helpers for the inbound mail tests: the sample messages filled in, an email really sent, a pipe."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import sqlalchemy as sa
import time_machine
from flask import current_app

from feedback_sla.candidates.models import Event
from feedback_sla.emails import checks
from feedback_sla.emails.checks import EmailRequest
from feedback_sla.emails.config import EmailConfig
from feedback_sla.emails.models import OutboxMessage
from feedback_sla.emails.transport import backend_for
from feedback_sla.inbound.models import InboundMessage
from feedback_sla.waits import answers
from feedback_sla.worker import deliver_due

from .emails_support import ORG

MAIL = Path(__file__).resolve().parent / "mail"
ZOE = "zoe.obrien@example.net"
NOT_OURS = "f" * 32  # a token of the right shape that names no message

#: The addresses of the examples in tests/mail.
INBOUND_CONFIG = {
    "ORGANISATION_NAME": "Acme",
    "ORGANISATION_EMAIL": "jobs@acme.example",
    "BOUNCE_ADDRESS": "bounces@acme.example",
    "REPLY_ADDRESS": "replies@acme.example",
}


def mail(
    name: str, *, token: str = NOT_OURS, message_id: str = "<none@acme.example>", address: str = ZOE
) -> bytes:
    """A sample message of tests/mail with its placeholders filled in, lines ending in CR LF."""
    text = (MAIL / f"{name}.eml").read_text(encoding="utf-8")
    text = text.format(token=token, message_id=message_id, address=address)
    return text.replace("\r\n", "\n").replace("\n", "\r\n").encode("utf-8")


def about(message: OutboxMessage) -> dict:
    """The placeholders that make a sample message concern ``message``."""
    return {"token": message.reply_token, "message_id": message.message_id, "address": message.to_address}


def send(session, candidate, kind: str, at: dt.datetime, **request) -> OutboxMessage:
    """Queue an email to the candidate at ``at`` and let the worker send it when its undo window
    is over; the message as sent."""
    config = EmailConfig.from_app(current_app)
    wanted = EmailRequest(
        candidate, kind, checks.new_idempotency_key(), at, None, default_promise=True, **request
    )
    message = answers.queue_email(session, wanted, config, ORG)
    session.commit()
    sent_at = at + dt.timedelta(seconds=config.undo_seconds + 1)
    deliver_due(session, config, backend_for(current_app, config), clock=lambda: sent_at)
    session.expire_all()
    return session.get(OutboxMessage, message.id)


def pipe(runner, raw: bytes, at: dt.datetime):
    """``feedback-sla inbound receive`` with the message on standard input, at ``at``."""
    with time_machine.travel(at, tick=False):
        return runner.invoke(args=["inbound", "receive"], input=raw)


def listed(runner, at: dt.datetime, *args: str) -> list[dict]:
    """A list command's rows, as JSON."""
    with time_machine.travel(at, tick=False):
        result = runner.invoke(args=[*args, "--format", "json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def events(session, candidate) -> list[Event]:
    session.expire_all()
    query = sa.select(Event).where(Event.candidate_id == candidate.id).order_by(Event.id)
    return list(session.scalars(query))


def inbound_rows(session) -> list[InboundMessage]:
    session.expire_all()
    return list(session.scalars(sa.select(InboundMessage).order_by(InboundMessage.id)))
