"""metrics rollup: answered waits counted once, per position, day of opening and business days

Revision ID: 0013_metrics_rollup
Revises: 0012_organisation_scale

Three new tables (``feedback_sla/metrics/models.py``): ``metrics_answered`` (per position),
``metrics_answered_days`` (the organisation's totals) and ``metrics_rollup_basis`` (the zone and
calendar they were counted with). The existing answered waits are counted here with the
organisation's settings, by the app's own ``metrics.rollup.rebuild`` (business days need the
zone database and the holiday rules, which only the app has); a database whose settings change
later is counted again by the metrics page itself. Nothing existing changes.
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.orm import Session

import feedback_sla.types

revision = "0013_metrics_rollup"
down_revision = "0012_organisation_scale"
branch_labels = None
depends_on = None

_COUNTS = ("answered", "met", "autopilot")


def upgrade():
    op.create_table(
        "metrics_answered",
        sa.Column("position_id", sa.Integer(), nullable=False),
        sa.Column("opened_day", sa.Integer(), nullable=False),
        sa.Column("days", sa.Integer(), nullable=False),
        *(sa.Column(name, sa.Integer(), nullable=False) for name in _COUNTS),
        sa.ForeignKeyConstraint(["position_id"], ["positions.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("position_id", "opened_day", "days"),
    )
    op.create_table(
        "metrics_answered_days",
        sa.Column("opened_day", sa.Integer(), nullable=False),
        sa.Column("days", sa.Integer(), nullable=False),
        *(sa.Column(name, sa.Integer(), nullable=False) for name in _COUNTS),
        sa.PrimaryKeyConstraint("opened_day", "days"),
    )
    op.create_table(
        "metrics_rollup_basis",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("time_zone", sa.String(length=64), nullable=False),
        sa.Column("holiday_calendar", sa.String(length=64), nullable=False),
        sa.Column("built_at", feedback_sla.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    _count_the_answered_waits()


def _count_the_answered_waits() -> None:
    from feedback_sla.metrics import rollup
    from feedback_sla.settings import service as settings_service

    session = Session(bind=op.get_bind())
    try:
        rollup.rebuild(session, settings_service.load(session))
        session.flush()
    finally:
        session.close()


def downgrade():
    op.drop_table("metrics_rollup_basis")
    op.drop_table("metrics_answered_days")
    op.drop_table("metrics_answered")
