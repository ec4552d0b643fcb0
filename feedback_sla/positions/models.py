from __future__ import annotations

import datetime as dt

from sqlalchemy import JSON, Boolean, ForeignKey, String, false
from sqlalchemy.orm import Mapped, mapped_column, relationship

from feedback_sla.accounts.models import User
from feedback_sla.database import db
from feedback_sla.timeutil import utcnow
from feedback_sla.types import UTCDateTime


class Position(db.Model):
    __tablename__ = "positions"

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    manager_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    time_zone: Mapped[str] = mapped_column(String(64))
    # Business days per wait reason that replace the organisation's policy for this position,
    # e.g. {"application": 7, "decision": 2}.
    policy_overrides: Mapped[dict] = mapped_column(JSON, default=dict)
    is_open: Mapped[bool] = mapped_column(Boolean, default=True)
    #: Autopilot sends the candidates of this position a status update before a deadline passes.
    autopilot: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)

    manager: Mapped[User] = relationship(lazy="joined")

    def __repr__(self) -> str:
        return f"<Position {self.id} {self.title}>"
