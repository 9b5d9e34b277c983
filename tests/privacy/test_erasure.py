"""Erasure across the federation: signed requests to every peer that received an object,
signed receipts back; forged, replayed and misdirected requests and receipts refused
with nothing deleted."""

from __future__ import annotations

import itertools
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
import rfc8785

from accord.domain.model import Principal
from accord.domain.scope import Scope
from accord.domain.tlp import TLP
from accord.errors import Forbidden, Replayed, SignatureRejected
from accord.exchange.service import ShareRequest
from accord.federation.sync import SIGNATURE
from accord.privacy.capability import PRIVACY
from accord.privacy.erasure import INCOMING, RECEIPT
from accord.store.privacy import Erasure
from tests.builders import STAMP
from tests.federation.cluster import Member, analyst, cluster, local_cluster, stored_ids

NAMES = ["alpha", "bravo", "charlie"]
EDGES = [("alpha", "bravo"), ("alpha", "charlie")]


def _note(text: str) -> dict[str, Any]:
    return {
        "type": "note",
        "spec_version": "2.1",
        "id": f"note--{uuid.uuid4()}",
        "created": STAMP,
        "modified": STAMP,
        "content": text,
        "object_refs": [f"indicator--{uuid.uuid4()}"],
    }


def _setup(m: dict[str, Member]) -> list[dict[str, Any]]:
    for name, state in zip(NAMES, ("MY", "SG", "TH"), strict=True):
        m[name].node.accounts.add_org(None, f"{name}-cert", "national-cert", state)
    _sync(m)
    alpha = m["alpha"].node
    notes = [_note(f"Victim {i} wrote from victim{i}@example.my") for i in range(2)]
    share = ShareRequest(tlp=TLP.GREEN, scope=Scope.FEDERATION)
    for note in notes:
        alpha.exchange.ingest(analyst(alpha, "alpha-cert"), note, share)
    _sync(m)
    for name in ("bravo", "charlie"):
        assert {n["id"] for n in notes} <= stored_ids(m[name].node)
    return notes


def _sync(m: dict[str, Member]) -> None:
    for a, b in itertools.permutations(m, 2):
        if b in m[a].node.federation.peer_names():
            m[a].sync(b)


def _statuses(e: Erasure) -> dict[str, bool]:
    return {p.peer_name: p.confirmed is not None for p in e.peers}


def test_erasure_reaches_every_holder_and_forgeries_delete_nothing(tmp_path: Path) -> None:
    with local_cluster(tmp_path, NAMES, EDGES) as m:
        notes = _setup(m)
        alpha, bravo, charlie = (m[n].node for n in NAMES)
        erasures = PRIVACY.service(alpha).erasures
        owner = analyst(alpha, "alpha-cert")

        # A peer that cannot be reached is late; asked again, it confirms.
        with httpx.Client() as unreachable:
            first = erasures.request(owner, notes[0]["id"], unreachable)
        assert _statuses(first) == {"bravo": False, "charlie": False}
        assert notes[0]["id"] not in stored_ids(alpha)
        erasures.resend_pending(m["alpha"].http)
        done = erasures.status(owner, first.id)
        assert _statuses(done) == {"bravo": True, "charlie": True}
        assert [p.versions for p in done.peers] == [1, 1]
        for node in (bravo, charlie):
            assert notes[0]["id"] not in stored_ids(node)

        # At bravo: requests for alpha's second note that bravo must refuse.
        at_bravo = PRIVACY.service(bravo).erasures
        alpha_at_bravo = bravo.federation.peer("alpha")
        as_alpha = Principal(org=None, peer=alpha_at_bravo.id)
        request = {
            "type": "accord-erasure-request",
            "object": notes[1]["id"],
            "from": alpha.key.node_id,
            "to": bravo.key.node_id,
            "issued": alpha.clock().strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            "nonce": uuid.uuid4().hex,
        }
        body = rfc8785.dumps(request)
        with pytest.raises(SignatureRejected):  # signed by another key (charlie's)
            at_bravo.erase_on_request(as_alpha, body, charlie.key.sign(body))
        claimed = rfc8785.dumps({**request, "from": charlie.key.node_id})
        with pytest.raises(SignatureRejected):  # alpha's token, claiming another node
            at_bravo.erase_on_request(as_alpha, claimed, alpha.key.sign(claimed))
        own = _note("bravo's own note")
        bravo.exchange.ingest(analyst(bravo, "bravo-cert"), own, ShareRequest(tlp=TLP.GREEN))
        theirs = rfc8785.dumps({**request, "object": own["id"]})
        with pytest.raises(Forbidden):  # alpha's node does not own bravo's note
            at_bravo.erase_on_request(as_alpha, theirs, alpha.key.sign(theirs))
        assert {notes[1]["id"], own["id"]} <= stored_ids(bravo)  # nothing deleted

        # alpha's real request is carried out once; its replay is refused.
        receipt, signature = at_bravo.erase_on_request(as_alpha, body, alpha.key.sign(body))
        assert notes[1]["id"] not in stored_ids(bravo)
        with pytest.raises(Replayed):
            at_bravo.erase_on_request(as_alpha, body, alpha.key.sign(body))

        # A receipt from a node that was never sent the object is refused at the owner.
        nonce = erasures.request(owner, notes[1]["id"], httpx.Client()).nonce
        bravo_at_alpha = alpha.federation.peer("bravo")
        fake = rfc8785.dumps(
            {
                "type": RECEIPT,
                "object": notes[1]["id"],
                "nonce": uuid.uuid4().hex,
                "from": bravo.key.node_id,
                "to": alpha.key.node_id,
                "versions": 1,
            }
        )
        with pytest.raises(Forbidden):
            erasures.accept_receipt(bravo_at_alpha, fake, bravo.key.sign(fake))
        forged_receipt = rfc8785.dumps(
            {
                "type": RECEIPT,
                "object": notes[1]["id"],
                "nonce": nonce,
                "from": bravo.key.node_id,
                "to": alpha.key.node_id,
                "versions": 1,
            }
        )
        with pytest.raises(SignatureRejected):  # charlie's key, claiming to be bravo
            erasures.accept_receipt(
                bravo_at_alpha, forged_receipt, charlie.key.sign(forged_receipt)
            )
        assert receipt and signature


def test_erasure_across_three_node_processes(tmp_path: Path) -> None:
    with cluster(tmp_path, NAMES, EDGES) as m:
        notes = _setup(m)
        alpha = m["alpha"].node
        token = alpha.accounts.create_token(None, "alpha-cert", "analyst", "t", None).plaintext
        answer = m["alpha"].http.post(
            m["alpha"].url + "/api/v1/privacy/erasures",
            json={"object_id": notes[0]["id"]},
            headers={"Authorization": f"Bearer {token}"},
        )
        assert answer.status_code == 201, answer.text
        assert [(p["peer"], p["status"], p["versions"]) for p in answer.json()["peers"]] == [
            ("bravo", "confirmed", 1),
            ("charlie", "confirmed", 1),
        ]
        for name in NAMES:
            assert notes[0]["id"] not in stored_ids(m[name].node)
            assert notes[1]["id"] in stored_ids(m[name].node)
        # A forged request over HTTP: a problem+json answer, nothing deleted.
        peer_token = m["alpha"].node.federation.peer("bravo").token
        assert peer_token is not None
        forged = rfc8785.dumps({"type": "accord-erasure-request", "object": notes[1]["id"]})
        refused = m["alpha"].http.post(
            m["bravo"].url + INCOMING,
            content=forged,
            headers={
                "Authorization": f"Bearer {peer_token}",
                "Content-Type": "application/json",
                SIGNATURE: m["charlie"].node.key.sign(forged),
            },
        )
        assert refused.status_code == 403, refused.text
        assert refused.headers["content-type"].startswith("application/problem+json")
        assert notes[1]["id"] in stored_ids(m["bravo"].node)
