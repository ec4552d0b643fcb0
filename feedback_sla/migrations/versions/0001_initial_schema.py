"""initial schema

Revision ID: 0001
Revises: 
Create Date: 2026-11-25 21:34:26.064807

"""
from alembic import op
import sqlalchemy as sa

import feedback_sla.types


# revision identifiers, used by Alembic.
revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('settings',
    sa.Column('key', sa.String(length=64), nullable=False),
    sa.Column('value', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('key')
    )
    op.create_table('users',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('email', sa.String(length=254), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('password_hash', sa.String(length=256), nullable=False),
    sa.Column('role', sa.Enum('admin', 'manager', name='user_role', native_enum=False, length=20), nullable=False),
    sa.Column('time_zone', sa.String(length=64), nullable=False),
    sa.Column('digest_hour', sa.Integer(), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('session_version', sa.Integer(), nullable=False),
    sa.Column('created_at', feedback_sla.types.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('uq_users_email_lower', 'users', [sa.text('lower(email)')], unique=True)
    op.create_table('positions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('manager_id', sa.Integer(), nullable=False),
    sa.Column('time_zone', sa.String(length=64), nullable=False),
    sa.Column('policy_overrides', sa.JSON(), nullable=False),
    sa.Column('is_open', sa.Boolean(), nullable=False),
    sa.Column('created_at', feedback_sla.types.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['manager_id'], ['users.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('positions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_positions_manager_id'), ['manager_id'], unique=False)

    op.create_table('candidates',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('email', sa.String(length=254), nullable=False),
    sa.Column('position_id', sa.Integer(), nullable=False),
    sa.Column('stage', sa.String(length=40), nullable=False),
    sa.Column('status', sa.Enum('active', 'rejected', 'offered', 'hired', 'withdrawn', name='candidate_status', native_enum=False, length=30), nullable=False),
    sa.Column('created_at', feedback_sla.types.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['position_id'], ['positions.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('candidates', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_candidates_position_id'), ['position_id'], unique=False)
    op.create_index('uq_candidates_position_email', 'candidates',
                    ['position_id', sa.text('lower(email)')], unique=True)

    op.create_table('events',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('candidate_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.Enum('created', 'stage_moved', 'interview_held', 'followed_up', 'contact_logged', 'note', 'promise_set', 'status_changed', 'email_queued', 'email_sent', 'email_failed', 'email_cancelled', name='event_kind', native_enum=False, length=30), nullable=False),
    sa.Column('channel', sa.String(length=20), nullable=True),
    sa.Column('body', sa.Text(), nullable=True),
    sa.Column('data', sa.JSON(), nullable=False),
    sa.Column('actor_id', sa.Integer(), nullable=True),
    sa.Column('occurred_at', feedback_sla.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('recorded_at', feedback_sla.types.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['actor_id'], ['users.id'], ),
    sa.ForeignKeyConstraint(['candidate_id'], ['candidates.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_events_candidate_id'), ['candidate_id'], unique=False)

    op.create_table('waits',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('candidate_id', sa.Integer(), nullable=False),
    sa.Column('reason', sa.Enum('application', 'decision', 'follow_up', name='wait_reason', native_enum=False, length=30), nullable=False),
    sa.Column('opened_at', feedback_sla.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('warn_at', feedback_sla.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('due_at', feedback_sla.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('escalate_at', feedback_sla.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('policy_days', sa.Integer(), nullable=False),
    sa.Column('promised_date', sa.Date(), nullable=True),
    sa.Column('follow_ups', sa.Integer(), nullable=False),
    sa.Column('closed_at', feedback_sla.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('opened_by_event_id', sa.Integer(), nullable=True),
    sa.Column('closed_by_event_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['candidate_id'], ['candidates.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['closed_by_event_id'], ['events.id'], ),
    sa.ForeignKeyConstraint(['opened_by_event_id'], ['events.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('waits', schema=None) as batch_op:
        batch_op.create_index('ix_waits_candidate', ['candidate_id'], unique=False)
        batch_op.create_index('ix_waits_open_due', ['due_at'], unique=False, sqlite_where=sa.text('closed_at IS NULL'), postgresql_where=sa.text('closed_at IS NULL'))
        batch_op.create_index('ix_waits_open_warn', ['warn_at'], unique=False, sqlite_where=sa.text('closed_at IS NULL'), postgresql_where=sa.text('closed_at IS NULL'))
        batch_op.create_index('ix_waits_opened_at', ['opened_at'], unique=False)
        batch_op.create_index('uq_waits_one_open_per_candidate', ['candidate_id'], unique=True, sqlite_where=sa.text('closed_at IS NULL'), postgresql_where=sa.text('closed_at IS NULL'))



def downgrade():
    with op.batch_alter_table('waits', schema=None) as batch_op:
        batch_op.drop_index('uq_waits_one_open_per_candidate', sqlite_where=sa.text('closed_at IS NULL'), postgresql_where=sa.text('closed_at IS NULL'))
        batch_op.drop_index('ix_waits_opened_at')
        batch_op.drop_index('ix_waits_open_warn', sqlite_where=sa.text('closed_at IS NULL'), postgresql_where=sa.text('closed_at IS NULL'))
        batch_op.drop_index('ix_waits_open_due', sqlite_where=sa.text('closed_at IS NULL'), postgresql_where=sa.text('closed_at IS NULL'))
        batch_op.drop_index('ix_waits_candidate')

    op.drop_table('waits')
    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_events_candidate_id'))

    op.drop_table('events')
    with op.batch_alter_table('candidates', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_candidates_position_id'))

    op.drop_index('uq_candidates_position_email', table_name='candidates')
    op.drop_table('candidates')
    with op.batch_alter_table('positions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_positions_manager_id'))

    op.drop_table('positions')
    op.drop_index('uq_users_email_lower', table_name='users')
    op.drop_table('users')
    op.drop_table('settings')
