"""ATS sources: the webhook sources an admin connects, every delivery received, the ATS ids mapped to ours

Revision ID: 0008_ats_sources
Revises: 0007_event_order

Three new tables, nothing altered. A source's secret is kept as given: the webhook signatures are
HMACs of it, so it must be readable to check them. ``(source_id, event_id)`` is unique: a delivery
replayed by the vendor is recognised and changes nothing. The new wait closing kind
``ats_rejection`` needs no DDL: the closing kind is a VARCHAR without a check constraint.
"""

import sqlalchemy as sa
from alembic import op

import feedback_sla.types

revision = "0008_ats_sources"
down_revision = "0007_event_order"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "ats_sources",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("public_id", sa.String(length=40), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("secret", sa.String(length=255), nullable=False),
        sa.Column("api_key", sa.String(length=255), nullable=True),
        sa.Column("stage_map", sa.JSON(), nullable=False),
        sa.Column("default_manager_id", sa.Integer(), nullable=False),
        sa.Column("created_at", feedback_sla.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["default_manager_id"], ["users.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("public_id"),
    )
    op.create_table(
        "ats_deliveries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("source_id", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.String(length=255), nullable=False),
        sa.Column("event_type", sa.String(length=100), nullable=False),
        sa.Column("received_at", feedback_sla.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("processed_at", feedback_sla.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("candidate_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["source_id"], ["ats_sources.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["candidate_id"], ["candidates.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("source_id", "event_id", name="uq_ats_deliveries_source_event"),
    )
    op.create_index(
        "ix_ats_deliveries_source_received", "ats_deliveries", ["source_id", "received_at"], unique=False
    )
    op.create_index("ix_ats_deliveries_status", "ats_deliveries", ["status", "received_at"], unique=False)
    op.create_table(
        "ats_external_ids",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("source_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("external_id", sa.String(length=255), nullable=False),
        sa.Column("ats_candidate_id", sa.String(length=255), nullable=True),
        sa.Column("candidate_id", sa.Integer(), nullable=True),
        sa.Column("position_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["source_id"], ["ats_sources.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["candidate_id"], ["candidates.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["position_id"], ["positions.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("source_id", "kind", "external_id", name="uq_ats_external_ids_source_kind_id"),
    )
    op.create_index("ix_ats_external_ids_candidate", "ats_external_ids", ["candidate_id"], unique=False)
    op.create_index(
        "ix_ats_external_ids_ats_candidate", "ats_external_ids", ["source_id", "ats_candidate_id"], unique=False
    )


def downgrade():
    op.drop_index("ix_ats_external_ids_ats_candidate", table_name="ats_external_ids")
    op.drop_index("ix_ats_external_ids_candidate", table_name="ats_external_ids")
    op.drop_table("ats_external_ids")
    op.drop_index("ix_ats_deliveries_status", table_name="ats_deliveries")
    op.drop_index("ix_ats_deliveries_source_received", table_name="ats_deliveries")
    op.drop_table("ats_deliveries")
    op.drop_table("ats_sources")
