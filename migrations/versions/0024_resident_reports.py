"""Residents' reports to their 邻长 (居民反映): the report (its tracking link and sources kept as digests), its
photos, and the sources the branch blocked

Revision ID: 0024
Revises: 0023
"""

import sqlalchemy as sa
from alembic import op

revision = '0024'
down_revision = '0023'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('resident_report',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('reference', sa.String(length=16), nullable=False),
    sa.Column('token_digest', sa.String(length=64), nullable=False),
    sa.Column('form_key', sa.String(length=64), nullable=True),
    sa.Column('compound_id', sa.Integer(), nullable=False),
    sa.Column('building_id', sa.Integer(), nullable=True),
    sa.Column('neighbour_id', sa.Integer(), nullable=False),
    sa.Column('handler_node_id', sa.Integer(), nullable=False),
    sa.Column('category_id', sa.Integer(), nullable=False),
    sa.Column('text', sa.String(length=500), nullable=False),
    sa.Column('phone', sa.String(length=20), nullable=False),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('decline_reason', sa.String(length=24), nullable=True),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('decided_by_id', sa.Integer(), nullable=True),
    sa.Column('issue_id', sa.Integer(), nullable=True),
    sa.Column('device_digest', sa.String(length=64), nullable=True),
    sa.Column('address_digest', sa.String(length=64), nullable=False),
    sa.Column('text_digest', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("decline_reason IS NULL OR decline_reason IN ('duplicate','already_fixed','not_public','outside_area','unclear')", name=op.f('ck_resident_report_decline_reason')),
    sa.CheckConstraint("status IN ('waiting','confirmed','declined')", name=op.f('ck_resident_report_status')),
    sa.ForeignKeyConstraint(['building_id'], ['building.id'], name=op.f('fk_resident_report_building_id_building')),
    sa.ForeignKeyConstraint(['category_id'], ['category.id'], name=op.f('fk_resident_report_category_id_category')),
    sa.ForeignKeyConstraint(['compound_id'], ['compound.id'], name=op.f('fk_resident_report_compound_id_compound')),
    sa.ForeignKeyConstraint(['decided_by_id'], ['person.id'], name=op.f('fk_resident_report_decided_by_id_person')),
    sa.ForeignKeyConstraint(['handler_node_id'], ['node.id'], name=op.f('fk_resident_report_handler_node_id_node')),
    sa.ForeignKeyConstraint(['issue_id'], ['issue.id'], name=op.f('fk_resident_report_issue_id_issue')),
    sa.ForeignKeyConstraint(['neighbour_id'], ['node.id'], name=op.f('fk_resident_report_neighbour_id_node')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_resident_report')),
    sa.UniqueConstraint('form_key', name=op.f('uq_resident_report_form_key')),
    sa.UniqueConstraint('issue_id', name=op.f('uq_resident_report_issue_id')),
    sa.UniqueConstraint('reference', name=op.f('uq_resident_report_reference')),
    sa.UniqueConstraint('token_digest', name=op.f('uq_resident_report_token_digest'))
    )
    with op.batch_alter_table('resident_report', schema=None) as batch_op:
        batch_op.create_index('ix_resident_report_address', ['address_digest', 'created_at'], unique=False)
        batch_op.create_index('ix_resident_report_device', ['device_digest', 'created_at'], unique=False)
        batch_op.create_index('ix_resident_report_handler', ['handler_node_id', 'status', 'created_at'], unique=False)
        batch_op.create_index('ix_resident_report_neighbour', ['neighbour_id', 'created_at'], unique=False)
        batch_op.create_index('ix_resident_report_text', ['compound_id', 'text_digest', 'created_at'], unique=False)

    op.create_table('report_source_block',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=8), nullable=False),
    sa.Column('digest', sa.String(length=64), nullable=False),
    sa.Column('report_id', sa.Integer(), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("kind IN ('device','address')", name=op.f('ck_report_source_block_kind')),
    sa.ForeignKeyConstraint(['created_by_id'], ['person.id'], name=op.f('fk_report_source_block_created_by_id_person')),
    sa.ForeignKeyConstraint(['report_id'], ['resident_report.id'], name=op.f('fk_report_source_block_report_id_resident_report')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_report_source_block')),
    sa.UniqueConstraint('kind', 'digest', name=op.f('uq_report_source_block_kind_digest'))
    )
    with op.batch_alter_table('report_source_block', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_report_source_block_report_id'), ['report_id'], unique=False)

    op.create_table('resident_report_photo',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('report_id', sa.Integer(), nullable=False),
    sa.Column('stored_name', sa.String(length=64), nullable=False),
    sa.Column('width', sa.Integer(), nullable=False),
    sa.Column('height', sa.Integer(), nullable=False),
    sa.Column('size_bytes', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['report_id'], ['resident_report.id'], name=op.f('fk_resident_report_photo_report_id_resident_report'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_resident_report_photo')),
    sa.UniqueConstraint('stored_name', name=op.f('uq_resident_report_photo_stored_name'))
    )
    with op.batch_alter_table('resident_report_photo', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_resident_report_photo_report_id'), ['report_id'], unique=False)



def downgrade():
    with op.batch_alter_table('resident_report_photo', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_resident_report_photo_report_id'))

    op.drop_table('resident_report_photo')
    with op.batch_alter_table('report_source_block', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_report_source_block_report_id'))

    op.drop_table('report_source_block')
    with op.batch_alter_table('resident_report', schema=None) as batch_op:
        batch_op.drop_index('ix_resident_report_text')
        batch_op.drop_index('ix_resident_report_neighbour')
        batch_op.drop_index('ix_resident_report_handler')
        batch_op.drop_index('ix_resident_report_device')
        batch_op.drop_index('ix_resident_report_address')

    op.drop_table('resident_report')
