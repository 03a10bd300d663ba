"""Unique strings the canary tests plant in private fields; none may reach a public page, cache entry or API answer."""

# Planted through the lifecycle by both the public-page and the Open311 canary worlds.
CANARIES = {
    "leader_name": "金丝雀邻长",
    "leader_mobile": "13911112222",
    "group_name": "金丝雀组长",
    "resident_name": "金丝雀居民",
    "resident_phone": "13987654321",
    "title": "金丝雀标题",
    "description": "金丝雀描述",
    "place_detail": "金丝雀门牌",
    "internal": "金丝雀内部",
    "comment": "金丝雀评论",
    "callback": "金丝雀回访",
    "escalation": "金丝雀上报",
    "resolve": "金丝雀办结",
    # A resident's own report to their 邻长 (services/residents/reports.py): its words and call-back phone.
    "report_text": "金丝雀居民反映",
    "report_phone": "13966665555",
}
# The one text that is meant to be public.
PUBLIC_UPDATE = "公开进展：施工队已进场"
