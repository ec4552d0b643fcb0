"""api tokens: personal tokens for the JSON API, kept as their SHA-256 only

Revision ID: 0009_api_tokens
Revises: 0008_ats_sources

One new table, nothing altered. ``token_hash`` is unique: a request's token is found by its hash
through that index.
"""

import sqlalchemy as sa
from alembic import op

import feedback_sla.types

revision = "0009_api_tokens"
down_revision = "0008_ats_sources"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "api_tokens",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", feedback_sla.types.UTCDateTime(), nullable=False),
        sa.Column("last_used_at", feedback_sla.types.UTCDateTime(), nullable=True),
        sa.Column("revoked_at", feedback_sla.types.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("token_hash"),
    )
    op.create_index("ix_api_tokens_user_id", "api_tokens", ["user_id"], unique=False)


def downgrade():
    op.drop_index("ix_api_tokens_user_id", table_name="api_tokens")
    op.drop_table("api_tokens")
