"""What a message that came back does: a candidate's reply, an automatic reply, a bounce, a stranger's.

``receive`` records every message once (by its IMAP key, its Message-ID or the SHA-256 of its bytes:
the same message twice changes nothing), finds the email of ours it concerns (``inbound.matching``),
and hands what it means to the wait's door (``waits.service``, ``waits.answers``). It is matched,
in this order, by the token in the address it was sent to (``bounces+<token>@…``,
``replies+<token>@…``), by a bounce's returned headers (its attached original or
``text/rfc822-headers``) or In-Reply-To and References against our Message-IDs, and, for a bounce
without either, by the failed address against the latest email sent to it within 30 days. Only the
first two prove which email it is about: a bounce matched by address alone changes nothing and is
kept unconfirmed for an admin to apply (``inbound.bounces``). What matches nothing is kept, with
the reason, for an admin. Mail matched to a candidate whose personal data was erased keeps no
sender, subject or Message-ID and changes nothing. The caller commits.
"""

from __future__ import annotations

import datetime as dt
import hashlib

from sqlalchemy import or_, select
from sqlalchemy.orm import Session, joinedload

from feedback_sla.candidates.models import Status
from feedback_sla.database import insert_once
from feedback_sla.emails.config import EmailConfig
from feedback_sla.inbound import bounces, reading
from feedback_sla.inbound.matching import FAILED_RECIPIENT_WITHIN, Match, find_match
from feedback_sla.inbound.models import InboundMessage
from feedback_sla.inbound.reading import Incoming, Kind, TooLarge
from feedback_sla.text import one_line, printable
from feedback_sla.waits import erasure
from feedback_sla.waits import service as waits
from feedback_sla.waits.clock import OrgSettings

__all__ = ["TooLarge", "receive", "recent"]

UNREADABLE = "unreadable"


def receive(
    session: Session,
    raw: bytes,
    now: dt.datetime,
    settings: OrgSettings,
    config: EmailConfig,
    *,
    source: str = "pipe",
    imap_key: str | None = None,
) -> InboundMessage:
    """Record one message and do what it means; the row says what it did (``outcome``).

    A message recorded before (by ``imap_key``, Message-ID or fingerprint) returns that row and
    changes nothing. TooLarge when it passes ``INBOUND_MAX_BYTES``: nothing is written.
    """
    if len(raw) > config.inbound_max_bytes:
        raise TooLarge(f"the message is {len(raw):,} bytes; the limit is {config.inbound_max_bytes:,}")
    fingerprint = hashlib.sha256(raw).hexdigest()
    known = _known(session, fingerprint=fingerprint, imap_key=imap_key)
    if known is not None:
        return known
    try:
        incoming = reading.read(raw, config.inbound_max_bytes)
    except TooLarge:
        raise
    except Exception as exc:  # a message nothing can read is kept for an admin, never dropped
        return _unreadable(session, raw, now, fingerprint, source, imap_key, exc)
    message_id = _stored_id(incoming.message_id)
    known = _known(session, message_id=message_id)
    if known is not None:
        return known
    row = _claim(
        session,
        received_at=now,
        message_id=message_id,
        source=source,
        imap_key=imap_key,
        fingerprint=fingerprint,
        sender=one_line(incoming.sender, 254),
        subject=one_line(incoming.subject, 500),
        kind=incoming.kind.value,
        outcome="",
        size=len(raw),
    )
    if row is None:  # the same message, received at the same moment by another process
        return _known(session, fingerprint=fingerprint, imap_key=imap_key, message_id=message_id)
    match = find_match(session, incoming, config, now)
    row.outcome = _act(session, row, incoming, match, now, settings)
    session.flush()
    return row


def recent(session: Session, limit: int, *, unmatched: bool = False) -> list[InboundMessage]:
    """The latest messages received, newest first, with their candidate; only those that matched no
    candidate with ``unmatched``."""
    query = (
        select(InboundMessage)
        .options(joinedload(InboundMessage.candidate), joinedload(InboundMessage.applied_by))
        .order_by(InboundMessage.received_at.desc(), InboundMessage.id.desc())
        .limit(limit)
    )
    if unmatched:
        query = query.where(InboundMessage.candidate_id.is_(None))
    return list(session.scalars(query))


# --- what it does -------------------------------------------------------------------------------


def _act(
    session: Session,
    row: InboundMessage,
    incoming: Incoming,
    match: Match | None,
    now: dt.datetime,
    settings: OrgSettings,
) -> str:
    if match is None:
        return _unmatched_reason(incoming)
    message = match.message
    row.outbox_message_id = message.id
    if message.candidate is not None and message.candidate.erased_at is not None:
        return _erased(row, message.candidate.id, message.candidate.email)
    if incoming.kind in (Kind.BOUNCE, Kind.DELAY):
        if not match.proven:
            return bounces.keep_unconfirmed(row, incoming, message)
        return bounces.bounced(session, row, incoming.kind, incoming.reason, message, now)
    candidate = message.candidate
    if candidate is None:
        return f"unmatched: it answers the {message.kind.label} to {message.to_address}; kept for an admin"
    if incoming.kind == Kind.AUTO_REPLY:
        row.candidate_id = candidate.id
        waits.auto_replied(session, candidate, now, incoming.subject, data=_data(row, match))
        return f"automatic reply from {candidate.name}: on the timeline, counted for nothing"
    return _reply(session, row, incoming, match, now, settings)


def _erased(row: InboundMessage, candidate_id: int, erased_address: str) -> str:
    """Mail about a candidate whose personal data was erased: recorded (so the same message twice
    is still one row, by its fingerprint or IMAP key) without who sent it, what about, or its
    Message-ID, and nothing is done to the wait, the timeline or the email it answers."""
    row.candidate_id = candidate_id
    row.sender = erased_address
    row.subject = erasure.ERASED_TEXT
    row.message_id = None
    kind = row.kind.replace("_", " ")
    return f"{kind} about an erased candidate: their personal data was erased, so nothing was recorded"


def _reply(
    session: Session,
    row: InboundMessage,
    incoming: Incoming,
    match: Match,
    now: dt.datetime,
    settings: OrgSettings,
) -> str:
    """A person's reply: the candidate's follow-up, when it comes from their address or through the
    reply address with a valid token."""
    message, candidate = match.message, match.message.candidate
    sender = incoming.sender
    theirs = sender in (candidate.email.lower(), message.to_address.lower())
    if message.reply_to_address and sender == message.reply_to_address.lower():
        row.candidate_id = candidate.id
        return f"from the hiring manager, about {candidate.name}: not a follow-up, nothing recorded"
    if not theirs and not match.via_reply_address:
        return (
            f"unmatched: it answers the {message.kind.label} to {candidate.name}, but comes from "
            f"{sender or 'an unknown sender'}, not the candidate's address; kept for an admin"
        )
    row.candidate_id = candidate.id
    note = "" if theirs else f"Sent from {sender}, not the candidate's address {candidate.email}."
    text = printable(incoming.text, keep="\n\t", replacement=" ")
    body = "\n\n".join(part for part in (one_line(incoming.subject, 500), text, note) if part)
    data = {**_data(row, match), "sender": sender, "sender_differs": not theirs}
    differs = f"; the sender ({sender}) differs from the candidate's address" if note else ""
    if candidate.status != Status.ACTIVE:
        waits.wrote_after_decision(session, candidate, now, body, data=data)
        return (
            f"reply from {candidate.name}, who is {candidate.status.value}: on the timeline, "
            f"no wait opens{differs}"
        )
    wait = waits.followed_up(session, candidate, now, settings, channel="email", body=body, data=data)
    if wait.follow_ups == 0:
        return f"follow-up from {candidate.name}: opened a reply wait{differs}"
    return f"follow-up from {candidate.name}: {wait.follow_ups} during this wait{differs}"


def _unmatched_reason(incoming: Incoming) -> str:
    if incoming.kind in (Kind.BOUNCE, Kind.DELAY):
        failed = ", ".join(incoming.failed) or "no address named"
        return (
            f"unmatched {incoming.kind.value}: no token or Message-ID of ours, and no email sent to "
            f"{failed} in the last {FAILED_RECIPIENT_WITHIN.days} days; kept for an admin"
        )
    kind = incoming.kind.value.replace("_", " ")
    return f"unmatched {kind}: no token or Message-ID of ours; kept for an admin"


def _data(row: InboundMessage, match: Match) -> dict:
    return {"inbound_id": row.id, "outbox_id": match.message.id, "matched_by": match.by}


# --- recording ----------------------------------------------------------------------------------


def _known(
    session: Session,
    *,
    fingerprint: str | None = None,
    imap_key: str | None = None,
    message_id: str | None = None,
) -> InboundMessage | None:
    """The row of a message recorded before, by any of the keys given."""
    keys = [
        column == value
        for column, value in (
            (InboundMessage.fingerprint, fingerprint),
            (InboundMessage.imap_key, imap_key),
            (InboundMessage.message_id, message_id),
        )
        if value is not None
    ]
    if not keys:
        return None
    return session.scalars(
        select(InboundMessage).where(or_(*keys)).order_by(InboundMessage.id).limit(1)
    ).first()


def _claim(session: Session, **values) -> InboundMessage | None:
    """Insert the row unless one with the same Message-ID, IMAP key or fingerprint exists (then
    None): the database decides, so two processes receiving the same message record it once."""
    return insert_once(session, InboundMessage, values)


def _unreadable(
    session: Session,
    raw: bytes,
    now: dt.datetime,
    fingerprint: str,
    source: str,
    imap_key: str | None,
    error: Exception,
) -> InboundMessage:
    row = _claim(
        session,
        received_at=now,
        message_id=None,
        source=source,
        imap_key=imap_key,
        fingerprint=fingerprint,
        sender="",
        subject="",
        kind=UNREADABLE,
        outcome=one_line(
            f"unmatched: the message could not be read ({type(error).__name__}: {error})", 1_000
        ),
        size=len(raw),
    )
    return row or _known(session, fingerprint=fingerprint, imap_key=imap_key)


def _stored_id(message_id: str | None) -> str | None:
    """The Message-ID as stored; one too long for the column is left out (the fingerprint stays)."""
    if not message_id:
        return None
    message_id = one_line(message_id, 10_000)
    return message_id if len(message_id) <= 255 else None
