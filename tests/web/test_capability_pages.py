"""A node built with only some capabilities serves the pages of those, and no others' panels."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from accord.app import create_app
from accord.domain.tlp import TLP
from accord.exchange.capability import EXCHANGE
from accord.exchange.service import ShareRequest
from accord.node import Node
from accord.settings import Settings
from tests.asgi import Client
from tests.builders import indicator, org, principal
from tests.web.test_pages import PASSWORD, _sign_in

OTHER_CAPABILITIES_NAV = ("/directory", "/checks", "/requests", "/peers", "/audit")


@pytest.fixture
def exchange_only(settings: Settings) -> Iterator[Node]:
    opened = Node.open(settings, capabilities=(EXCHANGE,))
    yield opened
    opened.close()


def _signed_in_admin(node: Node) -> tuple[Client, str]:
    """A console session for a node admin (who sees every panel there is), and an object."""
    sg = org(node, "SingCERT")
    node.accounts.add_user(None, "admin", "SingCERT", "admin", PASSWORD)
    doc = indicator("198.51.100.7", creator=sg.identity_id)
    node.exchange.ingest(principal(node, sg), doc, ShareRequest(tlp=TLP.GREEN))
    client = Client(create_app(node=node))
    _sign_in(client, "admin")
    return client, str(doc["id"])


def _nav(html: str) -> list[str]:
    found = re.search(r'<nav aria-label="Main">(.*?)</nav>', html, re.S)
    assert found, "no main navigation"
    return re.findall(r'href="([^"]+)"', found.group(1))


def test_an_exchange_only_node_serves_its_pages_without_the_others_panels(
    exchange_only: Node,
) -> None:
    client, stix_id = _signed_in_admin(exchange_only)
    with client:
        overview = client.get("/")
        assert overview.status_code == 200
        assert "Since your last visit" in overview.text
        assert "<strong>1</strong> new object versions" in overview.text
        for absent in ('id="waiting"', 'id="checks"', 'id="sync"'):
            assert absent not in overview.text
        nav = _nav(overview.text)
        assert "/objects" in nav
        assert not set(OTHER_CAPABILITIES_NAV) & set(nav)

        listing = client.get("/objects")
        assert listing.status_code == 200 and stix_id in listing.text
        assert not set(OTHER_CAPABILITIES_NAV) & set(_nav(listing.text))

        shown = client.get(f"/objects/{stix_id}")
        assert shown.status_code == 200
        assert 'id="provenance"' in shown.text and 'id="sightings"' in shown.text
        assert 'id="correlations"' not in shown.text

        paths = client.get("/api/v1/openapi.json").json()["paths"]
        assert "/api/v1/objects" in paths
        assert not [p for p in paths if p.startswith("/api/v1/contacts")]


def test_a_full_node_shows_every_panel_to_an_admin(node: Node) -> None:
    client, stix_id = _signed_in_admin(node)
    with client:
        overview = client.get("/")
        for present in ('id="arrivals"', 'id="waiting"', 'id="checks"', 'id="sync"'):
            assert present in overview.text
        assert set(OTHER_CAPABILITIES_NAV) <= set(_nav(overview.text))
        assert 'id="correlations"' in client.get(f"/objects/{stix_id}").text
        assert any(
            p.startswith("/api/v1/contacts")
            for p in client.get("/api/v1/openapi.json").json()["paths"]
        )
