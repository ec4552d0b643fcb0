"""answer batches: the emails of an answer sent to many candidates at once share a batch id

Revision ID: 0016_answer_batches
Revises: 0015_open_wait_counts

``outbox_messages.batch_id`` (nullable text, indexed by ``ix_outbox_messages_batch``) names the
batch a bulk answer queued, so one Undo cancels every email of it. Existing emails belong to no
batch. A nullable column is added in place on SQLite too (ALTER TABLE ADD COLUMN): the table is
not copied, and its indexes and the tables with triggers are left alone.
"""

import sqlalchemy as sa
from alembic import op

revision = "0016_answer_batches"
down_revision = "0015_open_wait_counts"
branch_labels = None
depends_on = None


def upgrade():
    op.add_column("outbox_messages", sa.Column("batch_id", sa.String(length=32), nullable=True))
    op.create_index("ix_outbox_messages_batch", "outbox_messages", ["batch_id"], unique=False)


def downgrade():
    op.drop_index("ix_outbox_messages_batch", table_name="outbox_messages")
    # In place on SQLite too (3.35 and later drop a column without copying the table).
    op.drop_column("outbox_messages", "batch_id")
