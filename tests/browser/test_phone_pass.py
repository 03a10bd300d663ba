"""Every page of every role on a 360×740 phone and at a 1280×800 desk, as the people who use them meet them.

The crawler of tests/crawl.py lists the pages each demo account reaches from home (one address per view);
each is then opened in Chromium and must pass what a 60-year-old on a cheap phone needs:

- nothing wider than the screen (no sideways scrolling at 360 px, nor at 1280 px);
- every tappable thing at least 44×44 CSS px (WCAG 2.5.5), except a link inside a sentence;
- text fields at 16 px or more (smaller makes phones zoom in on focus);
- axe-core finds no serious or critical accessibility violation.

Every page is kept as a screenshot at both sizes in tests/artifacts/phone-pass-*.png, to be looked at.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from sqlalchemy import select

from governance import demo
from governance.extensions import db
from governance.models import Compound
from tests.browser.conftest import ARTIFACTS, LAYOUT_PROBLEMS, PHONE_HEIGHT, PHONE_WIDTH, TARGET
from tests.conftest import Auth
from tests.crawl import view_of, walk

pytestmark = pytest.mark.browser

AXE = Path(__file__).resolve().parent / "node_modules" / "axe-core" / "axe.min.js"
DESK = {"width": 1280, "height": 800}
PAGES_PER_LOGIN = 45

AXE_RUN = """async () => {
  const result = await axe.run(document, {resultTypes: ['violations']});
  return result.violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `axe ${v.impact} ${v.id}: ` + v.nodes.slice(0, 3)
      .map((n) => `${n.target.join(' ')} «${(n.html || '').replace(/\\s+/g, ' ').slice(0, 70)}»`).join(' | '));
}"""


@pytest.fixture
def demo_world(app):
    demo.load_demo_world(scale=0.02)
    db.session.commit()


@pytest.fixture(scope="session")
def axe_source() -> str:
    if not AXE.exists():
        pytest.fail(
            f"axe-core is missing ({AXE}): `npm ci --prefix tests/browser` installs it (scripts/test.sh does).",
            pytrace=False,
        )
    return AXE.read_text(encoding="utf-8")


def pages_of(app, login: dict | None) -> list[str]:
    """One address per view that this account (None: a visitor) reaches from its start pages."""
    client = app.test_client()
    if login is None:
        compound = db.session.scalar(select(Compound.id).where(Compound.name == demo.PRUISBURG))
        start = ("/auth/login", "/auth/activate", "/auth/reset", "/p/", f"/p/compound/{compound}")
        start += (f"/p/compound/{compound}/poster", f"/p/search?q={demo.PRUISBURG[:2]}")
    else:
        Auth(client).login(login["mobile"], login["password"])
        start = ("/",)
    return [path for path, _ in walk(client, start, per_view=1, limit=PAGES_PER_LOGIN)]


# The leaders first, so that a view they share with the branch is checked as they see it (the issue page
# with their actions, their 邻's page), then the branch and the district, then a visitor.
ACCOUNTS = [*reversed(demo.DEMO_LOGINS), None]


def shot_name(who: str, size: str, path: str) -> Path:
    view = re.sub(r"[^A-Za-z0-9]+", "_", view_of(path)).strip("_") or "home"
    return ARTIFACTS / f"phone-pass-{who}-{view}-{size}.png"


def measure(page) -> list[str]:
    """The problems on the page as it is open now, at a phone's width: layout, targets, fields, axe-core."""
    return page.evaluate(LAYOUT_PROBLEMS, TARGET) + page.evaluate(AXE_RUN)


def open_as(browser, live_server, login: dict | None, axe_source: str):
    """A 360×740 touch phone with axe-core in every page, logged in as `login` (None: a visitor)."""
    context = browser.new_context(
        viewport={"width": PHONE_WIDTH, "height": PHONE_HEIGHT},
        is_mobile=True,
        has_touch=True,
        locale="zh-CN",
        bypass_csp=True,  # axe-core runs as an injected script; the flow tests check the CSP itself
    )
    context.set_default_timeout(15_000)
    context.add_init_script(axe_source)  # sent once, compiled once: half the cost of adding it to each page
    page = context.new_page()
    if login:
        page.goto(live_server("/auth/login"))
        page.fill("#mobile", login["mobile"])
        page.fill("#password", login["password"])
        with page.expect_navigation():
            page.click("main form button[type=submit].primary")
    return context, page


def test_the_checks_find_what_they_look_for(browser, axe_source):
    """The pass can fail: a page with each fault is reported for each."""
    context = browser.new_context(viewport={"width": PHONE_WIDTH, "height": PHONE_HEIGHT}, bypass_csp=True)
    context.add_init_script(axe_source)
    page = context.new_page()
    page.set_content(
        """<html lang="zh-CN"><head><title>t</title></head><body><main>
        <h1>页面</h1>
        <div style="width: 500px">太宽</div>
        <button style="height: 30px">小按钮</button>
        <p><a href="/x">全部问题</a></p>
        <label for="f">名称</label><input id="f" name="f" style="font-size: 13px">
        <p style="color: #ccc; background: #fff">看不清的字</p>
        <p>一句话里的<a href="/y">链接</a>不算，它在句子中间。</p>
        <p class="downloads">下载：<a href="/a.csv">CSV</a> · <a href="/a.xlsx">Excel</a></p>
        </main></body></html>"""
    )
    found = "\n".join(measure(page))
    context.close()
    assert "wider than the screen" in found
    assert 'small target button "小按钮"' in found
    assert 'small target a "全部问题"' in found
    assert 'field "f" at 13px' in found
    assert "axe serious color-contrast" in found
    assert 'small target a "CSV"' in found, "a row of download links is not a sentence"
    assert '"链接"' not in found, "a link inside a sentence is exempt"


def test_every_page_of_every_role_fits_a_phone_and_a_desk(demo_world, app, browser, live_server, axe_source):
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    for old in ARTIFACTS.glob("phone-pass-*.png"):
        old.unlink()
    problems: dict[str, list[str]] = {}
    checked_views: set[str] = set()
    visited = 0
    for login in ACCOUNTS:
        who = login["key"] if login else "visitor"
        # Each account's home, and every other view once (the first account to reach it).
        paths = [p for p in pages_of(app, login) if p == "/" or view_of(p) not in checked_views]
        checked_views.update(view_of(p) for p in paths)
        context, page = open_as(browser, live_server, login, axe_source)
        for path in paths:
            page.set_viewport_size({"width": PHONE_WIDTH, "height": PHONE_HEIGHT})
            page.goto(live_server(path))
            found = measure(page)
            page.screenshot(path=str(shot_name(who, "360", path)), full_page=True)
            page.set_viewport_size(DESK)
            wide = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
            if wide > 0:
                found.append(f"at 1280px: {wide}px wider than the screen")
            page.screenshot(path=str(shot_name(who, "1280", path)))
            visited += 1
            if found:
                problems[f"{who} {path}"] = found
        context.close()
    assert visited >= 45, f"the crawl reached only {visited} pages"
    assert not problems, "\n".join(
        f"{where}:\n    " + "\n    ".join(lines) for where, lines in sorted(problems.items())
    )
