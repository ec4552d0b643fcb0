"""Which email of ours a message that came back concerns: by the token in the address it was sent
to, by a Message-ID of ours it names, or (a bounce) by its failed address."""

from __future__ import annotations

import datetime as dt
import enum
import re
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from feedback_sla.emails.config import DELIMITER, EmailConfig
from feedback_sla.emails.models import OutboxMessage, OutboxStatus
from feedback_sla.inbound.reading import Incoming, Kind

#: A token as ``emails.outbox`` makes it: 128 random bits in hexadecimal.
TOKEN = re.compile(r"[0-9a-f]{32}")
#: A bounce without a token or a Message-ID of ours names the latest email sent to its address
#: within this long; it is kept unconfirmed (``inbound.bounces``).
FAILED_RECIPIENT_WITHIN = dt.timedelta(days=30)
#: Message-IDs of In-Reply-To and References looked up, the nearest first.
MAX_ANSWERED = 50


class MatchedBy(enum.StrEnum):
    """How a message was matched to an email of ours (kept in its timeline event's data)."""

    TOKEN = "token"  # noqa: S105 - a way of matching, no secret
    MESSAGE_ID = "Message-ID"
    FAILED_RECIPIENT = "failed recipient"


@dataclass(frozen=True)
class Match:
    """The email of ours a message concerns, and how it was found."""

    message: OutboxMessage
    by: MatchedBy
    via_reply_address: bool = False  # the token came through REPLY_ADDRESS (not the bounce address)

    @property
    def proven(self) -> bool:
        """Whether the message names the email itself (a token or Message-ID of ours), rather than
        only the address it was sent to, which anyone may know."""
        return self.by != MatchedBy.FAILED_RECIPIENT


def find_match(session: Session, incoming: Incoming, config: EmailConfig, now: dt.datetime) -> Match | None:
    """The email of ours the message concerns: by token, by Message-ID, by failed recipient."""
    for token, via_reply in tokens_in(incoming.recipients, config):
        message = session.scalar(select(OutboxMessage).where(OutboxMessage.reply_token == token))
        if message is not None:
            return Match(message, MatchedBy.TOKEN, via_reply)
    ids = list(incoming.answers[:MAX_ANSWERED])
    if incoming.original_message_id:
        ids.insert(0, incoming.original_message_id)
    if ids:
        found = {
            m.message_id: m
            for m in session.scalars(select(OutboxMessage).where(OutboxMessage.message_id.in_(ids)))
        }
        for message_id in ids:
            if message_id in found:
                return Match(found[message_id], MatchedBy.MESSAGE_ID)
    if incoming.kind in (Kind.BOUNCE, Kind.DELAY) and incoming.failed:
        message = session.scalar(
            select(OutboxMessage)
            .where(
                func.lower(OutboxMessage.to_address).in_(list(incoming.failed)),
                OutboxMessage.candidate_id.is_not(None),
                OutboxMessage.status.in_([OutboxStatus.SENT, OutboxStatus.BOUNCED]),
                OutboxMessage.sent_at >= now - FAILED_RECIPIENT_WITHIN,
                OutboxMessage.sent_at <= now,
            )
            .order_by(OutboxMessage.sent_at.desc(), OutboxMessage.id.desc())
            .limit(1)
        )
        if message is not None:
            return Match(message, MatchedBy.FAILED_RECIPIENT)
    return None


def tokens_in(recipients: tuple[str, ...], config: EmailConfig) -> list[tuple[str, bool]]:
    """The tokens in addresses of the form ``bounces+<token>@…`` or ``replies+<token>@…`` (the
    configured addresses, whatever the case), each with whether it came through the reply address."""
    bases = {}
    if config.bounce_address:
        bases[config.bounce_address.lower()] = False
    if config.reply_address:
        bases[config.reply_address.lower()] = True
    found = []
    for address in recipients:
        local, _, domain = address.lower().rpartition("@")
        base, delimiter, token = local.partition(DELIMITER)
        via_reply = bases.get(f"{base}@{domain}")
        if delimiter and via_reply is not None and TOKEN.fullmatch(token):
            found.append((token, via_reply))
    return found
