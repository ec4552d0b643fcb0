"""survey: the candidates' anonymous answers after the decision, their wording per language, and
whether a status link answered

Revision ID: 0021_survey
Revises: 0020_unrecorded_sends

``survey_answers`` holds no reference to a candidate or a link: only the position, the manager,
the outcome and the Monday of the decision's week. ``status_links.survey_answered`` says a link
answered (one answer per link). The event kind ``data_exported`` ("Download my data") needs no
DDL: event kinds are kept as text (a VARCHAR(30), no native enum).
"""

import sqlalchemy as sa
from alembic import op

revision = "0021_survey"
down_revision = "0020_unrecorded_sends"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "survey_answers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("position_id", sa.Integer(), nullable=True),
        sa.Column("manager_id", sa.Integer(), nullable=True),
        sa.Column(
            "outcome",
            sa.Enum("rejected", "hired", "withdrawn", name="survey_outcome", native_enum=False, length=30),
            nullable=False,
        ),
        sa.Column("week", sa.Date(), nullable=False),
        sa.Column("score", sa.Integer(), nullable=False),
        sa.Column(
            "kept",
            sa.Enum("yes", "no", "not_sure", name="survey_kept", native_enum=False, length=30),
            nullable=False,
        ),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["position_id"], ["positions.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["manager_id"], ["users.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_survey_answers_week", "survey_answers", ["week"], unique=False)
    op.create_table(
        "survey_wordings",
        sa.Column("language", sa.String(length=35), nullable=False),
        sa.Column("question", sa.String(length=20), nullable=False),
        sa.Column("text", sa.String(length=300), nullable=False),
        sa.PrimaryKeyConstraint("language", "question"),
    )
    op.add_column(
        "status_links",
        sa.Column("survey_answered", sa.Boolean(), server_default=sa.false(), nullable=False),
    )


def downgrade():
    op.drop_column("status_links", "survey_answered")
    op.drop_table("survey_wordings")
    op.drop_index("ix_survey_answers_week", table_name="survey_answers")
    op.drop_table("survey_answers")
