"""The console's view of what lives on other nodes: two real node processes (the first on
PostgreSQL when configured), each with its own SMTP sink, peered both ways; SingCERT is
homed on node a, MyCERT on node b. Pages are checked with axe like the others.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from playwright.sync_api import Browser, expect

from tests.coordinate.conftest import Sink
from tests.federation.cluster import Member, cluster
from tests.server import free_port
from tests.web.conftest import PASSWORD, Visitor

ORGS = {"a": ("SingCERT", "SG", "sg-liaison"), "b": ("MyCERT", "MY", "my-liaison")}


@dataclass
class Pair:
    m: dict[str, Member]
    ident: dict[str, str]
    auth: dict[str, dict[str, str]]

    def api(self, node: str, method: str, path: str, **kw: Any) -> Any:
        member = self.m[node]
        url = f"{member.url}/api/v1{path}"
        return member.http.request(method, url, headers=self.auth[node], **kw)


def _until(what: str, found: Callable[[], Any]) -> Any:
    """Wait for the nodes' couriers (the push path) to carry a message across."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        value = found()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"never arrived: {what}")


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pair]:
    sink = Sink(port=free_port())
    controller = Controller(sink, hostname="127.0.0.1", port=sink.port)
    controller.start()
    try:
        with cluster(
            tmp_path_factory.mktemp("remote"),
            ["a", "b"],
            [("a", "b")],
            smtp_port=str(sink.port),
            coordination_interval="0.2",
        ) as members:
            ident, auth = {}, {}
            for name, (org, state, user) in ORGS.items():
                accounts = members[name].node.accounts
                ident[name] = accounts.add_org(None, org, "national-cert", state).identity_id
                accounts.add_user(None, user, org, "liaison", PASSWORD)
                token = accounts.create_token(None, org, "liaison", "t", None).plaintext
                auth[name] = {"Authorization": f"Bearer {token}"}
            members["a"].sync("b")  # each node learns the other's organisations
            members["b"].sync("a")
            yield Pair(members, ident, auth)
    finally:
        controller.stop()


def _visitor(browser: Browser, base: str, username: str) -> Visitor:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(30_000)
    v = Visitor(context, context.new_page(), base)
    v.page.on(
        "console",
        lambda m: v.csp_errors.append(m.text) if "Content Security Policy" in m.text else None,
    )
    v.sign_in(username)
    return v


def _counts(v: Visitor) -> str:
    page = v.visit("/", f"overview-across-{v.base[-5:]}")
    return page.locator("#across-counts").inner_text()


def test_remote_contact_case_and_check_pages(browser: Browser, pair: Pair) -> None:
    body = {
        "kind": "24-7-desk",
        "name": "MyCERT regional desk",
        "email": "desk@mycert.example",
        "languages": ["en", "ms"],
        "timezone": "Asia/Kuala_Lumpur",
        "federation": True,
    }
    assert pair.api("b", "POST", "/contacts", json=body).status_code == 201
    copy = _until(
        "MyCERT's contact at a",
        lambda: [c for c in pair.api("a", "GET", "/contacts").json() if c["home_node"]],
    )[0]
    b_id = pair.m["b"].node.key.node_id
    assert copy["home_node"] == b_id

    sg = _visitor(browser, pair.m["a"].url, "sg-liaison")
    try:
        counts = _counts(sg)
        assert "Remote contacts: 1" in counts and "Open cases with other nodes: 0" in counts

        # The remote contact: listed as such, named with its home node, read-only.
        page = sg.visit("/directory?home=remote", "directory-remote")
        row = page.locator("tbody tr")
        expect(row).to_have_count(1)
        expect(row).to_contain_text("MyCERT regional desk")
        expect(row).to_contain_text(f"home node b ({b_id[:8]})")
        local = sg.visit("/directory?home=local", "directory-local").locator("main")
        expect(local).to_contain_text("No contacts you may see match.")
        page = sg.visit(f"/directory/{copy['id']}", "contact-remote")
        facts = page.locator(".facts")
        expect(facts).to_contain_text(f"b ({b_id[:8]}) (a read-only copy: changed there)")
        expect(facts).to_contain_text("en, ms")

        # The remote case: filed at a to MyCERT, acted on at b, its state shown back at a.
        request = {
            "kind": "assistance",
            "title": "Port operator ransomware",
            "recipients": [pair.ident["b"]],
            "urgency": "critical",
            "incident_category": "malicious-code",
            "sector": "transport",
            "asks": ["technical-assistance"],
        }
        filed = pair.api("a", "POST", "/requests", json=request)
        assert filed.status_code == 201, filed.text
        at_a = filed.json()["items"][0]
        at_b = _until(
            "the request at b",
            lambda: [
                r
                for r in pair.api("b", "GET", "/requests?box=inbox").json()["items"]
                if r["case"] == at_a["case"]
            ],
        )[0]
        page = sg.visit(f"/requests/{at_a['id']}", "request-remote-requester")
        facts = page.locator(".facts").first
        expect(facts).to_contain_text(f"recipient: b ({b_id[:8]})")
        expect(facts).to_contain_text("delivered")
        page = sg.visit("/requests?box=outbox", "requests-outbox-remote")
        expect(page.locator("tr", has_text="Port operator ransomware")).to_contain_text(
            f"home node b ({b_id[:8]})"
        )

        my = _visitor(browser, pair.m["b"].url, "my-liaison")
        try:
            page = my.visit(f"/requests/{at_b['id']}", "request-remote-recipient")
            a_id = pair.m["a"].node.key.node_id
            expect(page.locator(".facts").first).to_contain_text(
                f"requester: a ({a_id[:8]}); recipient: this node"
            )
            page.click("button:text('Acknowledge')")
            expect(page.locator(".facts").first).to_contain_text("acknowledged")
            my.check("request-remote-acknowledged")
            assert "Open cases with other nodes: 1" in _counts(my)
        finally:
            my.context.close()

        _until(
            "the acknowledgement at a",
            lambda: (
                pair.api("a", "GET", f"/requests/{at_a['id']}").json()["state"] == "acknowledged"
            ),
        )
        page = sg.visit(f"/requests/{at_a['id']}", "request-remote-acknowledged-at-a")
        expect(page.locator(".facts").first).to_contain_text("acknowledged")

        # A check from a over the remote contact: waiting on b, shown by home node.
        deadline = (datetime.now(UTC) + timedelta(days=1)).isoformat()
        started = pair.api("a", "POST", "/checks", json={"title": "Ping", "deadline": deadline})
        assert started.status_code == 201, started.text
        assert started.json()["targets"] == []  # b mails its own desk, with a link to b
        counts = _counts(sg)
        assert "Open cases with other nodes: 1" in counts
        assert "Checks awaiting other nodes: 1" in counts
        page = sg.visit(f"/checks/{started.json()['id']}", "check-remote")
        results = page.locator("#results")
        expect(results).to_contain_text("0 of 1")
        expect(results.locator("table", has_text="By home node")).to_contain_text(f"b ({b_id[:8]})")
        expect(results).to_contain_text(f"home node b ({b_id[:8]}), which checks it")
    finally:
        sg.context.close()
