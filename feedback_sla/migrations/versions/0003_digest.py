"""daily digest: personal digest settings and one claimed row per manager and local day

Revision ID: 0003_digest
Revises: 0002_outbox
"""

import sqlalchemy as sa
from alembic import op

revision = "0003_digest"
down_revision = "0002_outbox"
branch_labels = None
depends_on = None


def upgrade():
    # Plain ADD COLUMN (SQLite supports it): no table copy, so the users' indexes stay as they are.
    op.add_column(
        "users", sa.Column("digest_enabled", sa.Boolean(), nullable=False, server_default=sa.true())
    )
    op.add_column(
        "users", sa.Column("digest_empty", sa.Boolean(), nullable=False, server_default=sa.false())
    )
    op.create_table(
        "digest_days",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("local_date", sa.Date(), nullable=False),
        sa.Column("items", sa.Integer(), nullable=False),
        sa.Column("outbox_message_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["outbox_message_id"], ["outbox_messages.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("user_id", "local_date", name="uq_digest_days_user_date"),
    )


def downgrade():
    op.drop_table("digest_days")
    op.drop_column("users", "digest_empty")
    op.drop_column("users", "digest_enabled")
