"""Personal data leaving its organisation on the same node: another organisation reading
through the REST API, TAXII (objects, one object, manifest, paging) or an export gets what
the destination's rule says (its organisation's state and kind), the owner its original,
and each transfer is logged once per destination, in one form."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import orjson
import pytest

from accord.app import create_app
from accord.domain.collections import Collection, CollectionKind
from accord.domain.model import Organisation
from accord.node import Node
from tests.asgi import Client
from tests.builders import STAMP, bundle, indicator, org

COMMUNITY = f"/taxii2/api/collections/{Collection(CollectionKind.COMMUNITY, '', '').id}"
EMAIL = "bob.lim@example.sg"
TAXII = {"Accept": "application/taxii+json;version=2.1"}


@dataclass
class World:
    client: Client
    node: Node
    sg: Organisation
    my: Organisation
    th: Organisation
    owner: dict[str, str]
    admin: dict[str, str]
    my_reader: dict[str, str]
    th_reader: dict[str, str]
    note_id: str

    def rule(self, state: str, action: str, basis: str = "none") -> int:
        body = {"state": state, "action": action, "basis": basis}
        r = self.client.post("/api/v1/privacy/rules", json=body, headers=self.admin)
        assert r.status_code == 201, r.text
        return int(r.json()["id"])


def _auth(node: Node, who: Organisation, role: str) -> dict[str, str]:
    token = node.accounts.create_token(None, who.name, role, "test", None).plaintext
    return {"Authorization": f"Bearer {token}"}


def _note(content: str) -> dict[str, Any]:
    return {
        "type": "note",
        "spec_version": "2.1",
        "id": f"note--{uuid.uuid4()}",
        "created": STAMP,
        "modified": STAMP,
        "content": content,
        "object_refs": [f"indicator--{uuid.uuid4()}"],
    }


@pytest.fixture
def world(node: Node) -> Iterator[World]:
    sg = org(node, "SingCERT")
    my = org(node, "MyCERT", state="MY")
    th = org(node, "ThaiCERT", state="TH")
    note = _note(f"Victim {EMAIL} called +65 6123 4567; NRIC S1234567D.")
    with Client(create_app(node=node)) as client:
        owner = _auth(node, sg, "analyst")
        r = client.post(
            "/api/v1/objects?tlp=green&scope=community", json=bundle(note), headers=owner
        )
        assert r.status_code in (200, 201, 202), r.text
        yield World(
            client,
            node,
            sg,
            my,
            th,
            owner,
            _auth(node, sg, "admin"),
            _auth(node, my, "reader"),
            _auth(node, th, "reader"),
            note["id"],
        )


def _content(w: World, headers: dict[str, str]) -> str | None:
    r = w.client.get(f"/api/v1/objects/{w.note_id}", headers=headers)
    if r.status_code == 404:
        return None
    assert r.status_code == 200, r.text
    return str(r.json()["object"]["content"])


def _taxii_objects(w: World, headers: dict[str, str], **params: str) -> list[dict[str, Any]]:
    r = w.client.get(f"{COMMUNITY}/objects/", params=params, headers={**headers, **TAXII})
    assert r.status_code == 200, r.text
    return list(r.json().get("objects", []))


def _transfers(w: World) -> dict[str, tuple[str, str]]:
    r = w.client.get(f"/api/v1/privacy/transfers?stix_id={w.note_id}", headers=w.owner)
    assert r.status_code == 200, r.text
    return {t["destination"]: (t["action"], t["basis"]) for t in r.json()}


def test_without_rules_other_organisations_read_it_redacted_as_a_peer_would(
    world: World,
) -> None:
    """No rule for a destination: the default (redact) applies in-node as over federation;
    the owner still reads its original."""
    seen = _content(world, world.my_reader)
    assert seen is not None and EMAIL not in seen
    assert EMAIL in (_content(world, world.owner) or "")
    destinations = _transfers(world)
    assert len(destinations) == 1
    ((action, basis),) = destinations.values()
    assert action == "redact" and basis == "none"


def test_another_organisation_reads_what_its_states_rule_says_the_owner_its_original(
    world: World,
) -> None:
    w = world
    w.rule("MY", "pseudonymise", "asean-mcc")
    w.rule("TH", "refuse")
    mine = _content(w, w.owner)
    assert mine is not None and EMAIL in mine and "S1234567D" in mine
    seen = _content(w, w.my_reader)
    assert seen is not None and EMAIL not in seen and "S1234567D" not in seen
    assert "@pseudonym.invalid" in seen and "[sg-nric " in seen
    # Every read path gives MyCERT the same form: list, TAXII object, envelope, export.
    listed = w.client.get("/api/v1/objects?type=note", headers=w.my_reader).json()["items"]
    assert [o["object"]["content"] for o in listed] == [seen]
    env = _taxii_objects(w, w.my_reader)
    assert [o["content"] for o in env if o["id"] == w.note_id] == [seen]
    one = w.client.get(f"{COMMUNITY}/objects/{w.note_id}/", headers={**w.my_reader, **TAXII})
    assert [o["content"] for o in one.json()["objects"]] == [seen]
    export = orjson.loads(w.client.get("/api/v1/export", headers=w.my_reader).content)
    assert [o["content"] for o in export["objects"] if o["id"] == w.note_id] == [seen]
    # Searching for the value does not tell MyCERT which object holds it; the owner finds it.
    lure = indicator(description=f"Lure sent from {EMAIL}")
    r = w.client.post(
        "/api/v1/objects?tlp=green&scope=community", json=bundle(lure), headers=w.owner
    )
    assert r.status_code in (200, 201, 202), r.text
    assert w.client.get(f"/api/v1/objects?q={EMAIL}", headers=w.my_reader).json()["items"] == []
    found = w.client.get(f"/api/v1/objects?q={EMAIL}", headers=w.owner).json()["items"]
    assert [o["object"]["id"] for o in found] == [lure["id"]]
    hits = w.client.get("/api/v1/objects?q=lure sent", headers=w.my_reader).json()["items"]
    assert [o["object"]["id"] for o in hits] == [lure["id"]]
    # Refused for Thailand: hidden everywhere, as if it were not there.
    assert _content(w, w.th_reader) is None
    assert all(o["id"] != w.note_id for o in _taxii_objects(w, w.th_reader))
    gone = w.client.get(f"{COMMUNITY}/objects/{w.note_id}/", headers={**w.th_reader, **TAXII})
    assert gone.status_code == 404
    manifest = w.client.get(f"{COMMUNITY}/manifest/", headers={**w.th_reader, **TAXII}).json()
    assert all(m["id"] != w.note_id for m in manifest.get("objects", []))
    export = orjson.loads(w.client.get("/api/v1/export", headers=w.th_reader).content)
    assert all(o["id"] != w.note_id for o in export["objects"])
    # Each transfer is in the owner's log once, with its rule's action and basis.
    assert _transfers(w) == {
        f"org:{w.my.id}": ("pseudonymise", "asean-mcc"),
        f"org:{w.th.id}": ("refuse", "none"),
    }


def test_a_version_keeps_the_form_it_left_in_when_the_rule_changes(world: World) -> None:
    w = world
    rule = w.rule("MY", "redact")
    first = _content(w, w.my_reader)
    assert first is not None and "[redacted phone]" in first and EMAIL not in first
    assert w.client.delete(f"/api/v1/privacy/rules/{rule}", headers=w.admin).status_code == 204
    w.rule("MY", "allow", "consent")
    assert _content(w, w.my_reader) == first  # one form per destination and version
    newer = {
        **orjson.loads(w.client.get(f"/api/v1/objects/{w.note_id}", headers=w.owner).content)[
            "object"
        ],
        "modified": "2026-11-02T00:00:00.000Z",
    }
    r = w.client.post(
        "/api/v1/objects?tlp=green&scope=community", json=bundle(newer), headers=w.owner
    )
    assert r.status_code in (200, 201, 202), r.text
    assert EMAIL in (_content(w, w.my_reader) or "")  # the new version left under the new rule


def test_taxii_paging_skips_withheld_versions_without_losing_any(world: World) -> None:
    w = world
    w.rule("TH", "refuse")
    clean = [_note(f"Beacon {i} to 198.51.100.{i}") for i in range(5)]
    personal = [_note(f"Phished {i}.{EMAIL}") for i in range(4)]
    mixed = [x for pair in zip(clean, personal, strict=False) for x in pair] + clean[4:]
    for obj in mixed:
        r = w.client.post(
            "/api/v1/objects?tlp=green&scope=community", json=bundle(obj), headers=w.owner
        )
        assert r.status_code in (200, 201, 202), r.text
    seen: list[str] = []
    params: dict[str, str] = {"limit": "2", "match[type]": "note"}
    for _ in range(20):
        r = w.client.get(f"{COMMUNITY}/objects/", params=params, headers={**w.th_reader, **TAXII})
        assert r.status_code == 200, r.text
        body = r.json()
        seen += [o["id"] for o in body.get("objects", [])]
        if not body.get("more"):
            break
        params["next"] = body["next"]
    assert sorted(seen) == sorted(o["id"] for o in clean)  # each once, the others withheld
    mine = _taxii_objects(w, w.owner, **{"match[type]": "note"})
    assert len(mine) == len(mixed) + 1
