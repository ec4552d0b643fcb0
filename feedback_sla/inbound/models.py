"""A message that came in (a reply, an automatic reply, a bounce, a stranger's mail) and what it did.

Every message received is kept, matched or not, so nothing is dropped and admins see what matched
nothing. ``fingerprint`` (the SHA-256 of the raw bytes), the Message-ID and the IMAP key each
recognise a message received before: it changes nothing the second time. A delivery report that
names our email only by its failed address is kept ``unconfirmed`` until an admin applies it.
"""

from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from feedback_sla.accounts.models import User
from feedback_sla.candidates.models import Candidate
from feedback_sla.database import db
from feedback_sla.emails.models import OutboxMessage
from feedback_sla.types import UTCDateTime, str_enum

#: Where a message came from: an MTA's pipe (``inbound receive``) or an IMAP mailbox.
SOURCES = ("pipe", "imap")


class Confirmation(enum.StrEnum):
    """Where a delivery report stands that names our email only by its failed address (anyone who
    knows the address can write one): it changes nothing until an admin applies it."""

    UNCONFIRMED = "unconfirmed"
    APPLIED = "applied"


class InboundMessage(db.Model):
    __tablename__ = "inbound_messages"

    id: Mapped[int] = mapped_column(primary_key=True)
    received_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    message_id: Mapped[str | None] = mapped_column(String(255), unique=True)
    source: Mapped[str] = mapped_column(String(10))
    #: The mailbox's name for the message, e.g. ``folder:uidvalidity:uid``.
    imap_key: Mapped[str | None] = mapped_column(String(255), unique=True)
    fingerprint: Mapped[str] = mapped_column(String(64), unique=True)
    sender: Mapped[str] = mapped_column(String(254))
    subject: Mapped[str] = mapped_column(String(500))
    #: reply, auto_reply, bounce, delay (``inbound.reading.Kind``), or unreadable.
    kind: Mapped[str] = mapped_column(String(20))
    #: What the message did, in a sentence.
    outcome: Mapped[str] = mapped_column(Text)
    candidate_id: Mapped[int | None] = mapped_column(ForeignKey("candidates.id", ondelete="SET NULL"))
    outbox_message_id: Mapped[int | None] = mapped_column(
        ForeignKey("outbox_messages.id", ondelete="SET NULL")
    )
    size: Mapped[int] = mapped_column(Integer)
    #: Set for a delivery report matched only by its failed address (``outbox_message_id`` is the
    #: email it names, ``candidate_id`` its candidate); None for every other message.
    confirmation: Mapped[Confirmation | None] = mapped_column(str_enum(Confirmation, "inbound_confirmation"))
    #: Such a report's diagnostic, in the server's words: what applying it records.
    reason: Mapped[str | None] = mapped_column(Text)
    applied_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    applied_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))

    candidate: Mapped[Candidate | None] = relationship()
    outbox_message: Mapped[OutboxMessage | None] = relationship()
    applied_by: Mapped[User | None] = relationship()

    __table_args__ = (
        Index("ix_inbound_messages_received", "received_at"),
        # The unmatched ones, newest first: what an admin looks at.
        Index("ix_inbound_messages_candidate", "candidate_id", "received_at"),
        # The reports an admin is asked to confirm.
        Index("ix_inbound_messages_confirmation", "confirmation", "received_at"),
    )

    @property
    def matched(self) -> bool:
        return self.candidate_id is not None

    @property
    def unconfirmed(self) -> bool:
        return self.confirmation == Confirmation.UNCONFIRMED

    def __repr__(self) -> str:
        return f"<InboundMessage {self.id} {self.kind} {self.sender}>"
