"""TAXII 2.1 interop: the OASIS client and stix2's TAXII source and sink against a real node."""

from __future__ import annotations

from collections.abc import Iterator

import orjson
import pytest
import stix2
from stix2validator import ValidationOptions, validate_instance
from taxii2client.v21 import ApiRoot, Collection, Server, as_pages

from accord.domain.collections import Collection as AccordCollection
from accord.domain.collections import CollectionKind
from accord.domain.tlp import TLP
from accord.node import Node
from accord.settings import Settings
from tests.builders import indicator
from tests.conftest import migrated_sqlite
from tests.server import running_node

COMMUNITY = AccordCollection(CollectionKind.COMMUNITY, "", "").id


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str, str]]:
    workdir = tmp_path_factory.mktemp("taxii")
    url = migrated_sqlite(workdir, "node.db")
    node = Node.open(Settings(database_url=url, _env_file=None))  # type: ignore[call-arg]
    node.accounts.add_org(None, "SingCERT", "national-cert", "SG")
    node.accounts.add_org(None, "MyCERT", "national-cert", "MY")
    node.accounts.add_user(None, "analyst", "SingCERT", "analyst", "a long password here")
    reader = node.accounts.create_token(None, "MyCERT", "reader", "taxii", None).plaintext
    node.close()
    with running_node(workdir, database_url=url, page_size_max="50") as (base, _env):
        yield base, reader, url


def _collection(base: str, user: str, password: str, cid: str = COMMUNITY) -> Collection:
    return Collection(f"{base}/taxii2/api/collections/{cid}/", user=user, password=password)


@pytest.mark.server
def test_discovery_api_root_and_collections(server: tuple[str, str, str]) -> None:
    base, reader, _ = server
    discovered = Server(f"{base}/taxii2/", user="x", password=reader)
    assert discovered.title.startswith("Accord node")
    root: ApiRoot = discovered.default
    assert root.versions == ["application/taxii+json;version=2.1"]
    titles = {c.title for c in root.collections}
    assert {"Public", "Community", "Inbox of MyCERT", "Inbox of SingCERT"} <= titles
    inbox = next(c for c in root.collections if c.title == "Inbox of SingCERT")
    assert inbox.can_write is False and inbox.can_read is False  # a reader, not SingCERT


@pytest.mark.server
def test_add_page_manifest_versions_and_status(server: tuple[str, str, str]) -> None:
    base, reader, _ = server
    writer = _collection(base, "analyst", "a long password here")
    objs = [indicator(f"203.0.113.{i}", tlp=TLP.GREEN) for i in range(1, 121)]
    status = writer.add_objects({"objects": objs})
    assert status.status == "complete" and status.success_count == 120
    again = writer.add_objects({"objects": objs[:3]})  # re-posting succeeds
    assert again.success_count == 3 and again.failure_count == 0

    read = _collection(base, "anyone", reader)
    pages = list(as_pages(read.get_objects, per_request=50))
    got = [o["id"] for p in pages for o in p.get("objects", [])]
    assert got == [o["id"] for o in objs]  # all, in date_added order, none repeated
    assert len(pages) == 3 and pages[-1]["more"] is False

    manifest = read.get_manifest(limit=5)
    assert manifest["more"] is True and len(manifest["objects"]) == 5
    stamp = manifest["objects"][0]["date_added"]
    assert len(stamp) == 27 and stamp[19] == "."  # six fractional digits

    newer = {**objs[0], "modified": "2026-11-02T00:00:00.000Z", "name": "renamed"}
    writer.add_objects({"objects": [newer]})
    versions = read.object_versions(objs[0]["id"])["versions"]
    assert versions == ["2026-11-01T10:00:00.000000Z", "2026-11-02T00:00:00.000000Z"]
    first = read.get_object(objs[0]["id"], version="first")["objects"][0]
    assert first["name"] != "renamed"
    assert read.get_object(objs[0]["id"])["objects"][0]["name"] == "renamed"


@pytest.mark.server
def test_invalid_objects_are_reported_in_the_status(server: tuple[str, str, str]) -> None:
    base, _reader, _ = server
    writer = _collection(base, "analyst", "a long password here")
    good = indicator("198.51.100.1", tlp=TLP.GREEN)
    bad = indicator("198.51.100.2", tlp=TLP.GREEN, pattern="[ipv4-addr:value = ")
    status = writer.add_objects({"objects": [good, bad]})
    assert status.success_count == 0 and status.failure_count == 2
    reasons = {f["id"]: f["message"] for f in status.failures}
    assert "pattern" in reasons[bad["id"]] and "all or nothing" in reasons[good["id"]]


@pytest.mark.server
def test_stix2_taxii_source_and_sink(server: tuple[str, str, str]) -> None:
    base, reader, _ = server
    sink = stix2.TAXIICollectionSink(_collection(base, "analyst", "a long password here"))
    malware = stix2.Malware(
        name="ShadowPad", is_family=True, object_marking_refs=[stix2.TLP_GREEN.id]
    )
    sink.add(malware)
    source = stix2.TAXIICollectionSource(_collection(base, "anyone", reader))
    fetched = source.get(malware.id)
    assert fetched is not None and fetched.name == "ShadowPad"
    everything = source.query([stix2.Filter("type", "=", "malware")])
    assert malware.id in {o.id for o in everything}
    for obj in everything:
        as_json = orjson.loads(obj.serialize())
        assert validate_instance(as_json, ValidationOptions(version="2.1")).is_valid


@pytest.mark.server
def test_wrong_credentials_and_media_types(server: tuple[str, str, str]) -> None:
    import httpx

    base, reader, _ = server
    url = f"{base}/taxii2/api/collections/{COMMUNITY}/objects/"
    denied = httpx.get(url, auth=("analyst", "wrong password!"))
    assert denied.status_code == 401
    assert "Basic" in denied.headers["www-authenticate"]
    assert denied.headers["content-type"] == "application/taxii+json;version=2.1"
    assert denied.json()["http_status"] == "401"
    headers = {"Authorization": f"Bearer {reader}"}
    assert httpx.get(url, headers={**headers, "Accept": "text/html"}).status_code == 406
    plain = httpx.get(url, headers={**headers, "Accept": "application/taxii+json"})
    assert plain.status_code == 200
    posted = httpx.post(url, headers=headers, content=b"{}")
    assert posted.status_code == 415
