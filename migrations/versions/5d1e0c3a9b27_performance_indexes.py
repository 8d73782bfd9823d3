"""performance indexes: accounts found by lower(login)

Revision ID: 5d1e0c3a9b27
Revises: 750a3664e4c2
Create Date: 2026-11-26 15:30:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '5d1e0c3a9b27'
down_revision = '750a3664e4c2'
branch_labels = None
depends_on = None


def upgrade():
    op.create_index('ix_user_lower_login', 'user', [sa.text('lower(login)')], unique=False)


def downgrade():
    op.drop_index('ix_user_lower_login', table_name='user')
