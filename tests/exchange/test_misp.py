"""MISP in and out: markings, distributions and sharing groups survive both round trips;
feeds are pulled (directory and loopback http) and served; bad input stores nothing."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pymisp import MISPEvent, MISPObject
from pymisp.tools import feed_meta_generator

from accord.app import create_app
from accord.domain.model import Principal, Role
from accord.domain.scope import Scope
from accord.domain.tlp import TLP
from accord.errors import Conflict, InvalidInput, NotFound, PeerUnavailable
from accord.exchange.capability import EXCHANGE
from accord.exchange.misp.convert import ImportReport
from accord.exchange.misp.feeds import fetch_events, pull_all, pull_feed, source
from accord.node import Node
from accord.store.objects import SQLObjectStore
from tests.asgi import Client
from tests.builders import org
from tests.cli_runner import run
from tests.conftest import migrated_sqlite
from tests.server import serving

SG = "5d6e7f80-1111-4222-8333-444455556666"
STAMP = "1700000000"


def _event(
    distribution: int = 1,
    tlp: str | None = "tlp:green",
    attributes: list[tuple[str, str, int, str | None]] | None = None,
    stamp: str = STAMP,
) -> dict[str, Any]:
    """A MISP event built with PyMISP, as a MISP instance would send it (timestamps set)."""
    ev = MISPEvent()
    ev.uuid = str(uuid.uuid4())
    ev.info = "phishing wave"
    ev.date = "2026-11-30"
    ev.distribution = distribution
    if distribution == 4:
        ev.sharing_group_id = 7
        ev.SharingGroup = {"uuid": SG, "name": "ASEAN CERTs"}
    if tlp:
        ev.add_tag(tlp)
    ev.Orgc = {"name": "SingCERT", "uuid": "3f2c5b8e-4c1d-4e2a-9b7f-1a2b3c4d5e6f"}
    for kind, value, dist, tag in attributes or [("ip-dst", "198.51.100.7", 5, None)]:
        extra: dict[str, Any] = {}
        if dist == 4:
            extra = {"sharing_group_id": 7, "SharingGroup": {"uuid": SG, "name": "ASEAN CERTs"}}
        attr = ev.add_attribute(kind, value, to_ids=True, distribution=dist, **extra)
        if tag:
            attr.add_tag(tag)
    data: dict[str, Any] = orjson.loads(ev.to_json())
    data["timestamp"] = stamp
    for a in data.get("Attribute", []):
        a["timestamp"] = stamp
    for o in data.get("Object", []):
        o["timestamp"] = stamp
        for a in o["Attribute"]:
            a["timestamp"] = stamp
    return {"Event": data}


def _normal(event: dict[str, Any]) -> str:
    misp = MISPEvent()
    misp.load(orjson.loads(orjson.dumps(event)))  # PyMISP empties what it reads
    return str(misp.to_json(sort_keys=True))


def _setup(node: Node) -> tuple[Principal, Principal]:
    a = org(node, "SingCERT")
    b = org(node, "MyCERT", state="MY")
    node.accounts.add_group(None, "asean-certs", "ASEAN CERTs")
    node.accounts.set_member(None, "asean-certs", a.identity_id, True)
    node.accounts.set_member(None, "asean-certs", b.identity_id, True)
    groups = node.accounts.groups.of_org(a.id)
    admin = Principal(org=a.id, role=Role.ADMIN, groups=groups)
    node.misp.link_group(admin, SG, "asean-certs")
    reader = Principal(org=b.id, role=Role.READER, groups=node.accounts.groups.of_org(b.id))
    return admin, reader


def _stamps(node: Node, who: Principal) -> dict[str, tuple[TLP, Scope, str]]:
    from accord.store.objects import ObjectQuery

    rows = [r for page in node.exchange.iter_all(who, ObjectQuery(limit=500)) for r in page]
    return {r.stix_id: (r.tlp, r.scope, r.doc) for r in rows}


def test_mixed_event_comes_back_identical(node: Node) -> None:
    """Mixed distributions, a sharing group and TLP tags: in and out unchanged, and each
    attribute stamped with its own marking and scope."""
    admin, reader = _setup(node)
    event = _event(
        distribution=2,
        tlp="tlp:green",
        attributes=[
            ("ip-dst", "198.51.100.7", 5, None),  # inherit: federation
            ("domain", "evil.example", 0, None),  # organisation
            ("url", "http://evil.example/a", 4, None),  # the sharing group
            ("md5", "d41d8cd98f00b204e9800998ecf8427e", 1, "tlp:amber+strict"),
            ("sha256", "a" * 64, 3, "tlp:clear"),  # never wider than its event
        ],
    )
    report = node.misp.import_events(admin, [event])
    assert report.events == [event["Event"]["uuid"]]
    exported = node.misp.event(admin, event["Event"]["uuid"])
    assert _normal(exported) == _normal(event)
    stamps = _stamps(node, admin)
    by_value = {}
    for tlp, scope, doc in stamps.values():
        record = orjson.loads(doc).get("x_misp_attribute")
        if record:
            by_value[record["value"]] = (tlp, scope)
    assert by_value == {
        "198.51.100.7": (TLP.GREEN, Scope.FEDERATION),
        "evil.example": (TLP.GREEN, Scope.ORGANISATION),
        "http://evil.example/a": (TLP.GREEN, Scope.GROUP),
        "d41d8cd98f00b204e9800998ecf8427e": (TLP.AMBER_STRICT, Scope.ORGANISATION),
        "a" * 64: (TLP.GREEN, Scope.FEDERATION),
    }
    mapped = {(m["misp"], m["accord"]) for m in report.as_dict()["mapped"]}
    assert ("distribution 4 (sharing group); no tlp: tag", "TLP:GREEN; group") in mapped
    assert any("narrowed" in n["note"] for n in report.as_dict()["notes"])
    # The other organisation reads the group's attribute and the federation ones only.
    seen = node.misp.event(reader, event["Event"]["uuid"])
    assert {a["value"] for a in seen["Event"]["Attribute"]} == {
        "198.51.100.7",
        "http://evil.example/a",
        "a" * 64,
    }
    # Importing the export again is a no-op: the very same objects, markings and scopes.
    again = node.misp.import_events(admin, [exported])
    assert again.stored == 0 and again.duplicates == report.stored


DISTRIBUTIONS = st.sampled_from([0, 1, 2, 3, 4, 5])
TLPS = st.sampled_from(
    [None, "tlp:white", "tlp:clear", "tlp:green", "tlp:amber", "tlp:amber+strict", "tlp:red"]
)
VALUES = {
    "ip-dst": st.integers(1, 254).map(lambda n: f"198.51.100.{n}"),
    "domain": st.from_regex(r"[a-z]{1,10}\.example", fullmatch=True),
    "md5": st.from_regex(r"[0-9a-f]{32}", fullmatch=True),
    # MISP refuses an empty value, and PyMISP writes a blank one as empty.
    "text": st.text("abc xyz", min_size=1, max_size=20).filter(str.strip),
}
ATTRIBUTES = st.lists(
    st.sampled_from(sorted(VALUES)).flatmap(
        lambda kind: st.tuples(st.just(kind), VALUES[kind], DISTRIBUTIONS, TLPS)
    ),
    min_size=0,
    max_size=4,
)


@settings(
    max_examples=8,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    distribution=st.sampled_from([0, 1, 2, 3, 4]),
    tlp=TLPS,
    attributes=ATTRIBUTES,
    with_object=st.booleans(),
    public=st.booleans(),
)
def test_round_trips_are_lossless(
    sqlite_node: Node,
    distribution: int,
    tlp: str | None,
    attributes: list[tuple[str, str, int, str | None]],
    with_object: bool,
    public: bool,
) -> None:
    """Event -> Accord -> event keeps every attribute, marking, distribution and sharing
    group; Accord -> event -> Accord keeps every object, marking and scope."""
    node = sqlite_node
    if not node.accounts.orgs.all():
        _setup(node)
    admin = Principal(
        org=node.accounts.orgs.find("SingCERT").id,
        role=Role.ADMIN,
        groups=node.accounts.groups.of_org(node.accounts.orgs.find("SingCERT").id),
    )
    event = _event(distribution, tlp, attributes)
    if with_object:
        obj = MISPObject("domain-ip")
        obj.add_attribute("domain", "x.example")
        obj.add_attribute("ip", "192.0.2.1")
        data = orjson.loads(obj.to_json())
        data["timestamp"] = STAMP
        for a in data["Attribute"]:
            a["timestamp"] = STAMP
        event["Event"]["Object"] = [data]
    if public:
        event["Event"]["Tag"] = [*event["Event"].get("Tag", []), {"name": 'accord:scope="public"'}]
    before = set(_stamps(node, admin).items())
    node.misp.import_events(admin, [event])
    stored = set(_stamps(node, admin).items()) - before
    exported = node.misp.event(admin, event["Event"]["uuid"])
    assert _normal(exported) == _normal(event)
    # Accord -> event -> Accord: the export maps to exactly the stored objects and stamps.
    from accord.exchange.misp.convert import ImportReport

    (prepared,) = node.misp.prepare(admin, [exported], ImportReport())
    again = {
        v.stix_id: (v.distribution.tlp, v.distribution.scope, v.doc) for _, v in prepared.versions
    }
    assert set(again.items()) == stored


def test_bad_events_store_nothing(node: Node) -> None:
    admin, _ = _setup(node)
    store = SQLObjectStore(node.engine)
    good = _event()
    unknown = _event()
    unknown["Event"]["Attribute"][0]["distribution"] = 9
    no_group = _event(distribution=4)
    no_group["Event"]["SharingGroup"]["uuid"] = str(uuid.uuid4())
    truncated = orjson.dumps(_event())[:-40]
    nul = _event()
    nul["Event"]["Attribute"][0]["comment"] = "seen\x00here"
    surrogate = _event()
    surrogate["Event"]["Attribute"][0]["comment"] = "seen \udc80"
    cases: list[tuple[Any, str]] = [
        (unknown, "Attribute[0].distribution"),
        (no_group, "does not exist"),
        (truncated, "truncated"),
        (nul, "Event.Attribute[0].comment: contains a NUL"),
        (orjson.dumps(nul), "Event.Attribute[0].comment: contains a NUL"),
        (surrogate, "Event.Attribute[0].comment: contains an unpaired surrogate"),
    ]
    for bad, why in cases:
        with pytest.raises(InvalidInput) as caught:
            node.misp.import_events(admin, [good, bad])
        text = caught.value.detail + " ".join(str(p.as_dict()) for p in caught.value.problems)
        assert why in text
        assert store.count_versions() == 0


def test_malformed_events_are_refused_naming_the_field(sqlite_node: Node) -> None:
    """Shapes PyMISP would read wrongly or drop unread are refused, naming the field:
    a repeated UUID (it would give the attribute its namesake's audience), a tag that is
    no tag (a tlp: one would be lost), a value that is no text or none, an object that is
    no object, a distribution or time that only looks like a number, a type MISP has not."""
    node = sqlite_node
    admin, reader = _setup(node)
    store = SQLObjectStore(node.engine)

    def bad(change: Any, **kwargs: Any) -> dict[str, Any]:
        event = _event(**kwargs)
        change(event["Event"])
        return event

    def first(e: dict[str, Any]) -> dict[str, Any]:
        attribute: dict[str, Any] = e["Attribute"][0]
        return attribute

    two = [("ip-dst", "198.51.100.7", 0, None), ("ip-dst", "198.51.100.8", 5, None)]
    cases: list[tuple[dict[str, Any], str]] = [
        (
            bad(lambda e: first(e).update(uuid=e["uuid"]), distribution=2),
            "Event.Attribute[0].uuid",
        ),
        (
            bad(lambda e: e["Attribute"][1].update(uuid=first(e)["uuid"].upper()), attributes=two),
            "Event.Attribute[1].uuid",
        ),
        (bad(lambda e: e.update(Tag={"name": "tlp:red"})), "Event.Tag"),
        (bad(lambda e: first(e).update(Tag=[{"name": 5}])), "Event.Attribute[0].Tag[0]"),
        (bad(lambda e: first(e).update(value={"ip": "198.51.100.7"})), "Attribute[0].value"),
        (bad(lambda e: e.update(Object=[1])), "Event.Object[0]"),
        (bad(lambda e: e.update(distribution="\u00b2")), "Event.distribution"),
        (bad(lambda e: first(e).update(distribution="\u00b2")), "Event.Attribute[0].distribution"),
        (bad(lambda e: first(e).update(uuid="{" + first(e)["uuid"] + "}")), "Attribute[0].uuid"),
        # What PyMISP would coerce, drop with a warning or report without naming the field:
        (bad(lambda e: first(e).update(timestamp="\u00b2")), "Event.Attribute[0].timestamp"),
        (bad(lambda e: first(e).update(timestamp="-5")), "Event.Attribute[0].timestamp"),
        (bad(lambda e: e.update(timestamp=10**13)), "Event.timestamp"),
        (bad(lambda e: first(e).update(timestamp=1.5)), "Event.Attribute[0].timestamp"),
        (bad(lambda e: first(e).update(first_seen="garbage")), "Event.Attribute[0].first_seen"),
        (bad(lambda e: first(e).update(last_seen="1700000000")), "Event.Attribute[0].last_seen"),
        (bad(lambda e: first(e).update(value="")), "Event.Attribute[0].value"),
        (bad(lambda e: first(e).pop("value")), "Event.Attribute[0].value"),
        (bad(lambda e: first(e).update(comment={"a": 1})), "Event.Attribute[0].comment"),
        (bad(lambda e: first(e).update(category=5)), "Event.Attribute[0].category"),
        (bad(lambda e: first(e).update(type="no-such-type")), "Event.Attribute[0].type"),
        (bad(lambda e: first(e).update(to_ids="maybe")), "Event.Attribute[0].to_ids"),
        (bad(lambda e: e.update(Attribute={"a": 1})), "Event.Attribute"),
        (bad(lambda e: e.update(Galaxy=[{"GalaxyCluster": "x"}])), "Event.Galaxy[0].GalaxyCluster"),
        (bad(lambda e: e.update(Object=[{"name": "domain-ip", "Attribute": "x"}])), "Object[0]"),
        (bad(lambda e: e.update(Orgc="x")), "Event.Orgc"),
        (bad(lambda e: e["Orgc"].update(uuid="bad")), "Event.Orgc.uuid"),
    ]
    for event, where in cases:
        with pytest.raises(InvalidInput) as caught:
            node.misp.import_events(admin, [event])
        assert where in caught.value.detail, caught.value.detail
        assert store.count_versions() == 0


def test_a_uuid_carried_by_two_events_of_one_import_is_refused_before_storing(
    node: Node,
) -> None:
    """The same event twice, or an attribute of one event in another, is refused while
    checking, naming both events: stored, the second would clash with the first or pass
    for its copy with the first's audience."""
    admin, _ = _setup(node)
    store = SQLObjectStore(node.engine)
    first = _event(distribution=0, attributes=[("domain", "a.example", 0, None)])
    again = orjson.loads(orjson.dumps(first))
    again["Event"]["info"] = "changed"
    borrower = _event(distribution=3, attributes=[("domain", "a.example", 3, None)])
    borrower["Event"]["Attribute"][0]["uuid"] = first["Event"]["Attribute"][0]["uuid"].upper()
    for second, where in ((again, "Event.uuid"), (borrower, "Event.Attribute[0].uuid")):
        with pytest.raises(InvalidInput) as caught:
            node.misp.import_events(admin, [first, _event(), second], names=["a", "b", "c"])
        assert caught.value.detail.startswith(f"c: {where}: "), caught.value.detail
        assert "is also in a" in caught.value.detail
        assert store.count_versions() == 0


def test_a_clash_in_a_group_of_events_keeps_the_events_before_it(node: Node) -> None:
    """Events are stored several to a transaction; when one clashes with what is stored,
    the events before it are kept, it and those after are not, and the error names it."""
    admin, _ = _setup(node)
    store = SQLObjectStore(node.engine)
    first = _event(attributes=[("domain", "first.example", 1, None)])
    node.misp.import_events(admin, [first])
    held = store.count_versions()
    changed = orjson.loads(orjson.dumps(first))  # the same attribute, other content, same time
    changed["Event"]["Attribute"][0]["value"] = "changed.example"
    changed["Event"]["uuid"] = str(uuid.uuid4())
    before, after = _event(), _event()
    with pytest.raises(Conflict) as caught:
        node.misp.import_events(admin, [before, changed, after])
    assert "clash" in caught.value.detail
    assert caught.value.problems and caught.value.problems[0].field == "modified"
    assert node.misp.event(admin, before["Event"]["uuid"])["Event"]["uuid"]
    for missing in (changed, after):
        with pytest.raises(NotFound):
            node.misp.event(admin, missing["Event"]["uuid"])
    assert store.count_versions() > held
    again = _event()
    report = node.misp.import_events(admin, [before, again])  # a stored event is a duplicate
    assert report.duplicates > 0 and _normal(node.misp.event(admin, again["Event"]["uuid"]))


def test_events_past_the_memory_budget_are_prepared_again_the_same(
    node: Node, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An import holds prepared events up to a budget of documents and prepares the rest
    again as it stores them: the same versions, mapping counted once, all still checked
    before anything is stored."""
    from accord.exchange.misp import service

    admin, _ = _setup(node)
    events = [
        _event(
            distribution=d,
            attributes=[("domain", f"d{d}-{i}.example", d, "tlp:amber") for i in range(3)]
            + [("ip-dst", f"198.51.100.{d}", 4, None), ("url", "http://x.example/it's", 5, None)],
        )
        for d in range(5)
    ]
    whole = ImportReport()
    held = list(node.misp.prepare(admin, events, whole))
    reads: list[int] = []
    real = service.read_event
    monkeypatch.setattr(service, "read_event", lambda p: reads.append(1) or real(p))
    monkeypatch.setattr(node.misp, "_hold_bytes", 1)  # only the first event is held
    report = ImportReport()
    bounded = node.misp.prepare(admin, events, report)
    assert len(reads) == len(events) and len(bounded) == len(events)
    assert list(bounded) == held
    assert len(reads) == 2 * len(events) - 1  # every event after the first, read again
    assert report.as_dict() == whole.as_dict()  # notes and mappings counted once

    bad = _event()
    bad["Event"]["Attribute"][0]["distribution"] = 9
    with pytest.raises(InvalidInput) as caught:
        node.misp.import_events(admin, [*events, bad])
    assert caught.value.detail.startswith("event 5: ")
    assert SQLObjectStore(node.engine).count_versions() == 0
    imported = node.misp.import_events(admin, events)
    assert imported.stored == sum(len(e.versions) for e in held)
    for event in events:
        assert _normal(node.misp.event(admin, event["Event"]["uuid"])) == _normal(event)


def _feed_dir(path: Path, events: list[dict[str, Any]]) -> None:
    path.mkdir(exist_ok=True)
    for event in events:
        (path / f"{event['Event']['uuid']}.json").write_bytes(orjson.dumps(event))
    feed_meta_generator(path)  # PyMISP's own feed tooling writes manifest and hashes


def test_feed_is_pulled_incrementally_and_checked(node: Node, tmp_path: Path) -> None:
    admin, _ = _setup(node)
    feed = tmp_path / "feed"
    first, second = _event(), _event(distribution=4)
    _feed_dir(feed, [first, second])
    with pytest.raises(InvalidInput, match="http"):  # over the API: URLs only
        node.misp.add_feed(admin, "circl", str(feed))
    node.misp.add_feed(admin, "circl", str(feed), directory=True)
    jobs = EXCHANGE.jobs(node)
    assert [j.name for j in jobs] == ["misp-feeds"]
    pull_all(node.misp)  # what the scheduled job runs
    assert node.misp.repo.feed("circl").cursor == {  # type: ignore[union-attr]
        first["Event"]["uuid"]: int(STAMP),
        second["Event"]["uuid"]: int(STAMP),
    }
    result = pull_feed(node.misp, node.misp.repo.feed("circl"))  # type: ignore[arg-type]
    assert (result.fetched, result.up_to_date) == (0, 2)
    # An updated event is fetched again; a lying hashes.csv stops the pull, storing nothing.
    first["Event"]["timestamp"] = "1700000100"
    added = dict(first["Event"]["Attribute"][0], uuid=str(uuid.uuid4()), value="203.0.113.9")
    first["Event"]["Attribute"].append({**added, "timestamp": "1700000100"})
    _feed_dir(feed, [first, second])
    hashes = (feed / "hashes.csv").read_text()
    (feed / "hashes.csv").write_text(hashes.replace(hashes[:32], "0" * 32))
    count = SQLObjectStore(node.engine).count_versions()
    with pytest.raises(InvalidInput, match="hashes.csv"):
        pull_feed(node.misp, node.misp.repo.feed("circl"))  # type: ignore[arg-type]
    assert SQLObjectStore(node.engine).count_versions() == count
    (feed / "hashes.csv").write_text(hashes)
    result = pull_feed(node.misp, node.misp.repo.feed("circl"))  # type: ignore[arg-type]
    assert (result.fetched, result.up_to_date) == (1, 1)


def test_a_feed_that_lies_is_refused_naming_the_file(sqlite_node: Node, tmp_path: Path) -> None:
    """A manifest's keys are UUIDs, never paths or URLs to fetch; its timestamps are
    plain numbers; an event file that is no JSON is named; a feed URL must parse; and
    a peer that trickles its answer is given up on. Nothing is stored, the cursor stays."""
    node = sqlite_node
    admin, _ = _setup(node)
    feed = tmp_path / "feed"
    event = _event()
    key = event["Event"]["uuid"]
    _feed_dir(feed, [event])
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "aaaaaaaaaaaaaaaaaaaaaaaaaa.json").write_bytes(orjson.dumps(event))
    node.misp.add_feed(admin, "lying", str(feed), directory=True)
    manifests: list[tuple[dict[str, Any], str]] = [
        ({"../outside/aaaaaaaaaaaaaaaaaaaaaaaaaa": {"timestamp": STAMP}}, "needs a UUID"),
        ({"http://127.0.0.1:9/aaaaaaaaaaaaaaaaaa": {"timestamp": STAMP}}, "needs a UUID"),
        ({key: {"timestamp": "\u00b2"}}, "needs a UUID and a timestamp"),
        ({key: {"timestamp": -1}}, "needs a UUID and a timestamp"),
    ]
    for manifest, why in manifests:
        (feed / "manifest.json").write_bytes(orjson.dumps(manifest))
        with pytest.raises(InvalidInput, match=why):
            pull_feed(node.misp, node.misp.repo.feed("lying"))  # type: ignore[arg-type]
    _feed_dir(feed, [event])
    (feed / f"{key}.json").write_bytes(orjson.dumps(event)[:-20])
    with pytest.raises(InvalidInput) as caught:
        pull_feed(node.misp, node.misp.repo.feed("lying"))  # type: ignore[arg-type]
    assert caught.value.detail.startswith(f"{key}.json: not JSON")
    assert SQLObjectStore(node.engine).count_versions() == 0
    assert node.misp.repo.feed("lying").cursor == {}  # type: ignore[union-attr]

    for unusable in ("http://[::1/", "https://", "http://:80/feed"):
        with pytest.raises(InvalidInput, match="not a feed URL"):
            node.misp.add_feed(admin, "unparsable", unusable)
    assert node.misp.repo.feed("unparsable") is None
    # One stored before URLs were checked on adding fails its pull the same way.
    assert admin.org is not None
    node.misp.repo.add_feed("unparsable", "http://[::1/", admin.org, 0, "TLP:AMBER")
    with pytest.raises(InvalidInput, match="not a feed URL"):
        pull_feed(node.misp, node.misp.repo.feed("unparsable"))  # type: ignore[arg-type]

    async def trickle(scope: Any, receive: Any, send: Any) -> None:
        import asyncio

        await send({"type": "http.response.start", "status": 200, "headers": []})
        for _ in range(40):
            await send({"type": "http.response.body", "body": b" ", "more_body": True})
            await asyncio.sleep(0.1)
        await send({"type": "http.response.body", "body": b""})

    with serving(trickle) as base, httpx.Client(timeout=5) as client:
        with pytest.raises(PeerUnavailable, match="within 1 s"):
            fetch_events(source(base, client, max_seconds=1), {})


def test_api_imports_exports_and_refuses_naming_the_field(sqlite_node: Node) -> None:
    """POST /api/v1/misp/events stores events and answers the import report; bad events
    and feeds are problem+json naming the field, with nothing stored."""
    node = sqlite_node
    admin, _ = _setup(node)
    token = node.accounts.create_token(None, "SingCERT", "admin", "t", None).plaintext
    auth = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    good, mixed = _event(distribution=4), _event(attributes=[("domain", "a.example", 0, None)])
    bad = _event()
    bad["Event"]["Attribute"][0]["distribution"] = 7
    store = SQLObjectStore(node.engine)
    with Client(create_app(node=node)) as client:
        refused = client.post(
            "/api/v1/misp/events", content=orjson.dumps({"events": [good, bad]}), headers=auth
        )
        assert refused.status_code in (400, 422), refused.text
        assert refused.headers["content-type"].startswith("application/problem+json")
        assert "Attribute[0].distribution" in refused.text
        assert store.count_versions() == 0
        for body in (b'{"Event": {"uuid": ', b"[1, 2]"):
            answer = client.post("/api/v1/misp/events", content=body, headers=auth)
            assert answer.status_code in (400, 422), answer.text
        created = client.post(
            "/api/v1/misp/events", content=orjson.dumps({"events": [good, mixed]}), headers=auth
        )
        assert created.status_code == 201, created.text
        report = created.json()
        assert report["events"] == [good["Event"]["uuid"], mixed["Event"]["uuid"]]
        assert {
            "misp": "distribution 4 (sharing group); tlp:green",
            "accord": "TLP:GREEN; group",
            "count": 1,
        } in report["mapped"]
        one = client.get(f"/api/v1/misp/events/{mixed['Event']['uuid']}", headers=auth).json()
        assert _normal(one) == _normal(mixed)
        listed = client.get("/api/v1/misp/events", headers=auth).json()["response"]
        assert {e["Event"]["uuid"] for e in listed} == {
            good["Event"]["uuid"],
            mixed["Event"]["uuid"],
        }
        feed = {"name": "broken", "url": "https://"}
        answer = client.post("/api/v1/misp/feeds", content=orjson.dumps(feed), headers=auth)
        assert answer.status_code in (400, 422) and "url" in answer.text, answer.text


def test_served_feed_is_read_by_pymisp_and_pulled_over_http(
    sqlite_node: Node, tmp_path: Path
) -> None:
    """Accord's feed: PyMISP parses it, anonymous callers get TLP:CLEAR public data only,
    and another node pulls it over (loopback) http as a MISP feed."""
    node = sqlite_node
    admin, _ = _setup(node)
    public = _event(distribution=3, tlp="tlp:clear")
    public["Event"]["Tag"].append({"name": 'accord:scope="public"'})
    private = _event(distribution=1, tlp="tlp:green")
    node.misp.import_events(admin, [public, private])
    token = node.accounts.create_token(None, "SingCERT", "reader", "t", None).plaintext
    app = create_app(node=node)
    with Client(app) as client:
        anon = client.get("/misp/feed/manifest.json").json()
        assert list(anon) == [public["Event"]["uuid"]]
        mine = client.get(
            "/misp/feed/manifest.json", headers={"Authorization": f"Bearer {token}"}
        ).json()
        assert set(mine) == {public["Event"]["uuid"], private["Event"]["uuid"]}
        body = client.get(f"/misp/feed/{public['Event']['uuid']}.json").json()
        misp = MISPEvent()
        misp.load(body)
        assert misp.manifest == anon
        hashes = client.get("/misp/feed/hashes.csv").text.splitlines()
        assert hashes == [f"{h},{misp.uuid}" for h in misp.attributes_hashes("md5")]
        assert client.get(f"/misp/feed/{private['Event']['uuid']}.json").status_code == 404
    other = Node.open(
        node.settings.model_copy(update={"database_url": migrated_sqlite(tmp_path, "b.db")})
    )
    try:
        b = org(other, "MyCERT", state="MY")
        b_admin = Principal(org=b.id, role=Role.ADMIN)
        with serving(app) as base:
            other.misp.add_feed(b_admin, "accord", f"{base}/misp/feed/", distribution=1)
            result = pull_feed(other.misp, other.misp.repo.feed("accord"))  # type: ignore[arg-type]
        assert result.report.events == [public["Event"]["uuid"]]
    finally:
        other.close()


def _cli_node(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A node for the CLI in ``tmp_path``, with the SingCERT organisation."""
    monkeypatch.setenv("ACCORD_DATABASE_URL", f"sqlite:///{tmp_path}/cli.db")
    code, _, _ = run(capsys, "org", "add", "SingCERT", "--kind", "national-cert", "--state", "SG")
    assert code == 0


def test_cli_import_export_and_bad_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _cli_node(tmp_path, monkeypatch, capsys)
    event = _event(distribution=1, tlp="tlp:green")
    good = tmp_path / "event.json"
    good.write_bytes(orjson.dumps(event))
    code, stdout, _ = run(capsys, "misp", "import", str(good), "--org", "SingCERT")
    assert code == 0 and "imported 1 events" in stdout
    bad = tmp_path / "bad.json"
    bad.write_bytes(orjson.dumps(_event())[:-30])
    code, _, stderr = run(capsys, "misp", "import", str(bad), "--org", "SingCERT")
    assert code != 0 and "truncated" in stderr and len(stderr.strip().splitlines()) == 1
    out = tmp_path / "out.json"
    code, _, _ = run(capsys, "misp", "export", "--org", "SingCERT", "-o", str(out))
    assert code == 0
    exported = orjson.loads(out.read_bytes())["response"]
    assert [_normal(e) for e in exported] == [_normal(event)]
    code, _, _ = run(capsys, "misp", "export", "--org", "SingCERT", "--feed", str(tmp_path / "f"))
    assert code == 0 and (tmp_path / "f" / "manifest.json").is_file()


def test_cli_refuses_bad_options_in_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _cli_node(tmp_path, monkeypatch, capsys)
    good = tmp_path / "event.json"
    good.write_bytes(orjson.dumps(_event()))
    for argv, why in [
        (["misp", "import", str(good), "--tlp", "purple"], "--tlp: unknown TLP label"),
        (["misp", "import", "http://[::1"], "not a feed URL"),
        (["misp", "feed", "add", "f", str(tmp_path / "nope"), "--tlp", "red"], "no feed dir"),
        (["misp", "feed", "add", "f", str(tmp_path), "--tlp", "purple"], "--tlp: unknown"),
    ]:
        code, _, stderr = run(capsys, *argv, "--org", "SingCERT")
        assert code == 2 and why in stderr, stderr
        assert "Traceback" not in stderr and len(stderr.strip().splitlines()) <= 2
