"""POST /api/v1/match: a batch of observables in, the caller's matches out."""

from __future__ import annotations

from accord.app import create_app
from accord.domain.tlp import TLP
from accord.exchange.service import ShareRequest
from accord.node import Node
from tests.asgi import Client
from tests.builders import bundle, indicator, org, principal


def _auth(node: Node, name: str) -> dict[str, str]:
    token = node.accounts.create_token(None, name, "reader", "siem", None).plaintext
    return {"Authorization": f"Bearer {token}"}


def test_match_api_answers_through_the_gate(node: Node) -> None:
    sg, _, _ = org(node, "SingCERT"), org(node, "MyCERT", state="MY"), org(node, "ThaiCERT")
    green = indicator("192.0.2.9", tlp=TLP.GREEN)
    red = indicator("192.0.2.10", tlp=TLP.RED)
    node.exchange.ingest(principal(node, sg), bundle(green))
    node.exchange.ingest(
        principal(node, sg), bundle(red), ShareRequest.parse("red", "recipients", ["MyCERT"], None)
    )
    batch = {"observables": ["192.0.2.9", "192.0.2.10", "example.org"]}
    with Client(create_app(node=node)) as client:
        mine = client.post("/api/v1/match", json=batch, headers=_auth(node, "MyCERT")).json()
        theirs = client.post("/api/v1/match", json=batch, headers=_auth(node, "ThaiCERT")).json()
        assert client.post("/api/v1/match", json=batch).status_code == 401
        bad = client.post("/api/v1/match", json={"observables": []}, headers=_auth(node, "MyCERT"))
    assert [(m["index"], m["indicator_id"]) for m in mine["matches"]] == [
        (0, green["id"]),
        (1, red["id"]),
    ]
    assert [m["indicator_id"] for m in theirs["matches"]] == [green["id"]]
    assert theirs["indicators"] == 1 and bad.status_code in (400, 422)


def test_match_api_reports_sightings_back_to_owners(node: Node) -> None:
    sg, my = org(node, "SingCERT"), org(node, "MyCERT", state="MY")
    green = indicator("192.0.2.9", tlp=TLP.GREEN)
    node.exchange.ingest(principal(node, sg), bundle(green))
    analyst = node.accounts.create_token(None, "MyCERT", "analyst", "soar", None).plaintext
    batch = {"observables": ["192.0.2.9", "192.0.2.9", "example.org"], "sightings": True}
    with Client(create_app(node=node)) as client:
        denied = client.post("/api/v1/match", json=batch, headers=_auth(node, "MyCERT"))
        done = client.post(
            "/api/v1/match", json=batch, headers={"Authorization": f"Bearer {analyst}"}
        )
    assert denied.status_code == 403 and "sightings" in denied.json()["detail"]
    assert done.status_code == 200
    reported = done.json()["sightings"]
    assert list(reported) == [green["id"]]
    # The owner reads the sighting, with both matches counted; nobody else does.
    sighting, _ = node.exchange.get(principal(node, sg), reported[green["id"]])
    assert '"count":2' in sighting.doc and sighting.owner == my.id
