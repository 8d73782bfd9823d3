"""keycloak_role_mapping.access_group_id: a mapping names its group by id, not by a name that can change

A mapping that named a group no longer there granted nothing but the sign-in itself; it is dropped,
so that role is refused (deny by default) until it is mapped again.

Revision ID: e5a0c7d94b12
Revises: 02cb7123a7f2
Create Date: 2026-11-27 16:10:00.000000

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = 'e5a0c7d94b12'
down_revision = '02cb7123a7f2'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('keycloak_role_mapping', schema=None) as batch_op:
        batch_op.add_column(sa.Column('access_group_id', sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f('ix_keycloak_role_mapping_access_group_id'), ['access_group_id'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_keycloak_role_mapping_access_group_id_access_group'),
                                    'access_group', ['access_group_id'], ['id'], ondelete='CASCADE')
    op.execute("UPDATE keycloak_role_mapping SET access_group_id = (SELECT access_group.id FROM access_group "
               "WHERE access_group.name = keycloak_role_mapping.access_group)")
    op.execute("DELETE FROM keycloak_role_mapping WHERE NOT full_access AND access_group_id IS NULL")
    with op.batch_alter_table('keycloak_role_mapping', schema=None) as batch_op:
        batch_op.drop_column('access_group')


def downgrade():
    with op.batch_alter_table('keycloak_role_mapping', schema=None) as batch_op:
        batch_op.add_column(sa.Column('access_group', sa.String(length=100), nullable=True))
    op.execute("UPDATE keycloak_role_mapping SET access_group = (SELECT access_group.name FROM access_group "
               "WHERE access_group.id = keycloak_role_mapping.access_group_id)")
    with op.batch_alter_table('keycloak_role_mapping', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_keycloak_role_mapping_access_group_id_access_group'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_keycloak_role_mapping_access_group_id'))
        batch_op.drop_column('access_group_id')
