"""亮身份: a leader may choose to be named (by surname or full name) on the public pages of the compounds they
serve: `person.public_listing`, empty (named nowhere) unless they opt in

Revision ID: 0023
Revises: 0022
"""

import sqlalchemy as sa
from alembic import op

revision = "0023"
down_revision = "0022"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("person", schema=None) as batch_op:
        batch_op.add_column(sa.Column("public_listing", sa.String(length=8), nullable=True))


def downgrade():
    # A plain DROP COLUMN (SQLite 3.35+ has it): a batch would copy `person`, which other tables' foreign keys
    # refer to, and SQLite refuses to drop the old table while they do.
    op.drop_column("person", "public_listing")
