"""Retention: objects kept past their type's and marking's days are purged on schedule,
every version with its indexes and the copies kept of what was sent, and recorded."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from accord.domain.tlp import TLP
from accord.errors import InvalidInput, NotFound
from accord.exchange.service import ShareRequest
from accord.node import Node
from accord.privacy.capability import PRIVACY
from accord.store.detect import observable_index
from accord.store.privacy import NewTransfer, PrivacyRepository
from tests.builders import STAMP, indicator, org, principal
from tests.conftest import Clock


def _indexed(node: Node, stix_id: str) -> int:
    with node.engine.connect() as conn:
        query = select(func.count()).where(observable_index.c.stix_id == stix_id)
        return int(conn.execute(query).scalar_one())


def test_purge_removes_what_retention_no_longer_keeps(node: Node, clock: Clock) -> None:
    sg = org(node, "SingCERT")
    who = principal(node, sg)
    old = indicator("198.51.100.7")
    newer = {**old, "modified": "2026-11-02T10:00:00.000Z"}
    amber = indicator("198.51.100.8")
    node.exchange.ingest(who, old, ShareRequest(tlp=TLP.GREEN))
    node.exchange.ingest(who, newer, ShareRequest(tlp=TLP.GREEN))
    node.exchange.ingest(who, amber, ShareRequest(tlp=TLP.AMBER))
    repo = PrivacyRepository(node.engine)
    repo.record(
        [NewTransfer("peer:x", None, sg.id, old["id"], STAMP, "clean", "none", None, [], "{}")],
        clock(),
    )
    privacy = PRIVACY.service(node)
    privacy.add_retention(None, "*", "*", 365)
    rule = privacy.add_retention(None, "indicator", "green", 30)

    assert privacy.purge_expired() == []  # nothing is old enough yet
    clock.advance(days=31)
    purged = privacy.purge_expired()
    assert [(p.stix_id, p.versions) for p in purged] == [(old["id"], 2)]
    assert f"retention #{rule.id}" in purged[0].reason
    with pytest.raises(NotFound):
        node.exchange.get(who, old["id"])
    assert _indexed(node, old["id"]) == 0
    assert repo.disclosed("peer:x", [(old["id"], STAMP)]) == {(old["id"], STAMP): ("clean", None)}
    node.exchange.get(who, amber["id"])  # the amber one follows the 365-day rule
    assert [p.stix_id for p in privacy.purges(None)] == [old["id"]]
    assert privacy.purge_expired() == []


def test_bad_retention_rules_are_refused(node: Node) -> None:
    privacy = PRIVACY.service(node)
    for type_, tlp, days, field in [
        ("Indicator!", "*", 30, "type"),
        ("*", "purple", 30, "tlp"),
        ("*", "*", 0, "days"),
    ]:
        with pytest.raises(InvalidInput) as refused:
            privacy.add_retention(None, type_, tlp, days)
        assert refused.value.problems[0].field == field
    assert privacy.retention(None) == []
