"""An ATS source an admin connected, every delivery it sent, and the ATS ids mapped to ours.

A source's secret is kept as given: each signature is an HMAC of it, so it must be readable to be
checked. It is shown once, when the source is created, and never again.
"""

from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from feedback_sla.accounts.models import User
from feedback_sla.candidates.models import Candidate
from feedback_sla.database import db
from feedback_sla.positions.models import Position
from feedback_sla.timeutil import utcnow
from feedback_sla.types import UTCDateTime


class Kind(enum.StrEnum):
    GREENHOUSE = "greenhouse"
    LEVER = "lever"
    ASHBY = "ashby"
    WORKABLE = "workable"


class DeliveryStatus(enum.StrEnum):
    RECEIVED = "received"  # stored, not processed yet
    PROCESSED = "processed"
    FAILED = "failed"  # could not be processed (e.g. the Lever API was down): retried
    IGNORED = "ignored"  # an event we do not act on (a ping, an unknown job stage)


class Source(db.Model):
    __tablename__ = "ats_sources"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: The random id in the webhook URL, ``/hooks/<kind>/<public_id>``.
    public_id: Mapped[str] = mapped_column(String(40), unique=True)
    kind: Mapped[str] = mapped_column(String(20))
    name: Mapped[str] = mapped_column(String(200))
    secret: Mapped[str] = mapped_column(String(255))
    #: Lever only: the API key its details are fetched with.
    api_key: Mapped[str | None] = mapped_column(String(255))
    #: ATS stage name (lower case) -> our stage.
    stage_map: Mapped[dict] = mapped_column(JSON, default=dict)
    default_manager_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)

    default_manager: Mapped[User] = relationship()

    def __repr__(self) -> str:
        return f"<Source {self.id} {self.kind} {self.name}>"


class Delivery(db.Model):
    """One webhook request as received: stored before it is processed, so none is lost."""

    __tablename__ = "ats_deliveries"

    id: Mapped[int] = mapped_column(primary_key=True)
    source_id: Mapped[int] = mapped_column(ForeignKey("ats_sources.id", ondelete="CASCADE"))
    #: The vendor's id of the event, stable across its retries.
    event_id: Mapped[str] = mapped_column(String(255))
    event_type: Mapped[str] = mapped_column(String(100))
    received_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    body: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20), default=DeliveryStatus.RECEIVED.value)
    error: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    processed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    candidate_id: Mapped[int | None] = mapped_column(ForeignKey("candidates.id", ondelete="SET NULL"))

    source: Mapped[Source] = relationship()
    candidate: Mapped[Candidate | None] = relationship()

    __table_args__ = (
        UniqueConstraint("source_id", "event_id", name="uq_ats_deliveries_source_event"),
        Index("ix_ats_deliveries_source_received", "source_id", "received_at"),
        Index("ix_ats_deliveries_status", "status", "received_at"),
    )


class ExternalId(db.Model):
    """An ATS id and what it is here: an application is a candidate, a job is a position."""

    __tablename__ = "ats_external_ids"

    id: Mapped[int] = mapped_column(primary_key=True)
    source_id: Mapped[int] = mapped_column(ForeignKey("ats_sources.id", ondelete="CASCADE"))
    #: "application" or "job".
    kind: Mapped[str] = mapped_column(String(20))
    external_id: Mapped[str] = mapped_column(String(255))
    #: The ATS's id of the person an application belongs to (deletes and merges name the person).
    ats_candidate_id: Mapped[str | None] = mapped_column(String(255))
    candidate_id: Mapped[int | None] = mapped_column(ForeignKey("candidates.id", ondelete="CASCADE"))
    position_id: Mapped[int | None] = mapped_column(ForeignKey("positions.id", ondelete="CASCADE"))

    candidate: Mapped[Candidate | None] = relationship()
    position: Mapped[Position | None] = relationship()

    __table_args__ = (
        UniqueConstraint("source_id", "kind", "external_id", name="uq_ats_external_ids_source_kind_id"),
        Index("ix_ats_external_ids_candidate", "candidate_id"),
        Index("ix_ats_external_ids_ats_candidate", "source_id", "ats_candidate_id"),
    )
