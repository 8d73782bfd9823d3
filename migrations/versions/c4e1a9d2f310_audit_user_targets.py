"""audit rows whose target was Flask-Login's current_user: target type "user", not "localproxy"

Revision ID: c4e1a9d2f310
Revises: b3d8f2a61c07
Create Date: 2026-11-27 10:30:00.000000

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = 'c4e1a9d2f310'
down_revision = 'b3d8f2a61c07'
branch_labels = None
depends_on = None


def upgrade():
    op.execute("UPDATE audit_event SET target_type = 'user' WHERE target_type = 'localproxy'")


def downgrade():
    pass  # the rows were wrong before; nothing to restore
