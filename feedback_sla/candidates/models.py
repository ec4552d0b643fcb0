from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import JSON, Enum, ForeignKey, Index, Integer, String, Text, func, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..accounts.models import User
from ..database import db
from ..positions.models import Position
from ..timeutil import utcnow
from ..types import UTCDateTime

#: The default pipeline, in order.
PIPELINE: tuple[str, ...] = ("applied", "screen", "interview", "final", "offer")


def _str_enum(cls: type[enum.StrEnum], name: str) -> Enum:
    return Enum(
        cls, name=name, native_enum=False, length=30, values_callable=lambda e: [m.value for m in e]
    )


class Status(enum.StrEnum):
    ACTIVE = "active"
    REJECTED = "rejected"
    OFFERED = "offered"
    HIRED = "hired"
    WITHDRAWN = "withdrawn"


class EventKind(enum.StrEnum):
    CREATED = "created"
    STAGE_MOVED = "stage_moved"
    INTERVIEW_HELD = "interview_held"
    FOLLOWED_UP = "followed_up"
    CONTACT_LOGGED = "contact_logged"
    NOTE = "note"
    PROMISE_SET = "promise_set"
    STATUS_CHANGED = "status_changed"
    EMAIL_QUEUED = "email_queued"
    EMAIL_SENT = "email_sent"
    EMAIL_FAILED = "email_failed"
    EMAIL_CANCELLED = "email_cancelled"


#: Events by which the candidate actually hears from us: only these close a wait.
CANDIDATE_FACING = frozenset(
    {EventKind.CONTACT_LOGGED, EventKind.INTERVIEW_HELD, EventKind.EMAIL_SENT}
)


class WaitReason(enum.StrEnum):
    APPLICATION = "application"
    DECISION = "decision"
    FOLLOW_UP = "follow_up"

    @property
    def label(self) -> str:
        return _REASON_LABELS[self.value]


_REASON_LABELS = {
    "application": "application",
    "decision": "decision after interview",
    "follow_up": "reply to follow-up",
}


class ContactChannel(enum.StrEnum):
    PHONE = "phone"
    MEETING = "meeting"
    EMAIL = "email"
    OTHER = "other"


class Candidate(db.Model):
    __tablename__ = "candidates"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str] = mapped_column(String(254))
    position_id: Mapped[int] = mapped_column(ForeignKey("positions.id"), index=True)
    stage: Mapped[str] = mapped_column(String(40), default="applied")
    status: Mapped[Status] = mapped_column(
        _str_enum(Status, "candidate_status"), default=Status.ACTIVE
    )
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)

    position: Mapped[Position] = relationship()

    def __repr__(self) -> str:
        return f"<Candidate {self.id} {self.name}>"


# One candidate per email and position, whatever the case of the address.
Index(
    "uq_candidates_position_email", Candidate.position_id, func.lower(Candidate.email), unique=True
)


class Event(db.Model):
    """One entry of a candidate's append-only timeline."""

    __tablename__ = "events"

    id: Mapped[int] = mapped_column(primary_key=True)
    candidate_id: Mapped[int] = mapped_column(
        ForeignKey("candidates.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[EventKind] = mapped_column(_str_enum(EventKind, "event_kind"))
    channel: Mapped[str | None] = mapped_column(String(20))
    body: Mapped[str | None] = mapped_column(Text)
    data: Mapped[dict] = mapped_column(JSON, default=dict)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    occurred_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    recorded_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)

    candidate: Mapped[Candidate] = relationship()
    actor: Mapped[User | None] = relationship()


class Wait(db.Model):
    """A response clock: opened when the next move is ours, closed when the candidate hears from us."""

    __tablename__ = "waits"

    id: Mapped[int] = mapped_column(primary_key=True)
    candidate_id: Mapped[int] = mapped_column(ForeignKey("candidates.id", ondelete="CASCADE"))
    reason: Mapped[WaitReason] = mapped_column(_str_enum(WaitReason, "wait_reason"))
    opened_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    warn_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    due_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    escalate_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    policy_days: Mapped[int] = mapped_column(Integer)
    promised_date: Mapped[dt.date | None]
    follow_ups: Mapped[int] = mapped_column(Integer, default=0)
    closed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    opened_by_event_id: Mapped[int | None] = mapped_column(ForeignKey("events.id"))
    closed_by_event_id: Mapped[int | None] = mapped_column(ForeignKey("events.id"))

    candidate: Mapped[Candidate] = relationship()
    closed_by: Mapped[Event | None] = relationship(foreign_keys=[closed_by_event_id])

    __table_args__ = (
        # The database itself refuses a second open wait for the same candidate.
        Index(
            "uq_waits_one_open_per_candidate",
            "candidate_id",
            unique=True,
            sqlite_where=text("closed_at IS NULL"),
            postgresql_where=text("closed_at IS NULL"),
        ),
        Index("ix_waits_candidate", "candidate_id"),
        Index(
            "ix_waits_open_due",
            "due_at",
            sqlite_where=text("closed_at IS NULL"),
            postgresql_where=text("closed_at IS NULL"),
        ),
        Index(
            "ix_waits_open_warn",
            "warn_at",
            sqlite_where=text("closed_at IS NULL"),
            postgresql_where=text("closed_at IS NULL"),
        ),
        Index("ix_waits_opened_at", "opened_at"),
    )
