from __future__ import annotations

import datetime as dt

from sqlalchemy import Date, ForeignKey, Integer, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from feedback_sla.database import db
from feedback_sla.timeutil import utcnow
from feedback_sla.types import UTCDateTime


class DigestDay(db.Model):
    """A manager's digest for one local calendar day: claimed once, whatever runs concurrently."""

    __tablename__ = "digest_days"
    __table_args__ = (UniqueConstraint("user_id", "local_date", name="uq_digest_days_user_date"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    local_date: Mapped[dt.date] = mapped_column(Date)
    items: Mapped[int] = mapped_column(Integer, default=0)
    outbox_message_id: Mapped[int | None] = mapped_column(ForeignKey("outbox_messages.id"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
