from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import JSON, Boolean, ForeignKey, Index, String, Text, false, func
from sqlalchemy.orm import Mapped, mapped_column, relationship

from feedback_sla.accounts.models import User
from feedback_sla.database import db
from feedback_sla.languages import DEFAULT as DEFAULT_LANGUAGE
from feedback_sla.languages import MAX_TAG
from feedback_sla.positions.models import Position
from feedback_sla.timeutil import utcnow
from feedback_sla.types import UTCDateTime, str_enum

#: The default pipeline, in order.
PIPELINE: tuple[str, ...] = ("applied", "screen", "interview", "final", "offer")


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
    UNDONE = "undone"  # a contact or follow-up taken back within the undo window; data names it
    AUTO_REPLY = "auto_reply"  # an out-of-office or other automatic answer: counts for nothing
    EMAIL_BOUNCED = "email_bounced"  # the candidate's mail server returned an email for good
    EMAIL_DELAYED = "email_delayed"  # a mail server is still trying to deliver an email
    ERASED = "erased"  # the candidate's personal data was erased; data says by whom and why
    DATA_EXPORTED = "data_exported"  # "Download my data": data says by whom (candidate or admin)


#: Events by which the candidate actually hears from us: only these close a wait.
CANDIDATE_FACING = frozenset({EventKind.CONTACT_LOGGED, EventKind.INTERVIEW_HELD, EventKind.EMAIL_SENT})


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
    status: Mapped[Status] = mapped_column(str_enum(Status, "candidate_status"), default=Status.ACTIVE)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    #: Name and email folded for search (``text.search_key``): kept with them by ``waits.service``.
    search_key: Mapped[str] = mapped_column(String(500), default="", server_default="")
    #: When an email to this address bounced for good; cleared when the address is corrected.
    email_undeliverable_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    #: When the candidate left the process (rejected, offered, hired, withdrawn); None while active.
    #: Status links die, and retention erases, a set number of days after it.
    decided_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    #: When the candidate's personal data was erased (on request or by retention); None if kept.
    erased_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    #: The candidate's own time zone when known (an IANA name); emails sent later are timed in
    #: it, else in the position's.
    time_zone: Mapped[str | None] = mapped_column(String(64))
    #: The language the candidate is written to in (a BCP 47 tag, one of the organisation's):
    #: their emails and status page. Set when they are added, the organisation's default unless
    #: a page, the CSV, the API or their ATS said otherwise.
    language: Mapped[str] = mapped_column(String(MAX_TAG), default=DEFAULT_LANGUAGE, server_default="en")

    position: Mapped[Position] = relationship()

    def __repr__(self) -> str:
        return f"<Candidate {self.id} {self.name}>"


# Retention looks for candidates decided before a day.
Index("ix_candidates_decided_at", Candidate.decided_at)

# The metrics page's verdict: a page of groups' positions' candidates decided in the period.
Index("ix_candidates_position_decided", Candidate.position_id, Candidate.decided_at)

# The candidates page's search (a LIKE '%…%' on the folded name and email) on PostgreSQL: a
# trigram index answers it without reading every candidate. SQLite reads them all.
Index(
    "ix_candidates_search_trigrams",
    Candidate.search_key,
    postgresql_using="gin",
    postgresql_ops={"search_key": "gin_trgm_ops"},
).ddl_if(dialect="postgresql")

# The candidates page's order, by name: a page is the index's next fifty entries.
Index("ix_candidates_name", func.lower(Candidate.name), Candidate.id)

# One candidate per email and position, whatever the case of the address.
Index("uq_candidates_position_email", Candidate.position_id, func.lower(Candidate.email), unique=True)


class Event(db.Model):
    """One entry of a candidate's append-only timeline."""

    __tablename__ = "events"

    id: Mapped[int] = mapped_column(primary_key=True)
    candidate_id: Mapped[int] = mapped_column(ForeignKey("candidates.id", ondelete="CASCADE"))
    kind: Mapped[EventKind] = mapped_column(str_enum(EventKind, "event_kind"))
    channel: Mapped[str | None] = mapped_column(String(20))
    body: Mapped[str | None] = mapped_column(Text)
    data: Mapped[dict] = mapped_column(JSON, default=dict)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    occurred_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    recorded_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)

    candidate: Mapped[Candidate] = relationship()
    actor: Mapped[User | None] = relationship()

    __table_args__ = (
        # The timeline's order: a candidate's latest events are the index's last entries, read
        # without sorting however long the history.
        Index("ix_events_candidate_time", "candidate_id", "occurred_at", "id"),
    )


class StatusLink(db.Model):
    """A private link to the candidate's status page, one per email that carried it.

    Only the token's SHA-256 is kept; the token itself is in the email. A link works until the
    manager revokes the candidate's links, or a set number of days after the final decision.
    """

    __tablename__ = "status_links"

    id: Mapped[int] = mapped_column(primary_key=True)
    candidate_id: Mapped[int] = mapped_column(ForeignKey("candidates.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    #: Whether the survey was answered through this link (once per link); the answer itself is
    #: kept apart, with nothing that leads back here (``survey.models``).
    survey_answered: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())

    candidate: Mapped[Candidate] = relationship()
