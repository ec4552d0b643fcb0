"""the candidate's language: on each candidate, on each named template and its other languages'
versions, and on each email

Revision ID: 0019_languages
Revises: 0018_chat

``candidates.language`` (a BCP 47 tag; existing candidates get ``en``, the organisation's default
until an admin sets another), ``email_templates.language`` (the language a named template is
written in; existing ones are English), ``email_template_versions`` (a named template in another
language), ``outbox_messages.language`` (the language an email was written in; None on emails
queued before, and on digests). Columns are added in place on SQLite too (ALTER TABLE ADD
COLUMN): ``candidates`` and its triggers (0012, 0015) are not copied.
"""

import sqlalchemy as sa
from alembic import op

import feedback_sla.types

revision = "0019_languages"
down_revision = "0018_chat"
branch_labels = None
depends_on = None


def upgrade():
    op.add_column(
        "candidates", sa.Column("language", sa.String(length=35), server_default="en", nullable=False)
    )
    op.add_column(
        "email_templates",
        sa.Column("language", sa.String(length=35), server_default="en", nullable=False),
    )
    op.add_column("outbox_messages", sa.Column("language", sa.String(length=35), nullable=True))
    op.create_table(
        "email_template_versions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("template_id", sa.Integer(), nullable=False),
        sa.Column("language", sa.String(length=35), nullable=False),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column("text_body", sa.Text(), nullable=False),
        sa.Column("html_body", sa.Text(), nullable=False),
        sa.Column("updated_by_id", sa.Integer(), nullable=True),
        sa.Column("updated_at", feedback_sla.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["template_id"], ["email_templates.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["updated_by_id"], ["users.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "uq_email_template_versions_language",
        "email_template_versions",
        ["template_id", "language"],
        unique=True,
    )


def downgrade():
    # The other languages' versions go; each named template keeps the text it was written in.
    op.drop_index("uq_email_template_versions_language", table_name="email_template_versions")
    op.drop_table("email_template_versions")
    # In place on SQLite too (3.35 and later drop a column without copying the table).
    op.drop_column("outbox_messages", "language")
    op.drop_column("email_templates", "language")
    op.drop_column("candidates", "language")
