"""Slack's interactivity request URL: the buttons of a nudge come back here.

No cookie reaches it and no CSRF token can (Slack posts it), so the signature is the whole of its
authentication: checked on the raw body before anything is parsed, in constant time, at most five
minutes old, never twice. Slack wants an answer within three seconds: the answer is queued through
the wait's door here and the message's new text goes to its response_url through the chat queue.
"""

from __future__ import annotations

from flask import abort, current_app, request

from feedback_sla.chat import connection, interactions
from feedback_sla.chat.interactions import Outcome
from feedback_sla.database import db
from feedback_sla.emails.config import EmailConfig
from feedback_sla.errors import DomainError
from feedback_sla.extensions import csrf
from feedback_sla.settings import service as settings_service
from feedback_sla.timeutil import utcnow
from feedback_sla.web.chat import slack_bp

PLAIN = {"Content-Type": "text/plain; charset=utf-8", "Cache-Control": "no-store"}


@slack_bp.post("/interactivity")
@csrf.exempt
def interactivity():
    raw = request.get_data(cache=True)
    now = utcnow()
    config = connection.load(db.session, current_app.config)
    db.session.rollback()
    if not config.slack_signing_secret:
        abort(404)  # Slack is not connected here
    if not interactions.verified(config.slack_signing_secret, request.headers, raw, now):
        return "invalid or expired signature\n", 401, PLAIN
    try:
        press = interactions.read_press(raw)
    except interactions.BadInteraction as exc:
        return f"{exc}\n", 400, PLAIN
    context = interactions.Context(
        now,
        config,
        settings_service.email_config(db.session, EmailConfig.from_app(current_app)),
        settings_service.load(db.session),
    )
    pressed = interactions.act(db.session, press, context)
    if pressed.outcome is Outcome.REFUSED:
        db.session.rollback()  # a refusal keeps nothing the door may have begun
    try:
        interactions.remember(db.session, request.headers.get("X-Slack-Signature", ""), now)
    except DomainError as exc:
        db.session.rollback()
        return f"{exc}\n", 409, PLAIN
    interactions.queue_reply(db.session, pressed, now)
    db.session.commit()
    return "", 200, PLAIN
