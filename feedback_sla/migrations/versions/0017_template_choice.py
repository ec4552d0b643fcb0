"""templates to choose and send later: several named templates per kind, defaults per position
or stage, the template and the chosen time zone on each email, the candidate's own time zone

Revision ID: 0017_template_choice
Revises: 0016_answer_batches

``email_templates`` was one edit per kind (``kind`` its primary key); it becomes named templates
(``id``, ``kind``, ``name`` unique per kind, ``is_default``: one per kind at most). Each existing
edit is kept as its kind's default template, named after the kind; a kind without an edit keeps
the shipped files as its default. The primary key changes, so the table is built anew, its few
rows read first and written back, the same way on SQLite and PostgreSQL (nothing refers to it).

``email_template_defaults`` holds the templates chosen per position or per stage.
``outbox_messages`` gets ``template_id`` and ``template_name`` (which template an email was
written from) and ``send_at_zone`` (the zone a scheduled email's time was chosen in);
``candidates`` gets ``time_zone``. All nullable, added in place on SQLite too (ALTER TABLE ADD
COLUMN): those tables and their triggers are not copied.
"""

import sqlalchemy as sa
from alembic import op

import feedback_sla.types

revision = "0017_template_choice"
down_revision = "0016_answer_batches"
branch_labels = None
depends_on = None

EMAIL_KIND = sa.Enum(
    "rejection",
    "offer",
    "update",
    "next_step",
    "acknowledgement",
    "digest",
    name="email_kind",
    native_enum=False,
    length=30,
)

#: The name an existing edit of each kind is kept under.
KEPT_AS = {
    "rejection": "Rejection",
    "offer": "Offer",
    "update": "Status update",
    "next_step": "Next-step invitation",
    "acknowledgement": "Application acknowledgement",
}


def _named_templates() -> sa.Table:
    table = op.create_table(
        "email_templates",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", EMAIL_KIND, nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column("text_body", sa.Text(), nullable=False),
        sa.Column("html_body", sa.Text(), nullable=False),
        sa.Column("is_default", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("updated_by_id", sa.Integer(), nullable=True),
        sa.Column("updated_at", feedback_sla.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["updated_by_id"], ["users.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("uq_email_templates_kind_name", "email_templates", ["kind", "name"], unique=True)
    op.create_index(
        "uq_email_templates_default",
        "email_templates",
        ["kind"],
        unique=True,
        sqlite_where=sa.text("is_default"),
        postgresql_where=sa.text("is_default"),
    )
    return table


def _rows(query: str) -> list[dict]:
    typed = sa.text(query).columns(updated_at=feedback_sla.types.UTCDateTime(timezone=True))
    return [dict(row._mapping) for row in op.get_bind().execute(typed)]


def upgrade():
    # Read first, then build the table anew: on PostgreSQL a renamed table keeps its primary
    # key's name, which the new table's needs.
    edits = _rows(
        "SELECT kind, subject, text_body, html_body, updated_by_id, updated_at FROM email_templates"
    )
    op.drop_table("email_templates")
    table = _named_templates()
    op.bulk_insert(
        table,
        [{**edit, "name": KEPT_AS.get(edit["kind"], edit["kind"]), "is_default": True} for edit in edits],
    )
    op.create_table(
        "email_template_defaults",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("template_id", sa.Integer(), nullable=False),
        sa.Column("position_id", sa.Integer(), nullable=True),
        sa.Column("stage", sa.String(length=40), nullable=True),
        sa.CheckConstraint(
            "(position_id IS NULL) <> (stage IS NULL)", name="ck_email_template_defaults_one_scope"
        ),
        sa.ForeignKeyConstraint(["position_id"], ["positions.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["template_id"], ["email_templates.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ix_email_template_defaults_template", "email_template_defaults", ["template_id"], unique=False
    )
    op.add_column("outbox_messages", sa.Column("template_id", sa.Integer(), nullable=True))
    op.add_column("outbox_messages", sa.Column("template_name", sa.String(length=100), nullable=True))
    op.add_column("outbox_messages", sa.Column("send_at_zone", sa.String(length=64), nullable=True))
    op.add_column("candidates", sa.Column("time_zone", sa.String(length=64), nullable=True))


def downgrade():
    # In place on SQLite too (3.35 and later drop a column without copying the table).
    op.drop_column("candidates", "time_zone")
    op.drop_column("outbox_messages", "send_at_zone")
    op.drop_column("outbox_messages", "template_name")
    op.drop_column("outbox_messages", "template_id")
    op.drop_index("ix_email_template_defaults_template", table_name="email_template_defaults")
    op.drop_table("email_template_defaults")
    # One edit per kind again: each kind's default template is kept, the others go.
    defaults = _rows(
        "SELECT kind, subject, text_body, html_body, updated_by_id, updated_at FROM email_templates "
        "WHERE is_default"
    )
    op.drop_index("uq_email_templates_default", table_name="email_templates")
    op.drop_index("uq_email_templates_kind_name", table_name="email_templates")
    op.drop_table("email_templates")
    table = op.create_table(
        "email_templates",
        sa.Column("kind", EMAIL_KIND, nullable=False),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column("text_body", sa.Text(), nullable=False),
        sa.Column("html_body", sa.Text(), nullable=False),
        sa.Column("updated_by_id", sa.Integer(), nullable=True),
        sa.Column("updated_at", feedback_sla.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["updated_by_id"], ["users.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("kind"),
    )
    op.bulk_insert(table, defaults)
