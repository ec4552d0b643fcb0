"""event order: a candidate's events by time, so the candidate page reads its latest ones in order

Revision ID: 0007_event_order
Revises: 0006_inbound

``ix_events_candidate_time`` (candidate_id, occurred_at, id) serves what ``ix_events_candidate_id``
served (it starts with the same column) and the timeline's ORDER BY occurred_at DESC, id DESC
LIMIT n as well: the latest events are read from the index's end, without sorting the whole history.
"""

from alembic import op

revision = "0007_event_order"
down_revision = "0006_inbound"
branch_labels = None
depends_on = None


def upgrade():
    # Plain CREATE INDEX and DROP INDEX on both databases: no table copy.
    op.create_index("ix_events_candidate_time", "events", ["candidate_id", "occurred_at", "id"], unique=False)
    op.drop_index("ix_events_candidate_id", table_name="events")


def downgrade():
    op.create_index("ix_events_candidate_id", "events", ["candidate_id"], unique=False)
    op.drop_index("ix_events_candidate_time", table_name="events")
