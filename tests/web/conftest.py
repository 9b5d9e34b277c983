"""A real node process with a small region, headless Debian Chromium driven by Playwright,
axe-core for accessibility, and screenshots of every page visited.

The browser is /usr/bin/chromium (``make test`` installs the Debian package through
``scripts/test-deps``); axe-core comes from npm (``make test`` runs ``npm ci``).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from playwright.sync_api import Browser, BrowserContext, Page, expect, sync_playwright

from accord.coordinate.contacts import ContactInput
from accord.node import Node
from accord.settings import Settings
from tests.conftest import migrated_sqlite
from tests.coordinate.conftest import Sink
from tests.server import free_port, running_node

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
OUTPUT = Path(os.environ.get("ACCORD_TEST_OUTPUT", ROOT / "var" / "test-output")) / "web"
PASSWORD = "correct horse battery staple"
USERS = {
    "sg-admin": ("SingCERT", "admin"),
    "sg-analyst": ("SingCERT", "analyst"),
    "sg-liaison": ("SingCERT", "liaison"),
    "my-liaison": ("MyCERT", "liaison"),
    "th-analyst": ("ThaiCERT", "analyst"),
}


@dataclass
class Region:
    base: str
    smtp: Sink
    identities: dict[str, str]
    tokens: dict[str, str]


@pytest.fixture(scope="module")
def region(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Region]:
    workdir = tmp_path_factory.mktemp("console")
    url = migrated_sqlite(workdir, "node.db")
    sink = Sink(port=free_port())
    controller = Controller(sink, hostname="127.0.0.1", port=sink.port)
    controller.start()
    setup = Node.open(Settings(database_url=url, _env_file=None))  # type: ignore[call-arg]
    identities = {}
    for name, state in (("SingCERT", "SG"), ("MyCERT", "MY"), ("ThaiCERT", "TH")):
        identities[name] = setup.accounts.add_org(None, name, "national-cert", state).identity_id
    setup.accounts.add_group(None, "sg-my-bilateral", "SG–MY bilateral")
    for member in ("SingCERT", "MyCERT"):
        setup.accounts.set_member(None, "sg-my-bilateral", member, True)
    for username, (org, role) in USERS.items():
        setup.accounts.add_user(None, username, org, role, PASSWORD)
    for org, address in (("SingCERT", "desk@singcert.example"), ("MyCERT", "desk@mycert.example")):
        setup.coordination.directory.add(
            None,
            org,
            ContactInput(
                kind="24-7-desk",
                name=f"{org} duty desk",
                email=address,
                languages=("en",),
                timezone="Asia/Singapore",
            ),
        )
    tokens = {
        org: setup.accounts.create_token(None, org, "analyst", "browser tests", None).plaintext
        for org in identities
    }
    setup.close()
    try:
        with running_node(
            workdir,
            database_url=url,
            smtp_port=str(sink.port),
            coordination_interval="0.2",
        ) as (base, _env):
            yield Region(base, sink, identities, tokens)
    finally:
        controller.stop()


expect.set_options(timeout=20_000)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        pytest.fail("the browser tests need Debian's Chromium: apt-get install chromium")
    with sync_playwright() as pw:
        launched = pw.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        yield launched
        launched.close()


@dataclass
class Visitor:
    """One person's browser: visits pages, checking each with axe and photographing it."""

    context: BrowserContext
    page: Page
    base: str
    csp_errors: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)

    def visit(self, path: str, shot: str) -> Page:
        self.page.goto(self.base + path)
        self.check(shot)
        return self.page

    def check(self, shot: str) -> None:
        """No serious or critical axe violation, no CSP violation; a full-page screenshot."""
        self.page.wait_for_load_state("networkidle")
        OUTPUT.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(OUTPUT / f"{shot}.png"), full_page=True)
        if not AXE.exists():
            pytest.fail("axe-core is missing: run 'npm ci' (make test does)")
        if not self.page.evaluate("() => typeof axe !== 'undefined'"):
            self.page.evaluate(AXE.read_text())
        result: dict[str, Any] = self.page.evaluate(
            "async () => await axe.run(document, {resultTypes: ['violations']})"
        )
        bad = [
            f"{v['id']} ({v['impact']}): {[n['target'] for n in v['nodes']][:3]}"
            for v in result["violations"]
            if v["impact"] in ("serious", "critical")
        ]
        assert bad == [], f"{shot}: {bad}"
        assert self.csp_errors == [], f"{shot}: {self.csp_errors}"
        assert self.dialogs == [], f"{shot}: a script ran: {self.dialogs}"

    def sign_in(self, username: str) -> None:
        self.page.goto(self.base + "/signin")
        self.page.fill("#username", username)
        self.page.fill("#password", PASSWORD)
        self.page.click("button:text-is('Sign in')")
        self.page.wait_for_url(re.compile(r".*/$"))

    def csrf(self) -> str:
        value = self.page.locator("input[name=csrf]").first.get_attribute("value")
        assert value
        return value


@pytest.fixture
def visitor_for(browser: Browser, region: Region) -> Iterator[Any]:
    opened: list[BrowserContext] = []

    def make(username: str | None = None, *, phone: bool = False) -> Visitor:
        options: dict[str, Any] = {"viewport": {"width": 1280, "height": 900}}
        if phone:
            options = {"viewport": {"width": 390, "height": 844}, "is_mobile": True}
        context = browser.new_context(**options)
        # Generous waits: CI machines run the rest of the suite beside the browser.
        context.set_default_timeout(30_000)
        opened.append(context)
        v = Visitor(context, context.new_page(), region.base)
        v.page.on(
            "console",
            lambda m: v.csp_errors.append(m.text) if "Content Security Policy" in m.text else None,
        )
        v.page.on("dialog", lambda d: (v.dialogs.append(d.message), d.dismiss()))
        if username:
            v.sign_in(username)
        return v

    yield make
    for context in opened:
        context.close()
