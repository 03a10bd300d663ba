"""The demo world (演示数据): the whole 望城区 tree at full size, its leaders, places and organisations
(and the communities each serves), the 31 普瑞斯堡 issues and six months of the district's issues with
their timelines, triage (assignments, merges, rejections, priorities), followers and audit log, and the
普瑞斯堡 renovation's money.

`load_demo_world()` (world.py) runs the functions of DEMO_STEPS in order, each receiving one DemoContext
(context.py) that carries the ids later steps need (the 普瑞斯堡 compound, its community, its 片/组/邻,
the demo people, the 普瑞斯堡 issues). The modules:

    context.py    DemoContext: ids, random streams and the bulk inserts every step writes through
    tree.py       the tree, places, organisations and people, and the demo logins
    replay.py     IssueLife: one issue's life replayed with the services' rules, as rows in memory
    pruisburg.py  the 普瑞斯堡 issues as data, and their script clock
    district.py   six months of the district's issues and their stories
    issues.py     the issue step: replays both and writes issues, timelines, audit, followers, inbox
    funding.py    the 普瑞斯堡 renovation: phases, sources, ledger entries
    tree_edits.py a 邻 moved and a 邻 merged by the branch, through the tree-edit service
    world.py      DEMO_STEPS, load_demo_world, demo_loaded
    history.py    up to a million issues on top of the tree, for the capacity benchmarks

Bulk rows go in through Core inserts with ids computed here: the ORM would need a round trip per
node to learn the parent's id, and 40,000 rows must load in seconds on SQLite and PostgreSQL alike.
The issue history (a quarter of a million rows) goes straight through the driver (insert_history).
Nothing here commits: run.py and `flask demo load` commit once when the whole world is built.
"""

from .context import DemoContext, stamps_as_text
from .funding import PROJECT_NAME
from .pruisburg import PRUISBURG_ISSUES
from .replay import EVENT_COLUMNS, ISSUE_COLUMNS
from .tree import (
    DEMO_LOGINS,
    DEMO_PASSWORD,
    DEPARTMENT_REACH,
    DEPARTMENTS,
    DEVELOPER,
    DISTRICT_NAME,
    OTHER_PROPERTY_COMPANY,
    PROPERTY_COMPANY,
    PRUISBURG,
)
from .world import DEMO_STEPS, META_KEY, demo_loaded, load_demo_world

__all__ = [
    "DEMO_LOGINS",
    "DEMO_PASSWORD",
    "DEMO_STEPS",
    "DEPARTMENTS",
    "DEPARTMENT_REACH",
    "DEVELOPER",
    "DISTRICT_NAME",
    "EVENT_COLUMNS",
    "ISSUE_COLUMNS",
    "META_KEY",
    "OTHER_PROPERTY_COMPANY",
    "PROJECT_NAME",
    "PROPERTY_COMPANY",
    "PRUISBURG",
    "PRUISBURG_ISSUES",
    "DemoContext",
    "demo_loaded",
    "load_demo_world",
    "stamps_as_text",
]
