"""The privacy pages in a real browser, checked with axe: the preview of what a
destination would receive, and the transfer log."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, expect

from accord.domain.scope import Scope
from accord.domain.tlp import TLP
from accord.exchange.service import ShareRequest
from accord.node import Node
from accord.privacy.capability import PRIVACY
from accord.settings import Settings
from accord.store.privacy import NewTransfer, PrivacyRepository
from tests.builders import STAMP, principal
from tests.conftest import migrated_sqlite
from tests.server import running_node
from tests.web.conftest import PASSWORD, Visitor

NOTE = f"note--{uuid.uuid4()}"


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    workdir = tmp_path_factory.mktemp("privacy-console")
    url = migrated_sqlite(workdir, "node.db")
    setup = Node.open(Settings(database_url=url, _env_file=None))  # type: ignore[call-arg]
    sg = setup.accounts.add_org(None, "SingCERT", "national-cert", "SG")
    setup.accounts.add_user(None, "sg-admin", "SingCERT", "admin", PASSWORD)
    note = {
        "type": "note",
        "spec_version": "2.1",
        "id": NOTE,
        "created": STAMP,
        "modified": STAMP,
        "content": "Victim bob.lim@example.sg called +65 6123 4567; NRIC S1234567D.",
        "object_refs": [f"indicator--{uuid.uuid4()}"],
    }
    setup.exchange.ingest(
        principal(setup, sg), note, ShareRequest(tlp=TLP.GREEN, scope=Scope.FEDERATION)
    )
    PRIVACY.service(setup).add_rule(None, "MY", "*", "pseudonymise", "asean-mcc", "MCC module")
    PrivacyRepository(setup.engine).record(
        [
            NewTransfer(
                "peer:mycert-node",
                None,
                sg.id,
                NOTE,
                STAMP,
                "pseudonymise",
                "asean-mcc",
                1,
                [("content", "email"), ("content", "phone"), ("content", "sg-nric")],
                "{}",
            )
        ],
        setup.clock(),
    )
    setup.close()
    with running_node(workdir, database_url=url) as (address, _env):
        yield address


@pytest.fixture
def admin(browser: Browser, base: str) -> Iterator[Visitor]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(30_000)
    v = Visitor(context, context.new_page(), base)
    v.page.on(
        "console",
        lambda m: v.csp_errors.append(m.text) if "Content Security Policy" in m.text else None,
    )
    v.sign_in("sg-admin")
    yield v
    context.close()


def test_preview_and_transfer_log_pages(admin: Visitor) -> None:
    page = admin.visit("/privacy", "privacy-empty")
    expect(page.get_by_role("cell", name="pseudonymise")).to_be_visible()  # the rules
    page.fill("#object", NOTE)
    page.fill("#state", "MY")
    page.click("button:text-is('Preview')")
    admin.check("privacy-preview-my")
    expect(page.get_by_text("Rule: pseudonymise")).to_be_visible()
    expect(page.get_by_role("cell", name="sg-nric")).to_be_visible()
    assert "bob.lim@example.sg" not in page.locator("pre").inner_text()
    page.fill("#state", "TH")
    page.click("button:text-is('Preview')")
    admin.check("privacy-preview-th")
    expect(page.get_by_text("no rule for this destination")).to_be_visible()
    page.fill("#object", "note--nope")
    page.click("button:text-is('Preview')")
    admin.check("privacy-preview-missing")
    expect(page.get_by_role("alert")).to_contain_text("no object")

    page = admin.visit("/privacy/transfers", "privacy-transfers")
    expect(page.get_by_role("cell", name="peer:mycert-node")).to_be_visible()
    expect(page.get_by_role("cell", name="asean-mcc")).to_be_visible()
    assert "bob.lim" not in page.content()
