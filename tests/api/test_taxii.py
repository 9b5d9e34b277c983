"""TAXII 2.1 details, in process: filters, paging, collections, delete, status, errors."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from accord.app import create_app
from accord.domain.collections import Collection, CollectionKind
from accord.domain.model import Organisation
from accord.domain.tlp import TLP
from accord.node import Node
from tests.asgi import Client
from tests.builders import indicator, org

TAXII = "application/taxii+json;version=2.1"
ROOT = "/taxii2/api/"
COMMUNITY = Collection(CollectionKind.COMMUNITY, "", "").id


@dataclass
class Setup:
    client: Client
    sg: Organisation
    my: Organisation
    th: Organisation
    sg_h: dict[str, str]
    my_h: dict[str, str]
    th_h: dict[str, str]


def _h(node: Node, who: Organisation, role: str = "analyst") -> dict[str, str]:
    token = node.accounts.create_token(None, who.name, role, "t", None).plaintext
    return {"Authorization": f"Bearer {token}", "Accept": TAXII, "Content-Type": TAXII}


@pytest.fixture
def s(sqlite_node: Node) -> Iterator[Setup]:
    node = sqlite_node
    sg, my, th = (
        org(node, "SingCERT"),
        org(node, "MyCERT", state="MY"),
        org(node, "ThaiCERT", state="TH"),
    )
    node.accounts.add_group(None, "asean-certs", "ASEAN national CERTs")
    for m in (sg, my):
        node.accounts.set_member(None, "asean-certs", m.name, member=True)
    with Client(create_app(node=node)) as client:
        yield Setup(client, sg, my, th, _h(node, sg), _h(node, my), _h(node, th, "reader"))


def _objects_url(cid: str) -> str:
    return f"{ROOT}collections/{cid}/objects/"


def _post(
    s: Setup, cid: str, objs: list[dict[str, Any]], h: dict[str, str] | None = None
) -> dict[str, Any]:
    r = s.client.post(_objects_url(cid), json={"objects": objs}, headers=h or s.sg_h)
    assert r.status_code == 202, r.text
    assert r.headers["content-type"] == TAXII
    body: dict[str, Any] = r.json()
    return body


def _error(r: httpx.Response, status: int) -> dict[str, Any]:
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == TAXII
    body: dict[str, Any] = r.json()
    assert body["http_status"] == str(status) and body["title"]
    return body


def _cid(s: Setup, title: str, h: dict[str, str]) -> str:
    cols = s.client.get(f"{ROOT}collections/", headers=h).json()["collections"]
    return next(c["id"] for c in cols if c["title"] == title)


def test_filters_by_id_type_version_and_added_after(s: Setup) -> None:
    objs = [indicator(f"192.0.2.{i}", tlp=TLP.GREEN) for i in range(1, 6)]
    _post(s, COMMUNITY, objs)
    url = _objects_url(COMMUNITY)
    got = s.client.get(
        url, params={"match[id]": f"{objs[1]['id']},{objs[3]['id']}"}, headers=s.my_h
    )
    assert [o["id"] for o in got.json()["objects"]] == [objs[1]["id"], objs[3]["id"]]
    assert s.client.get(url, params={"match[type]": "malware"}, headers=s.my_h).json() == {
        "more": False,
        "objects": [],
    }
    page = s.client.get(url, params={"limit": 2}, headers=s.my_h)
    last = page.headers["X-TAXII-Date-Added-Last"]
    assert page.headers["X-TAXII-Date-Added-First"] < last
    after = s.client.get(url, params={"added_after": last}, headers=s.my_h).json()["objects"]
    assert [o["id"] for o in after] == [o["id"] for o in objs[2:]]
    # added_after at lower precision is accepted.
    coarse = last[:19] + "Z"
    assert s.client.get(url, params={"added_after": coarse}, headers=s.my_h).status_code == 200
    bad = s.client.get(url, params={"added_after": "yesterday"}, headers=s.my_h)
    assert "added_after" in _error(bad, 400)["description"]
    _error(s.client.get(url, params={"match[colour]": "red"}, headers=s.my_h), 400)


def test_next_is_stable_while_objects_arrive(s: Setup) -> None:
    first = [indicator(f"198.51.100.{i}", tlp=TLP.GREEN) for i in range(1, 11)]
    _post(s, COMMUNITY, first)
    url = _objects_url(COMMUNITY)
    page = s.client.get(url, params={"limit": 4}, headers=s.my_h).json()
    seen = [o["id"] for o in page["objects"]]
    late = [indicator(f"203.0.113.{i}", tlp=TLP.GREEN) for i in range(1, 4)]
    _post(s, COMMUNITY, late)  # arrives while the client pages
    while page["more"]:
        page = s.client.get(url, params={"limit": 4, "next": page["next"]}, headers=s.my_h).json()
        seen += [o["id"] for o in page["objects"]]
    assert seen == [o["id"] for o in first + late]
    _error(s.client.get(url, params={"next": "garbage!"}, headers=s.my_h), 400)
    for position in (2**63, 0):  # decodes, but names no row a store could hold
        raw = f"2026-01-01T00:00:00.000Z|{position}".encode()
        forged = base64.urlsafe_b64encode(raw).decode().rstrip("=")
        _error(s.client.get(url, params={"next": forged}, headers=s.my_h), 400)
        _error(s.client.get(url, params={"next": forged}), 400)  # anonymous too


def test_group_and_inbox_collections_follow_the_gate(s: Setup) -> None:
    group_id = _cid(s, "ASEAN national CERTs", s.sg_h)
    amber = indicator(tlp=TLP.AMBER)
    assert _post(s, group_id, [amber])["success_count"] == 1
    assert [
        o["id"] for o in s.client.get(_objects_url(group_id), headers=s.my_h).json()["objects"]
    ] == [amber["id"]]
    # ThaiCERT is not a member: the collection does not exist for it.
    _error(s.client.get(_objects_url(group_id), headers=s.th_h), 404)
    th_inbox = _cid(s, "Inbox of ThaiCERT", s.sg_h)
    red = indicator("192.0.2.200", tlp=TLP.RED)
    assert _post(s, th_inbox, [red])["success_count"] == 1
    assert [
        o["id"] for o in s.client.get(_objects_url(th_inbox), headers=s.th_h).json()["objects"]
    ] == [red["id"]]
    _error(s.client.get(_objects_url(th_inbox), headers=s.my_h), 403)
    # The community collection never shows group or inbox objects.
    assert s.client.get(_objects_url(COMMUNITY), headers=s.my_h).json()["objects"] == []


def test_marking_forbidden_for_the_collection_fails_in_status(s: Setup) -> None:
    status = _post(s, COMMUNITY, [indicator(tlp=TLP.AMBER)])
    assert status["failure_count"] == 1
    assert "TLP:AMBER does not allow scope 'community'" in status["failures"][0]["message"]


def test_public_collection_for_anonymous_readers(s: Setup) -> None:
    public = Collection(CollectionKind.PUBLIC, "", "").id
    clear = indicator(tlp=TLP.CLEAR)
    _post(s, public, [clear])
    anonymous = s.client.get(_objects_url(public), headers={"Accept": TAXII})
    assert [o["id"] for o in anonymous.json()["objects"]] == [clear["id"]]
    cols = s.client.get(f"{ROOT}collections/", headers={"Accept": TAXII}).json()["collections"]
    assert [c["title"] for c in cols] == ["Public"]
    _error(
        s.client.post(
            _objects_url(public),
            json={"objects": [clear]},
            headers={"Accept": TAXII, "Content-Type": TAXII},
        ),
        401,
    )


def test_delete_only_by_the_owner(s: Setup) -> None:
    obj = indicator(tlp=TLP.GREEN)
    newer = {**obj, "modified": "2026-11-05T00:00:00.000Z"}
    _post(s, COMMUNITY, [obj, newer])
    url = f"{_objects_url(COMMUNITY)}{obj['id']}/"
    _error(s.client.delete(url, headers=s.my_h), 403)
    gone = s.client.delete(
        url, params={"match[version]": "2026-11-05T00:00:00.000Z"}, headers=s.sg_h
    )
    assert gone.status_code == 200
    left = s.client.get(url, headers=s.my_h).json()["objects"]
    assert [o["modified"] for o in left] == [
        "2026-11-01T10:00:00.000Z"
    ]  # the older is latest again
    assert s.client.delete(url, headers=s.sg_h).status_code == 200
    _error(s.client.get(url, headers=s.my_h), 404)


def test_status_belongs_to_the_poster(s: Setup) -> None:
    status = _post(s, COMMUNITY, [indicator(tlp=TLP.GREEN)])
    mine = s.client.get(f"{ROOT}status/{status['id']}/", headers=s.sg_h)
    assert mine.json()["success_count"] == 1
    _error(s.client.get(f"{ROOT}status/{status['id']}/", headers=s.my_h), 404)


def test_errors_are_taxii_bodies(s: Setup) -> None:
    c = s.client
    _error(c.get(f"{ROOT}collections/nope/", headers=s.my_h), 404)
    _error(c.get(f"{ROOT}collections/", headers={**s.my_h, "Accept": "application/json"}), 406)
    _error(c.post(_objects_url(COMMUNITY), content=b"{not json", headers=s.sg_h), 400)
    _error(
        c.post(
            _objects_url(COMMUNITY),
            json={"objects": []},
            headers={**s.sg_h, "Content-Type": "application/json"},
        ),
        415,
    )
    _error(
        c.post(
            _objects_url(COMMUNITY), json={"objects": [indicator(tlp=TLP.GREEN)]}, headers=s.th_h
        ),
        403,
    )
    unauth = c.get(f"{ROOT}collections/", headers={"Authorization": "Bearer nope", "Accept": TAXII})
    _error(unauth, 401)
    assert "Bearer" in unauth.headers["www-authenticate"]


def test_oversized_envelope_is_413(s: Setup, sqlite_node: Node) -> None:
    sqlite_node.settings.max_body_bytes = 2048
    big = [indicator(f"192.0.2.{i}", tlp=TLP.GREEN) for i in range(1, 20)]
    r = s.client.post(_objects_url(COMMUNITY), json={"objects": big}, headers=s.sg_h)
    _error(r, 413)
    root = s.client.get(ROOT, headers=s.my_h).json()
    assert root["max_content_length"] == 2048
