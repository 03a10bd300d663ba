"""Browser fixtures: the test app served on a real port, driven by headless Chromium as a 360 px phone.

The `app` fixture of tests/conftest.py is parametrized over SQLite and PostgreSQL; each browser flow runs on
one of them (pytest_generate_tests below shares the flows out). Chromium is Debian's /usr/bin/chromium (no
downloads, ever); when it is missing the tests fail with a message saying so — they never skip.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import threading
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from werkzeug.serving import make_server

from tests.builders import PASSWORD
from tests.conftest import ENGINES


@pytest.hookimpl(tryfirst=True)
def pytest_generate_tests(metafunc):
    """Each browser flow runs on one of the engines, the flows shared out between them by name.

    A browser flow tests what a person meets (pages, scripts, the outbox, layout), and the server code it
    drives is tested on both engines by the rest of the suite; running every flow twice doubled the suite's
    slowest third for nothing the other tests do not already check. Shared out by a hash of the test's name,
    both engines serve about half of the flows, and a flow always lands on the same engine.
    """
    if len(ENGINES) < 2 or "engine_name" not in metafunc.fixturenames:
        return
    engine = ENGINES[zlib.crc32(metafunc.definition.nodeid.encode()) % len(ENGINES)]
    metafunc.definition.add_marker(pytest.mark.parametrize("engine_name", [engine], indirect=True, scope="session"))


CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
ARTIFACTS = Path(__file__).resolve().parent.parent / "artifacts"
PHONE_WIDTH, PHONE_HEIGHT = 360, 740
A4 = {"width": 794, "height": 1123}  # CSS pixels of an A4 sheet at 96 dpi
TARGET = 44  # CSS px both ways: the smallest thing a thumb should have to tap (WCAG 2.5.5)

# One evaluation per page: what a person on a phone would stumble over, as short readable lines (the phone pass
# and every flow test's check()).
LAYOUT_PROBLEMS = r"""(minimum) => {
  const problems = [];
  const label = (el) => (el.innerText || el.value || el.name || el.getAttribute('aria-label') || '')
      .trim().replace(/\s+/g, ' ').slice(0, 30);
  const shown = (el) => {
    const style = getComputedStyle(el);
    const box = el.getBoundingClientRect();
    return box.width > 0 && box.height > 0 && style.visibility !== 'hidden';
  };
  const overflow = document.documentElement.scrollWidth - window.innerWidth;
  if (overflow > 0) {
    const wide = [...document.querySelectorAll('body *')]
      .filter((el) => shown(el) && el.getBoundingClientRect().right > window.innerWidth + 1
              && !el.closest('.scroll-x, .table-scroll'))
      .slice(-3).map((el) => `${el.tagName.toLowerCase()}.${[...el.classList].join('.')}`);
    problems.push(`${overflow}px wider than the screen (${wide.join(', ')})`);
  }
  // A link inside a sentence is exempt (WCAG's inline exception): its block holds a sentence besides its
  // links. "下载：CSV · Excel" is not a sentence: those links are targets of their own.
  const inline = (el) => {
    if (el.tagName !== 'A' || el.matches('.button')) return false;
    const block = el.parentElement.closest('p, li, td, dd, label, .muted, small');
    if (!block) return false;
    let words = block.innerText;
    for (const link of block.querySelectorAll('a, button')) words = words.replace(link.innerText, '');
    return words.replace(/[\s·:：,，、|()（）]/g, '').length >= 10;
  };
  const taps = document.querySelectorAll(
    'a[href], button, input:not([type=hidden]), select, textarea, summary, [role=button]');
  for (const el of taps) {
    let target = el;
    if (el.matches('input[type=checkbox], input[type=radio]')) target = el.closest('label') || el;
    // A row link whose ::after covers its row (.list li > a): the row is the target.
    if (getComputedStyle(el, '::after').position === 'absolute' && el.offsetParent) target = el.offsetParent;
    if (!shown(target) || inline(el)) continue;
    const box = target.getBoundingClientRect();
    if (box.height < minimum - 0.5 || box.width < minimum - 0.5) {
      const where = el.parentElement.closest('[class], [id]');
      const place = where ? ` in ${where.tagName.toLowerCase()}${where.id ? '#' + where.id : ''}`
                            + `${[...where.classList].map((c) => '.' + c).join('')}` : '';
      problems.push(`small target ${el.tagName.toLowerCase()} "${label(el)}" `
                    + `${Math.round(box.width)}×${Math.round(box.height)}${place}`);
    }
  }
  for (const el of document.querySelectorAll(
      'input:not([type=hidden]):not([type=checkbox]):not([type=radio]):not([type=submit])'
      + ':not([type=button]):not([type=file]), select, textarea')) {
    if (!shown(el)) continue;
    const size = parseFloat(getComputedStyle(el).fontSize);
    if (size < 16) problems.push(`field "${el.name || el.id}" at ${size}px (under 16px the phone zooms)`);
  }
  return [...new Set(problems)];
}"""


@dataclass
class LiveServer:
    """The app answering on 127.0.0.1:<port> from a background thread."""

    host: str
    port: int

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def __call__(self, path: str = "/") -> str:
        """The absolute address of a path on this server."""
        return self.url + path


@pytest.fixture
def live_server(app):
    """Serve the test app (with its emptied database) on a free port for the length of one test."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="live-server", daemon=True)
    thread.start()
    try:
        yield LiveServer("127.0.0.1", server.server_port)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def _chromium_problem() -> str | None:
    """Why Chromium cannot be used here (no binary, no Chinese font), or None."""
    path = CHROMIUM if os.path.isabs(CHROMIUM) else shutil.which(CHROMIUM)
    if not path or not os.path.exists(path):
        return (
            f"Chromium not found at {CHROMIUM!r}. The browser tests need Debian's chromium package "
            "(apt-get install chromium fonts-wqy-microhei) or CHROMIUM_PATH pointing at a Chromium binary. "
            "Do not run `playwright install`; these tests never skip."
        )
    fc_list = shutil.which("fc-list")
    if fc_list:
        found = subprocess.run([fc_list, ":lang=zh", "family"], capture_output=True, text=True, check=False).stdout
        if not found.strip():
            return (
                "No Chinese font is installed, so every page would show boxes instead of 汉字 and the screenshots "
                "would be useless: apt-get install fonts-wqy-microhei (or fonts-noto-cjk)."
            )
    return None


@pytest.fixture(scope="session")
def browser():
    """One headless Chromium for the whole run (Playwright's sync API)."""
    problem = _chromium_problem()
    if problem:
        pytest.fail(problem, pytrace=False)
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as err:  # pragma: no cover - the dev requirements install it
        pytest.fail(f"The `playwright` Python package is missing ({err}); install requirements-dev.txt.", pytrace=False)
    playwright = sync_playwright().start()
    try:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    except Exception as err:  # noqa: BLE001 - any launch failure must fail loudly, with the reason
        playwright.stop()
        pytest.fail(f"Chromium at {CHROMIUM!r} did not start: {err}", pytrace=False)
    yield chromium
    chromium.close()
    playwright.stop()


CSP_RE = re.compile(r"Content Security Policy|Refused to (apply|execute|load|connect|frame)", re.I)


@dataclass
class Phone:
    """A page in a 360×740 touch phone, with the checks every visited page must pass."""

    page: object
    server: LiveServer
    prefix: str
    csp_violations: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    foreign_requests: list[str] = field(default_factory=list)
    shots: int = 0

    def new_page(self, between=None):
        """Close this page (as a tab is closed), call between(context), open a fresh page watched the same way."""
        context = self.page.context
        self.page.close()
        if between is not None:
            between(context)
        self.page = context.new_page()
        self.watch()
        return self.page

    def watch(self) -> None:
        """Record CSP violations, script errors and requests leaving the live server, on the current page."""

        def on_console(message):
            if CSP_RE.search(message.text):
                self.csp_violations.append(message.text)

        def on_request(req):
            if not (req.url.startswith(self.server.url) or req.url.startswith(("data:", "about:"))):
                self.foreign_requests.append(req.url)

        self.page.on("console", on_console)
        self.page.on("pageerror", lambda err: self.page_errors.append(str(err)))
        self.page.on("request", on_request)

    def goto(self, path: str):
        """Open a path of the live server; returns Playwright's response."""
        return self.page.goto(self.server(path))

    def tap(self, target) -> None:
        """Tap a link or button (a selector or a locator) and wait for the page it leads to."""
        locator = self.page.locator(target) if isinstance(target, str) else target
        with self.page.expect_navigation():
            locator.tap()

    def log_in(self, mobile: str, password: str = PASSWORD) -> None:
        """Fill the login form (opening it unless it is on screen) and submit it with a tap."""
        if not self.path.startswith("/auth/login"):
            self.goto("/auth/login")
        self.page.fill("#mobile", mobile)
        self.page.fill("#password", password)
        self.tap("main form button[type=submit].primary")

    @property
    def path(self) -> str:
        """The current address without the server part."""
        return self.page.url.removeprefix(self.server.url)

    def shot(self, step: str) -> Path:
        """Save a full-page screenshot as tests/artifacts/<test>-<engine>-<nn>-<step>.png."""
        self.shots += 1
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        target = ARTIFACTS / f"{self.prefix}-{self.shots:02d}-{step}.png"
        self.page.screenshot(path=str(target), full_page=True)
        return target

    def overflow(self, width: int = PHONE_WIDTH) -> int:
        """How many CSS pixels the page is wider than `width` (0 when it fits)."""
        return max(0, self.page.evaluate("document.documentElement.scrollWidth") - width)

    def layout_problems(self, minimum: int = TARGET) -> list[str]:
        """What a person would stumble over on this page: wider than the screen, a tappable thing under
        `minimum` px either way (a link inside a sentence is exempt), a text field under 16 px."""
        return self.page.evaluate(LAYOUT_PROBLEMS, minimum)

    def check(self, step: str) -> Path:
        """Screenshot this step and assert: fits 360 px, 44 px tap targets, 16 px fields, no CSP violation, nothing
        external."""
        target = self.shot(step)
        overflow = self.overflow()
        assert overflow == 0, f"{step}: {self.path} is {overflow}px wider than a 360px phone (see {target.name})"
        self.assert_clean(step)
        problems = self.layout_problems()
        assert not problems, f"{step}: on {self.path}: {problems} (see {target.name})"
        return target

    def check_print(self, step: str, hidden: tuple[str, ...] = (".topbar", ".footer", ".no-print")) -> Path:
        """Screenshot the page as printed on A4 (print media, 794 px wide): it fits the paper, `hidden` is not on it."""
        self.page.set_viewport_size(A4)
        self.page.emulate_media(media="print")
        try:
            target = self.shot(step)
            overflow = self.overflow(A4["width"])
            printed = [selector for selector in hidden if self.page.locator(selector).first.is_visible()]
        finally:
            self.page.emulate_media(media="screen")
            self.page.set_viewport_size({"width": PHONE_WIDTH, "height": PHONE_HEIGHT})
        assert overflow == 0, f"{step}: {self.path} printed is {overflow}px wider than A4 (see {target.name})"
        assert not printed, f"{step}: {printed} would be printed on paper (see {target.name})"
        self.assert_clean(step)
        return target

    def assert_clean(self, step: str) -> None:
        """No CSP violation, script error or external request so far."""
        assert not self.csp_violations, f"{step}: CSP violations: {self.csp_violations}"
        assert not self.page_errors, f"{step}: script errors: {self.page_errors}"
        assert not self.foreign_requests, f"{step}: the page loaded external resources: {self.foreign_requests}"


@pytest.fixture
def phone(browser, live_server, request, engine_name):
    """A fresh 360×740 touch phone (zh-CN, 2× pixels) with a page open; closed after the test.

    Indirect parametrization passes more context options, e.g. {"service_workers": "block"}.
    """
    context = browser.new_context(
        viewport={"width": PHONE_WIDTH, "height": PHONE_HEIGHT},
        device_scale_factor=2,
        is_mobile=True,
        has_touch=True,
        locale="zh-CN",
        **getattr(request, "param", {}),
    )
    context.set_default_timeout(10_000)
    page = context.new_page()
    name = re.sub(r"[^A-Za-z0-9_]+", "_", request.node.originalname or request.node.name)
    device = Phone(page=page, server=live_server, prefix=f"{name}-{engine_name}")
    for old in ARTIFACTS.glob(f"{device.prefix}-*.png"):
        old.unlink()
    device.watch()
    yield device
    context.close()
    # A violation after the last check still fails the run (as a teardown error naming it).
    assert not device.csp_violations, f"CSP violations: {device.csp_violations}"
    assert not device.page_errors, f"script errors: {device.page_errors}"
