"""Erasing candidates' personal data: one on request, or every candidate whose final decision is
older than the organisation's ``retention.days_after_decision``.

Erasing reaches every table that can hold a candidate's personal data: the wait's own (the
candidate, the timeline, their emails, digests naming them, status links: ``waits.erasure``), the
mail that came back from them (``inbound_messages``: sender, subject, Message-ID, what it did in
words), what the ATS sent about them (``ats_deliveries``: the payload and its error) and the chat
messages that named them (``chat_messages``). That is why
retention sits above the other features. A candidate still in the process (active or offered) is
withdrawn by the erasure, so their open wait closes. The waits stay, so the export and the report still count
them. Batches are found by one indexed query each; the caller commits each batch, and a candidate
another run erased meanwhile is skipped (the claim is a conditional update).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from dataclasses import dataclass

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session

from feedback_sla.accounts.models import User
from feedback_sla.ats.apply import forget_deliveries
from feedback_sla.ats.models import Delivery
from feedback_sla.candidates.models import Candidate, Event, StatusLink
from feedback_sla.chat import queue as chat_queue
from feedback_sla.emails.models import OutboxMessage
from feedback_sla.errors import DomainError
from feedback_sla.inbound.models import InboundMessage
from feedback_sla.settings import service as settings_service
from feedback_sla.survey import service as survey
from feedback_sla.text import clean_line
from feedback_sla.waits import erasure
from feedback_sla.waits.erasure import Former, Request

SETTING = "retention.days_after_decision"
#: The longest reason recorded for an erasure on request.
MAX_REASON = 200
#: Candidates erased per transaction.
BATCH = 100
#: Any email address, in the sentence saying what a message did (it may name another of theirs).
ADDRESS = re.compile(r"[^\s()<>,;:\"']+@[^\s()<>,;:\"']+")
#: What retention writes on the timeline as the reason.
RETENTION_REASON = "retention: {days} days after the final decision"


@dataclass(frozen=True)
class Due:
    """A candidate retention would erase, and when they were decided."""

    id: int
    decided_at: dt.datetime


class UnknownCandidate(DomainError):
    pass


def days_after_decision(session: Session) -> int | None:
    """The organisation's setting: None when retention is off."""
    days = settings_service.value_of(session, SETTING)
    return int(days) if days is not None else None


def cutoff(now: dt.datetime, days: int) -> dt.datetime:
    return now - dt.timedelta(days=days)


def _past_period(now: dt.datetime, days: int):
    """Candidates decided more than ``days`` days before ``now`` and not erased yet."""
    return (Candidate.decided_at < cutoff(now, days), Candidate.erased_at.is_(None))


def due(session: Session, now: dt.datetime, days: int, batch: int = BATCH) -> Iterator[Due]:
    """Every candidate past the period, in id order, read a batch at a time (for a dry run)."""
    after = 0
    while True:
        query = (
            select(Candidate.id, Candidate.decided_at)
            .where(*_past_period(now, days), Candidate.id > after)
            .order_by(Candidate.id)
            .limit(batch)
        )
        rows = session.execute(query).all()
        yield from (Due(*row) for row in rows)
        if len(rows) < batch:
            return
        after = rows[-1].id


def next_batch(session: Session, now: dt.datetime, days: int, batch: int = BATCH) -> list[Candidate]:
    """The next candidates past the period, not erased yet. On PostgreSQL the rows are locked and
    rows another run holds are skipped; SQLite takes one writer at a time."""
    query = (
        select(Candidate)
        .where(*_past_period(now, days))
        .order_by(Candidate.id)
        .limit(batch)
        .with_for_update(skip_locked=True)
    )
    return list(session.scalars(query))


def erase_survey_comments(session: Session, now: dt.datetime, days: int) -> int:
    """The survey's comments about decisions past the period (the whole week of the decision, so
    a comment goes no later than its candidate); the scores stay, the figures still count them."""
    return survey.erase_comments(session, cutoff(now, days).date() + dt.timedelta(days=1))


def erase_batch(session: Session, candidates: list[Candidate], now: dt.datetime, days: int) -> int:
    """Erase a batch found by ``next_batch``; how many this run erased (the caller commits)."""
    request = Request(by="retention", reason=RETENTION_REASON.format(days=days))
    return sum(1 for candidate in candidates if erase(session, candidate, now, request) is not None)


def erase(session: Session, candidate: Candidate, at: dt.datetime, request: Request) -> Former | None:
    """Erase one candidate's personal data everywhere; the former name and address when this call
    erased them, None when they were erased before (what is theirs is cleared again)."""
    former = Former(candidate.name, candidate.email)
    erased = erasure.erase(session, candidate, at, request)
    _forget_inbound(session, candidate, erased or former)
    forget_deliveries(session, candidate.id)
    named = erased or former
    chat_queue.forget_candidate(
        session,
        candidate.id,
        named.spellings,
        lambda text: named.pattern().sub(erasure.ERASED_NAME, text),
        manager_id=candidate.position.manager_id,
        since=candidate.created_at,
    )
    session.flush()
    return erased


def request_by(by: str, reason: str, actor: User | None = None) -> Request:
    """An erasure on request; the reason is checked like any line typed (DomainError names the field)."""
    reason = clean_line(reason.strip() or "on request", "reason", MAX_REASON)
    return Request(by=by, reason=reason, actor=actor)


def candidate_by_id(session: Session, candidate_id: int) -> Candidate:
    candidate = session.get(Candidate, candidate_id)
    if candidate is None:
        raise UnknownCandidate(f"no candidate with id {candidate_id}")
    return candidate


def _forget_inbound(session: Session, candidate: Candidate, former: Former) -> None:
    """Messages that came from them (matched to them, or unmatched from their address) keep their
    record (when, kind, size, what they matched) without who wrote, what about, its Message-ID or
    a bounce's reason (which may quote the address); the sentence saying what each did keeps its
    words with their name and address replaced."""
    theirs = or_(
        InboundMessage.candidate_id == candidate.id,
        func.lower(InboundMessage.sender) == former.email.lower(),
    )
    pattern = former.pattern(words=True)
    rows = session.execute(select(InboundMessage.id, InboundMessage.outcome).where(theirs)).all()
    if not rows:
        return
    # One UPDATE sent for all of them (each keeps its own outcome sentence, with the name replaced).
    session.execute(
        update(InboundMessage),
        [
            {
                "id": message_id,
                "sender": candidate.email,
                "subject": erasure.ERASED_TEXT,
                "message_id": None,
                "reason": None,
                "outcome": ADDRESS.sub(erasure.ERASED_TEXT, pattern.sub(erasure.ERASED_NAME, outcome)),
            }
            for message_id, outcome in rows
        ],
    )


@dataclass(frozen=True)
class Holdings:
    """What an erasure of the candidate clears, counted for the confirmation page."""

    texts: int  # notes, contact notes, replies and reasons on the timeline
    emails: int
    inbound: int
    deliveries: int
    status_links: int


def holdings(session: Session, candidate: Candidate) -> Holdings:
    """Counted in one statement."""

    def count(model, *where):
        return select(func.count()).select_from(model).where(*where).scalar_subquery()

    row = session.execute(
        select(
            count(Event, Event.candidate_id == candidate.id, Event.body.is_not(None)),
            count(OutboxMessage, OutboxMessage.candidate_id == candidate.id),
            count(InboundMessage, InboundMessage.candidate_id == candidate.id),
            count(Delivery, Delivery.candidate_id == candidate.id),
            count(StatusLink, StatusLink.candidate_id == candidate.id),
        )
    ).one()
    return Holdings(*row)
