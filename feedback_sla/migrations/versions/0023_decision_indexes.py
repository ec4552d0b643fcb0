"""decision indexes: a page of groups' decided candidates, each with its first wait, from indexes

Revision ID: 0023_decision_indexes
Revises: 0022_user_language

The metrics page's verdict reads, for its page of managers or positions, the candidates decided in
the period and when each applied (their first wait). ``ix_candidates_position_decided`` finds a
position's decided candidates by the day of the decision, without reading its undecided ones;
``ix_waits_candidate_opened`` (candidate, opening) gives a candidate's first wait from the index
alone and serves every look-up by candidate that ``ix_waits_candidate`` served, which it replaces.
"""

from alembic import op

revision = "0023_decision_indexes"
down_revision = "0022_user_language"
branch_labels = None
depends_on = None


def upgrade():
    op.create_index("ix_candidates_position_decided", "candidates", ["position_id", "decided_at"])
    op.create_index("ix_waits_candidate_opened", "waits", ["candidate_id", "opened_at"])
    op.drop_index("ix_waits_candidate", table_name="waits")


def downgrade():
    op.create_index("ix_waits_candidate", "waits", ["candidate_id"])
    op.drop_index("ix_waits_candidate_opened", table_name="waits")
    op.drop_index("ix_candidates_position_decided", table_name="candidates")
