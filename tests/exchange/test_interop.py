"""Interop with the OASIS tools: what stix2 writes we store, what we export they accept."""

from __future__ import annotations

import orjson
import stix2
from stix2validator import ValidationOptions, validate_instance

from accord.domain.scope import Scope
from accord.domain.tlp import MARKING_IDS, TLP
from accord.exchange.service import ShareRequest
from accord.node import Node
from accord.store.objects import ObjectQuery
from tests.builders import org, principal


def _stix2_bundle(creator: str) -> stix2.Bundle:
    green = MARKING_IDS[TLP.GREEN]
    common = {"created_by_ref": creator, "object_marking_refs": [green]}
    ind = stix2.Indicator(
        name="Botnet C2",
        pattern="[ipv4-addr:value = '203.0.113.9'] OR [domain-name:value = 'c2.example']",
        pattern_type="stix",
        indicator_types=["malicious-activity"],
        **common,
    )
    mal = stix2.Malware(name="PlugX", is_family=True, **common)
    rel = stix2.Relationship(ind, "indicates", mal, **common)
    vuln = stix2.Vulnerability(name="CVE-2026-0001", **common)
    report = stix2.Report(
        name="Campaign against ports",
        published="2026-11-20T00:00:00Z",
        object_refs=[ind.id, mal.id, rel.id, vuln.id],
        **common,
    )
    ip = stix2.IPv4Address(value="203.0.113.9", object_marking_refs=[green])
    return stix2.Bundle(ind, mal, rel, vuln, report, ip)


def test_stix2_library_output_round_trips_through_export(node: Node) -> None:
    sg = org(node, "SingCERT")
    me = principal(node, sg)
    sent = _stix2_bundle(sg.identity_id)
    report = node.exchange.ingest(
        me, sent.serialize().encode(), ShareRequest(scope=Scope.COMMUNITY)
    )
    assert len(report.stored) == 6
    exported = orjson.loads(b"".join(node.exchange.export(me, ObjectQuery(limit=1000))))
    stix2.parse(exported, allow_custom=True)
    by_id = {o["id"]: o for o in exported["objects"]}
    for original in sent.objects:
        # Stored documents are kept as sent: every property, every timestamp digit.
        assert by_id[original.id] == orjson.loads(original.serialize())
    result = validate_instance(exported, ValidationOptions(version="2.1"))
    assert result.is_valid, result.as_dict()
    assert {o["type"] for o in exported["objects"]} >= {"identity", "marking-definition"}
