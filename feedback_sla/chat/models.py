"""The chat tables: each manager's channels and links, the organisation's connection, and the
queue of messages (``chat_messages``) with the outbox's columns: attempts, lease, next try, error."""

from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import JSON, ForeignKey, Index, Integer, SmallInteger, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from feedback_sla.database import db
from feedback_sla.timeutil import utcnow
from feedback_sla.types import UTCDateTime, str_enum


class Channel(enum.StrEnum):
    EMAIL = "email"  # a nudge as an email to the user's address, through the outbox
    SLACK = "slack"  # a direct message from the app's bot (chat.postMessage)
    TEAMS = "teams"  # an Adaptive Card posted to a Teams Workflows webhook
    SLACK_RESPONSE = "slack_response"  # the new text of a message whose button was pressed (response_url)

    @property
    def label(self) -> str:
        return {"email": "Email", "slack": "Slack", "teams": "Teams", "slack_response": "Slack (answer)"}[
            self.value
        ]


#: The channels a manager can choose for the digest (whose email has its own switch) and the nudges.
CHOOSABLE = {"digest": (Channel.SLACK, Channel.TEAMS), "nudge": (Channel.EMAIL, Channel.SLACK, Channel.TEAMS)}


class ChatStatus(enum.StrEnum):
    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"  # for good: the reason is in last_error
    SKIPPED = "skipped"  # never sent: the manager's daily cap was reached (last_error says so)


class About(enum.StrEnum):
    """What a message tells the manager."""

    DUE_SOON = "due_soon"
    OVERDUE = "overdue"
    ESCALATED = "escalated"
    REPLIED = "replied"
    ASKED = "asked_for_news"
    WITHDREW = "withdrew"
    BOUNCED = "bounced"
    DIGEST = "digest"
    TEST = "test"
    ANSWER = "answer"  # a pressed button's outcome, replacing the message it was pressed in


class ChatPreference(db.Model):
    """A user's chat: the channels their digest and nudges go to, quiet hours, a daily cap, and
    their links (Slack member id, set by an admin or found by address; their own Teams webhook,
    stored encrypted)."""

    __tablename__ = "chat_preferences"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    #: Comma-separated ``Channel`` values; empty: none.
    digest_channels: Mapped[str] = mapped_column(String(40), default="", server_default="")
    nudge_channels: Mapped[str] = mapped_column(String(40), default="", server_default="")
    #: Local hours (the user's zone): no message is delivered from ``quiet_from`` until ``quiet_until``.
    quiet_from: Mapped[int | None] = mapped_column(SmallInteger)
    quiet_until: Mapped[int | None] = mapped_column(SmallInteger)
    #: The most nudges a local day; the rest are skipped (the digest and the triage page list them).
    daily_cap: Mapped[int] = mapped_column(Integer, default=20, server_default="20")
    slack_user_id: Mapped[str | None] = mapped_column(String(32), unique=True)
    #: Fernet token of the user's own Teams Workflows URL (it holds a signature): never shown again.
    teams_webhook: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)

    def channels(self, which: str) -> tuple[Channel, ...]:
        """The channels of ``digest`` or ``nudge``, in ``CHOOSABLE``'s order."""
        chosen = set(filter(None, getattr(self, f"{which}_channels").split(",")))
        return tuple(c for c in CHOOSABLE[which] if c.value in chosen)


class ChatSetting(db.Model):
    """The organisation's chat connection, one value per name: secrets entered by an admin (Fernet
    tokens, never shown again) and where the scan of the timeline has got to."""

    __tablename__ = "chat_settings"

    name: Mapped[str] = mapped_column(String(50), primary_key=True)
    value: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)


class ChatMessage(db.Model):
    """One message to one user on one channel, delivered at least once, never queued twice for
    the same thing: ``dedupe_key`` ("wait:12:overdue:slack", "event:40:teams") is unique."""

    __tablename__ = "chat_messages"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    channel: Mapped[Channel] = mapped_column(str_enum(Channel, "chat_channel"))
    about: Mapped[About] = mapped_column(str_enum(About, "chat_about"))
    dedupe_key: Mapped[str | None] = mapped_column(String(120), unique=True)
    candidate_id: Mapped[int | None] = mapped_column(ForeignKey("candidates.id", ondelete="CASCADE"))
    wait_id: Mapped[int | None] = mapped_column(Integer)
    event_id: Mapped[int | None] = mapped_column(Integer)
    #: The candidate email a pressed "Send update" queued (an ``about=answer`` message).
    outbox_message_id: Mapped[int | None] = mapped_column(Integer)
    #: Slack's ``text`` fallback; the whole message is ``body`` (Slack's blocks, or the Teams envelope).
    text: Mapped[str] = mapped_column(Text)
    body: Mapped[dict] = mapped_column(JSON)
    #: Where a ``slack_response`` goes: the response_url Slack gave with the pressed button.
    target: Mapped[str | None] = mapped_column(Text)
    status: Mapped[ChatStatus] = mapped_column(
        str_enum(ChatStatus, "chat_status"), default=ChatStatus.PENDING
    )
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    lease_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    sent_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    failed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    #: Where Slack put a direct message (its channel and ts), as chat.postMessage answered.
    slack_channel: Mapped[str | None] = mapped_column(String(32))
    slack_ts: Mapped[str | None] = mapped_column(String(32))

    __table_args__ = (
        Index("ix_chat_messages_due", "status", "next_attempt_at"),
        Index("ix_chat_messages_user_created", "user_id", "created_at"),
        Index("ix_chat_messages_wait", "wait_id", "about"),
    )


class SlackRequest(db.Model):
    """A signed request from Slack already acted on, by its signature's hash: the same request
    sent again (a replay, within the five minutes its timestamp is accepted) changes nothing."""

    __tablename__ = "chat_slack_requests"

    signature_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    seen_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), index=True)
