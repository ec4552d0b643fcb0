"""page indexes: the outbox's unfinished emails by status, for the triage and candidate pages

Revision ID: 0005_page_indexes
Revises: 0004_candidate_search
"""

from alembic import op

revision = "0005_page_indexes"
down_revision = "0004_candidate_search"
branch_labels = None
depends_on = None


def upgrade():
    # A plain CREATE INDEX on both databases: no table copy.
    op.create_index("ix_outbox_messages_status", "outbox_messages", ["status", "queued_at"], unique=False)


def downgrade():
    op.drop_index("ix_outbox_messages_status", table_name="outbox_messages")
