"""Detection through the gate: who matches with what, and where sightings go."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest

from accord.detect.readers import LogRecord, ReadStats, read_log
from accord.detect.service import tally
from accord.domain.tlp import TLP
from accord.errors import NotFound
from accord.node import Node
from tests.builders import bundle, indicator, org, principal

FIELDS = {"ip": "auto"}


def _records(*values: str) -> list[LogRecord]:
    seen = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
    return [LogRecord(f"log:{i}", {"ip": v}, FIELDS, seen) for i, v in enumerate(values, 1)]


def test_only_readable_valid_unrevoked_indicators_take_part(node: Node) -> None:
    sg, my, th = org(node, "SingCERT"), org(node, "MyCERT", state="MY"), org(node, "ThaiCERT")
    sg_p, my_p, th_p = principal(node, sg), principal(node, my), principal(node, th)
    green = indicator("192.0.2.1", tlp=TLP.GREEN)
    red = indicator("192.0.2.2", tlp=TLP.RED)
    expired = indicator("192.0.2.3", tlp=TLP.GREEN, valid_until="2026-11-02T00:00:00Z")
    future = indicator("192.0.2.4", tlp=TLP.GREEN, valid_from="2027-01-01T00:00:00Z")
    revoked = indicator("192.0.2.5", tlp=TLP.GREEN, revoked=True)
    node.exchange.ingest(sg_p, bundle(green, expired, future, revoked))
    node.exchange.ingest(sg_p, bundle(red), _recipients("MyCERT"))
    values = ("192.0.2.1", "192.0.2.2", "192.0.2.3", "192.0.2.4", "192.0.2.5")
    for who, expected in ((my_p, {green["id"], red["id"]}), (th_p, {green["id"]})):
        loaded = node.detection.load(who)
        got = {m.indicator_id for m in node.detection.match_records(loaded, _records(*values))}
        assert got == expected
        assert (loaded.expired, loaded.not_yet_valid, loaded.revoked) == (1, 1, 1)


def _recipients(*names: str):
    from accord.exchange.service import ShareRequest

    return ShareRequest.parse("red", "recipients", names, None)


def test_sightings_go_back_to_the_owner_under_the_indicator_marking(node: Node) -> None:
    sg, my, th = org(node, "SingCERT"), org(node, "MyCERT", state="MY"), org(node, "ThaiCERT")
    sg_p, my_p, th_p = principal(node, sg), principal(node, my), principal(node, th)
    amber = indicator("198.51.100.7", creator=sg.identity_id, tlp=TLP.AMBER)
    node.exchange.ingest(sg_p, bundle(amber), _recipients_amber("MyCERT"))
    loaded = node.detection.load(my_p)
    matches = list(node.detection.match_records(loaded, _records("198.51.100.7", "198.51.100.7")))
    assert [m.record for m in matches] == ["log:1", "log:2"]
    report = node.detection.report_sightings(my_p, loaded, tally(matches))
    sighting_id = report.stored[amber["id"]]
    row, _ = node.exchange.get(sg_p, sighting_id)  # the owner reads it
    doc = orjson.loads(row.doc)
    assert doc["sighting_of_ref"] == amber["id"] and doc["count"] == 2
    assert doc["where_sighted_refs"] == [my.identity_id] and row.tlp is TLP.AMBER
    assert row.owner == my.id and row.scope.value == "recipients"
    with pytest.raises(NotFound):  # the marking excludes everyone else
        node.exchange.get(th_p, sighting_id)


def _recipients_amber(*names: str):
    from accord.exchange.service import ShareRequest

    return ShareRequest.parse("amber", "recipients", names, None)


def test_match_values_for_the_api(node: Node) -> None:
    sg = org(node, "SingCERT")
    node.exchange.ingest(principal(node, sg), bundle(indicator("203.0.113.9", tlp=TLP.GREEN)))
    loaded = node.detection.load(principal(node, sg))
    hits = node.detection.match_values(loaded, ["203.0.113.9", "example.org"])
    assert [len(h) for h in hits] == [1, 0]


def test_records_from_a_reader_flow_into_matches(node: Node, tmp_path: Path) -> None:
    sg = org(node, "SingCERT")
    node.exchange.ingest(principal(node, sg), bundle(indicator("203.0.113.9", tlp=TLP.GREEN)))
    (tmp_path / "x.csv").write_text("ts,dst_ip\n2026-11-20T10:00:00Z,203.0.113.9\n")
    loaded = node.detection.load(principal(node, sg))
    stats = ReadStats()
    (m,) = node.detection.match_records(loaded, read_log(str(tmp_path / "x.csv"), stats))
    assert (m.record, m.field, m.value) == (f"{tmp_path}/x.csv:2", "dst_ip", "203.0.113.9")
    assert m.seen == datetime(2026, 11, 20, 10, 0, tzinfo=UTC)


def test_warninglists_flag_indicators_and_matches(node: Node) -> None:
    sg = org(node, "SingCERT")
    resolver = indicator("8.8.8.8", tlp=TLP.GREEN)
    private = indicator("x", tlp=TLP.GREEN, pattern="[ipv4-addr:value ISSUBSET '10.0.0.0/16']")
    plain = indicator("93.184.216.34", tlp=TLP.GREEN)
    node.exchange.ingest(principal(node, sg), bundle(resolver, private, plain))
    loaded = node.detection.load(principal(node, sg))
    assert loaded.flagged == {resolver["id"]: ("resolvers",), private["id"]: ("private",)}
    found = node.detection.match_records(loaded, _records("8.8.8.8", "10.0.3.4", "93.184.216.34"))
    assert [m.warnings for m in found] == [("resolvers",), ("private",), ()]


def test_shipped_warninglists() -> None:
    from accord.detect.warninglists import shipped

    lists = shipped()
    assert lists.check("192.168.1.1") == ("private",)
    assert lists.check("http://www.google.com/search") == ("top-domains",)
    assert lists.check("a.b.example.org") == ("documentation",)
    assert lists.check("2001:db8::5") == ("documentation",)
    assert lists.check("evil.com") == () and lists.check("93.184.216.34") == ()
