"""A corpus of bad input, on SQLite and PostgreSQL: a clear 4xx or one CLI line, never a 500.

Every entry goes in where a client can put it: STIX content through ``POST
/api/v1/objects`` and TAXII's ``POST objects``, TAXII query parameters and path
segments, signed federation messages, and the files the CLI reads. Each must be
answered with a 4xx naming what is wrong (problem+json, or a TAXII error under
``/taxii2``) or one ``error:`` line and a non-zero exit, and must leave nothing stored.
"""

from __future__ import annotations

import base64
import gzip
import os
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st

from accord.app import create_app
from accord.domain.collections import FEDERATION_COLLECTION, Collection, CollectionKind
from accord.domain.tlp import MARKING_IDS, TLP
from accord.exchange.validation import MAX_DEPTH, validate_objects
from accord.node import Node
from accord.settings import Settings
from accord.store.objects import SQLObjectStore
from tests.asgi import Client
from tests.builders import indicator, org
from tests.cli_runner import run
from tests.conftest import MIGRATED, Clock, migrated_sqlite

TAXII = "application/taxii+json;version=2.1"
COMMUNITY = Collection(CollectionKind.COMMUNITY, "", "").id
OBJECTS = f"/taxii2/api/collections/{COMMUNITY}/objects/"
FEED = f"/taxii2/api/collections/{FEDERATION_COLLECTION}/objects/"
STORES = ["sqlite", "postgresql"]


def _database(store: str, folder: Path) -> Iterator[str]:
    """A migrated database on ``store`` (see ``tests.conftest.Migrated``)."""
    if store == "sqlite":
        yield migrated_sqlite(folder, "accord.db")
    else:
        yield from MIGRATED.postgres_lease()


@dataclass
class Site:
    node: Node
    client: Client
    api: dict[str, str]
    taxii: dict[str, str]

    def versions(self) -> int:
        return SQLObjectStore(self.node.engine).count_versions()


@pytest.fixture(scope="module", params=STORES)
def site(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Site]:
    """One node per store for the whole corpus: each entry checks that nothing changed."""
    for url in _database(request.param, tmp_path_factory.mktemp("site")):
        node = Node.open(Settings(database_url=url, node_name="site", _env_file=None))  # type: ignore[call-arg]
        org(node, "SingCERT")
        token = node.accounts.create_token(None, "SingCERT", "analyst", "t", None).plaintext
        with Client(create_app(node=node)) as client:
            yield Site(
                node,
                client,
                {"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
                {"Authorization": f"Bearer {token}", "Accept": TAXII, "Content-Type": TAXII},
            )
        node.close()


def _nested(levels: int) -> bytes:
    """An indicator whose ``x_deep`` holds ``levels`` objects, one inside the other."""
    base = orjson.dumps(indicator(tlp=TLP.GREEN, x_deep="HERE"))
    return base.replace(b'"HERE"', b'{"a":' * levels + b'"x"' + b"}" * levels)


def _green(**extra: Any) -> bytes:
    return orjson.dumps(indicator(tlp=TLP.GREEN, **extra))


def _custom_type(length: int) -> bytes:
    kind = "x-" + "a" * (length - 2)
    stamp = "2026-11-01T10:00:00.000Z"
    return orjson.dumps(
        {
            "type": kind,
            "spec_version": "2.1",
            "id": f"{kind}--{uuid.uuid4()}",
            "created": stamp,
            "modified": stamp,
            "object_marking_refs": [MARKING_IDS[TLP.GREEN]],
        }
    )


# (label, body, status for POST /api/v1/objects, the field named, or None)
STIX_CORPUS: list[tuple[str, bytes, int, str | None]] = [
    ("nested 64 levels (the limit)", _nested(MAX_DEPTH - 1), 201, None),
    ("nested 65 levels", _nested(MAX_DEPTH), 422, "x_deep.a"),
    ("nested 254 levels", _nested(253), 422, "x_deep.a"),
    ("nested 300 levels", _nested(299), 422, "x_deep.a"),
    ("nested 1,023 levels", _nested(1021), 422, "x_deep.a"),
    ("nested past the JSON reader", _nested(1100), 400, None),
    ("NUL in name", _green(name="bad\x00name"), 422, "name"),
    ("NUL in pattern", _green(pattern="[ipv4-addr:value = '1.2.3.4\x00']"), 422, "pattern"),
    ("NUL in a custom property", _green(x_note="a\x00"), 422, "x_note"),
    ("NUL in a key", _green(x_map={"k\x00": 1}), 422, "x_map.k\\u0000"),
    ("NUL deep in a list", _green(x_list=["ok", {"z": ["\x00"]}]), 422, "x_list[1].z[0]"),
    ("NUL in a label", _green(labels=["fine", "\x00"]), 422, "labels[1]"),
    ("NUL in the id", _green(id="indicator--\x00"), 422, "id"),
    ("unpaired surrogate", _green(x_note="HERE").replace(b"HERE", b"\\ud800"), 400, None),
    ("lone low surrogate", _green(x_note="HERE").replace(b"HERE", b"\\udc00"), 400, None),
    ("type of 62 characters (the limit)", _custom_type(62), 201, None),
    ("type of 63 characters", _custom_type(63), 422, "type"),
    ("infinite number", _green(x_n="HERE").replace(b'"HERE"', b"1e400"), 400, None),
    ("binary garbage", b"\x00\xff\xfe garbage", 400, None),
    ("truncated JSON", _green()[:-20], 400, None),
    ("invalid UTF-8", _green(x_note="HERE").replace(b"HERE", b"\xc3\x28"), 400, None),
    ("empty body", b"", 400, None),
    ("a JSON array", b"[1, 2]", 400, None),
    ("JSON null", b"null", 400, None),
    ("a bundle whose objects are not a list", b'{"type":"bundle","objects":7}', 400, None),
]


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [case[1:] for case in STIX_CORPUS],
    ids=[case[0] for case in STIX_CORPUS],
)
def test_stix_content_through_the_api(
    site: Site, body: bytes, status: int, field: str | None
) -> None:
    before = site.versions()
    r = site.client.post("/api/v1/objects", content=body, headers=site.api)
    assert r.status_code == status, r.text
    if status == 201:
        assert site.versions() == before + 1
        return
    assert r.headers["content-type"] == "application/problem+json"
    problem = r.json()
    assert problem["status"] == status and problem["detail"]
    if field is not None:
        assert problem["problems"][0]["field"].startswith(field)
    assert site.versions() == before


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [case[1:] for case in STIX_CORPUS],
    ids=[case[0] for case in STIX_CORPUS],
)
def test_stix_content_through_taxii(
    site: Site, body: bytes, status: int, field: str | None
) -> None:
    before = site.versions()
    if status == 201:  # the API test stored this very object: a new id makes it new again
        obj = orjson.loads(body)
        obj["id"] = f"{obj['type']}--{uuid.uuid4()}"
        body = orjson.dumps(obj)
    envelope = b'{"objects":[' + body + b"]}" if status != 400 else body
    r = site.client.post(OBJECTS, content=envelope, headers=site.taxii)
    assert r.headers["content-type"] == TAXII
    if status == 400:  # the envelope itself is unreadable
        assert r.status_code == 400, r.text
        assert r.json()["http_status"] == "400"
        assert site.versions() == before
        return
    # TAXII answers a readable envelope with a status resource, stored all or nothing.
    assert r.status_code == 202, r.text
    status_resource = r.json()
    if status == 201:
        assert status_resource["success_count"] == 1
        assert site.versions() == before + 1
        return
    assert status_resource["success_count"] == 0 and status_resource["failure_count"] == 1
    assert field is not None and field in status_resource["failures"][0]["message"]
    assert site.versions() == before
    again = site.client.get(f"/taxii2/api/status/{status_resource['id']}/", headers=site.taxii)
    assert again.status_code == 200 and again.json() == status_resource


# (label, query string or path under the collection's objects/, status, parameter named)
TAXII_CORPUS: list[tuple[str, str, int, str | None]] = [
    ("match[id] with NUL", "?match[id]=a%00b", 400, "match[id]"),
    ("match[id] not an identifier", "?match[id]=not-an-id", 400, "match[id]"),
    ("match[id] of 101 ids", "?match[id]=" + ",".join([f"x--{uuid.uuid4()}"] * 101), 400, None),
    ("match[type] with NUL", "?match[type]=%00", 400, "match[type]"),
    ("match[type] in capitals", "?match[type]=Indicator", 400, "match[type]"),
    ("match[type] with a quote", "?match[type]=ind'icator", 400, "match[type]"),
    ("match[spec_version] with NUL", "?match[spec_version]=%00", 400, "match[spec_version]"),
    ("match[spec_version] a word", "?match[spec_version]=two", 400, "match[spec_version]"),
    ("match[version] with NUL", "?match[version]=%00", 400, "match[version]"),
    ("match[version] a word", "?match[version]=newest", 400, "match[version]"),
    ("match[version] no such day", "?match[version]=2026-02-30T00:00:00Z", 400, None),
    ("added_after garbage", "?added_after=garbage", 400, "added_after"),
    ("added_after with NUL", "?added_after=%00", 400, "added_after"),
    ("added_after no such day", "?added_after=2026-13-01T00:00:00Z", 400, "added_after"),
    ("limit negative", "?limit=-1", 400, "limit"),
    ("limit a fraction", "?limit=1.5", 400, "limit"),
    ("limit in e-notation", "?limit=1e3", 400, "limit"),
    ("limit past 64 bits", "?limit=99999999999999999999", 400, "limit"),
    ("limit with underscores", "?limit=5_000", 400, "limit"),
    ("limit in other digits", "?limit=%D9%A5", 400, "limit"),
    ("limit with NUL", "?limit=%00", 400, "limit"),
    ("next garbage", "?next=garbage!!", 400, "next"),
    ("next with NUL", "?next=%00", 400, "next"),
    (
        "next naming row 0",
        "?next=" + base64.urlsafe_b64encode(b"2026-01-01T00:00:00Z|0").decode(),
        400,
        "next",
    ),
    (
        "next naming a row past 64 bits",
        "?next=" + base64.urlsafe_b64encode(b"2026-01-01T00:00:00Z|99999999999999999999").decode(),
        400,
        "next",
    ),
    ("a very long value", "?match[type]=" + "a" * 9000, 400, "match[type]"),
    ("an unknown parameter with NUL", "?x%00y=1", 400, None),
    # NUL in the URL is refused at the edge (accord.api.edge), naming the path.
    ("object id with NUL", "indicator--a%00b/", 400, "path"),
    ("object id not an identifier", "not-an-id/", 400, "object_id"),
    ("versions of an id with NUL", "indicator--a%00b/versions/", 400, "path"),
]


@pytest.mark.parametrize(
    ("tail", "status", "parameter"),
    [case[1:] for case in TAXII_CORPUS],
    ids=[case[0] for case in TAXII_CORPUS],
)
def test_taxii_parameters(site: Site, tail: str, status: int, parameter: str | None) -> None:
    urls = [OBJECTS + tail]
    if tail.startswith("?"):
        urls.append(OBJECTS.replace("/objects/", "/manifest/") + tail)
    for url in urls:
        r = site.client.get(url, headers=site.taxii)
        assert r.status_code == status, (url, r.text)
        assert r.headers["content-type"] == TAXII
        body = r.json()
        assert body["http_status"] == str(status) and body["description"]
        if parameter is not None:
            assert body["details"]["problems"][0]["field"] == parameter


@pytest.mark.parametrize(
    ("url", "status", "field"),
    [
        ("/api/v1/objects/indicator--a%00b", 400, "path"),
        ("/api/v1/objects/" + "a" * 5000, 404, None),
        ("/api/v1/objects?type=%00", 400, "type"),
        ("/api/v1/objects?q=a%00b", 400, "q"),
    ],
)
def test_api_reads_with_nul(site: Site, url: str, status: int, field: str | None) -> None:
    r = site.client.get(url, headers=site.api)
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == "application/problem+json"
    if field is not None:
        assert r.json()["problems"][0]["field"] == field


def test_taxii_delete_and_status_with_nul(site: Site) -> None:
    deleted = site.client.delete(OBJECTS + "indicator--a%00b/", headers=site.taxii)
    assert deleted.status_code == 400 and deleted.headers["content-type"] == TAXII
    status = site.client.get("/taxii2/api/status/a%00b/", headers=site.taxii)
    assert status.status_code == 400 and status.headers["content-type"] == TAXII


# Federation ------------------------------------------------------------------------------


@dataclass
class Pair:
    """``a`` (SQLite) sends to ``b`` (the store under test) over b's HTTP API."""

    a: Node
    b: Node
    client: Client
    token: str
    clock: Clock

    def good(self) -> dict[str, Any]:
        """A signed message ``b`` accepts: one new indicator owned by a's organisation."""
        hello = self.a.federation.hello(self.a.federation.peer("b"))
        message: dict[str, Any] = orjson.loads(hello.body)
        owner = message["x_accord_members"][0]["id"]
        message["objects"] = [indicator(creator=owner, tlp=TLP.GREEN)]
        message["x_accord_meta"] = [
            {
                "date_added": "2026-11-23T08:00:00.000000Z",
                "tlp": "TLP:GREEN",
                "scope": "community",
                "owner": owner,
                "recipients": [],
                "group": None,
                "via": [self.a.key.node_id],
            }
        ]
        message["x_accord_nonce"] = uuid.uuid4().hex
        return message

    def push(self, body: bytes, signature: str | None) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.token}", "Accept": TAXII, "Content-Type": TAXII}
        if signature is not None:
            headers["X-Accord-Signature"] = signature
        return self.client.post(FEED, content=body, headers=headers)

    def stored(self) -> tuple[int, int]:
        return SQLObjectStore(self.b.engine).count_versions(), self.b.accounts.orgs.count()


@pytest.fixture(scope="module", params=STORES)
def pair(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Pair]:
    folder = tmp_path_factory.mktemp("pair")
    clock = Clock()
    for url in _database(request.param, folder):
        a = Node.open(
            Settings(database_url=migrated_sqlite(folder, "a.db"), node_name="a", _env_file=None),  # type: ignore[call-arg]
            clock=clock,
        )
        b = Node.open(Settings(database_url=url, node_name="b", _env_file=None), clock=clock)  # type: ignore[call-arg]
        org(a, "SingCERT")
        org(b, "MyCERT", state="MY")
        _, token = b.federation.add_peer("a", "http://127.0.0.1:1", a.key.public_b64, None)
        a.federation.add_peer("b", "http://127.0.0.1:1", b.key.public_b64, token)
        with Client(create_app(node=b)) as client:
            yield Pair(a, b, client, token, clock)
        a.close()
        b.close()


def _meta(change: Callable[[dict[str, Any]], None]) -> Callable[[dict[str, Any]], None]:
    def mutate(message: dict[str, Any]) -> None:
        change(message["x_accord_meta"][0])

    return mutate


def _set(key: str, value: Any) -> Callable[[dict[str, Any]], None]:
    return lambda d: d.__setitem__(key, value)


def _deep_object(message: dict[str, Any]) -> None:
    value: Any = "x"
    for _ in range(100):
        value = {"a": value}
    message["objects"][0]["x_deep"] = value


# (label, how the good message is spoilt before it is signed, status)
FEDERATION_CORPUS: list[tuple[str, Callable[[dict[str, Any]], None], int]] = [
    ("addressed to another node", _set("x_accord_to", "0" * 32), 403),
    ("from another node", _set("x_accord_node", "0" * 32), 403),
    ("no nonce", lambda m: m.pop("x_accord_nonce"), 400),
    ("nonce a number", _set("x_accord_nonce", 7), 400),
    ("nonce with NUL", _set("x_accord_nonce", "abc\x00"), 400),
    ("nonce too long", _set("x_accord_nonce", "a" * 65), 400),
    ("issued a number", _set("x_accord_issued", 12), 400),
    ("issued garbage", _set("x_accord_issued", "yesterday"), 400),
    ("objects not a list", _set("objects", {"a": 1}), 400),
    ("meta missing", lambda m: m.pop("x_accord_meta"), 400),
    ("meta shorter than objects", _set("x_accord_meta", []), 400),
    ("meta entry a string", _set("x_accord_meta", ["x"]), 400),
    ("tlp a list", _meta(_set("tlp", ["TLP:GREEN"])), 400),
    ("tlp a huge number", _meta(_set("tlp", 1e300)), 400),
    ("scope unknown", _meta(_set("scope", "everyone")), 400),
    ("owner with NUL", _meta(_set("owner", "identity--\x00")), 400),
    ("owner a list", _meta(_set("owner", ["x"])), 400),
    ("owner not introduced", _meta(_set("owner", f"identity--{uuid.uuid4()}")), 400),
    ("recipients a number", _meta(_set("recipients", 3)), 400),
    ("recipients holding an object", _meta(_set("recipients", [{"a": 1}])), 400),
    ("group a list", _meta(_set("group", ["g"])), 400),
    ("group with NUL", _meta(_set("group", "g\x00")), 400),
    ("via with NUL", _meta(_set("via", ["\x00"])), 400),
    ("via of 1,000 hops", _meta(_set("via", ["0" * 32] * 1000)), 400),
    ("date_added a number", _meta(_set("date_added", 5)), 400),
    ("date_added garbage", _meta(_set("date_added", "soon")), 400),
    ("an object with NUL", lambda m: m["objects"][0].__setitem__("name", "\x00"), 400),
    ("an object nested 100 levels", _deep_object, 400),
    ("an object that is not STIX", _set("objects", [{"type": "x"}]), 400),
]


@pytest.mark.parametrize(
    ("spoil", "status"),
    [case[1:] for case in FEDERATION_CORPUS],
    ids=[case[0] for case in FEDERATION_CORPUS],
)
def test_federation_messages(
    pair: Pair, spoil: Callable[[dict[str, Any]], None], status: int
) -> None:
    before = pair.stored()
    message = pair.good()
    spoil(message)
    body = rfc8785.dumps(message)
    r = pair.push(body, pair.a.key.sign(body))
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == TAXII and r.json()["description"]
    assert pair.stored() == before


@pytest.mark.parametrize(
    ("label", "body", "signature", "status"),
    [
        ("unsigned", b"{}", None, 403),
        ("signature not base64", b"{}", "!!!not base64", 403),
        ("signature of something else", b"{}", "AAAA", 403),
        ("a long signature", b"{}", "A" * 8000, 403),
        ("binary garbage", b"\x00\xff garbage", "AAAA", 403),
    ],
)
def test_federation_signatures(
    pair: Pair, label: str, body: bytes, signature: str | None, status: int
) -> None:
    before = pair.stored()
    r = pair.push(body, signature)
    assert r.status_code == status, (label, r.text)
    assert r.headers["content-type"] == TAXII
    assert pair.stored() == before


@pytest.mark.parametrize(
    "body",
    [b"\x00\xff garbage", b'{"truncated": ', b"[1, 2]", b'"\\ud800"'],
    ids=["binary", "truncated", "an array", "a surrogate"],
)
def test_signed_garbage_is_400(pair: Pair, body: bytes) -> None:
    before = pair.stored()
    r = pair.push(body, pair.a.key.sign(body))
    assert r.status_code == 400, r.text
    assert pair.stored() == before


def test_good_message_and_odd_identities_are_stored_cleanly(pair: Pair) -> None:
    """Malformed identities are left out; a NUL in a name is kept as an escape."""
    message = pair.good()
    odd = f"identity--{uuid.uuid4()}"
    message["x_accord_identities"] = [
        {"type": "identity", "id": odd, "name": "Odd\x00CERT " + "x" * 300, "x_accord_kind": []},
        {"type": "identity", "id": ["not", "an", "id"]},
        {"type": "identity", "id": "identity--\x00"},
        "not an identity",
    ]
    before_versions, before_orgs = pair.stored()
    body = rfc8785.dumps(message)
    r = pair.push(body, pair.a.key.sign(body))
    assert r.status_code == 202, r.text
    assert pair.stored()[0] == before_versions + 1
    names = {o.name for o in pair.b.accounts.orgs.all()}
    learnt = [n for n in names if n.startswith("Odd")]
    assert learnt and "\x00" not in learnt[0] and len(learnt[0]) <= 200
    assert pair.stored()[1] >= before_orgs + 1
    assert pair.push(body, pair.a.key.sign(body)).status_code == 409  # replayed


def test_feed_parameters(pair: Pair) -> None:
    headers = {"Authorization": f"Bearer {pair.token}", "Accept": TAXII}
    url = FEED
    for query in ("added_after=%00", "added_after=" + "9" * 5000, "limit=-1", "limit=1e9"):
        r = pair.client.get(f"{url}?{query}", headers=headers)
        assert r.status_code == 400, (query, r.text)
        assert r.headers["content-type"] == TAXII


def test_sync_error_quoting_a_peer_is_stored(pair: Pair) -> None:
    peer = pair.b.federation.peer("a")
    pair.b.federation.record_attempt(peer, "a answered 500: \x00\ud800" + "x" * 5000)
    kept = pair.b.federation.peer("a").last_error
    assert kept is not None and "\x00" not in kept and len(kept) <= 1000


# Properties --------------------------------------------------------------------------------

_TEXT = st.text(st.characters(codec="utf-8") | st.sampled_from(["\x00", "\ud800", "\udfff"]))
_JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats() | _TEXT,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_TEXT, inner, max_size=4),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(value=_JSON)
def test_validation_never_raises_on_any_value(value: Any) -> None:
    obj = indicator(tlp=TLP.GREEN, x_value=value)
    issues = validate_objects([obj])
    if not issues:  # what validation accepts, the store's serialiser can write
        assert orjson.loads(orjson.dumps(obj)) == obj


_WIRE_TEXT = st.text(st.characters(codec="utf-8") | st.just("\x00"), max_size=20)
_WIRE_JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**63) | _WIRE_TEXT,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_WIRE_TEXT, inner, max_size=3),
    max_leaves=10,
)


@settings(max_examples=40, deadline=None)
@given(value=_WIRE_JSON, depth=st.integers(0, 300))
def test_any_json_value_is_stored_or_refused_never_500(site: Site, value: Any, depth: int) -> None:
    wrapped = b"[" * depth + orjson.dumps(value) + b"]" * depth
    body = _green(x_value="HERE").replace(b'"HERE"', wrapped, 1)
    before = site.versions()
    r = site.client.post("/api/v1/objects", content=body, headers=site.api)
    assert r.status_code in (201, 422), r.text
    if r.status_code == 201:
        stored = site.client.get(f"/api/v1/objects/{orjson.loads(body)['id']}", headers=site.api)
        assert stored.status_code == 200
        assert site.versions() == before + 1
    else:
        problems = r.json()["problems"]
        assert problems and problems[0].get("field", "x_value").startswith("x_value")
        assert site.versions() == before


# The CLI -------------------------------------------------------------------------------------


@pytest.fixture(params=STORES)
def cli_database(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[str]:
    for url in _database(request.param, tmp_path):
        monkeypatch.setenv("ACCORD_DATABASE_URL", url)
        monkeypatch.chdir(tmp_path)
        yield url


def _stored(url: str) -> tuple[int, int]:
    node = Node.open(Settings(database_url=url, _env_file=None))  # type: ignore[call-arg]
    try:
        return SQLObjectStore(node.engine).count_versions(), len(
            node.coordination.directory.search(None)
        )
    finally:
        node.close()


BUNDLE = orjson.dumps(
    {"type": "bundle", "id": f"bundle--{uuid.uuid4()}", "objects": [indicator(tlp=TLP.GREEN)]}
)
CONTACTS = (
    b"kind,name,role,email,phone,messaging,languages,timezone\n"
    b"technical,Desk,,desk@example.org,,,en,UTC\n"
)

# (label, command after `accord`, files to write first {name: bytes or None for a folder})
CLI_CORPUS: list[tuple[str, list[str], dict[str, bytes | None]]] = [
    ("share binary garbage", ["share", "f.json"], {"f.json": b"\x00\xff\xfe\x01"}),
    ("share truncated JSON", ["share", "f.json"], {"f.json": BUNDLE[:-9]}),
    ("share invalid UTF-8", ["share", "f.json"], {"f.json": BUNDLE.replace(b"Bad", b"\xc3\x28")}),
    ("share NUL in a string", ["share", "f.json"], {"f.json": BUNDLE.replace(b"Bad", b"\\u0000")}),
    ("share an empty file", ["share", "f.json"], {"f.json": b""}),
    ("share a missing file", ["share", "missing.json"], {}),
    ("share a folder with no JSON", ["share", "d"], {"d": None}),
    (
        "share a good file then garbage",
        ["share", "a.json", "b.json"],
        {"a.json": BUNDLE, "b.json": b"{garbage"},
    ),
    ("contacts binary", ["contact", "import", "c.csv"], {"c.csv": b"\x00\xff\x00\x01"}),
    ("contacts invalid UTF-8", ["contact", "import", "c.csv"], {"c.csv": b"kind,name\n\xff\n"}),
    ("contacts with NUL", ["contact", "import", "c.csv"], {"c.csv": CONTACTS + b"tech\x00,x\n"}),
    ("contacts missing", ["contact", "import", "missing.csv"], {}),
    ("contacts a folder", ["contact", "import", "d"], {"d": None}),
    ("contacts truncated", ["contact", "import", "c.csv"], {"c.csv": CONTACTS[:30]}),
    ("match a missing log", ["match", "missing.log"], {}),
    ("match a folder", ["match", "d"], {"d": None}),
    ("match a cut gzip", ["match", "l.gz"], {"l.gz": gzip.compress(b"ip\n1.2.3.4\n" * 999)[:60]}),
    ("match a cut Parquet", ["match", "l.parquet"], {"l.parquet": b"PAR1\x15\x04"}),
    ("match on dask, a cut Parquet", ["match", "l.pq", "--engine", "dask"], {"l.pq": b"PAR1"}),
    ("export into a folder", ["export", "-o", "d"], {"d": None}),
    ("export into no folder", ["export", "-o", "nowhere/out.json"], {}),
]


@pytest.mark.parametrize(
    ("argv", "files"),
    [case[1:] for case in CLI_CORPUS],
    ids=[case[0] for case in CLI_CORPUS],
)
def test_cli_readers(
    capsys: pytest.CaptureFixture[str],
    cli_database: str,
    tmp_path: Path,
    argv: list[str],
    files: dict[str, bytes | None],
) -> None:
    assert run(capsys, "org", "add", "SingCERT", "--kind", "national-cert", "--state", "SG")[0] == 0
    for name, data in files.items():
        if data is None:
            (tmp_path / name).mkdir()
        else:
            (tmp_path / name).write_bytes(data)
    before = _stored(cli_database)
    org_option = [] if argv[0] == "export" else ["--org", "SingCERT"]
    code, _, err = run(capsys, *argv, *org_option)
    assert code != 0
    assert err.startswith("error: ") and "Traceback" not in err
    assert len([line for line in err.splitlines() if not line.startswith("  - ")]) == 1, err
    assert _stored(cli_database) == before
    assert not [p for p in os.listdir(tmp_path) if p.endswith(".part")]
