"""Correlation through the gate: links only to readable objects, common values skipped."""

from __future__ import annotations

import uuid

from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from accord.app import create_app
from accord.detect.correlate import values_of
from accord.domain.collections import Collection, CollectionKind
from accord.domain.tlp import TLP
from accord.exchange.service import ShareRequest
from accord.exchange.taxii import MEDIA_TYPE as TAXII_MEDIA_TYPE
from accord.node import Node
from accord.store.detect import observable_index
from tests.asgi import Client
from tests.builders import STAMP, bundle, indicator, org, principal

VALUE = "45.33.32.156"


def _sco(value: str) -> dict[str, object]:
    return {
        "type": "ipv4-addr",
        "spec_version": "2.1",
        "id": f"ipv4-addr--{uuid.uuid4()}",
        "value": value,
    }


def test_correlations_show_only_what_the_reader_may_read(node: Node) -> None:
    sg, my, th = org(node, "SingCERT"), org(node, "MyCERT", state="MY"), org(node, "ThaiCERT")
    sg_p, my_p, th_p = principal(node, sg), principal(node, my), principal(node, th)
    ours = indicator(VALUE, tlp=TLP.GREEN)
    theirs = indicator(VALUE, tlp=TLP.GREEN)
    secret = indicator(VALUE, tlp=TLP.RED)
    unrelated = indicator("45.33.32.157", tlp=TLP.GREEN)
    node.exchange.ingest(sg_p, bundle(ours, unrelated))
    node.exchange.ingest(my_p, bundle(theirs))
    node.exchange.ingest(
        my_p, bundle(secret), ShareRequest.parse("red", "recipients", ["SingCERT"], None)
    )
    seen_by_sg = {c.stix_id for c in node.correlations.of(sg_p, ours["id"])}
    seen_by_th = {c.stix_id for c in node.correlations.of(th_p, ours["id"])}
    assert seen_by_sg == {theirs["id"], secret["id"]}
    assert seen_by_th == {theirs["id"]}  # the RED one stays invisible, not even counted
    (link,) = node.correlations.of(th_p, ours["id"])
    assert (link.kind, link.value, link.owner) == ("ipv4-addr:value", VALUE, my.identity_id)
    token = node.accounts.create_token(None, "ThaiCERT", "reader", "t", None).plaintext
    with Client(create_app(node=node)) as client:
        auth = {"Authorization": f"Bearer {token}"}
        got = client.get(f"/api/v1/objects/{ours['id']}/correlations", headers=auth)
        hidden = client.get(f"/api/v1/objects/{secret['id']}/correlations", headers=auth)
    assert [c["id"] for c in got.json()] == [theirs["id"]]
    assert hidden.status_code == 404


def test_common_and_warninglisted_values_stop_correlating(node: Node) -> None:
    sg = org(node, "SingCERT")
    sg_p = principal(node, sg)
    node.correlations.common_threshold = 3
    common = [indicator("45.33.32.1", tlp=TLP.GREEN) for _ in range(4)]
    pair = [indicator("45.33.32.2", tlp=TLP.GREEN) for _ in range(2)]
    resolver = [indicator("8.8.8.8", tlp=TLP.GREEN) for _ in range(2)]
    node.exchange.ingest(sg_p, bundle(*common, *pair, *resolver, _sco("45.33.32.2")))
    assert node.correlations.of(sg_p, common[0]["id"]) == []
    assert len(node.correlations.of(sg_p, pair[0]["id"])) == 2  # the other indicator, the SCO
    assert node.correlations.of(sg_p, resolver[0]["id"]) == []


def test_new_versions_correlate_with_their_own_values(node: Node) -> None:
    sg = org(node, "SingCERT")
    sg_p = principal(node, sg)
    first = indicator("45.33.32.3", tlp=TLP.GREEN)
    other = indicator("45.33.32.3", tlp=TLP.GREEN)
    node.exchange.ingest(sg_p, bundle(first, other))
    changed = {
        **first,
        "modified": "2026-11-02T10:00:00.000Z",
        "pattern": "[ipv4-addr:value = '45.33.32.4']",
    }
    node.exchange.ingest(sg_p, bundle(changed))
    assert node.correlations.of(sg_p, first["id"]) == []
    assert node.correlations.of(sg_p, other["id"]) == []
    assert STAMP < changed["modified"]


def test_a_taxii_delete_takes_the_values_out_of_the_index(node: Node) -> None:
    sg, my, th = org(node, "SingCERT"), org(node, "MyCERT", state="MY"), org(node, "ThaiCERT")
    sg_p = principal(node, sg)
    node.correlations.common_threshold = 2
    ours, theirs = indicator(VALUE, tlp=TLP.GREEN), indicator(VALUE, tlp=TLP.GREEN)
    doomed = indicator(VALUE, tlp=TLP.GREEN)
    newer = {**doomed, "modified": "2026-11-02T10:00:00.000Z"}
    node.exchange.ingest(sg_p, bundle(ours))
    node.exchange.ingest(principal(node, my), bundle(theirs))
    node.exchange.ingest(principal(node, th), bundle(doomed, newer))
    assert node.correlations.of(sg_p, ours["id"]) == []  # three objects: common
    token = node.accounts.create_token(None, "ThaiCERT", "analyst", "t", None).plaintext
    community = Collection(CollectionKind.COMMUNITY, "", "").id
    url = f"/taxii2/api/collections/{community}/objects/{doomed['id']}/"
    with Client(create_app(node=node)) as client:
        gone = client.delete(
            url, headers={"Authorization": f"Bearer {token}", "Accept": TAXII_MEDIA_TYPE}
        )
    assert gone.status_code == 200
    # Two objects left: the value is no longer common, and only the survivor correlates.
    assert [c.stix_id for c in node.correlations.of(sg_p, ours["id"])] == [theirs["id"]]
    with node.engine.connect() as conn:
        left = conn.execute(select(observable_index.c.stix_id)).scalars().all()
    assert sorted(left) == sorted([ours["id"], theirs["id"]])


@settings(max_examples=100, deadline=None)
@given(
    kind=st.sampled_from(["domain-name", "email-addr"]),
    value=st.from_regex(r"[A-Za-z0-9]{1,8}\.[A-Za-z]{2,4}", fullmatch=True),
)
def test_values_are_compared_without_case_for_names(kind: str, value: str) -> None:
    value = value if kind == "domain-name" else f"x@{value}"
    upper = values_of({"type": kind, "value": value.upper()})
    lower = values_of({"type": kind, "value": value.lower()})
    assert upper == lower == {(f"{kind}:value", value.lower())}
