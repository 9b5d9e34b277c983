"""Ingest: validated, stamped and stored all or nothing; re-posting is a no-op."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import func, select

from accord.domain.model import Role
from accord.domain.scope import Scope
from accord.domain.tlp import MARKING_IDS, TLP, marking_definition
from accord.errors import (
    Conflict,
    Forbidden,
    InvalidInput,
    NotFound,
    PolicyViolation,
    ValidationFailed,
)
from accord.exchange.service import ShareRequest
from accord.node import Node
from accord.store.objects import ObjectQuery
from accord.store.tables import stix_objects
from tests.builders import bundle, indicator, org, principal

STAMPS = ["2026-01-01T00:00:00Z", "2026-01-01T00:00:00.1Z", "2026-01-01T00:00:00.1234567Z"]


def _count(node: Node) -> int:
    with node.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(stix_objects)).scalar_one())


def test_bundle_is_stored_with_owner_tlp_and_scope(node: Node) -> None:
    sg = org(node, "SingCERT")
    me = principal(node, sg)
    report = node.exchange.ingest(
        me, bundle(indicator(creator=sg.identity_id, tlp=TLP.GREEN), indicator("192.0.2.1"))
    )
    assert len(report.stored) == 2
    rows = node.exchange.page(me, ObjectQuery()).rows
    assert {r.tlp for r in rows} == {TLP.GREEN, TLP.AMBER}  # marked, and the node default
    assert {r.scope for r in rows} == {Scope.COMMUNITY, Scope.ORGANISATION}
    assert {r.owner for r in rows} == {sg.id}


def test_reposting_is_an_idempotent_no_op(node: Node) -> None:
    me = principal(node, org(node, "SingCERT"))
    payload = bundle(indicator(), indicator("192.0.2.9"))
    first = node.exchange.ingest(me, payload)
    again = node.exchange.ingest(me, payload)
    assert len(first.stored) == 2 and not again.changed
    assert len(again.duplicates) == 2
    assert _count(node) == 2


def test_one_bad_object_stores_nothing_and_names_it(node: Node) -> None:
    me = principal(node, org(node, "SingCERT"))
    broken = indicator("192.0.2.2", pattern="[ipv4-addr:value = '192.0.2.2'")
    with pytest.raises(ValidationFailed) as caught:
        node.exchange.ingest(me, bundle(indicator(), broken, indicator("192.0.2.3")))
    assert _count(node) == 0
    assert [(p.index, p.object_id) for p in caught.value.problems] == [(1, broken["id"])]
    assert caught.value.problems[0].field == "pattern"


def test_forbidden_marking_and_scope_is_refused(node: Node) -> None:
    me = principal(node, org(node, "SingCERT"))
    red = indicator(tlp=TLP.RED)
    with pytest.raises(PolicyViolation) as caught:
        node.exchange.ingest(
            me, bundle(indicator(tlp=TLP.GREEN), red), ShareRequest(scope=Scope.COMMUNITY)
        )
    assert caught.value.problems[0].object_id == red["id"]
    assert "TLP:RED does not allow scope 'community'" in caught.value.problems[0].reason
    assert _count(node) == 0


def test_request_may_raise_a_marking_never_lower_it(node: Node) -> None:
    me = principal(node, org(node, "SingCERT"))
    node.exchange.ingest(me, indicator(tlp=TLP.AMBER), ShareRequest(tlp=TLP.GREEN))
    node.exchange.ingest(me, indicator("192.0.2.4", tlp=TLP.GREEN), ShareRequest(tlp=TLP.RED))
    assert sorted(r.tlp.rank for r in node.exchange.page(me, ObjectQuery()).rows) == [
        TLP.AMBER.rank,
        TLP.RED.rank,
    ]


def test_new_versions_replace_latest_and_all_are_kept(node: Node) -> None:
    me = principal(node, org(node, "SingCERT"))
    first = indicator()
    second = {**first, "modified": "2026-11-02T10:00:00.000Z", "name": "renamed"}
    third = {**first, "modified": "2026-11-03T10:00:00.5000Z", "revoked": True}
    node.exchange.ingest(me, bundle(second))
    node.exchange.ingest(me, bundle(third, first))  # older version arrives late
    latest, versions = node.exchange.get(me, first["id"])
    assert latest.modified == "2026-11-03T10:00:00.500000Z" and latest.revoked
    assert [v.modified[:10] for v in versions] == ["2026-11-01", "2026-11-02", "2026-11-03"]
    assert len(node.exchange.page(me, ObjectQuery()).rows) == 1


def test_same_version_with_other_content_is_a_conflict(node: Node) -> None:
    me = principal(node, org(node, "SingCERT"))
    obj = indicator()
    node.exchange.ingest(me, obj)
    with pytest.raises(Conflict) as caught:
        node.exchange.ingest(me, bundle(indicator("192.0.2.5"), {**obj, "name": "changed"}))
    assert caught.value.problems[0].field == "modified"
    assert _count(node) == 1


def test_only_the_creator_adds_versions(node: Node) -> None:
    sg, my = org(node, "SingCERT"), org(node, "MyCERT", state="MY")
    obj = indicator(creator=sg.identity_id, tlp=TLP.GREEN)
    node.exchange.ingest(principal(node, sg), obj)
    # Re-posting the identical version is allowed for anyone who has it ...
    assert not node.exchange.ingest(principal(node, my), obj).changed
    # ... a new version, or one claiming to be SingCERT's, is not.
    newer = {**obj, "modified": "2026-11-05T00:00:00.000Z"}
    with pytest.raises(Conflict):
        node.exchange.ingest(principal(node, my), newer)
    with pytest.raises(Conflict):
        node.exchange.ingest(principal(node, my), indicator("192.0.2.6", creator=sg.identity_id))


def test_standard_tlp_marking_definitions_are_not_stored(node: Node) -> None:
    me = principal(node, org(node, "SingCERT"))
    report = node.exchange.ingest(
        me, bundle(marking_definition(TLP.GREEN), indicator(tlp=TLP.GREEN))
    )
    assert report.skipped_markings == 1 and len(report.stored) == 1


def test_tlp1_markings_are_read_as_tlp2(node: Node) -> None:
    me = principal(node, org(node, "SingCERT"))
    white = "marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc9"
    node.exchange.ingest(
        me, indicator(object_marking_refs=[white]), ShareRequest(scope=Scope.PUBLIC)
    )
    assert node.exchange.page(me, ObjectQuery()).rows[0].tlp is TLP.CLEAR
    assert MARKING_IDS[TLP.CLEAR] != white


def test_recipients_and_groups_are_checked(node: Node) -> None:
    sg, my = org(node, "SingCERT"), org(node, "MyCERT", state="MY")
    node.accounts.add_group(None, "asean-certs", "ASEAN national CERTs")
    me = principal(node, sg)
    with pytest.raises(NotFound):
        node.exchange.ingest(me, indicator(), ShareRequest(scope=Scope.GROUP, group="asean-certs"))
    with pytest.raises(PolicyViolation):
        node.exchange.ingest(me, indicator(), ShareRequest(scope=Scope.RECIPIENTS))
    with pytest.raises(NotFound):
        node.exchange.ingest(
            me, indicator(), ShareRequest(scope=Scope.RECIPIENTS, recipients=("identity--nope",))
        )
    node.exchange.ingest(
        me, indicator(tlp=TLP.RED), ShareRequest(scope=Scope.RECIPIENTS, recipients=(my.name,))
    )
    assert len(node.exchange.page(principal(node, my), ObjectQuery()).rows) == 1
    assert _count(node) == 1


def test_readers_may_not_share(node: Node) -> None:
    reader = principal(node, org(node, "SingCERT"), Role.READER)
    with pytest.raises(Forbidden):
        node.exchange.ingest(reader, indicator())


@pytest.mark.parametrize(
    "payload",
    [
        b"{not json",
        b"[]",
        b'{"objects": []}',
        b'{"type": "bundle", "id": "bundle--x", "objects": {}}',
    ],
)
def test_malformed_payloads_are_refused(node: Node, payload: bytes) -> None:
    me = principal(node, org(node, "SingCERT"))
    with pytest.raises(InvalidInput):
        node.exchange.ingest(me, payload)
    assert _count(node) == 0


def test_date_added_strictly_increases(node: Node) -> None:
    me = principal(node, org(node, "SingCERT"))
    node.exchange.ingest(me, bundle(*(indicator(f"192.0.2.{i}") for i in range(1, 6))))
    node.exchange.ingest(me, bundle(*(indicator(f"198.51.100.{i}") for i in range(1, 6))))
    added = [r.date_added for r in node.exchange.page(me, ObjectQuery()).rows]
    assert added == sorted(added) and len(set(added)) == 10


@given(
    created=st.one_of(st.none(), st.sampled_from(STAMPS)),
    modified=st.one_of(st.none(), st.just(""), st.just(5), st.sampled_from(STAMPS)),
)
def test_stamped_timestamps_are_the_normalised_ones(created: object, modified: object) -> None:
    from accord.domain.scope import Distribution
    from accord.domain.stix import normalise_timestamp, version_key
    from accord.exchange.service import stamp

    obj = {"type": "indicator", "id": "indicator--1", "created": created, "modified": modified}
    for _ in range(2):  # the second time from the cache
        version = stamp(obj, 1, Distribution(TLP.GREEN, Scope.FEDERATION), "{}", "node")
        assert version.modified == version_key(obj)
        assert version.created == (normalise_timestamp(created) if created else None)


@given(
    start=st.datetimes(
        min_value=datetime(2000, 1, 1),
        max_value=datetime(2100, 1, 1),
        timezones=st.sampled_from([UTC, timezone(timedelta(hours=7))]),
    ),
    count=st.integers(0, 3000),
    edge=st.booleans(),
)
def test_consecutive_stamps_equal_formatting_each(start: datetime, count: int, edge: bool) -> None:
    from accord.domain.stix import format_timestamp
    from accord.exchange.service import consecutive_stamps

    if edge:  # cross a second (and a minute, hour, day, year) boundary
        start = start.replace(month=12, day=31, hour=23, minute=59, second=59, microsecond=999_000)
    expected = [format_timestamp(start + timedelta(microseconds=i)) for i in range(count)]
    assert consecutive_stamps(start, count) == expected
