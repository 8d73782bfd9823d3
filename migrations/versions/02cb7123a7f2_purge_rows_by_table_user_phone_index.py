"""purge_run.rows_by_table: each run's rows per table; user.phone indexed for the reused-number check

Revision ID: 02cb7123a7f2
Revises: d7b2e5f8a1c3
Create Date: 2026-11-27 12:51:50.000000

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '02cb7123a7f2'
down_revision = 'd7b2e5f8a1c3'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('purge_run', schema=None) as batch_op:
        batch_op.add_column(sa.Column('rows_by_table', sa.JSON(), nullable=True))
    with op.batch_alter_table('user', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_user_phone'), ['phone'], unique=False)


def downgrade():
    with op.batch_alter_table('user', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_user_phone'))
    with op.batch_alter_table('purge_run', schema=None) as batch_op:
        batch_op.drop_column('rows_by_table')
