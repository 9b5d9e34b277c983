"""Correlation through the gate: links only to readable objects, common values skipped."""

from __future__ import annotations

import uuid

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from accord.app import create_app
from accord.detect.correlate import simple_conjunctions, values_of
from accord.detect.patterns import Unsupported
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


# The fast reader of simple patterns against the grammar --------------------------------

_TYPES = ["domain-name", "ipv4-addr", "file", "network-traffic", "url", "x-custom", "_x"]
_STEPS = ["value", "hashes", "MD5", "'SHA-256'", "dst_ref", "type", "'a.b'", "'it\\'s'"]
_STEPS += ["'x\\\\y'", "'value'", "_1"]
_ODD_NAMES = ["AND", "true", "IN", "a-", "LIKE", "t", "1x", "a b"]  # mostly keywords
_SPACE = st.sampled_from([" ", " ", " ", "", "  ", "\t", "\n", "\r\n"])
_GAP = st.sampled_from([" ", " ", "  ", "\t", "\n", "\r\n"])  # around AND and OR
_VALUES = st.one_of(
    st.sampled_from(["10.0.0.1", "evil.test", "ipv4-addr", "d41d8cd98f00b204e9800998ecf8427e"]),
    st.text(st.sampled_from("ab'\\ ]\"[=\n.")),
    st.text(max_size=12),
)


def _quote(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _mostly(draw: st.DrawFn, usual: st.SearchStrategy[str], odd: list[str]) -> str:
    return draw(st.sampled_from(odd)) if draw(st.integers(0, 39)) == 39 else draw(usual)


@st.composite
def _comparison(draw: st.DrawFn) -> str:
    if draw(st.booleans()):  # a key the compiled matchers know, so it carries a value
        keys = ["domain-name:value", "ipv4-addr:value", "url:value", "file:hashes.MD5"]
        sco_type, path = draw(st.sampled_from([*keys, "file:hashes.'SHA-256'"])).split(":")
    else:
        sco_type = _mostly(draw, st.sampled_from(_TYPES), _ODD_NAMES)
        steps = st.lists(st.sampled_from(_STEPS), min_size=1, max_size=3).map(".".join)
        path = _mostly(draw, steps, [f"value.{n}" for n in _ODD_NAMES])
    op = _mostly(draw, st.just("="), ["==", "!=", "IN", "LIKE"])
    value = _quote(draw(_VALUES))
    if op == "IN":
        value = f"({value})"
    return f"{sco_type}:{path}{draw(_SPACE)}{op}{draw(_SPACE)}{value}"


@st.composite
def _simple_patterns(draw: st.DrawFn) -> str:
    observations = []
    for _ in range(draw(st.integers(1, 3))):
        comparisons = draw(st.lists(_comparison(), min_size=1, max_size=4))
        text = comparisons[0]
        for comparison in comparisons[1:]:
            op = _mostly(draw, st.sampled_from(["AND", "OR"]), ["and", "ANDx", "FOLLOWEDBY"])
            text += f"{draw(_SPACE)}{op}{_mostly(draw, _GAP, [''])}{comparison}"
        observations.append(f"[{draw(_SPACE)}{text}{draw(_SPACE)}]")
    text = observations[0]
    for observation in observations[1:]:
        op = _mostly(draw, st.just("OR"), ["AND", "FOLLOWEDBY", "or"])
        text += f"{draw(_SPACE)}{op}{draw(_SPACE)}{observation}"
    if draw(st.integers(0, 9)) == 9:  # damage it somewhere
        at = draw(st.integers(0, len(text)))
        text = text[:at] + draw(st.sampled_from(["'", "\\", "(", "]", "", " x"])) + text[at + 1 :]
    return text


def _by_grammar(pattern: str) -> tuple[object, ...] | str:
    from stix2patterns.exceptions import ParseException
    from stix2patterns.v21.pattern import Pattern

    from accord.detect import patterns

    try:
        tree = Pattern(pattern)._Pattern__parse_tree
    except ParseException:
        return "does not parse"
    try:
        return tuple(patterns._observations(tree.observationExpressions()))
    except Unsupported:
        return "unsupported"


@settings(max_examples=400, deadline=None)
@given(pattern=_simple_patterns())
def test_the_fast_pattern_reader_agrees_with_the_grammar(pattern: str) -> None:
    try:
        fast: tuple[object, ...] | str | None = simple_conjunctions(pattern)
    except Unsupported:
        fast = "unsupported"
    slow = _by_grammar(pattern)
    assert fast is None or fast == slow, (pattern, fast, slow)


@pytest.mark.parametrize(
    ("pattern", "values"),
    [
        ("[domain-name:value = 'Evil.Test']", {("domain-name:value", "evil.test")}),
        (
            "[url:value = 'http://x/it\\'s\\\\'] OR [url:value = 'http://y/']",
            {("url:value", "http://x/it's\\"), ("url:value", "http://y/")},
        ),
        (
            "[file:hashes.MD5 = 'AB' AND file:hashes.'SHA-256' = 'cd' OR url:value = 'u']",
            {("file:hashes.MD5", "ab"), ("file:hashes.SHA-256", "cd"), ("url:value", "u")},
        ),
        ("[file:hashes.MD5 = 'ab' AND url:value = 'u']", set()),  # no one object is both
        # misp-stix's ip-dst: dst_ref.type is no compiled key, so the grammar's path
        # gives nothing either (the observed data's address correlates instead)
        (
            "[network-traffic:dst_ref.type = 'ipv4-addr' AND "
            "network-traffic:dst_ref.value = '10.0.0.1']",
            set(),
        ),
    ],
)
def test_simple_patterns_give_their_values(pattern: str, values: set[tuple[str, str]]) -> None:
    try:
        fast: tuple[object, ...] | str | None = simple_conjunctions(pattern)
    except Unsupported:
        fast = "unsupported"
    assert fast is not None and fast == _by_grammar(pattern)
    indicator = {"type": "indicator", "pattern": pattern, "pattern_type": "stix"}
    assert values_of(indicator) == values
