"""pending email change: a new address waits for the link sent to it

Revision ID: 2ef0a6823f4e
Revises: a7c3e91f0b42
Create Date: 2026-11-27 03:11:40.420177

"""
from alembic import op
import sqlalchemy as sa

import portal.models.base


# revision identifiers, used by Alembic.
revision = '2ef0a6823f4e'
down_revision = 'a7c3e91f0b42'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('pending_email_change',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('email', sa.String(length=254), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('expires_at', portal.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('created_at', portal.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['user.id'], name=op.f('fk_pending_email_change_user_id_user'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_pending_email_change')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_pending_email_change_token_hash')),
    sa.UniqueConstraint('user_id', name=op.f('uq_pending_email_change_user_id'))
    )


def downgrade():
    op.drop_table('pending_email_change')
