"""unrecorded sends: sent candidate emails whose answer is not yet recorded, by lease

Revision ID: 0020_unrecorded_sends
Revises: 0019_languages

The outbox worker marks each email sent as the server accepts it, and records what the batch's
emails did to their candidates' waits (the EMAIL_SENT events that close them) once the batch is
through. Until then a sent row stays ``sending`` with its lease and its ``sent_at``; a worker that
stopped in between leaves such rows, and the next worker records them when the lease runs out.
``ix_outbox_messages_unrecorded`` finds those few. No existing row is one (a sending row had no
``sent_at`` until now).
"""

import sqlalchemy as sa
from alembic import op

revision = "0020_unrecorded_sends"
down_revision = "0019_languages"
branch_labels = None
depends_on = None

WHERE = "status = 'sending' AND sent_at IS NOT NULL"


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
