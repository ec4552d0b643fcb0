"""unrecorded sends: sent candidate emails whose answer is not yet recorded, by lease

Revision ID: 0020_unrecorded_sends
Revises: 0019_languages

The outbox worker marks each email sent as the server accepts it, and records what the batch's
emails did to their candidates' waits (the EMAIL_SENT events that close them) once the batch is
through. Until then a sent row keeps its lease; a worker that stopped in between leaves such rows,
and the next worker records them when the lease runs out. ``ix_outbox_messages_unrecorded`` finds
those few among every sent row. Every existing sent row is recorded already (its lease is empty).
"""

import sqlalchemy as sa
from alembic import op

revision = "0020_unrecorded_sends"
down_revision = "0019_languages"
branch_labels = None
depends_on = None

WHERE = "status = 'sent' AND lease_until IS NOT NULL"


def upgrade():
    op.create_index(
        "ix_outbox_messages_unrecorded",
        "outbox_messages",
        ["lease_until"],
        unique=False,
        sqlite_where=sa.text(WHERE),
        postgresql_where=sa.text(WHERE),
    )


def downgrade():
    # The older worker knows no unrecorded sends: run ``feedback-sla worker --once`` with this
    # version first, so that none is left.
    op.drop_index("ix_outbox_messages_unrecorded", table_name="outbox_messages")
