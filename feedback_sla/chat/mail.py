"""Nudges by email: the same nudge a Slack or Teams manager gets, as an email to the manager's
address. The chat queue keeps its promises (once per wait and state, quiet hours, the daily cap);
delivering it hands the email to the outbox (``emails.to_users``), whose worker sends it."""

from __future__ import annotations

import datetime as dt

from flask import current_app, render_template
from sqlalchemy.orm import Session

from feedback_sla.accounts.models import User
from feedback_sla.chat.cards import Nudge
from feedback_sla.emails import html as mail_html
from feedback_sla.emails import to_users
from feedback_sla.emails.composing import RenderedEmail
from feedback_sla.emails.config import EmailConfig
from feedback_sla.emails.models import EmailKind, OutboxMessage
from feedback_sla.settings import service as settings_service


def email_nudge(nudge: Nudge, base_url: str) -> dict:
    """A nudge's email, as the chat message's body: subject, text and HTML (every name escaped,
    the styles written onto each element)."""
    context = {"nudge": nudge, "settings_url": f"{base_url.rstrip('/')}/account/settings"}
    return {
        "subject": nudge.headline,
        "text": render_template("mail/nudge.txt", **context),
        "html": mail_html.finish(render_template("mail/nudge.html", **context)),
    }


def queue_email(session: Session, message_id: int, user: User, body: dict, now: dt.datetime) -> OutboxMessage:
    """The email of chat message ``message_id`` in the outbox, once however often this runs."""
    config = settings_service.email_config(session, EmailConfig.from_app(current_app))
    rendered = RenderedEmail(body["subject"], body["text"], body["html"])
    return to_users.queue_to_user(
        session, user, EmailKind.NUDGE, rendered, now, config, idempotency_key=f"chat-nudge:{message_id}"
    )
