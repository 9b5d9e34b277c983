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
