"""The wait: one response clock, opened when the next move is ours and closed when the candidate
hears from us."""

from __future__ import annotations

import datetime as dt
import enum
from typing import TYPE_CHECKING

from sqlalchemy import Boolean, ForeignKey, Index, Integer, text, true
from sqlalchemy.orm import Mapped, mapped_column, relationship

from feedback_sla.database import db
from feedback_sla.types import UTCDateTime, str_enum

if TYPE_CHECKING:
    from feedback_sla.candidates.models import Candidate, Event


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


class Wait(db.Model):
    """A response clock: opened when the next move is ours, closed when the candidate hears from us."""

    __tablename__ = "waits"

    id: Mapped[int] = mapped_column(primary_key=True)
    candidate_id: Mapped[int] = mapped_column(ForeignKey("candidates.id", ondelete="CASCADE"))
    reason: Mapped[WaitReason] = mapped_column(str_enum(WaitReason, "wait_reason"))
    opened_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    warn_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    due_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    escalate_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    policy_days: Mapped[int] = mapped_column(Integer)
    promised_date: Mapped[dt.date | None]
    follow_ups: Mapped[int] = mapped_column(Integer, default=0)
    #: Status updates autopilot queued for this wait (one that is sent closes it, so more than one
    #: means the others did not get through): autopilot stops at the organisation's cap.
    autopilot_updates: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    closed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    #: The candidate's status is active: kept by the database itself (triggers of migration
    #: 0012_organisation_scale, on every insert and reopening of a wait and every change of a
    #: candidate's status), so that the organisation's triage counts and lists its open waits
    #: from one index, without reading a million candidates. Never written by the app.
    candidate_active: Mapped[bool] = mapped_column(Boolean, server_default=true())
    #: The candidate's position, kept by the database (triggers, migration 0015): the metrics
    #: page's lines find a group's open waits by it. The app never writes it.
    position_id: Mapped[int | None] = mapped_column(Integer)
    opened_by_event_id: Mapped[int | None] = mapped_column(ForeignKey("events.id"))
    closed_by_event_id: Mapped[int | None] = mapped_column(ForeignKey("events.id"))

    candidate: Mapped[Candidate] = relationship("Candidate")
    closed_by: Mapped[Event | None] = relationship("Event", foreign_keys=[closed_by_event_id])

    __table_args__ = (
        # The database itself refuses a second open wait for the same candidate.
        Index(
            "uq_waits_one_open_per_candidate",
            "candidate_id",
            unique=True,
            sqlite_where=text("closed_at IS NULL"),
            postgresql_where=text("closed_at IS NULL"),
        ),
        # A candidate's waits, and their first (when they applied), from the index alone.
        Index("ix_waits_candidate_opened", "candidate_id", "opened_at"),
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
        # The metrics page: a page of groups' open waits by position and opening, with whether
        # they are late (PostgreSQL reads the index alone); open waits escalating in a given hour.
        Index(
            "ix_waits_open_position",
            "position_id",
            "opened_at",
            sqlite_where=text("closed_at IS NULL"),
            postgresql_where=text("closed_at IS NULL"),
            postgresql_include=["due_at"],
        ),
        Index(
            "ix_waits_open_escalate",
            "escalate_at",
            sqlite_where=text("closed_at IS NULL"),
            postgresql_where=text("closed_at IS NULL"),
        ),
        # The organisation's triage: its waiting candidates by deadline, with what their state
        # needs, counted and paged from the index alone (PostgreSQL reads no table row).
        Index(
            "ix_waits_listed_due",
            "due_at",
            "id",
            sqlite_where=text("closed_at IS NULL AND candidate_active"),
            postgresql_where=text("closed_at IS NULL AND candidate_active"),
            postgresql_include=["follow_ups", "warn_at", "escalate_at", "candidate_id"],
        ),
    )
