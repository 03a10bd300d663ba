"""The issue's filer is found through the unique (filer, idempotency key) index: the filer's own index was a
second copy of its first column, written on every filing for no query

Revision ID: 0025
Revises: 0024
"""

from alembic import op

revision = '0025'
down_revision = '0024'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('issue', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_issue_filed_by_id'))


def downgrade():
    with op.batch_alter_table('issue', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_issue_filed_by_id'), ['filed_by_id'], unique=False)
