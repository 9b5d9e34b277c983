"""Hash lists through the service: gate, opinions, disables, negative lists, flood, lookups."""

from __future__ import annotations

from datetime import timedelta

import pytest

from accord.domain.tlp import TLP
from accord.errors import Forbidden, InvalidInput, NotFound, TooManyAttempts
from accord.exchange.service import ShareRequest
from accord.hashlists.service import Item, NewEntry
from accord.node import Node
from accord.store.objects import ObjectQuery
from tests.builders import org, principal
from tests.hashlists.conftest import CRITERIA, flip, pdq, service

MD5 = "d41d8cd98f00b204e9800998ecf8427e"
LABELS = {
    "content_type": "image",
    "producer": {"name": "ISIL", "un_ref": "QDe.115"},
    "behaviours": ["glorification"],
    "incident": "incident-1",
}


def _world(node: Node):  # type: ignore[no-untyped-def]
    sg, my, th = org(node, "SingCERT"), org(node, "MyCERT", state="MY"), org(node, "ThaiCERT")
    group = node.accounts.add_group(None, "tvec", "TVEC", "")
    node.accounts.set_member(None, "tvec", sg.identity_id, member=True)
    node.accounts.set_member(None, "tvec", my.identity_id, member=True)
    return principal(node, sg), principal(node, my), principal(node, th), group


def test_a_group_list_matches_for_members_only_and_carries_labels(node: Node) -> None:
    sg, my, th, _ = _world(node)
    lists = service(node)
    hl = lists.create_list(
        sg,
        name="TVEC images",
        description="",
        criteria=CRITERIA,
        share=ShareRequest.parse("amber", "group", [], "tvec"),
    )
    target = pdq(1)
    ids = lists.add_entries(
        sg,
        hl.id,
        [
            NewEntry("pdq", target, "tvec", LABELS, quality=90),
            NewEntry("md5", MD5.upper(), "tvec", {}),
        ],
    )
    near = flip(target, 20)
    far = flip(target, 40)
    query = [
        Item("pdq", near, 80),
        Item("pdq", far, 80),
        Item("md5", MD5),
        Item("sha256", "a" * 64),
    ]
    got = lists.match(my, query)
    assert [(h.query, h.entry, h.distance) for h in got.hits] == [(0, ids[0], 20), (2, ids[1], 0)]
    assert got.hits[0].labels["producer"]["un_ref"] == "QDe.115"
    assert got.hits[0].list_name == "TVEC images" and got.hits[0].state.value == "positive"
    assert lists.match(th, query).hits == []  # not in the group: nothing, not even a count
    assert [h.distance for h in lists.match(my, query[:1], threshold=10).hits] == []


def test_opinions_aggregate_and_disables_take_effect_at_once(node: Node) -> None:
    sg, my, th, _ = _world(node)
    lists = service(node)
    hl = lists.create_list(
        sg,
        name="L",
        description="",
        criteria=CRITERIA,
        share=ShareRequest.parse("green", None, [], None),
    )
    (entry,) = lists.add_entries(sg, hl.id, [NewEntry("md5", MD5, "tvec")])
    view = lists.opine(my, entry, "disputed", "looks like a meme")
    assert view.state.value == "disputed"
    # the opinion went to the owner: the owner sees it, a third party does not
    assert [o.verdict.value for o in lists.entry(sg, entry).opinions] == ["disputed"]
    view = lists.opine(my, entry, "false-positive")  # a new version of the same opinion
    assert len(view.opinions) == 1 and view.state.value == "disputed"
    lists.opine(th, entry, "false-positive", share=ShareRequest.parse("green", None, [], None))
    assert lists.entry(sg, entry).state.value == "negative"  # two against the owner's one
    assert lists.opine(sg, entry, "true-positive").state.value == "negative"  # listing counted
    with pytest.raises(Forbidden):
        lists.set_disabled(my, entry, True, "not yours")
    lists.set_disabled(sg, entry, True, "hash of a news photo")
    assert lists.match(my, [Item("md5", MD5)]).hits == []
    assert lists.entry(my, entry).disabled == "hash of a news photo"
    lists.set_disabled(sg, entry, False)
    assert [h.entry for h in lists.match(my, [Item("md5", MD5)]).hits] == [entry]
    report = lists.report(
        sg, hl.id, node.clock() - timedelta(days=1), node.clock() + timedelta(days=1)
    )
    assert report["entries"]["added"] == 1 and report["entries"]["removed"] == 1
    assert report["opinions"] == {"disputed": 1, "false-positive": 2, "true-positive": 1}
    assert report["matches"]["total"] == 1


def test_negative_lists_suppress_and_floods_are_held(node: Node) -> None:
    sg, my, _, _ = _world(node)
    lists = service(node)
    green = ShareRequest.parse("green", None, [], None)
    bad = lists.create_list(sg, name="bad", description="", criteria=CRITERIA, share=green)
    benign = lists.create_list(
        my, name="benign", description="", criteria=CRITERIA, polarity="negative", share=green
    )
    value = pdq(7)
    (entry,) = lists.add_entries(sg, bad.id, [NewEntry("pdq", value, "tvec")])
    lists.add_entries(my, benign.id, [NewEntry("pdq", flip(value, 3), "tvec")])
    got = lists.match(sg, [Item("pdq", value), Item("pdq", pdq(8))])
    assert got.hits == [] and got.suppressed == [0]
    lists.set_disabled(my, lists.entries(my, benign.id)[0].id, True, "wrong")
    lists.flood_limit = 2
    held = [lists.match(sg, [Item("pdq", flip(value, 1, seed))]).hits[0].held for seed in range(4)]
    assert held == [False, False, True, True]
    assert lists.entry(sg, entry).held
    assert not lists.release(sg, entry).held


def test_lookup_without_export_is_granted_rate_limited_and_audited(node: Node) -> None:
    sg, my, th, _ = _world(node)
    lists = service(node)
    red = ShareRequest.parse("red", "organisation", [], None)
    hl = lists.create_list(sg, name="secret", description="", criteria=CRITERIA, share=red)
    lists.add_entries(sg, hl.id, [NewEntry("md5", MD5, "tvec", {"content_type": "video"})])
    with pytest.raises(NotFound):
        lists.lookup(th, hl.id, [Item("md5", MD5)])
    assert lists.match(th, [Item("md5", MD5)]).hits == []  # no read, no match
    lists.grant(sg, hl.id, "ThaiCERT")
    answers = lists.lookup(th, hl.id, [Item("md5", MD5), Item("md5", "0" * 32)])
    assert [(a.hit, a.labels) for a in answers] == [
        (True, [{"content_type": "video"}]),
        (False, []),
    ]
    lists.lookup_rate = 2
    lists.lookup(th, hl.id, [Item("md5", MD5)])
    with pytest.raises(TooManyAttempts):
        lists.lookup(th, hl.id, [Item("md5", MD5)])
    report = lists.report(
        sg, hl.id, node.clock() - timedelta(days=1), node.clock() + timedelta(days=1)
    )
    assert report["lookups"]["by_requester"] == {node.orgs.find("ThaiCERT").identity_id: 2}
    with pytest.raises(NotFound):
        lists.report(th, hl.id, node.clock() - timedelta(days=1), node.clock())
    lists.revoke(sg, hl.id, "ThaiCERT")
    with pytest.raises(NotFound):
        lists.lookup(th, hl.id, [Item("md5", MD5)])


BAD_ITEMS = [
    (Item("pdq", "ab"), "hashes[0].value"),
    (Item("pdq", "z" * 64), "hashes[0].value"),
    (Item("pdq", "a" * 64, 10), "hashes[0].quality"),
    (Item("md5", "a" * 64), "hashes[0].value"),
    (Item("crc32", "a" * 8), "hashes[0].signal"),
]


def test_malformed_hashes_are_refused_naming_the_field(sqlite_node: Node) -> None:
    sg, *_ = _world(sqlite_node)
    for item, field in BAD_ITEMS:
        with pytest.raises(InvalidInput) as caught:
            service(sqlite_node).match(sg, [item])
        assert caught.value.problems[0].field == field


def test_bad_entries_and_unknown_lists_store_nothing(sqlite_node: Node) -> None:
    sg, my, *_ = _world(sqlite_node)
    lists = service(sqlite_node)
    hl = lists.create_list(sg, name="L", description="", criteria=CRITERIA)
    before = sqlite_node.exchange.page(sg, ObjectQuery()).rows
    for entries in (
        [NewEntry("md5", MD5, "tvec"), NewEntry("md5", "xyz", "tvec")],
        [NewEntry("md5", MD5, "nope")],
        [NewEntry("md5", MD5, "tvec", {"producer": {"name": "X", "un_ref": "bad"}})],
        [NewEntry("md5", MD5, "tvec", {"behaviours": ["unknown"]})],
    ):
        with pytest.raises(InvalidInput):
            lists.add_entries(sg, hl.id, entries)
    with pytest.raises(NotFound):
        lists.add_entries(
            sg,
            "x-accord-hash-list--00000000-0000-4000-8000-000000000000",
            [NewEntry("md5", MD5, "tvec")],
        )
    with pytest.raises(NotFound):  # an AMBER list of its owner only: not even seen
        lists.add_entries(my, hl.id, [NewEntry("md5", MD5, "tvec")])
    after = sqlite_node.exchange.page(sg, ObjectQuery()).rows
    assert len(after) == len(before)
    with pytest.raises(InvalidInput):
        lists.create_list(sg, name="L", description="", criteria=[])
    assert TLP.AMBER is hl.tlp
