"""pending notice: security notices wait in the database until the mail relay takes them

Revision ID: b371c54f14e1
Revises: f1c6a8b3d240
Create Date: 2026-11-29 05:33:23.672296

"""
import sqlalchemy as sa
from alembic import op

import portal.models.base

# revision identifiers, used by Alembic.
revision = 'b371c54f14e1'
down_revision = 'f1c6a8b3d240'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('pending_notice',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('recipient', sa.String(length=254), nullable=False),
    sa.Column('subject', sa.String(length=200), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('created_at', portal.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', portal.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('claimed_until', portal.models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('last_error', sa.String(length=200), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['user.id'], name=op.f('fk_pending_notice_user_id_user'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_pending_notice'))
    )
    op.create_index(op.f('ix_pending_notice_next_attempt_at'), 'pending_notice', ['next_attempt_at'], unique=False)
    op.create_index(op.f('ix_pending_notice_user_id'), 'pending_notice', ['user_id'], unique=False)


def downgrade():
    op.drop_index(op.f('ix_pending_notice_user_id'), table_name='pending_notice')
    op.drop_index(op.f('ix_pending_notice_next_attempt_at'), table_name='pending_notice')
    op.drop_table('pending_notice')
