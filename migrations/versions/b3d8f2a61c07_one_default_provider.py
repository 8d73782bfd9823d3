"""one default provider: created by the migration, and at most one

Revision ID: b3d8f2a61c07
Revises: 2ef0a6823f4e
Create Date: 2026-11-27 08:10:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'b3d8f2a61c07'
down_revision = '2ef0a6823f4e'
branch_labels = None
depends_on = None


def upgrade():
    op.create_index('uq_provider_one_default', 'provider', ['is_default'], unique=True,
                    sqlite_where=sa.text('is_default'), postgresql_where=sa.text('is_default'))
    provider = sa.table('provider', sa.column('name', sa.String), sa.column('is_default', sa.Boolean),
                        sa.column('created_at', sa.DateTime(timezone=True)))
    if op.get_bind().execute(sa.select(sa.func.count()).select_from(provider).where(
            provider.c.is_default.is_(True))).scalar() == 0:
        op.execute(provider.insert().values(name='Default provider', is_default=True,
                                            created_at=sa.func.current_timestamp()))


def downgrade():
    op.drop_index('uq_provider_one_default', table_name='provider')
