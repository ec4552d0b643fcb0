"""unconfirmed bounces: a delivery report matched only by its failed address waits for an admin

Revision ID: 0011_unconfirmed_bounces
Revises: 0010_candidate_side

Four nullable columns on ``inbound_messages``: existing rows are no unconfirmed reports (NULL).
A report matched by address before this version already did what it did; nothing is rewritten.
On SQLite the table is copied once (batch mode) to add the foreign key to ``users``; the tables
its keys refer to are not reflected (nothing of theirs changes).
"""

import sqlalchemy as sa
from alembic import op

import feedback_sla.types

revision = "0011_unconfirmed_bounces"
down_revision = "0010_candidate_side"
branch_labels = None
depends_on = None

_OWN_TABLE_ONLY = {"resolve_fks": False}


def upgrade():
    utc = feedback_sla.types.UTCDateTime(timezone=True)
    confirmation = sa.Enum(
        "unconfirmed", "applied", name="inbound_confirmation", native_enum=False, length=30
    )
    with op.batch_alter_table("inbound_messages", reflect_kwargs=_OWN_TABLE_ONLY) as batch_op:
        batch_op.add_column(sa.Column("confirmation", confirmation, nullable=True))
        batch_op.add_column(sa.Column("reason", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("applied_at", utc, nullable=True))
        batch_op.add_column(sa.Column("applied_by_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            "fk_inbound_messages_applied_by_id_users", "users", ["applied_by_id"], ["id"], ondelete="SET NULL"
        )
    op.create_index(
        "ix_inbound_messages_confirmation", "inbound_messages", ["confirmation", "received_at"], unique=False
    )


def downgrade():
    op.drop_index("ix_inbound_messages_confirmation", table_name="inbound_messages")
    with op.batch_alter_table("inbound_messages", reflect_kwargs=_OWN_TABLE_ONLY) as batch_op:
        batch_op.drop_constraint("fk_inbound_messages_applied_by_id_users", type_="foreignkey")
        batch_op.drop_column("applied_by_id")
        batch_op.drop_column("applied_at")
        batch_op.drop_column("reason")
        batch_op.drop_column("confirmation")
