"""candidate search: name and email folded for case- and accent-insensitive search

Revision ID: 0004_candidate_search
Revises: 0003_digest
"""

import sqlalchemy as sa
from alembic import op

from feedback_sla.text import search_key

revision = "0004_candidate_search"
down_revision = "0003_digest"
branch_labels = None
depends_on = None

BATCH = 5_000


def upgrade():
    op.add_column(
        "candidates", sa.Column("search_key", sa.String(length=500), nullable=False, server_default="")
    )
    candidates = sa.table(
        "candidates", sa.column("id"), sa.column("name"), sa.column("email"), sa.column("search_key")
    )
    bind = op.get_bind()
    rows = bind.execute(sa.select(candidates.c.id, candidates.c.name, candidates.c.email)).all()
    for start in range(0, len(rows), BATCH):
        bind.execute(
            candidates.update().where(candidates.c.id == sa.bindparam("row_id")),
            [{"row_id": r.id, "search_key": search_key(r.name, r.email)} for r in rows[start : start + BATCH]],
        )


def downgrade():
    op.drop_column("candidates", "search_key")
