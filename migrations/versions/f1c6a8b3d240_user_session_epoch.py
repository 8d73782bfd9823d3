"""user.session_epoch: revoking every session also ends a sign-in waiting for its second factor

Revision ID: f1c6a8b3d240
Revises: e5a0c7d94b12
Create Date: 2026-11-28 03:40:00.000000

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = 'f1c6a8b3d240'
down_revision = 'e5a0c7d94b12'
branch_labels = None
depends_on = None


def upgrade():
    # A plain ADD COLUMN: a batch on SQLite would copy the table and lose its expression indexes.
    op.add_column('user', sa.Column('session_epoch', sa.Integer(), server_default='0', nullable=False))


def downgrade():
    op.drop_column('user', 'session_epoch')
