"""A message that came in (a reply, an automatic reply, a bounce, a stranger's mail) and what it did.

Every message received is kept, matched or not, so nothing is dropped and admins see what matched
nothing. ``fingerprint`` (the SHA-256 of the raw bytes), the Message-ID and the IMAP key each
recognise a message received before: it changes nothing the second time.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from feedback_sla.candidates.models import Candidate
from feedback_sla.database import db
from feedback_sla.emails.models import OutboxMessage
from feedback_sla.types import UTCDateTime

#: Where a message came from: an MTA's pipe (``inbound receive``) or an IMAP mailbox.
SOURCES = ("pipe", "imap")


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

    candidate: Mapped[Candidate | None] = relationship()
    outbox_message: Mapped[OutboxMessage | None] = relationship()

    __table_args__ = (
        Index("ix_inbound_messages_received", "received_at"),
        # The unmatched ones, newest first: what an admin looks at.
        Index("ix_inbound_messages_candidate", "candidate_id", "received_at"),
    )

    @property
    def matched(self) -> bool:
        return self.candidate_id is not None

    def __repr__(self) -> str:
        return f"<InboundMessage {self.id} {self.kind} {self.sender}>"
