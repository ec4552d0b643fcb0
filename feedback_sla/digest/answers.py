"""Answering from the digest: each listed candidate's "Send update" and "Reject" links.

A link's token names the manager the digest went to, the candidate and the answer, and when it
stops working, all signed with the app's secret key (a salt of its own, so no other token of the
app passes for one). It expires at the end of the local day after the digest's day, in the
manager's time zone: a digest read late at night or the next morning still answers, and by then
the next digest carries fresh links. Following a link only opens a confirmation page; the answer
itself goes through the wait's door (``waits.answers``) like the triage page's buttons, with the
same checks and undo window. The caller commits.
"""

from __future__ import annotations

import datetime as dt
import enum
from dataclasses import dataclass

from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import select
from sqlalchemy.orm import Session

from feedback_sla.accounts.models import User
from feedback_sla.candidates.models import Candidate, Status
from feedback_sla.emails.checks import EmailRequest
from feedback_sla.emails.config import EmailConfig
from feedback_sla.emails.models import EmailKind, OutboxMessage
from feedback_sla.errors import DomainError
from feedback_sla.timeutil import as_utc, zone
from feedback_sla.waits import answers
from feedback_sla.waits.clock import OrgSettings
from feedback_sla.waits.lead_time import UNSENT
from feedback_sla.waits.models import Wait
from feedback_sla.waits.queries import open_wait_of

#: Where an answer link points, under BASE_URL; the token follows.
ANSWER_PATH = "/digest/answer/"
_SALT = "feedback-sla digest answer"
#: A link works through the digest's day and the local day after it.
DAYS_VALID = 2


class Action(enum.StrEnum):
    UPDATE = "update"
    REJECT = "reject"

    @property
    def kind(self) -> EmailKind:
        """The email the answer queues, from its default template."""
        return EmailKind.UPDATE if self is Action.UPDATE else EmailKind.REJECTION


@dataclass(frozen=True)
class AnswerLink:
    """What a link's token says: who may use it, for whom, to do what, until when (UTC)."""

    manager_id: int
    candidate_id: int
    action: Action
    expires_at: dt.datetime


class LinkAltered(Exception):
    """The token was not signed with the app's key, or says something no link says."""


class LinkExpired(Exception):
    def __init__(self, link: AnswerLink) -> None:
        super().__init__(f"expired at {link.expires_at.isoformat()}")
        self.link = link


def expires_at(day: dt.date, time_zone: str) -> dt.datetime:
    """The end of the local day after the digest's ``day`` in the manager's zone, in UTC."""
    midnight = dt.datetime.combine(day + dt.timedelta(days=DAYS_VALID), dt.time(0), tzinfo=zone(time_zone))
    return midnight.astimezone(dt.UTC)


def token_for(secret: str, link: AnswerLink) -> str:
    values = [link.manager_id, link.candidate_id, link.action.value, int(link.expires_at.timestamp())]
    return URLSafeSerializer(secret, salt=_SALT).dumps(values)


def read_token(secret: str, token: str, now: dt.datetime) -> AnswerLink:
    """The link a token names; ``LinkAltered`` or ``LinkExpired`` when it may not be used at ``now``."""
    try:
        values = URLSafeSerializer(secret, salt=_SALT).loads(token)
    except BadSignature:
        raise LinkAltered from None
    if not isinstance(values, list) or len(values) != 4 or values[2] not in set(Action):
        raise LinkAltered
    manager_id, candidate_id, action, until = values
    if not all(type(number) is int for number in (manager_id, candidate_id, until)):
        raise LinkAltered
    link = AnswerLink(manager_id, candidate_id, Action(action), dt.datetime.fromtimestamp(until, dt.UTC))
    if as_utc(now) >= link.expires_at:
        raise LinkExpired(link)
    return link


def links_for(base_url: str, secret: str | None, manager: User, candidate_id: int, day: dt.date) -> dict:
    """A digest row's answer links by action ("update", "reject"); none without a secret key."""
    if not secret:
        return {}
    until = expires_at(day, manager.time_zone)
    base = base_url.rstrip("/") + ANSWER_PATH
    return {
        action.value: base + token_for(secret, AnswerLink(manager.id, candidate_id, action, until))
        for action in Action
    }


class Answered(enum.Enum):
    """Why a link no longer acts: the candidate was answered meanwhile."""

    NOT_WAITING = "not waiting"
    UPDATE_ON_ITS_WAY = "update on its way"


class AlreadyAnswered(DomainError):
    def __init__(self, answered: Answered) -> None:
        super().__init__(f"already answered: {answered.value}")
        self.answered = answered


@dataclass(frozen=True)
class Standing:
    """The candidate as the confirmation page shows them: their open wait (None: nobody waits)
    and, when they were answered since the digest, how."""

    wait: Wait | None
    answered: Answered | None


def standing(session: Session, candidate: Candidate, action: Action) -> Standing:
    """Whether the candidate still waits for the answer the link gives."""
    wait = open_wait_of(session, candidate)
    if wait is None or candidate.status != Status.ACTIVE:
        return Standing(wait, Answered.NOT_WAITING)
    if action is Action.UPDATE and _update_on_its_way(session, candidate.id):
        return Standing(wait, Answered.UPDATE_ON_ITS_WAY)
    return Standing(wait, None)


def _update_on_its_way(session: Session, candidate_id: int) -> bool:
    query = select(OutboxMessage.id).where(
        OutboxMessage.candidate_id == candidate_id,
        OutboxMessage.kind == EmailKind.UPDATE,
        OutboxMessage.status.in_(UNSENT),
    )
    return session.scalar(query.limit(1)) is not None


@dataclass(frozen=True)
class Answer:
    """One confirmed answer: ``nonce`` is the confirmation page's, so posting it twice queues one."""

    candidate: Candidate
    action: Action
    actor: User
    nonce: str
    now: dt.datetime


def answer(session: Session, wanted: Answer, config: EmailConfig, settings: OrgSettings) -> OutboxMessage:
    """Queue the answer's default email through the wait's door, unless the candidate was answered
    meanwhile (``AlreadyAnswered``); an update promises the date the triage page's button does."""
    answered = standing(session, wanted.candidate, wanted.action).answered
    if answered is not None:
        raise AlreadyAnswered(answered)
    kind = wanted.action.kind
    request = EmailRequest(
        wanted.candidate,
        kind,
        f"digest:{wanted.nonce}:{wanted.candidate.id}:{kind.value}",
        wanted.now,
        wanted.actor,
        default_promise=True,
    )
    return answers.queue_email(session, request, config, settings)
