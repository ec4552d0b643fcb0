from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    false,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from feedback_sla.accounts.models import User
from feedback_sla.candidates.models import Candidate, Status
from feedback_sla.database import db
from feedback_sla.languages import DEFAULT as DEFAULT_LANGUAGE
from feedback_sla.languages import MAX_TAG
from feedback_sla.positions.models import Position
from feedback_sla.types import UTCDateTime, str_enum


class EmailKind(enum.StrEnum):
    REJECTION = "rejection"
    OFFER = "offer"
    UPDATE = "update"
    NEXT_STEP = "next_step"
    ACKNOWLEDGEMENT = "acknowledgement"
    DIGEST = "digest"
    NUDGE = "nudge"  # a manager who chose email for nudges: a candidate overdue, replied, ...

    @property
    def label(self) -> str:
        return _KIND_LABELS[self]


_KIND_LABELS: dict[EmailKind, str] = {
    EmailKind.REJECTION: "rejection",
    EmailKind.OFFER: "offer",
    EmailKind.UPDATE: "status update",
    EmailKind.NEXT_STEP: "next-step invitation",
    EmailKind.ACKNOWLEDGEMENT: "application acknowledgement",
    EmailKind.DIGEST: "daily digest",
    EmailKind.NUDGE: "nudge",
}

#: The kinds written to a candidate from a template an admin may edit.
CANDIDATE_KINDS: tuple[EmailKind, ...] = (
    EmailKind.REJECTION,
    EmailKind.OFFER,
    EmailKind.UPDATE,
    EmailKind.NEXT_STEP,
    EmailKind.ACKNOWLEDGEMENT,
)


class OutboxStatus(enum.StrEnum):
    PENDING = "pending"  # waiting for its send time or its next attempt
    SENDING = "sending"  # claimed by a worker until lease_until
    SENT = "sent"
    FAILED = "failed"  # gave up after the last attempt, or refused for good by the server
    CANCELLED = "cancelled"  # undone, or contradicted by a later change
    BOUNCED = "bounced"  # sent, then returned for good by the candidate's mail server


class EmailTemplate(db.Model):
    """A named template an admin wrote for a kind of email. The kind's files shipped with the app
    are its template without a row (``emails.choosing.SHIPPED``), the default while no row is."""

    __tablename__ = "email_templates"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[EmailKind] = mapped_column(str_enum(EmailKind, "email_kind"))
    #: What managers pick it by, such as "Rejection after final interview"; unique per kind.
    name: Mapped[str] = mapped_column(String(100))
    subject: Mapped[str] = mapped_column(Text)
    text_body: Mapped[str] = mapped_column(Text)
    html_body: Mapped[str] = mapped_column(Text)
    #: The organisation's default for its kind (one per kind at most; none: the shipped files).
    is_default: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    #: The language ``subject`` and the bodies are written in; other languages' versions are
    #: ``versions``.
    language: Mapped[str] = mapped_column(String(MAX_TAG), default=DEFAULT_LANGUAGE, server_default="en")
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())

    updated_by: Mapped[User | None] = relationship()
    versions: Mapped[list[TemplateVersion]] = relationship(
        back_populates="template", cascade="all, delete-orphan", passive_deletes=True, lazy="selectin"
    )

    __table_args__ = (
        Index("uq_email_templates_kind_name", "kind", "name", unique=True),
        Index(
            "uq_email_templates_default",
            "kind",
            unique=True,
            sqlite_where=text("is_default"),
            postgresql_where=text("is_default"),
        ),
    )


class TemplateVersion(db.Model):
    """A named template written in another language than its own: a candidate in that language
    gets it; without one, the template in the organisation's default language (or its own)."""

    __tablename__ = "email_template_versions"

    id: Mapped[int] = mapped_column(primary_key=True)
    template_id: Mapped[int] = mapped_column(ForeignKey("email_templates.id", ondelete="CASCADE"))
    language: Mapped[str] = mapped_column(String(MAX_TAG))
    subject: Mapped[str] = mapped_column(Text)
    text_body: Mapped[str] = mapped_column(Text)
    html_body: Mapped[str] = mapped_column(Text)
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())

    template: Mapped[EmailTemplate] = relationship(back_populates="versions")
    updated_by: Mapped[User | None] = relationship()

    __table_args__ = (Index("uq_email_template_versions_language", "template_id", "language", unique=True),)


class TemplateDefault(db.Model):
    """A template chosen for one position's, or one stage's, emails of its kind: it comes before
    the organisation's default (a position's before a stage's)."""

    __tablename__ = "email_template_defaults"

    id: Mapped[int] = mapped_column(primary_key=True)
    template_id: Mapped[int] = mapped_column(ForeignKey("email_templates.id", ondelete="CASCADE"))
    position_id: Mapped[int | None] = mapped_column(ForeignKey("positions.id", ondelete="CASCADE"))
    stage: Mapped[str | None] = mapped_column(String(40))

    template: Mapped[EmailTemplate] = relationship()
    position: Mapped[Position | None] = relationship()

    __table_args__ = (
        CheckConstraint(
            "(position_id IS NULL) <> (stage IS NULL)", name="ck_email_template_defaults_one_scope"
        ),
        Index("ix_email_template_defaults_template", "template_id"),
    )


#: A sent email whose answer is not yet recorded: still ``sending`` (on its way, for every rule
#: that asks), with its lease, until it is (see the worker).
UNRECORDED = "status = 'sending' AND sent_at IS NOT NULL"


class OutboxMessage(db.Model):
    """One email as it will be (or was) sent, with its delivery state."""

    __tablename__ = "outbox_messages"

    id: Mapped[int] = mapped_column(primary_key=True)
    candidate_id: Mapped[int | None] = mapped_column(ForeignKey("candidates.id", ondelete="CASCADE"))
    recipient_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    kind: Mapped[EmailKind] = mapped_column(str_enum(EmailKind, "email_kind"))
    to_name: Mapped[str] = mapped_column(String(200))
    to_address: Mapped[str] = mapped_column(String(254))
    reply_to_name: Mapped[str | None] = mapped_column(String(200))
    reply_to_address: Mapped[str | None] = mapped_column(String(254))
    subject: Mapped[str] = mapped_column(Text)
    text_body: Mapped[str] = mapped_column(Text)
    html_body: Mapped[str] = mapped_column(Text)
    # Fixed when queued and sent on every attempt, so a resend after a crash can be recognised.
    message_id: Mapped[str] = mapped_column(String(255), unique=True)
    idempotency_key: Mapped[str] = mapped_column(String(128), unique=True)
    status: Mapped[OutboxStatus] = mapped_column(
        str_enum(OutboxStatus, "outbox_status"), default=OutboxStatus.PENDING
    )
    # The candidate's status before this message changed it: undo restores it.
    previous_status: Mapped[str | None] = mapped_column(String(30))
    # Written by earlier versions, when queueing an update moved the wait's promise at once; an
    # update's promise now takes effect when it is sent, so there is nothing to restore.
    previous_promised_date: Mapped[dt.date | None] = mapped_column(Date)
    promised_date: Mapped[dt.date | None] = mapped_column(Date)
    feedback: Mapped[str | None] = mapped_column(Text)
    # Internal rejection reasons, kept for reporting; never rendered into the message.
    reasons: Mapped[list] = mapped_column(JSON, default=list)
    queued_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    queued_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    send_after: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    next_attempt_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    lease_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    last_error: Mapped[str | None] = mapped_column(Text)
    sent_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    failed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    cancelled_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    cancel_reason: Mapped[str | None] = mapped_column(Text)
    # Names this message in its VERP envelope sender and its second Reply-To (random; None on
    # messages queued before there were tokens, and on digests).
    reply_token: Mapped[str | None] = mapped_column(String(64))
    bounced_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    bounce_reason: Mapped[str | None] = mapped_column(Text)
    #: Queued by autopilot rather than by a person: the timeline and the export say so.
    autopilot: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    #: The answer sent to many candidates at once this email belongs to: one Undo takes back all.
    batch_id: Mapped[str | None] = mapped_column(String(32))
    #: The template the email was written from, as it was named then (None on emails queued
    #: before there were several templates); ``template_id`` is None for the shipped files.
    template_id: Mapped[int | None] = mapped_column(Integer)
    template_name: Mapped[str | None] = mapped_column(String(100))
    #: The time zone a manager chose its send time in ("send later"); None: sent after the undo
    #: window.
    send_at_zone: Mapped[str | None] = mapped_column(String(64))
    #: The language it was written in (a BCP 47 tag); None on digests and on emails queued before
    #: emails had one.
    language: Mapped[str | None] = mapped_column(String(MAX_TAG))

    candidate: Mapped[Candidate | None] = relationship()
    recipient_user: Mapped[User | None] = relationship(foreign_keys=[recipient_user_id])
    queued_by: Mapped[User | None] = relationship(foreign_keys=[queued_by_id])

    __table_args__ = (
        CheckConstraint(
            "candidate_id IS NOT NULL OR recipient_user_id IS NOT NULL",
            name="ck_outbox_messages_recipient",
        ),
        # What a worker looks for: pending rows by next attempt, claimed rows by lease.
        Index(
            "ix_outbox_messages_due",
            "next_attempt_at",
            sqlite_where=text("status = 'pending'"),
            postgresql_where=text("status = 'pending'"),
        ),
        Index(
            "ix_outbox_messages_lease",
            "lease_until",
            sqlite_where=text("status = 'sending'"),
            postgresql_where=text("status = 'sending'"),
        ),
        # Sent, its answer (what it did to the candidate's wait) not yet recorded: see the worker.
        Index(
            "ix_outbox_messages_unrecorded",
            "lease_until",
            sqlite_where=text(UNRECORDED),
            postgresql_where=text(UNRECORDED),
        ),
        Index("ix_outbox_messages_candidate", "candidate_id", "queued_at"),
        # What pages look for: the unfinished (pending, sending, failed) rows by when they were
        # queued, without reading the sent ones. A plain composite index, not a partial one: SQLite
        # matches a partial index's IN list only when the query writes it out in the same literals.
        Index("ix_outbox_messages_status", "status", "queued_at"),
        # Whether a candidate has an email on its way, or an autopilot update a person undid: the
        # candidate's few such rows, however many other candidates' are pending. Without them,
        # PostgreSQL's plan walks every pending row for each candidate while statistics still
        # say there are none (autopilot queueing thousands in one run). SQLite looks such rows up
        # by candidate already.
        Index(
            "ix_outbox_messages_unsent_candidate",
            "candidate_id",
            postgresql_where=text("status IN ('pending', 'sending')"),
        ).ddl_if(dialect="postgresql"),
        Index(
            "ix_outbox_messages_undone_autopilot",
            "candidate_id",
            "queued_at",
            postgresql_where=text("autopilot AND status = 'cancelled'"),
        ).ddl_if(dialect="postgresql"),
        Index("ix_outbox_messages_recipient_user", "recipient_user_id"),
        Index("ix_outbox_messages_batch", "batch_id"),
        Index("uq_outbox_messages_reply_token", "reply_token", unique=True),
    )

    def can_undo(self, now: dt.datetime) -> bool:
        """Still queued and before its send time: undoing it means it is never sent."""
        return self.status == OutboxStatus.PENDING and now < self.send_after

    def __repr__(self) -> str:
        return f"<OutboxMessage {self.id} {self.kind.value} {self.status.value}>"


#: The candidate status an email sets when queued (undo restores the one before).
STATUS_SET: dict[EmailKind, Status] = {
    EmailKind.REJECTION: Status.REJECTED,
    EmailKind.OFFER: Status.OFFERED,
}
