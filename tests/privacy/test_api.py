"""The privacy API: rules (bad input refused whole), previews, the transfer log, access
requests by a data-protection authority, all through the gate."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from accord.app import create_app
from accord.domain.model import Organisation
from accord.node import Node
from accord.store.privacy import NewTransfer, PrivacyRepository
from tests.asgi import Client
from tests.builders import STAMP, bundle, org


@dataclass
class World:
    client: Client
    node: Node
    sg: Organisation
    admin: dict[str, str]
    analyst: dict[str, str]
    dpa: dict[str, str]
    outsider: dict[str, str]
    note_id: str


def _auth(node: Node, who: Organisation, role: str) -> dict[str, str]:
    token = node.accounts.create_token(None, who.name, role, "test", None).plaintext
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def world(node: Node) -> Iterator[World]:
    sg = org(node, "SingCERT")
    dpa = org(node, "PDPC", kind="data-protection-authority")
    other = org(node, "MyCERT", state="MY")
    note = {
        "type": "note",
        "spec_version": "2.1",
        "id": f"note--{uuid.uuid4()}",
        "created": STAMP,
        "modified": STAMP,
        "content": "Victim bob.lim@example.sg called +65 6123 4567; NRIC S1234567D.",
        "object_refs": [f"indicator--{uuid.uuid4()}"],
    }
    with Client(create_app(node=node)) as client:
        analyst = _auth(node, sg, "analyst")
        r = client.post(
            "/api/v1/objects?tlp=green&scope=community", json=bundle(note), headers=analyst
        )
        assert r.status_code in (200, 201, 202), r.text
        yield World(
            client,
            node,
            sg,
            _auth(node, sg, "admin"),
            analyst,
            _auth(node, dpa, "reader"),
            _auth(node, other, "reader"),
            note["id"],
        )


def test_preview_shows_what_each_destination_would_receive(world: World) -> None:
    c = world.client
    r = c.get(f"/api/v1/privacy/preview/{world.note_id}?state=TH", headers=world.analyst)
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["action"], body["basis"], body["rule"]) == ("redact", "none", None)
    assert sorted(f["kind"] for f in body["findings"]) == ["email", "phone", "sg-nric"]
    assert "bob.lim" not in body["object"]["content"]
    rule = c.post(
        "/api/v1/privacy/rules",
        json={"state": "TH", "action": "refuse", "note": "no agreement"},
        headers=world.admin,
    )
    assert rule.status_code == 201, rule.text
    r = c.get(f"/api/v1/privacy/preview/{world.note_id}?state=TH", headers=world.analyst)
    assert r.json()["object"] is None and r.json()["rule"] == rule.json()["id"]
    assert c.get("/api/v1/privacy/rules", headers=world.admin).json()[0]["state"] == "TH"
    assert (
        c.delete(f"/api/v1/privacy/rules/{rule.json()['id']}", headers=world.admin).status_code
        == 204
    )


BAD_RULES: list[tuple[dict[str, str], str]] = [
    ({"state": "sgp", "action": "redact"}, "state"),
    ({"state": "S1", "action": "redact"}, "state"),
    ({"state": "SG", "action": "publish"}, "action"),
    ({"state": "SG", "action": "allow"}, "basis"),  # personal data out with no basis
    ({"state": "SG", "action": "allow", "basis": "whim"}, "basis"),
    ({"state": "SG", "kind": "pirates", "action": "redact"}, "kind"),
    ({"state": "SG", "action": "redact", "note": "a\u0000b"}, "note"),
]


def test_bad_rules_are_refused_naming_the_field_and_nothing_is_stored(world: World) -> None:
    for body, field in BAD_RULES:
        r = world.client.post("/api/v1/privacy/rules", json=body, headers=world.admin)
        assert r.status_code in (400, 422), (body, r.text)
        assert r.headers["content-type"].startswith("application/problem+json")
        assert field in r.text, (body, r.text)
    assert world.client.get("/api/v1/privacy/rules", headers=world.admin).json() == []


def test_rules_are_for_admins_and_previews_for_readers(world: World) -> None:
    c = world.client
    rule = {"state": "SG", "action": "redact"}
    assert c.post("/api/v1/privacy/rules", json=rule, headers=world.analyst).status_code == 403
    assert c.post("/api/v1/privacy/rules", json=rule, headers=world.admin).status_code == 201
    assert c.post("/api/v1/privacy/rules", json=rule, headers=world.admin).status_code == 409
    # TLP:GREEN scoped to the node: MyCERT may read it, an unknown id is 404 for all.
    assert (
        c.get(f"/api/v1/privacy/preview/{world.note_id}", headers=world.outsider).status_code == 200
    )
    assert c.get("/api/v1/privacy/preview/note--nope", headers=world.analyst).status_code == 404
    bad = c.get(f"/api/v1/privacy/preview/{world.note_id}?state=xx", headers=world.analyst)
    assert bad.status_code == 400 and "state" in bad.text


def test_transfer_log_shows_owners_their_objects_without_values(world: World) -> None:
    PrivacyRepository(world.node.engine).record(
        [
            NewTransfer(
                "peer:bravo",
                None,
                world.sg.id,
                world.note_id,
                STAMP,
                "redact",
                "none",
                None,
                [("content", "email")],
                "{}",
            )
        ],
        world.node.clock(),
    )
    mine = world.client.get("/api/v1/privacy/transfers", headers=world.analyst).json()
    assert [(t["destination"], t["redactions"]) for t in mine] == [
        ("peer:bravo", [{"path": "content", "kind": "email"}])
    ]
    assert world.client.get("/api/v1/privacy/transfers", headers=world.outsider).json() == []


def test_access_requests_are_for_data_protection_authorities_through_the_gate(
    world: World,
) -> None:
    c = world.client
    ask = {"identifier": "bob.lim@example.sg"}
    found = c.post("/api/v1/privacy/access-requests", json=ask, headers=world.dpa)
    assert found.status_code == 200, found.text
    assert [m["id"] for m in found.json()] == [world.note_id]
    assert (
        c.post("/api/v1/privacy/access-requests", json=ask, headers=world.analyst).status_code
        == 403
    )
    none = c.post(
        "/api/v1/privacy/access-requests", json={"identifier": "x@y.z"}, headers=world.dpa
    )
    assert none.json() == []
    bad = c.post("/api/v1/privacy/access-requests", json={"identifier": ""}, headers=world.dpa)
    assert bad.status_code in (400, 422) and "identifier" in bad.text


def test_erasure_api_erases_here_and_refuses_others(world: World) -> None:
    c = world.client
    ask = {"object_id": world.note_id}
    assert c.post("/api/v1/privacy/erasures", json=ask, headers=world.outsider).status_code == 403
    missing = {"object_id": "note--00000000-0000-4000-8000-000000000000"}
    assert (
        c.post("/api/v1/privacy/erasures", json=missing, headers=world.analyst).status_code == 404
    )
    done = c.post("/api/v1/privacy/erasures", json=ask, headers=world.analyst)
    assert done.status_code == 201, done.text
    assert done.json()["peers"] == []  # never sent to a peer: erased here only
    assert c.get(f"/api/v1/objects/{world.note_id}", headers=world.analyst).status_code == 404
    seen = c.get(f"/api/v1/privacy/erasures/{done.json()['id']}", headers=world.analyst)
    assert seen.status_code == 200
    assert (
        c.get(f"/api/v1/privacy/erasures/{done.json()['id']}", headers=world.outsider).status_code
        == 404
    )
    # Only a peer node's token may send an erasure request.
    incoming = c.post(
        "/api/v1/privacy/erasures/incoming",
        content=b"{}",
        headers={**world.analyst, "Content-Type": "application/json"},
    )
    assert incoming.status_code == 401
    assert incoming.headers["content-type"].startswith("application/problem+json")
