"""inbound mail: a token per outbox message, bounces, undeliverable addresses, the messages received

Revision ID: 0006_inbound
Revises: 0005_page_indexes

The new outbox status ``bounced`` and the new timeline kinds need no DDL: both are VARCHAR columns
without a check constraint. Existing outbox rows keep no token (NULL); only new emails get one.
"""

import sqlalchemy as sa
from alembic import op

import feedback_sla.types

revision = "0006_inbound"
down_revision = "0005_page_indexes"
branch_labels = None
depends_on = None


def upgrade():
    # ADD COLUMN of nullable columns: no table copy on SQLite, no rewrite on PostgreSQL.
    with op.batch_alter_table("outbox_messages") as batch_op:
        batch_op.add_column(sa.Column("reply_token", sa.String(length=64), nullable=True))
        batch_op.add_column(
            sa.Column("bounced_at", feedback_sla.types.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(sa.Column("bounce_reason", sa.Text(), nullable=True))
    op.create_index("uq_outbox_messages_reply_token", "outbox_messages", ["reply_token"], unique=True)
    with op.batch_alter_table("candidates") as batch_op:
        batch_op.add_column(
            sa.Column("email_undeliverable_at", feedback_sla.types.UTCDateTime(timezone=True), nullable=True)
        )
    op.create_table(
        "inbound_messages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("received_at", feedback_sla.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("message_id", sa.String(length=255), nullable=True),
        sa.Column("source", sa.String(length=10), nullable=False),
        sa.Column("imap_key", sa.String(length=255), nullable=True),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("sender", sa.String(length=254), nullable=False),
        sa.Column("subject", sa.String(length=500), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("outcome", sa.Text(), nullable=False),
        sa.Column("candidate_id", sa.Integer(), nullable=True),
        sa.Column("outbox_message_id", sa.Integer(), nullable=True),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["candidate_id"], ["candidates.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["outbox_message_id"], ["outbox_messages.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("message_id"),
        sa.UniqueConstraint("imap_key"),
        sa.UniqueConstraint("fingerprint"),
    )
    op.create_index("ix_inbound_messages_received", "inbound_messages", ["received_at"], unique=False)
    op.create_index(
        "ix_inbound_messages_candidate", "inbound_messages", ["candidate_id", "received_at"], unique=False
    )


def downgrade():
    op.drop_index("ix_inbound_messages_candidate", table_name="inbound_messages")
    op.drop_index("ix_inbound_messages_received", table_name="inbound_messages")
    op.drop_table("inbound_messages")
    op.drop_column("candidates", "email_undeliverable_at")
    op.drop_index("uq_outbox_messages_reply_token", table_name="outbox_messages")
    op.drop_column("outbox_messages", "bounce_reason")
    op.drop_column("outbox_messages", "bounced_at")
    op.drop_column("outbox_messages", "reply_token")
