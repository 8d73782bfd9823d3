"""user.phone_recovery_after: a number verified without the password takes recovery codes later

Revision ID: d7b2e5f8a1c3
Revises: c4e1a9d2f310
Create Date: 2026-11-27 10:40:00.000000

"""
from alembic import op
import sqlalchemy as sa

import portal.models.base


# revision identifiers, used by Alembic.
revision = 'd7b2e5f8a1c3'
down_revision = 'c4e1a9d2f310'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('user', schema=None) as batch_op:
        batch_op.add_column(sa.Column('phone_recovery_after', portal.models.base.UTCDateTime(timezone=True), nullable=True))


def downgrade():
    with op.batch_alter_table('user', schema=None) as batch_op:
        batch_op.drop_column('phone_recovery_after')
