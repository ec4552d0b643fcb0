"""the candidate's side: status links, autopilot, retention and calendar feeds

Revision ID: 0010_candidate_side
Revises: 0009_api_tokens

New columns are nullable or carry a server default, so existing rows need no rewrite:
positions and outbox messages are not on autopilot, waits have had no autopilot update, and users
have no calendar feed. ``decided_at`` is filled in for candidates already decided, from the latest
event that took them out of the process (a status change or a queued rejection or offer), else
from when they were added.
"""

import sqlalchemy as sa
from alembic import op

import feedback_sla.types

revision = "0010_candidate_side"
down_revision = "0009_api_tokens"
branch_labels = None
depends_on = None

_DECIDED_AT = """
UPDATE candidates SET decided_at = COALESCE(
    (SELECT MAX(events.occurred_at) FROM events
     WHERE events.candidate_id = candidates.id AND events.kind IN ('status_changed', 'email_queued')),
    candidates.created_at)
WHERE status <> 'active'
"""


def upgrade():
    # ADD COLUMN of nullable or defaulted columns: no table copy on SQLite, no rewrite on PostgreSQL.
    utc = feedback_sla.types.UTCDateTime(timezone=True)
    op.add_column("candidates", sa.Column("decided_at", utc, nullable=True))
    op.add_column("candidates", sa.Column("erased_at", utc, nullable=True))
    op.execute(_DECIDED_AT)
    op.create_index("ix_candidates_decided_at", "candidates", ["decided_at"], unique=False)
    op.add_column("positions", sa.Column("autopilot", sa.Boolean(), nullable=False, server_default=sa.false()))
    op.add_column("waits", sa.Column("autopilot_updates", sa.Integer(), nullable=False, server_default="0"))
    op.add_column(
        "outbox_messages", sa.Column("autopilot", sa.Boolean(), nullable=False, server_default=sa.false())
    )
    op.add_column("users", sa.Column("calendar_token_hash", sa.String(length=64), nullable=True))
    op.create_index("ix_users_calendar_token_hash", "users", ["calendar_token_hash"], unique=True)
    op.create_table(
        "status_links",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("candidate_id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", utc, nullable=False),
        sa.Column("revoked_at", utc, nullable=True),
        sa.ForeignKeyConstraint(["candidate_id"], ["candidates.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("token_hash"),
    )
    op.create_index("ix_status_links_candidate_id", "status_links", ["candidate_id"], unique=False)


def downgrade():
    op.drop_index("ix_status_links_candidate_id", table_name="status_links")
    op.drop_table("status_links")
    op.drop_index("ix_users_calendar_token_hash", table_name="users")
    op.drop_column("users", "calendar_token_hash")
    op.drop_column("outbox_messages", "autopilot")
    op.drop_column("waits", "autopilot_updates")
    op.drop_column("positions", "autopilot")
    op.drop_index("ix_candidates_decided_at", table_name="candidates")
    op.drop_column("candidates", "erased_at")
    op.drop_column("candidates", "decided_at")
