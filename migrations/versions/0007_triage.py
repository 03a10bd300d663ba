"""Triage: priority, assignment state, rejection reasons, response templates, followers,
the organisations' communities and the audit log

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

REJECT_REASONS = (
    ("不属于社区治理范围", "Not a matter for community governance"),
    ("属于私人纠纷，建议通过调解或诉讼解决", "A private dispute: mediation or the courts"),
    ("已有明确的责任单位和处理渠道", "Already has a responsible party and channel"),
    ("信息不全，无法核实", "Not enough information to verify"),
    ("经核实问题不存在", "Checked: the problem does not exist"),
)
TEMPLATES = (
    (None, "acknowledged", "已受理", "您反映的问题已受理，我们将尽快安排处理，请耐心等待。"),
    (None, "acknowledged", "已派单", "已派单至责任单位，预计X日内处理，处理进展将在此公布。"),
    (None, "in_progress", "处理中", "责任单位已接单，正在处理中，预计X日内完成。"),
    (None, "in_progress", "需协调", "该问题需多方协调，社区正在联系相关单位，进展将及时公布。"),
    (None, "resolved", "已办结", "问题已处理完毕，邻长将进行回访，如仍有问题请及时反映。"),
    ("road", "in_progress", "道路施工", "道路修复已纳入施工计划，施工期间请注意绕行，预计X日内完工。"),
    ("lighting", "in_progress", "路灯维修", "已安排电工检修路灯，预计X日内恢复照明。"),
    ("fire", "in_progress", "消防整改", "消防设施整改已由物业公司实施，预计X日内完成验收。"),
)


def upgrade():
    op.create_table(
        "reject_reason",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name_zh", sa.String(length=60), nullable=False),
        sa.Column("name_en", sa.String(length=80), nullable=False),
        sa.Column("sort", sa.Integer(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reject_reason")),
    )
    op.create_table(
        "response_template",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("category_id", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=True),
        sa.Column("title", sa.String(length=40), nullable=False),
        sa.Column("body", sa.String(length=500), nullable=False),
        sa.Column("sort", sa.Integer(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["category_id"], ["category.id"], name=op.f("fk_response_template_category_id_category")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_response_template")),
    )
    op.create_table(
        "organisation_community",
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.Column("community_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisation.id"],
            name=op.f("fk_organisation_community_organisation_id_organisation"),
        ),
        sa.ForeignKeyConstraint(
            ["community_id"], ["node.id"], name=op.f("fk_organisation_community_community_id_node")
        ),
        sa.PrimaryKeyConstraint("organisation_id", "community_id", name=op.f("pk_organisation_community")),
    )
    op.create_index(
        op.f("ix_organisation_community_community_id"), "organisation_community", ["community_id"], unique=False
    )
    op.create_table(
        "issue_follower",
        sa.Column("issue_id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["issue_id"], ["issue.id"], name=op.f("fk_issue_follower_issue_id_issue")),
        sa.ForeignKeyConstraint(
            ["person_id"], ["person.id"], name=op.f("fk_issue_follower_person_id_person"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("issue_id", "person_id", name=op.f("pk_issue_follower")),
    )
    op.create_index(op.f("ix_issue_follower_person_id"), "issue_follower", ["person_id"], unique=False)
    op.create_table(
        "audit_entry",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("action", sa.String(length=24), nullable=False),
        sa.Column("issue_id", sa.Integer(), nullable=True),
        sa.Column("community_id", sa.Integer(), nullable=True),
        sa.Column("street_id", sa.Integer(), nullable=True),
        sa.Column("detail", sa.String(length=500), nullable=False),
        sa.Column("batch", sa.String(length=32), nullable=True),
        sa.ForeignKeyConstraint(["actor_id"], ["person.id"], name=op.f("fk_audit_entry_actor_id_person")),
        sa.ForeignKeyConstraint(["issue_id"], ["issue.id"], name=op.f("fk_audit_entry_issue_id_issue")),
        sa.ForeignKeyConstraint(["community_id"], ["node.id"], name=op.f("fk_audit_entry_community_id_node")),
        sa.ForeignKeyConstraint(["street_id"], ["node.id"], name=op.f("fk_audit_entry_street_id_node")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_entry")),
    )
    op.create_index("ix_audit_entry_community", "audit_entry", ["community_id", "id"], unique=False)
    op.create_index("ix_audit_entry_street", "audit_entry", ["street_id", "id"], unique=False)
    op.create_index("ix_audit_entry_actor", "audit_entry", ["actor_id", "id"], unique=False)
    op.create_index(op.f("ix_audit_entry_at"), "audit_entry", ["at"], unique=False)
    op.create_index(op.f("ix_audit_entry_issue_id"), "audit_entry", ["issue_id"], unique=False)
    with op.batch_alter_table("issue", schema=None) as batch_op:
        batch_op.add_column(sa.Column("priority", sa.String(length=8), server_default="normal", nullable=False))
        batch_op.add_column(sa.Column("assignment_state", sa.String(length=12), nullable=True))
        batch_op.add_column(sa.Column("assigned_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("accepted_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("reject_reason_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_issue_reject_reason_id_reject_reason"), "reject_reason", ["reject_reason_id"], ["id"]
        )
        batch_op.create_check_constraint(op.f("ck_issue_priority"), "priority IN ('high','normal','low')")
        batch_op.create_check_constraint(
            op.f("ck_issue_assignment_state"),
            "assignment_state IS NULL OR (assignment_state IN ('pending','accepted') AND assignee_org_id IS NOT NULL)",
        )
    # Issues already handed to a party before this migration count as accepted (they were being worked on).
    op.execute("UPDATE issue SET assignment_state = 'accepted' WHERE assignee_org_id IS NOT NULL")

    reason = sa.table(
        "reject_reason", sa.column("name_zh"), sa.column("name_en"), sa.column("sort"), sa.column("active")
    )
    op.bulk_insert(
        reason,
        [
            {"name_zh": zh, "name_en": en, "sort": i * 10, "active": True}
            for i, (zh, en) in enumerate(REJECT_REASONS, 1)
        ],
    )
    bind = op.get_bind()
    codes = dict(bind.execute(sa.text("SELECT code, id FROM category")).all())
    template = sa.table(
        "response_template",
        sa.column("category_id"),
        sa.column("status"),
        sa.column("title"),
        sa.column("body"),
        sa.column("sort"),
        sa.column("active"),
    )
    rows = [
        {"category_id": codes.get(code), "status": status, "title": title, "body": body, "sort": i * 10, "active": True}
        for i, (code, status, title, body) in enumerate(TEMPLATES, 1)
        if code is None or code in codes
    ]
    op.bulk_insert(template, rows)


def downgrade():
    with op.batch_alter_table("issue", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_issue_assignment_state"), type_="check")
        batch_op.drop_constraint(op.f("ck_issue_priority"), type_="check")
        batch_op.drop_constraint(batch_op.f("fk_issue_reject_reason_id_reject_reason"), type_="foreignkey")
        batch_op.drop_column("reject_reason_id")
        batch_op.drop_column("accepted_at")
        batch_op.drop_column("assigned_at")
        batch_op.drop_column("assignment_state")
        batch_op.drop_column("priority")
    op.drop_table("audit_entry")
    op.drop_table("issue_follower")
    op.drop_table("organisation_community")
    op.drop_table("response_template")
    op.drop_table("reject_reason")
