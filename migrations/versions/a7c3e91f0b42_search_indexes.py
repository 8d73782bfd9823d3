"""search indexes: lists search by prefix on folded (lower-case, byte-ordered) text

Revision ID: a7c3e91f0b42
Revises: 5d1e0c3a9b27
Create Date: 2026-11-26 23:45:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'a7c3e91f0b42'
down_revision = '5d1e0c3a9b27'
branch_labels = None
depends_on = None

INDEXES = [  # (name, table, column, partial index condition)
    ('ix_user_folded_login', 'user', 'login', None),
    ('ix_user_folded_email', 'user', 'email', None),
    ('ix_user_folded_name', 'user', 'name', None),
    ('ix_client_folded_name', 'client', 'name', None),
    ('ix_auth_event_folded_ip', 'auth_event', 'ip', None),
    ('ix_auth_event_folded_login_no_account', 'auth_event', 'login', 'user_id IS NULL'),
    ('ix_audit_event_folded_actor_label', 'audit_event', 'actor_label', None),
    ('ix_order_folded_status', 'order', 'status', None),
    ('ix_payment_folded_reference', 'payment', 'reference', None),
    ('ix_expense_folded_description', 'expense', 'description', None),
]


def _folded(column: str):
    """As portal.models.base.folded renders it on this database."""
    if op.get_bind().dialect.name == 'postgresql':
        return sa.text(f'(lower({column}) COLLATE "C")')
    return sa.text(f'lower({column})')


def upgrade():
    op.drop_index('ix_user_lower_login', table_name='user')
    for name, table, column, where in INDEXES:
        condition = sa.text(where) if where else None
        op.create_index(name, table, [_folded(column)], unique=False,
                        sqlite_where=condition, postgresql_where=condition)


def downgrade():
    for name, table, _column, _where in INDEXES:
        op.drop_index(name, table_name=table)
    op.create_index('ix_user_lower_login', 'user', [sa.text('lower(login)')], unique=False)
