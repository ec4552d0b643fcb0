"""email templates and the outbox

Revision ID: 0002_outbox
Revises: 0001
Create Date: 2026-11-25 22:00:00

"""
from alembic import op
import sqlalchemy as sa

import feedback_sla.types


# revision identifiers, used by Alembic.
revision = '0002_outbox'
down_revision = '0001'
branch_labels = None
depends_on = None

EMAIL_KIND = sa.Enum('rejection', 'offer', 'update', 'next_step', 'acknowledgement', 'digest',
                     name='email_kind', native_enum=False, length=30)
OUTBOX_STATUS = sa.Enum('pending', 'sending', 'sent', 'failed', 'cancelled',
                        name='outbox_status', native_enum=False, length=30)


def upgrade():
    op.create_table('email_templates',
    sa.Column('kind', EMAIL_KIND, nullable=False),
    sa.Column('subject', sa.Text(), nullable=False),
    sa.Column('text_body', sa.Text(), nullable=False),
    sa.Column('html_body', sa.Text(), nullable=False),
    sa.Column('updated_by_id', sa.Integer(), nullable=True),
    sa.Column('updated_at', feedback_sla.types.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['updated_by_id'], ['users.id'], ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('kind')
    )
    op.create_table('outbox_messages',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('candidate_id', sa.Integer(), nullable=True),
    sa.Column('recipient_user_id', sa.Integer(), nullable=True),
    sa.Column('kind', EMAIL_KIND, nullable=False),
    sa.Column('to_name', sa.String(length=200), nullable=False),
    sa.Column('to_address', sa.String(length=254), nullable=False),
    sa.Column('reply_to_name', sa.String(length=200), nullable=True),
    sa.Column('reply_to_address', sa.String(length=254), nullable=True),
    sa.Column('subject', sa.Text(), nullable=False),
    sa.Column('text_body', sa.Text(), nullable=False),
    sa.Column('html_body', sa.Text(), nullable=False),
    sa.Column('message_id', sa.String(length=255), nullable=False),
    sa.Column('idempotency_key', sa.String(length=128), nullable=False),
    sa.Column('status', OUTBOX_STATUS, nullable=False),
    sa.Column('previous_status', sa.String(length=30), nullable=True),
    sa.Column('previous_promised_date', sa.Date(), nullable=True),
    sa.Column('promised_date', sa.Date(), nullable=True),
    sa.Column('feedback', sa.Text(), nullable=True),
    sa.Column('reasons', sa.JSON(), nullable=False),
    sa.Column('queued_by_id', sa.Integer(), nullable=True),
    sa.Column('queued_at', feedback_sla.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('send_after', feedback_sla.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('next_attempt_at', feedback_sla.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('lease_until', feedback_sla.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('sent_at', feedback_sla.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('failed_at', feedback_sla.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('cancelled_at', feedback_sla.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('cancel_reason', sa.Text(), nullable=True),
    sa.CheckConstraint('candidate_id IS NOT NULL OR recipient_user_id IS NOT NULL',
                       name='ck_outbox_messages_recipient'),
    sa.ForeignKeyConstraint(['candidate_id'], ['candidates.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['queued_by_id'], ['users.id'], ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['recipient_user_id'], ['users.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('idempotency_key'),
    sa.UniqueConstraint('message_id')
    )
    with op.batch_alter_table('outbox_messages', schema=None) as batch_op:
        batch_op.create_index('ix_outbox_messages_candidate', ['candidate_id', 'queued_at'], unique=False)
        batch_op.create_index('ix_outbox_messages_due', ['next_attempt_at'], unique=False, sqlite_where=sa.text("status = 'pending'"), postgresql_where=sa.text("status = 'pending'"))
        batch_op.create_index('ix_outbox_messages_lease', ['lease_until'], unique=False, sqlite_where=sa.text("status = 'sending'"), postgresql_where=sa.text("status = 'sending'"))
        batch_op.create_index('ix_outbox_messages_recipient_user', ['recipient_user_id'], unique=False)


def downgrade():
    with op.batch_alter_table('outbox_messages', schema=None) as batch_op:
        batch_op.drop_index('ix_outbox_messages_recipient_user')
        batch_op.drop_index('ix_outbox_messages_lease', sqlite_where=sa.text("status = 'sending'"), postgresql_where=sa.text("status = 'sending'"))
        batch_op.drop_index('ix_outbox_messages_due', sqlite_where=sa.text("status = 'pending'"), postgresql_where=sa.text("status = 'pending'"))
        batch_op.drop_index('ix_outbox_messages_candidate')

    op.drop_table('outbox_messages')
    op.drop_table('email_templates')
