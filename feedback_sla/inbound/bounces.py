"""What a delivery report does: one that proves which email of ours it is about marks it bounced
(reopening the wait, flagging the address); one that names it only by its failed address is kept
for an admin and changes nothing until applied.

A report proves itself by our token in the address it came to (VERP), or by our Message-ID in its
returned headers (the attached original or its ``text/rfc822-headers``) or its In-Reply-To and
References (``matching.find_match``). Anyone who knows a candidate's address can mail a delivery
report to the bounce address; taken on its word, it would reopen the candidate's wait and stop
every email to them. So such a report is recorded ``unconfirmed``, with the email it names and its
reason, and shown to admins (the inbound page, ``inbound list --unconfirmed``), who may apply it
(``apply``): then it does what a proven one does, as of that moment. The caller commits.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select, update
from sqlalchemy.orm import Session, joinedload

from feedback_sla.accounts.models import User
from feedback_sla.emails.models import OutboxMessage
from feedback_sla.errors import DomainError
from feedback_sla.inbound.models import Confirmation, InboundMessage
from feedback_sla.inbound.reading import Incoming, Kind
from feedback_sla.text import one_line
from feedback_sla.waits import answers

#: The longest reason kept, in the server's words.
MAX_REASON = 1_000


class NotApplicable(DomainError):
    """The message is no unconfirmed report, or what it names is gone."""


def bounced(
    session: Session, row: InboundMessage, kind: Kind, reason: str, message: OutboxMessage, now: dt.datetime
) -> str:
    """A report about ``message`` taken as true: a permanent failure marks it bounced (and what
    that does to the wait, ``answers.email_bounced``), a delay warning goes on the timeline; what
    it did, in a sentence."""
    permanent = kind == Kind.BOUNCE
    reason = kept_reason(reason) or "no reason given"
    bounce = answers.email_bounced(session, message, permanent, reason, now)
    row.candidate_id = message.candidate_id
    what = f"the {message.kind.label} to {message.to_address} (email {message.id})"
    if not permanent:
        return f"delay warning for {what}: on the timeline only ({reason})"
    if bounce.event is None or not bounce.marked:
        done = (
            "marked bounced"
            if bounce.event is None
            else "recorded on the timeline only (it had bounced before)"
        )
        return f"bounce of {what}: {done} ({reason})"
    return f"bounce of {what}: marked bounced ({reason}); " + _effects(bounce)


def _effects(bounce: answers.Bounce) -> str:
    effects = ["the wait it answered is open again" if bounce.reopened is not None else "no wait reopened"]
    if bounce.restored is not None:
        effects.append(f"status back to {bounce.restored.value}")
    if bounce.address_flagged:
        effects.append("the address is flagged undeliverable")
    return "; ".join(effects)


def keep_unconfirmed(row: InboundMessage, incoming: Incoming, message: OutboxMessage) -> str:
    """A report that names ``message`` only by its failed address: recorded with the email and the
    reason, for an admin to apply; nothing else changes."""
    row.outbox_message_id = message.id
    row.candidate_id = message.candidate_id
    row.confirmation = Confirmation.UNCONFIRMED
    row.reason = kept_reason(incoming.reason) or None
    what = "bounce" if incoming.kind == Kind.BOUNCE else "delay warning"
    return (
        f"unconfirmed {what}: it names {message.to_address}, the address of the {message.kind.label} "
        f"(email {message.id}), but no token or Message-ID of ours; nothing changed until an admin "
        "applies it"
    )


def unconfirmed(session: Session, limit: int) -> list[InboundMessage]:
    """The reports waiting for an admin, newest first, with the email and candidate each names."""
    query = (
        select(InboundMessage)
        .options(joinedload(InboundMessage.candidate), joinedload(InboundMessage.outbox_message))
        .where(InboundMessage.confirmation == Confirmation.UNCONFIRMED)
        .order_by(InboundMessage.received_at.desc(), InboundMessage.id.desc())
        .limit(limit)
    )
    return list(session.scalars(query))


def apply(session: Session, inbound_id: int, now: dt.datetime, actor: User | None) -> InboundMessage:
    """An admin (None: the command line) confirms an unconfirmed report: it does now what a proven
    one does. The row says what it did (``outcome``), when and by whom. NotApplicable when it is no
    unconfirmed report (applied before, or by another admin at the same moment), or its email or
    candidate is gone."""
    row = session.get(InboundMessage, inbound_id)
    if row is None or row.confirmation != Confirmation.UNCONFIRMED:
        raise NotApplicable("This message is no unconfirmed delivery report (was it applied already?)")
    message = row.outbox_message
    if message is None or message.candidate is None:
        raise NotApplicable("The email this report names is no longer kept")
    if message.candidate.erased_at is not None:
        raise NotApplicable("The candidate's personal data was erased: nothing is recorded about them")
    claimed = session.execute(  # one admin applies it, however many press the button at once
        update(InboundMessage)
        .where(InboundMessage.id == row.id, InboundMessage.confirmation == Confirmation.UNCONFIRMED)
        .values(confirmation=Confirmation.APPLIED, applied_at=now, applied_by_id=actor.id if actor else None)
        .execution_options(synchronize_session=False)
    )
    if claimed.rowcount != 1:
        raise NotApplicable("This report was applied already")
    session.refresh(row)
    row.outcome = bounced(session, row, Kind(row.kind), row.reason or "", message, now)
    session.flush()
    return row


def kept_reason(text: str) -> str:
    """The server's words on one line, without NUL or other control characters, cut to
    ``MAX_REASON``."""
    return one_line(text, MAX_REASON)
