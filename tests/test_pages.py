"""The page-reading helpers (tests/pages.py) read what a person sees, on a page shaped like the app's."""

from __future__ import annotations

from tests.pages import (
    badge_count,
    flash_messages,
    form_errors,
    issue_card,
    issue_cards,
    nav_links,
    table_rows,
    text_of,
    texts_of,
)

PAGE = """<!doctype html>
<html><body>
<header><nav class="topnav">
  <a href="/issues/">问题</a>
  <a href="/inbox/" class="inbox-link">消息 <span class="count">3</span><span class="sr-only">条未读</span></a>
</nav></header>
<p class="flash flash-success" role="status">已保存</p>
<form><div class="field has-error"><label>标题</label><input name="title">
  <p class="error" id="title-error">请填写标题</p></div></form>
<p class="muted count-line">2 个问题</p>
<ul class="issue-cards">
  <li class="issue-card is-overdue"><a href="/issues/1">
    <span class="issue-top"><span class="ref">WC-2026-000001</span>
      <span class="badge status status-reported">已上报</span> <span class="badge overdue">超时</span></span>
    <span class="issue-title">路灯
      不亮</span></a></li>
  <li class="issue-card"><a href="/issues/2">
    <span class="issue-top"><span class="ref">WC-2026-000002</span>
      <span class="badge status status-resolved">已解决</span></span>
    <span class="issue-title">路面破损</span></a></li>
</ul>
<table class="data"><thead><tr><th>单位</th><th>已派</th></tr></thead>
  <tbody><tr><td><b>金湾物业</b></td><td> 3 </td></tr></tbody></table>
</body></html>"""


def test_issue_cards_in_page_order_with_what_each_shows():
    first, second = issue_cards(PAGE)
    assert first == {
        "reference": "WC-2026-000001",
        "title": "路灯 不亮",  # whitespace collapsed, as a browser shows it
        "status": "已上报",
        "badges": ["已上报", "超时"],
        "marks": {"status", "status-reported", "overdue"},
        "classes": {"issue-card", "is-overdue"},
        "text": "WC-2026-000001 已上报 超时 路灯 不亮",
        "href": "/issues/1",
    }
    assert (second["reference"], second["status"], second["classes"]) == ("WC-2026-000002", "已解决", {"issue-card"})
    assert issue_card(PAGE, "WC-2026-000002")["title"] == "路面破损"
    assert issue_cards("<p>没有问题</p>") == []


def test_messages_errors_tables_links_and_counts():
    assert flash_messages(PAGE) == ["已保存"]
    assert form_errors(PAGE) == ["请填写标题"]
    assert table_rows(PAGE, "table.data") == [["单位", "已派"], ["金湾物业", "3"]]
    assert table_rows(PAGE, "table.data tbody") == [["金湾物业", "3"]]
    assert table_rows(PAGE, "table.missing") == []
    assert nav_links(PAGE, "nav.topnav") == [("问题", "/issues/"), ("消息 3 条未读", "/inbox/")]
    assert badge_count(PAGE, "a.inbox-link") == 3 and badge_count(PAGE, 'a[href="/issues/"]') is None
    assert text_of(PAGE, "p.count-line") == "2 个问题" and text_of(PAGE, "p.missing") == ""
    assert texts_of(PAGE, ".ref") == ["WC-2026-000001", "WC-2026-000002"]
