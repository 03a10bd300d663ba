"""A notice down the tree in the demo world: the district's 防汛 notice to every 片长, 组长 and 邻长, sent five
hours ago, asking for a one-tap reply. Each 街镇 has read and answered it to a different degree, so the
sender's page shows rates that differ by place and a list of people still to call; the demo's own 片长, 组长 and
邻长 have not opened it yet (it waits in their inbox and on their home card).

It goes out as a real notice does (services/outreach/notices.py: the notice row, then the fan-out's
INSERT … SELECTs); only the receipts are written in bulk, by a stable hash of the person, at a share per 街镇.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select, update

from ..extensions import db
from ..models import NOTICE_ROLES, Node, Notice, NoticeRecipient, Notification
from ..services.outreach import notices
from .context import DemoContext

TITLE = "防汛紧急通知：今晚至明日有强降雨"
BODY = (
    "区防汛指挥部通知：今晚20时至明日20时我区有大到暴雨，局部大暴雨。\n"
    "请各位片长、组长、邻长立即排查本辖区低洼地带、地下车库、老旧房屋和在建工地，"
    "提醒独居老人和行动不便的居民做好准备，发现险情立即上报社区并拨打防汛值班电话。\n"
    "排查完毕请在本通知中一键回复。"
)
REPLY_LABEL = "本辖区已排查，无险情"
SENT_HOURS_AGO = 5


def build_notices(ctx: DemoContext) -> None:
    """Send the 防汛 notice district-wide and record who has read and answered it."""
    sent_at = ctx.now - timedelta(hours=SENT_HOURS_AGO)
    notice = Notice(
        node_id=ctx.district_id,
        sent_by_id=ctx.people["district_admin"],
        title=TITLE,
        body=BODY,
        urgency="urgent",
        reply_kind="confirm",
        reply_label=REPLY_LABEL,
        roles=",".join(NOTICE_ROLES),
        remind_after_hours=12,
        created_at=sent_at,
        recipient_count=0,
    )
    db.session.add(notice)
    db.session.flush()
    notices.fan_out({"notice_id": notice.id})
    notice.fanned_out_at = sent_at
    db.session.execute(update(Notification).where(Notification.notice_id == notice.id).values(created_at=sent_at))
    rng = ctx.rng("notices")
    # A stable pseudo-random draw per person in 0..999, the same on both engines.
    draw = (NoticeRecipient.person_id * 7919 + 13) % 1000
    demo_people = list(ctx.people.values())
    for street_id in sorted(ctx.streets):
        read_share = rng.uniform(0.55, 0.97)
        reply_share = read_share * rng.uniform(0.6, 0.95)
        in_street = NoticeRecipient.node_id.in_(select(Node.id).where(Node.street_id == street_id))
        base = (NoticeRecipient.notice_id == notice.id, in_street, NoticeRecipient.person_id.not_in(demo_people))
        db.session.execute(
            update(NoticeRecipient)
            .where(*base, draw < int(read_share * 1000))
            .values(read_at=sent_at + timedelta(minutes=20 + rng.randrange(90)))
        )
        db.session.execute(
            update(NoticeRecipient)
            .where(*base, draw < int(reply_share * 1000))
            .values(replied_at=sent_at + timedelta(hours=2), reply=REPLY_LABEL)
        )
    opened = select(NoticeRecipient.person_id).where(
        NoticeRecipient.notice_id == notice.id, NoticeRecipient.read_at.is_not(None)
    )
    db.session.execute(
        update(Notification)
        .where(Notification.notice_id == notice.id, Notification.person_id.in_(opened))
        .values(read_at=sent_at + timedelta(hours=1))
    )
    db.session.flush()
    ctx.counts["notice_recipients"] = notice.recipient_count
    ctx.counts["notice_read"] = db.session.scalar(
        select(func.count())
        .select_from(NoticeRecipient)
        .where(NoticeRecipient.notice_id == notice.id, NoticeRecipient.read_at.is_not(None))
    )
