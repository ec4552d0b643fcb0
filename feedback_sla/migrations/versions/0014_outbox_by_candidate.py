"""outbox by candidate: a candidate's unsent emails and undone autopilot updates, looked up alone

Revision ID: 0014_outbox_by_candidate
Revises: 0013_metrics_rollup

Two partial indexes on ``outbox_messages``, PostgreSQL only: ``ix_outbox_messages_unsent_candidate``
(the pending and sending rows by candidate) and ``ix_outbox_messages_undone_autopilot`` (autopilot
updates a person cancelled, by candidate and time). Autopilot and the answering door ask of each
candidate whether such a row exists; without them, PostgreSQL walks every pending row for each
candidate while its statistics still count none (thousands queued in one run). SQLite already looks
them up by candidate. Nothing existing changes.
"""

import sqlalchemy as sa
from alembic import op

revision = "0014_outbox_by_candidate"
down_revision = "0013_metrics_rollup"
branch_labels = None
depends_on = None


def upgrade():
    if op.get_bind().dialect.name != "postgresql":
        return
    op.create_index(
        "ix_outbox_messages_unsent_candidate",
        "outbox_messages",
        ["candidate_id"],
        unique=False,
        postgresql_where=sa.text("status IN ('pending', 'sending')"),
    )
    op.create_index(
        "ix_outbox_messages_undone_autopilot",
        "outbox_messages",
        ["candidate_id", "queued_at"],
        unique=False,
        postgresql_where=sa.text("autopilot AND status = 'cancelled'"),
    )


def downgrade():
    if op.get_bind().dialect.name != "postgresql":
        return
    op.drop_index("ix_outbox_messages_undone_autopilot", table_name="outbox_messages")
    op.drop_index("ix_outbox_messages_unsent_candidate", table_name="outbox_messages")
