"""The chat worker: claim due messages with a lease, send each with no transaction open, record.

As the outbox worker (``feedback_sla.worker``): the claim is committed before anything is sent;
each message's outcome is committed before the next is sent, so a worker killed at any moment
repeats at most the one message Slack or Teams had accepted and the database did not yet record;
a message a stopping worker did not send is handed back. A 429 comes back after its Retry-After; a
5xx or an unreachable server after a backoff; a final error (``invalid_auth``,
``channel_not_found``, a webhook's 4xx) fails the message for good with the reason, which the
admins' chat page lists.
"""

from __future__ import annotations

import datetime as dt
import logging
import random
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from flask import Flask
from sqlalchemy.orm import Session

from feedback_sla.accounts.models import User
from feedback_sla.chat import connection, mail, preferences, queue, transport
from feedback_sla.chat.connection import ChatConfig
from feedback_sla.chat.models import Channel, ChatPreference
from feedback_sla.chat.queue import Outgoing
from feedback_sla.chat.transport import DeliveryError, Posted
from feedback_sla.database import db
from feedback_sla.errors import DomainError
from feedback_sla.timeutil import utcnow

log = logging.getLogger(__name__)

Clock = Callable[[], dt.datetime]
#: A response_url's host (besides the Slack API's own, as configured).
SLACK_HOOKS_HOST = "hooks.slack.com"


@dataclass
class ChatReport:
    sent: int = 0
    retried: int = 0
    failed: int = 0
    released: int = 0

    def __iadd__(self, other: ChatReport) -> ChatReport:
        for name in ("sent", "retried", "failed", "released"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        return self

    def __bool__(self) -> bool:
        return bool(self.sent or self.retried or self.failed or self.released)

    def summary(self) -> str:
        return f"sent {self.sent}, will retry {self.retried}, failed {self.failed}" + (
            f", handed back {self.released}" if self.released else ""
        )


_INTERRUPTED = "gave up: the last attempt was interrupted (the message may have been delivered)"


def send(session: Session, message: Outgoing, config: ChatConfig, now: dt.datetime) -> Posted:
    """Post one claimed message where it goes now (the user's links are read as they stand, and
    the read transaction ends before anything is sent); an email goes into the outbox, uncommitted."""
    if message.channel == Channel.SLACK_RESPONSE:
        return transport.post_webhook(
            config, _response_url(message.target or "", config), message.body, "Slack"
        )
    if message.channel == Channel.EMAIL:  # into the outbox, in the transaction that marks it sent
        user = session.get(User, message.user_id)
        try:
            mail.queue_email(session, message.id, user, message.body, now)
        except DomainError as exc:  # an address that cannot go into a header
            session.rollback()
            raise DeliveryError(str(exc), permanent=True) from None
        return Posted()
    preference = session.get(ChatPreference, message.user_id)
    member = preference.slack_user_id if preference is not None else None
    try:
        url = preferences.teams_url_of(preference, config) if message.channel == Channel.TEAMS else None
    except DomainError as exc:
        raise DeliveryError(str(exc), permanent=True) from None
    finally:
        session.rollback()
    if message.channel == Channel.SLACK:
        if not member:
            raise DeliveryError(
                "the user is not linked to a Slack member (feedback-sla chat link)", permanent=True
            )
        return transport.post_slack(config, member, message.body)
    if not url:
        raise DeliveryError("no Teams workflow is set for the user, nor for the team", permanent=True)
    return transport.post_webhook(config, url, message.body, "Teams")


def _response_url(url: str, config: ChatConfig) -> str:
    """Only Slack's own addresses: a response_url elsewhere is refused (the request was signed, but
    the server posts nowhere it was not meant to)."""
    from urllib.parse import urlsplit

    parts, api = urlsplit(url), urlsplit(config.slack_api_base)
    if parts.scheme == "https" and parts.hostname == SLACK_HOOKS_HOST:
        return url
    if (parts.scheme, parts.netloc) == (api.scheme, api.netloc):
        return url
    raise DeliveryError(f"not a Slack response_url: {parts.scheme}://{parts.netloc}", permanent=True)


def _record_failure(
    session: Session, message: Outgoing, error: DeliveryError, at: dt.datetime, config: ChatConfig, rng
) -> ChatReport:
    final = error.permanent or message.attempts >= config.max_attempts
    if final:
        retry_at = None
    elif error.retry_after is not None:
        retry_at = at + dt.timedelta(seconds=error.retry_after)
    else:
        retry_at = at + queue.backoff(config, message.attempts, rng)
    queue.mark_failed(session, message, at, str(error), retry_at)
    if final:
        log.warning(
            "chat: message %s failed for good after %s attempt(s): %s", message.id, message.attempts, error
        )
        return ChatReport(failed=1)
    log.info(
        "chat: message %s attempt %s failed, will retry at %s: %s",
        message.id,
        message.attempts,
        retry_at,
        error,
    )
    return ChatReport(retried=1)


def deliver_batch(
    session: Session,
    batch: list[Outgoing],
    config: ChatConfig,
    *,
    clock: Clock = utcnow,
    stop: threading.Event | None = None,
    rng: random.Random | None = None,
) -> ChatReport:
    """Send claimed messages one by one; each outcome is committed before the next is sent."""
    rng = rng or random.Random()  # noqa: S311  (spreads retries; not a secret)
    report = ChatReport()
    margin = dt.timedelta(seconds=min(2 * config.timeout, config.lease_seconds / 2))
    for index, message in enumerate(batch):
        if index and ((stop is not None and stop.is_set()) or clock() >= message.lease_until - margin):
            report += ChatReport(released=queue.release(session, [m.id for m in batch[index:]]))
            session.commit()
            break
        if message.attempts > config.max_attempts:
            report += _record_failure(
                session, message, DeliveryError(_INTERRUPTED, permanent=True), clock(), config, rng
            )
            session.commit()
            continue
        try:
            posted = send(session, message, config, clock())
        except DeliveryError as exc:
            report += _record_failure(session, message, exc, clock(), config, rng)
        else:  # before the next send: a crash repeats at most this one
            queue.mark_sent(session, message, clock(), posted.channel, posted.ts)
            report += ChatReport(sent=1)
        session.commit()
    return report


def deliver_due(
    session: Session,
    config: ChatConfig,
    *,
    clock: Clock = utcnow,
    stop: threading.Event | None = None,
    rng: random.Random | None = None,
) -> ChatReport:
    """Claim and deliver batches until nothing is due (or ``stop`` is set)."""
    report = ChatReport()
    while stop is None or not stop.is_set():
        batch = queue.claim(session, clock(), config)
        session.commit()  # the claim, visible to every other worker before anything is sent
        if not batch:
            break
        report += deliver_batch(session, batch, config, clock=clock, stop=stop, rng=rng)
    return report


def config_of(app_config: Mapping, session: Session) -> ChatConfig:
    return connection.load(session, app_config)


def deliver_round(app: Flask, *, clock: Clock = utcnow) -> ChatReport:
    """One round of the chat worker in ``app``'s context: deliver every due chat message.

    The email worker's loop can call this once per round, so one worker process serves both.
    """
    with app.app_context():
        try:
            return deliver_due(db.session, config_of(app.config, db.session), clock=clock)
        finally:
            db.session.remove()


def run_worker(
    app: Flask, *, once: bool = False, stop: threading.Event | None = None, clock: Clock = utcnow
) -> ChatReport:
    """Deliver due chat messages every CHAT_POLL_SECONDS until ``stop`` is set; ``once`` drains and
    returns. Running, an error is logged and the worker carries on; with ``once`` it propagates."""
    stop = stop or threading.Event()
    total = ChatReport()
    poll = float(app.config.get("CHAT_POLL_SECONDS", 5))
    while not stop.is_set():
        try:
            report = deliver_round(app, clock=clock)
        except Exception:
            if once:
                raise
            log.exception("chat: delivery round failed; trying again in %s s", poll)
        else:
            total += report
            if report:
                log.info("chat: %s", report.summary())
        if once:
            break
        stop.wait(poll)
    return total
