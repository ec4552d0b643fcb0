"""Slack's buttons: a pressed "Send update" or "Undo" comes back as a signed request.

The request is checked before anything is read from it: the ``v0`` HMAC-SHA256 of
``v0:<timestamp>:<raw body>`` with the app's signing secret, compared in constant time, and a
timestamp more than five minutes away refused (``slack_sdk``'s ``SignatureVerifier``); the same
request again (a replay) is refused by its signature, kept once. The Slack member is mapped to the
user linked to them and the candidate checked as a page checks it (their manager, or an admin).
"Send update" queues the default update through the wait's door with the triage button's checks
and undo window; "Undo" takes it back. What the message then says is posted to the request's
response_url by the chat worker, so Slack gets its acknowledgement at once. The caller commits.
"""

from __future__ import annotations

import datetime as dt
import enum
import hashlib
import json
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, replace
from urllib.parse import parse_qs

from slack_sdk.signature import SignatureVerifier
from sqlalchemy import delete
from sqlalchemy.orm import Session

from feedback_sla.accounts.models import User
from feedback_sla.candidates.models import Candidate
from feedback_sla.chat import cards, nudges, preferences, queue
from feedback_sla.chat.connection import ChatConfig
from feedback_sla.chat.models import About, Channel, SlackRequest
from feedback_sla.database import insert_once
from feedback_sla.digest import answers as digest_answers
from feedback_sla.emails.checks import EmailRequest
from feedback_sla.emails.config import EmailConfig
from feedback_sla.emails.models import EmailKind, OutboxMessage
from feedback_sla.errors import DomainError
from feedback_sla.timeutil import local_time_in
from feedback_sla.waits import answers
from feedback_sla.waits.clock import OrgSettings
from feedback_sla.waits.queries import open_wait_of

#: Slack refuses nothing older; neither do we accept it (Slack's documented five minutes).
MAX_AGE = dt.timedelta(minutes=5)


class BadInteraction(DomainError):
    """A signed request that is not a button of ours (the message says what is wrong)."""


class Replayed(DomainError):
    def __init__(self) -> None:
        super().__init__("this request was already handled (a replay)")


class _At:
    """``SignatureVerifier``'s clock, set to the request's ``now``."""

    def __init__(self, now: dt.datetime) -> None:
        self._now = now.timestamp()

    def now(self) -> float:
        return self._now


def verified(signing_secret: str, headers: Mapping[str, str], body: bytes, now: dt.datetime) -> bool:
    """Whether Slack signed this raw body, at most five minutes from ``now``."""
    try:
        return SignatureVerifier(signing_secret, clock=_At(now)).is_valid_request(body, dict(headers))
    except (ValueError, UnicodeDecodeError):  # a timestamp that is not a number, a body that is not UTF-8
        return False


@dataclass(frozen=True)
class Press:
    """One pressed button, as Slack's block_actions payload describes it."""

    member_id: str
    action_id: str
    value: str
    response_url: str


def read_press(body: bytes) -> Press:
    """The button a block_actions payload (``payload=<JSON>``, form-encoded) reports."""
    try:
        form = parse_qs(body.decode("utf-8"), strict_parsing=False)
        payload = json.loads(form["payload"][0])
    except (UnicodeDecodeError, KeyError, IndexError, ValueError):
        raise BadInteraction("payload: not a Slack interaction payload") from None
    if not isinstance(payload, dict) or payload.get("type") != "block_actions":
        raise BadInteraction("payload: only block_actions (buttons) are handled")
    actions, user = payload.get("actions"), payload.get("user")
    if (
        not isinstance(actions, list)
        or not actions
        or not isinstance(actions[0], dict)
        or not isinstance(user, dict)
    ):
        raise BadInteraction("payload: no action or no user")
    action = actions[0]
    fields = (str(user.get("id") or ""), str(action.get("action_id") or ""), str(action.get("value") or ""))
    return Press(*fields, str(payload.get("response_url") or ""))


def remember(session: Session, signature: str, now: dt.datetime) -> None:
    """Keep the request's signature for as long as its timestamp is accepted; ``Replayed`` when it
    was kept before (on any host)."""
    session.execute(delete(SlackRequest).where(SlackRequest.seen_at < now - 2 * MAX_AGE))
    digest = hashlib.sha256(signature.encode()).hexdigest()
    if insert_once(session, SlackRequest, {"signature_hash": digest, "seen_at": now}) is None:
        raise Replayed


class Outcome(enum.Enum):
    IGNORED = "ignored"  # a link button: Slack opened the link, nothing to do
    QUEUED = "queued"
    UNDONE = "undone"
    REFUSED = "refused"  # told to the person who pressed it, only them


@dataclass(frozen=True)
class Pressed:
    """What a press did: its outcome and the message that tells Slack (None for a link)."""

    outcome: Outcome
    reply: queue.NewMessage | None = None


@dataclass(frozen=True)
class Context:
    now: dt.datetime
    config: ChatConfig
    email_config: EmailConfig
    settings: OrgSettings


def act(session: Session, press: Press, context: Context) -> Pressed:
    """Do what the button asks, as the linked user; queue the reply to its response_url."""
    if press.action_id not in (cards.SEND_UPDATE, cards.UNDO):
        return Pressed(Outcome.IGNORED)
    user = preferences.user_of_slack_member(session, press.member_id)
    if user is None:  # nobody to answer as; the reply needs a user, so the press is only refused
        return _refused(session, None, press, context, "")
    try:
        if press.action_id == cards.SEND_UPDATE:
            return _send_update(session, user, press, context)
        return _undo(session, user, press, context)
    except DomainError as exc:
        return _refused(session, user, press, context, f"Nothing was done: {exc}.")


def _candidate(session: Session, user: User, candidate_id: int) -> Candidate:
    """The candidate, if the user may act on them (as ``web.access.candidate_or_404``)."""
    candidate = session.get(Candidate, candidate_id)
    if candidate is None or not (user.is_admin or candidate.position.manager_id == user.id):
        raise DomainError("you cannot answer this candidate")
    return candidate


def _send_update(session: Session, user: User, press: Press, context: Context) -> Pressed:
    number, _, nonce = press.value.partition(":")
    if not number.isdigit() or not nonce:
        raise BadInteraction("value: not a candidate's button")
    candidate = _candidate(session, user, int(number))
    answered = digest_answers.standing(session, candidate, digest_answers.Action.UPDATE).answered
    if answered is not None:
        standing = (
            "not waiting for an answer" if answered.name == "NOT_WAITING" else "getting an update already"
        )
        raise DomainError(f"{candidate.name} is {standing}")
    request = EmailRequest(
        candidate,
        EmailKind.UPDATE,
        f"slack:{nonce}:{candidate.id}:update",
        context.now,
        user,
        default_promise=True,
    )
    message = answers.queue_email(session, request, context.email_config, context.settings)
    said = _queued_sentence(message, user)
    nudge = _nudge(session, candidate, user, context)
    body = cards.slack_answered(nudge, said, message.id)
    return Pressed(Outcome.QUEUED, _reply(user, candidate, press, said, body, message.id))


def _queued_sentence(message: OutboxMessage, user: User) -> str:
    """ "Update queued, sent at 10:01 (Europe/Berlin) unless you undo it." and the promise."""
    at = local_time_in(message.send_after, user.time_zone, "%H:%M")
    clock, _, zone_name = at.partition(" ")
    said = f"Update queued, sent at {clock} ({zone_name}) unless you undo it."
    if message.promised_date is not None:
        said += f" It promises an answer by {message.promised_date:%a %d %b %Y}."
    return said + " Their wait closes when the email is sent."


def _undo(session: Session, user: User, press: Press, context: Context) -> Pressed:
    if not press.value.isdigit():
        raise BadInteraction("value: not an email's button")
    message = session.get(OutboxMessage, int(press.value))
    if message is None or message.candidate_id is None:
        raise DomainError("no such email")
    candidate = _candidate(session, user, message.candidate_id)
    answers.undo_email(session, message, context.now, user)
    said = f"Undone: the {message.kind.label} to {candidate.name} will not be sent."
    body = cards.slack_answered(_nudge(session, candidate, user, context), said, None)
    return Pressed(Outcome.UNDONE, _reply(user, candidate, press, said, body, message.id))


def _nudge(session: Session, candidate: Candidate, user: User, context: Context) -> cards.Nudge:
    wait = open_wait_of(session, candidate)
    nudge = nudges.nudge_of(
        About.ANSWER, candidate, candidate.position, wait, user, context.now, context.settings, context.config
    )
    return replace(nudge, nonce=secrets.token_urlsafe(9))


def _reply(user: User, candidate: Candidate | None, press: Press, said: str, body: dict, outbox_id=None):
    return queue.NewMessage(
        user.id,
        Channel.SLACK_RESPONSE,
        About.ANSWER,
        said,
        body,
        candidate_id=candidate.id if candidate is not None else None,
        outbox_message_id=outbox_id,
        target=press.response_url,
    )


def _refused(session: Session, user: User | None, press: Press, context: Context, said: str) -> Pressed:
    if user is None or not press.response_url:
        return Pressed(Outcome.REFUSED)
    return Pressed(Outcome.REFUSED, _reply(user, None, press, said, cards.slack_ephemeral(said)))


def queue_reply(session: Session, pressed: Pressed, now: dt.datetime) -> None:
    """Queue the press's reply (after the action, in its transaction)."""
    if pressed.reply is not None and pressed.reply.target:
        queue.add(session, pressed.reply, now)
