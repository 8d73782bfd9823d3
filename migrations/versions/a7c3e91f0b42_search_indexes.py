"""search indexes: lists search by prefix on folded (lower-case, byte-ordered) text; audit targets

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

INDEXES = [  # (name, table, column)
    ('ix_user_folded_login', 'user', 'login'),
    ('ix_user_folded_email', 'user', 'email'),
    ('ix_user_folded_name', 'user', 'name'),
    ('ix_client_folded_name', 'client', 'name'),
    ('ix_audit_event_folded_actor_label', 'audit_event', 'actor_label'),
    ('ix_order_folded_status', 'order', 'status'),
    ('ix_payment_folded_reference', 'payment', 'reference'),
    ('ix_expense_folded_description', 'expense', 'description'),
]


def _folded(column: str):
    """As portal.models.base.folded renders it on this database."""
    if op.get_bind().dialect.name == 'postgresql':
        return sa.text(f'(lower({column}) COLLATE "C")')
    return sa.text(f'lower({column})')


def upgrade():
    op.drop_index('ix_user_lower_login', table_name='user')
    for name, table, column in INDEXES:
        op.create_index(name, table, [_folded(column)], unique=False)
    op.create_index('ix_audit_event_target_type_target_id', 'audit_event', ['target_type', 'target_id'],
                    unique=False)


def downgrade():
    op.drop_index('ix_audit_event_target_type_target_id', table_name='audit_event')
    for name, table, _column in INDEXES:
        op.drop_index(name, table_name=table)
    op.create_index('ix_user_lower_login', 'user', [sa.text('lower(login)')], unique=False)
