"""Personal data across three in-process nodes: each destination gets what its rule says,
signed as sent, logged, and the same form on every later sync."""

from __future__ import annotations

import itertools
import uuid
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import select

from accord.domain.scope import Scope
from accord.domain.tlp import TLP
from accord.exchange.service import ShareRequest
from accord.node import Node
from accord.privacy.capability import PRIVACY
from accord.store.tables import stix_objects
from tests.builders import STAMP, indicator
from tests.federation.cluster import Member, analyst, local_cluster

NAMES = ["alpha", "bravo", "charlie"]
SHARE = ShareRequest(tlp=TLP.CLEAR, scope=Scope.FEDERATION)


def _sync(m: dict[str, Member]) -> None:
    for a, b in itertools.permutations(m, 2):
        if b in m[a].node.federation.peer_names():
            m[a].sync(b)


def _doc(node: Node, stix_id: str) -> dict[str, Any] | None:
    with node.engine.connect() as conn:
        doc = conn.execute(
            select(stix_objects.c.doc).where(stix_objects.c.stix_id == stix_id)
        ).scalar_one_or_none()
    return orjson.loads(doc) if doc is not None else None


def test_each_destination_gets_what_its_rule_says_and_the_transfer_is_logged(
    tmp_path: Path,
) -> None:
    # No bravo-charlie edge: a relay applies its own node's rules to what it passes on.
    edges = [("alpha", "bravo"), ("alpha", "charlie")]
    with local_cluster(tmp_path, NAMES, edges) as m:
        for name, state, kind in [
            ("alpha", "MY", "national-cert"),
            ("bravo", "SG", "national-cert"),
            ("charlie", "TH", "law-enforcement"),
        ]:
            m[name].node.accounts.add_org(None, f"{name}-org", kind, state)
        _sync(m)  # hellos: each node learns where the others' organisations are
        alpha = m["alpha"].node
        privacy = PRIVACY.service(alpha)
        sg = privacy.add_rule(None, "SG", "*", "pseudonymise", "asean-mcc", "MCC module 1")
        privacy.add_rule(None, "TH", "law-enforcement", "refuse", "none", "")

        report = {
            "type": "report",
            "spec_version": "2.1",
            "id": f"report--{uuid.uuid4()}",
            "created": STAMP,
            "modified": STAMP,
            "published": STAMP,
            "name": "Phishing wave",
            "description": "Lures from Alice.Tan@example.com; callers used 012-345 6789.",
            "object_refs": [f"indicator--{uuid.uuid4()}"],
        }
        sender = {
            "type": "email-addr",
            "spec_version": "2.1",
            "id": f"email-addr--{uuid.uuid4()}",
            "value": "alice.tan@example.com",
        }
        clean = indicator("203.0.113.9")
        bundle = {"type": "bundle", "id": f"bundle--{uuid.uuid4()}"}
        alpha.exchange.ingest(
            analyst(alpha, "alpha-org"), {**bundle, "objects": [report, sender, clean]}, SHARE
        )
        _sync(m)

        bravo, charlie = m["bravo"].node, m["charlie"].node
        got = _doc(bravo, report["id"])
        assert got is not None
        assert "Alice.Tan" not in got["description"] and "345 6789" not in got["description"]
        addr = _doc(bravo, sender["id"])
        assert addr is not None and addr["value"].endswith("@pseudonym.invalid")
        # The same address has one pseudonym in the report and in the observable.
        assert addr["value"] in got["description"]
        assert "[phone " in got["description"]
        # Refused for TH law enforcement; what holds no personal data still goes.
        assert _doc(charlie, report["id"]) is None and _doc(charlie, sender["id"]) is None
        assert _doc(charlie, clean["id"]) == clean
        for peer in ("bravo", "charlie"):
            assert alpha.federation.peer(peer).last_error is None

        log = {
            (t.destination, t.stix_id): t for t in privacy.transfers(analyst(alpha, "alpha-org"))
        }
        sent = log[("peer:bravo", report["id"])]
        assert (sent.action, sent.basis, sent.rule_id) == ("pseudonymise", "asean-mcc", sg.id)
        assert sent.redactions == (("description", "email"), ("description", "phone"))
        assert log[("peer:charlie", report["id"])].action == "refuse"
        assert log[("peer:bravo", clean["id"])].action == "clean"
        assert "Alice" not in orjson.dumps([list(t.redactions) for t in log.values()]).decode()

        # A rule changed later: the version already sent keeps the form it was sent in,
        # so the peer sees no second form of a stored version and syncs cleanly.
        privacy.delete_rule(None, sg.id)
        privacy.add_rule(None, "SG", "*", "allow", "consent", "")
        _sync(m)
        assert _doc(bravo, report["id"]) == got
        assert alpha.federation.peer("bravo").last_error is None
        assert len(privacy.transfers(analyst(alpha, "alpha-org"))) == len(log)
