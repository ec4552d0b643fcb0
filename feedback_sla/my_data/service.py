"""Everything held about one candidate, as one document: their details, their timeline, every
email sent to them as it was sent, the messages that came from them and their status links.

Internal notes and internal rejection reasons are in it while the organisation's setting
``my_data.include_internal`` is on (the default). Survey answers are not: they are kept without the
candidate, so nothing leads back to them. Every query names the one candidate, so no other
candidate's data can be in it. ``record`` puts the download on the timeline (the caller commits).
"""

from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import select
from sqlalchemy.orm import Session

from feedback_sla.accounts.models import User
from feedback_sla.candidates.models import Candidate, Event, EventKind, StatusLink
from feedback_sla.emails.models import OutboxMessage, OutboxStatus
from feedback_sla.errors import DomainError
from feedback_sla.inbound.models import InboundMessage
from feedback_sla.settings import service as settings_service
from feedback_sla.timeutil import as_utc
from feedback_sla.waits import service as waits

SETTING = "my_data.include_internal"
FORMAT_VERSION = 1
#: What the document says about the survey, in its own words.
SURVEY_NOTE = (
    "Survey answers are not included: they are kept anonymously, without your name, address or any "
    "link to you, so they cannot be found again as yours."
)
#: Timeline entries only the team sees, left out while the setting is off.
_INTERNAL_KINDS = frozenset({EventKind.NOTE})


class Requester(enum.StrEnum):
    CANDIDATE = "candidate"
    ADMIN = "admin"
    OPERATOR = "operator"


class UnknownCandidate(DomainError):
    pass


class Erased(DomainError):
    """The candidate's personal data was erased: there is nothing to give."""


def _when(value: dt.datetime | None) -> str | None:
    return as_utc(value).isoformat() if value is not None else None


def include_internal(session: Session) -> bool:
    return bool(settings_service.value_of(session, SETTING))


def find(session: Session, candidate_id: int) -> Candidate:
    """The candidate whose data is asked for; UnknownCandidate or Erased otherwise."""
    candidate = session.get(Candidate, candidate_id)
    if candidate is None:
        raise UnknownCandidate(f"no candidate with id {candidate_id}")
    if candidate.erased_at is not None:
        raise Erased(f"candidate {candidate_id}'s personal data was erased: there is nothing to export")
    return candidate


def document(session: Session, candidate: Candidate, now: dt.datetime) -> dict:
    """The candidate's data as a JSON-ready mapping."""
    internal = include_internal(session)
    position = candidate.position
    return {
        "format_version": FORMAT_VERSION,
        "generated_at": _when(now),
        "internal_notes_included": internal,
        "survey_answers": SURVEY_NOTE,
        "candidate": {
            "name": candidate.name,
            "email": candidate.email,
            "position": position.title,
            "hiring_manager": position.manager.name,
            "stage": candidate.stage,
            "status": candidate.status.value,
            "language": candidate.language,
            "time_zone": candidate.time_zone,
            "added_at": _when(candidate.created_at),
            "decided_at": _when(candidate.decided_at),
            "email_undeliverable_at": _when(candidate.email_undeliverable_at),
        },
        "timeline": _timeline(session, candidate, internal),
        "emails_sent": _emails(session, candidate, internal),
        "messages_received": _received(session, candidate),
        "status_links": _links(session, candidate),
    }


def _timeline(session: Session, candidate: Candidate, internal: bool) -> list[dict]:
    query = select(Event).where(Event.candidate_id == candidate.id).order_by(Event.occurred_at, Event.id)
    if not internal:
        query = query.where(Event.kind.not_in(_INTERNAL_KINDS))
    return [
        {
            "kind": event.kind.value,
            "channel": event.channel,
            "text": event.body,
            "occurred_at": _when(event.occurred_at),
            **({"details": event.data or {}} if internal else {}),
        }
        for event in session.scalars(query)
    ]


def _emails(session: Session, candidate: Candidate, internal: bool) -> list[dict]:
    query = (
        select(OutboxMessage)
        .where(OutboxMessage.candidate_id == candidate.id, OutboxMessage.status == OutboxStatus.SENT)
        .order_by(OutboxMessage.sent_at, OutboxMessage.id)
    )
    emails = []
    for message in session.scalars(query):
        email = {
            "kind": message.kind.value,
            "sent_at": _when(message.sent_at),
            "language": message.language,
            "to": message.to_address,
            "reply_to": message.reply_to_address,
            "subject": message.subject,
            "text_body": message.text_body,
            "html_body": message.html_body,
            "message_id": message.message_id,
        }
        if internal and message.reasons:
            email["internal_reasons"] = list(message.reasons)
        emails.append(email)
    return emails


def _received(session: Session, candidate: Candidate) -> list[dict]:
    query = (
        select(InboundMessage)
        .where(InboundMessage.candidate_id == candidate.id)
        .order_by(InboundMessage.received_at, InboundMessage.id)
    )
    return [
        {
            "received_at": _when(message.received_at),
            "from": message.sender,
            "subject": message.subject,
            "kind": message.kind,
        }
        for message in session.scalars(query)
    ]


def _links(session: Session, candidate: Candidate) -> list[dict]:
    query = select(StatusLink).where(StatusLink.candidate_id == candidate.id).order_by(StatusLink.id)
    return [
        {"created_at": _when(link.created_at), "revoked_at": _when(link.revoked_at)}
        for link in session.scalars(query)
    ]


def record(
    session: Session, candidate: Candidate, now: dt.datetime, by: Requester, actor: User | None = None
) -> Event:
    """The download, on the candidate's timeline."""
    return waits.record(
        session,
        candidate,
        EventKind.DATA_EXPORTED,
        now,
        actor,
        body=f"Personal data exported (requested by the {by.value})",
        data={"by": by.value},
    )
