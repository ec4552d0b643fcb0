"""chat: each user's chat channels and links, the organisation's chat connection, the chat queue

Revision ID: 0018_chat
Revises: 0017_template_choice

Four new tables; nothing existing changes. ``chat_preferences`` (one row per user who chose a
channel or was linked), ``chat_settings`` (the connection's secrets, encrypted, and the timeline
scan's position), ``chat_messages`` (the queue: one row per message, unique per ``dedupe_key``)
and ``chat_slack_requests`` (signed Slack requests already acted on, so a replay changes nothing).
"""

import sqlalchemy as sa
from alembic import op

import feedback_sla.types

revision = "0018_chat"
down_revision = "0017_template_choice"
branch_labels = None
depends_on = None


def _enum(name, *values):
    return sa.Enum(*values, name=name, native_enum=False, length=30)


def upgrade():
    op.create_table(
        "chat_preferences",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("digest_channels", sa.String(length=40), server_default="", nullable=False),
        sa.Column("nudge_channels", sa.String(length=40), server_default="", nullable=False),
        sa.Column("quiet_from", sa.SmallInteger(), nullable=True),
        sa.Column("quiet_until", sa.SmallInteger(), nullable=True),
        sa.Column("daily_cap", sa.Integer(), server_default="20", nullable=False),
        sa.Column("slack_user_id", sa.String(length=32), nullable=True),
        sa.Column("teams_webhook", sa.Text(), nullable=True),
        sa.Column("updated_at", feedback_sla.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("user_id"),
        sa.UniqueConstraint("slack_user_id"),
    )
    op.create_table(
        "chat_settings",
        sa.Column("name", sa.String(length=50), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("updated_at", feedback_sla.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )
    op.create_table(
        "chat_messages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("channel", _enum("chat_channel", "slack", "teams", "slack_response"), nullable=False),
        sa.Column(
            "about",
            _enum(
                "chat_about",
                "due_soon",
                "overdue",
                "escalated",
                "replied",
                "asked_for_news",
                "withdrew",
                "bounced",
                "digest",
                "test",
                "answer",
            ),
            nullable=False,
        ),
        sa.Column("dedupe_key", sa.String(length=120), nullable=True),
        sa.Column("candidate_id", sa.Integer(), nullable=True),
        sa.Column("wait_id", sa.Integer(), nullable=True),
        sa.Column("event_id", sa.Integer(), nullable=True),
        sa.Column("outbox_message_id", sa.Integer(), nullable=True),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("body", sa.JSON(), nullable=False),
        sa.Column("target", sa.Text(), nullable=True),
        sa.Column(
            "status", _enum("chat_status", "pending", "sending", "sent", "failed", "skipped"), nullable=False
        ),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", feedback_sla.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("lease_until", feedback_sla.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", feedback_sla.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("sent_at", feedback_sla.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("failed_at", feedback_sla.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("slack_channel", sa.String(length=32), nullable=True),
        sa.Column("slack_ts", sa.String(length=32), nullable=True),
        sa.ForeignKeyConstraint(["candidate_id"], ["candidates.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("dedupe_key"),
    )
    op.create_index("ix_chat_messages_due", "chat_messages", ["status", "next_attempt_at"])
    op.create_index("ix_chat_messages_user_created", "chat_messages", ["user_id", "created_at"])
    op.create_index("ix_chat_messages_wait", "chat_messages", ["wait_id", "about"])
    op.create_table(
        "chat_slack_requests",
        sa.Column("signature_hash", sa.String(length=64), nullable=False),
        sa.Column("seen_at", feedback_sla.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("signature_hash"),
    )
    op.create_index("ix_chat_slack_requests_seen_at", "chat_slack_requests", ["seen_at"])


def downgrade():
    op.drop_index("ix_chat_slack_requests_seen_at", table_name="chat_slack_requests")
    op.drop_table("chat_slack_requests")
    op.drop_index("ix_chat_messages_wait", table_name="chat_messages")
    op.drop_index("ix_chat_messages_user_created", table_name="chat_messages")
    op.drop_index("ix_chat_messages_due", table_name="chat_messages")
    op.drop_table("chat_messages")
    op.drop_table("chat_settings")
    op.drop_table("chat_preferences")
