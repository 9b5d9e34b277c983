"""The REST API, in process: auth, problem+json, objects, groups and tokens."""

from __future__ import annotations

import base64
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass, fields
from datetime import datetime, timedelta
from pathlib import Path

import orjson
import pytest

from accord.accounts import TokenInfo, UserInfo
from accord.app import create_app
from accord.domain.model import ANONYMOUS, Organisation, Role
from accord.domain.tlp import TLP
from accord.errors import Forbidden, NotAuthenticated
from accord.node import Node
from accord.store.db import write
from tests.asgi import Client
from tests.builders import bundle, indicator, org, principal
from tests.conftest import Clock


@dataclass
class Region:
    client: Client
    sg: Organisation
    my: Organisation
    th: Organisation
    admin: dict[str, str]
    sg_analyst: dict[str, str]
    my_analyst: dict[str, str]
    th_reader: dict[str, str]


def _auth(node: Node, who: Organisation, role: str) -> dict[str, str]:
    token = node.accounts.create_token(None, who.name, role, "test", None).plaintext
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def region(node: Node) -> Iterator[Region]:
    sg, my, th = (
        org(node, "SingCERT"),
        org(node, "MyCERT", state="MY"),
        org(node, "ThaiCERT", state="TH"),
    )
    node.accounts.add_group(None, "asean-certs", "ASEAN national CERTs")
    for member in (sg, my):
        node.accounts.set_member(None, "asean-certs", member.name, member=True)
    with Client(create_app(node=node)) as client:
        yield Region(
            client,
            sg,
            my,
            th,
            _auth(node, sg, "admin"),
            _auth(node, sg, "analyst"),
            _auth(node, my, "analyst"),
            _auth(node, th, "reader"),
        )


def _problem(response: object, status: int) -> dict[str, object]:
    assert response.status_code == status, response.text  # type: ignore[attr-defined]
    assert response.headers["content-type"] == "application/problem+json"  # type: ignore[attr-defined]
    body: dict[str, object] = response.json()  # type: ignore[attr-defined]
    assert str(body["type"]).startswith("/api/v1/problems/") and body["status"] == status
    return body


def test_health_needs_no_token(region: Region) -> None:
    body = region.client.get("/api/v1/health").json()
    assert body["status"] == "ok" and body["node"] == "test-node"


def test_openapi_and_docs_are_served(region: Region) -> None:
    spec = region.client.get("/api/v1/openapi.json").json()
    assert "/api/v1/objects" in spec["paths"]
    assert spec["paths"]["/api/v1/objects"]["post"]["description"].startswith("Share a STIX")
    assert region.client.get("/api/docs").status_code == 200


@pytest.mark.parametrize(
    "header",
    [None, "Bearer nonsense", "Basic abc", "Bearer accord_000000000000_wrongsecret"],
)
def test_bad_credentials_get_401_with_challenge(region: Region, header: str | None) -> None:
    headers = {"Authorization": header} if header else {}
    response = region.client.get("/api/v1/organisations", headers=headers)
    _problem(response, 401)
    assert response.headers["www-authenticate"].startswith("Bearer")


def test_expired_and_revoked_tokens_stop_working(region: Region, node: Node, clock: Clock) -> None:
    issued = node.accounts.create_token(None, "SingCERT", "reader", "short", timedelta(hours=1))
    headers = {"Authorization": f"Bearer {issued.plaintext}"}
    assert region.client.get("/api/v1/organisations", headers=headers).status_code == 200
    clock.advance(hours=2)
    assert "expired" in str(
        _problem(region.client.get("/api/v1/organisations", headers=headers), 401)["detail"]
    )
    other = node.accounts.create_token(None, "SingCERT", "reader", "revoked", None)
    headers = {"Authorization": f"Bearer {other.plaintext}"}
    assert (
        region.client.delete(f"/api/v1/tokens/{other.info.id}", headers=region.admin).status_code
        == 204
    )
    assert "revoked" in str(
        _problem(region.client.get("/api/v1/organisations", headers=headers), 401)["detail"]
    )


def test_tokens_are_listed_without_secrets(region: Region) -> None:
    created = region.client.post(
        "/api/v1/tokens",
        json={"organisation": region.my.identity_id, "role": "liaison", "name": "desk"},
        headers=region.admin,
    )
    assert created.status_code == 201
    secret = created.json()["token"]
    listing = region.client.get("/api/v1/tokens", headers=region.admin)
    assert secret not in listing.text and "desk" in listing.text
    _problem(region.client.get("/api/v1/tokens", headers=region.sg_analyst), 403)


def test_token_timestamps_carry_a_time_zone(region: Region) -> None:
    created = region.client.post(
        "/api/v1/tokens",
        json={"organisation": "MyCERT", "role": "reader", "name": "dated", "expires_in_days": 1},
        headers=region.admin,
    )
    revoked = created.json()["id"]
    region.client.delete(f"/api/v1/tokens/{revoked}", headers=region.admin)
    listing = region.client.get("/api/v1/tokens", headers=region.admin).json()
    (dated,) = [t for t in listing if t["name"] == "dated"]
    stamps = [dated["created"], dated["expires"], dated["revoked"]]
    stamps += [t["created"] for t in listing]
    assert all(datetime.fromisoformat(s).utcoffset() == timedelta(0) for s in stamps), stamps


def test_share_then_list_as_each_organisation(region: Region) -> None:
    c = region.client
    green = bundle(indicator("192.0.2.10", tlp=TLP.GREEN))
    amber = bundle(indicator("192.0.2.11", tlp=TLP.AMBER))
    r1 = c.post("/api/v1/objects?scope=community", json=green, headers=region.sg_analyst)
    r2 = c.post(
        "/api/v1/objects?scope=group&group=asean-certs", json=amber, headers=region.sg_analyst
    )
    assert (r1.status_code, r2.status_code) == (201, 201)
    assert r1.json()["stored"] == 1

    def names(headers: dict[str, str]) -> set[str]:
        items = c.get("/api/v1/objects", headers=headers).json()["items"]
        return {i["object"]["name"] for i in items}

    assert names(region.my_analyst) == {"Bad address 192.0.2.10", "Bad address 192.0.2.11"}
    assert names(region.th_reader) == {"Bad address 192.0.2.10"}
    assert names({}) == set()
    again = c.post("/api/v1/objects?scope=community", json=green, headers=region.sg_analyst)
    assert again.status_code == 200 and again.json()["duplicates"] == 1


def test_invisible_objects_are_404_not_403(region: Region) -> None:
    obj = indicator(tlp=TLP.AMBER)
    region.client.post(
        "/api/v1/objects?scope=group&group=asean-certs", json=obj, headers=region.sg_analyst
    )
    assert (
        region.client.get(f"/api/v1/objects/{obj['id']}", headers=region.my_analyst).status_code
        == 200
    )
    hidden = region.client.get(f"/api/v1/objects/{obj['id']}", headers=region.th_reader)
    missing = region.client.get(
        "/api/v1/objects/indicator--00000000-0000-4000-8000-000000000000", headers=region.th_reader
    )
    assert _problem(hidden, 404)["title"] == _problem(missing, 404)["title"]
    assert hidden.json()["detail"].replace(obj["id"], "X") == missing.json()["detail"].replace(
        "indicator--00000000-0000-4000-8000-000000000000", "X"
    )


def test_invalid_bundle_gets_problem_listing_each_object(region: Region) -> None:
    good = indicator()
    bad = indicator("192.0.2.1", pattern="[ipv4-addr:value = ")
    no_type = {k: v for k, v in indicator().items() if k != "created"}
    response = region.client.post(
        "/api/v1/objects", json=bundle(good, bad, no_type), headers=region.sg_analyst
    )
    body = _problem(response, 422)
    problems = body["problems"]
    assert isinstance(problems, list)
    assert {p["index"] for p in problems} == {1, 2}
    assert region.client.get("/api/v1/objects", headers=region.sg_analyst).json()["items"] == []


def test_forbidden_combination_is_refused_with_reason(region: Region) -> None:
    response = region.client.post(
        "/api/v1/objects?scope=public", json=indicator(tlp=TLP.GREEN), headers=region.sg_analyst
    )
    assert "TLP:GREEN does not allow scope 'public'" in str(_problem(response, 422)["problems"])


def test_malformed_requests_get_problems(region: Region) -> None:
    c, h = region.client, region.sg_analyst
    json_h = {**h, "Content-Type": "application/json"}
    _problem(c.post("/api/v1/objects", content=b"{oops", headers=json_h), 400)
    _problem(c.post("/api/v1/objects?tlp=purple", json=indicator(), headers=h), 400)
    _problem(c.post("/api/v1/objects?scope=everyone", json=indicator(), headers=h), 400)
    _problem(c.get("/api/v1/objects?cursor=!!!", headers=h), 400)
    for position in (2**63, 0, -1):  # decodes, but names no row a store could hold
        forged = base64.urlsafe_b64encode(str(position).encode()).decode().rstrip("=")
        body = _problem(c.get(f"/api/v1/objects?cursor={forged}", headers=h), 400)
        assert "cursor" in str(body["problems"])
    _problem(c.get("/api/v1/objects?limit=0", headers=h), 400)
    _problem(c.get("/api/v1/objects?modified_after=yesterday", headers=h), 400)
    _problem(c.get("/api/v1/nowhere", headers=h), 404)
    _problem(c.post("/api/v1/objects", json=indicator(), headers=region.th_reader), 403)


def test_body_over_the_limit_is_413(region: Region, node: Node) -> None:
    node.settings.max_body_bytes = 2048
    big = bundle(*(indicator(f"192.0.2.{i}") for i in range(1, 30)))
    _problem(region.client.post("/api/v1/objects", json=big, headers=region.sg_analyst), 413)


def test_pagination_filters_and_search(region: Region) -> None:
    c, h = region.client, region.sg_analyst
    objs = [indicator(f"192.0.2.{i}", tlp=TLP.GREEN if i % 2 else TLP.CLEAR) for i in range(1, 26)]
    assert c.post("/api/v1/objects", json=bundle(*objs), headers=h).status_code == 201
    seen, cursor = [], None
    while True:
        page = c.get(
            "/api/v1/objects",
            params={"limit": 7, **({"cursor": cursor} if cursor else {})},
            headers=h,
        ).json()
        seen += [i["object"]["id"] for i in page["items"]]
        cursor = page["next"]
        if cursor is None:
            break
    assert seen == [o["id"] for o in objs]
    clear = c.get("/api/v1/objects", params={"tlp": "clear", "limit": 100}, headers=h).json()[
        "items"
    ]
    assert len(clear) == 12 and {i["tlp"] for i in clear} == {"TLP:CLEAR"}
    found = c.get("/api/v1/objects", params={"q": "192.0.2.17"}, headers=h).json()["items"]
    assert [i["object"]["id"] for i in found] == [objs[16]["id"]]
    mine = c.get(
        "/api/v1/objects", params={"owner": region.sg.identity_id, "type": "indicator"}, headers=h
    )
    assert len(mine.json()["items"]) == 25
    assert c.get("/api/v1/objects", params={"q": "100%_"}, headers=h).json()["items"] == []


def test_get_one_shows_stamp_and_versions(region: Region) -> None:
    obj = indicator(tlp=TLP.GREEN)
    newer = {**obj, "modified": "2026-11-04T00:00:00.000Z"}
    region.client.post("/api/v1/objects", json=bundle(obj, newer), headers=region.sg_analyst)
    body = region.client.get(f"/api/v1/objects/{obj['id']}", headers=region.my_analyst).json()
    assert body["object"]["modified"] == "2026-11-04T00:00:00.000Z"
    assert body["tlp"] == "TLP:GREEN" and body["owner"] == region.sg.identity_id
    assert len(body["versions"]) == 2 and body["provenance"]["origin_node"] == "test-node"


def test_recipient_reshare_within_marking(region: Region) -> None:
    c = region.client
    obj = indicator(tlp=TLP.AMBER)
    c.post("/api/v1/objects?scope=group&group=asean-certs", json=obj, headers=region.sg_analyst)
    url = f"/api/v1/objects/{obj['id']}/shares"
    lower = c.post(url, json={"tlp": "TLP:GREEN", "scope": "community"}, headers=region.my_analyst)
    assert "lower" in str(_problem(lower, 422)["detail"])
    onward = c.post(
        url,
        json={"scope": "recipients", "recipients": [region.th.identity_id]},
        headers=region.my_analyst,
    )
    assert onward.status_code == 201 and onward.json() == {
        "tlp": "TLP:AMBER",
        "scope": "recipients",
    }
    assert c.get(f"/api/v1/objects/{obj['id']}", headers=region.th_reader).status_code == 200
    _problem(c.post(url, json={"scope": "organisation"}, headers=region.th_reader), 403)


def test_groups_are_visible_only_to_members_and_admins(region: Region) -> None:
    c = region.client
    assert [g["slug"] for g in c.get("/api/v1/groups", headers=region.my_analyst).json()] == [
        "asean-certs"
    ]
    assert c.get("/api/v1/groups", headers=region.th_reader).json() == []
    _problem(c.get("/api/v1/groups/asean-certs", headers=region.th_reader), 404)
    members = c.get("/api/v1/groups/asean-certs", headers=region.admin).json()["members"]
    assert sorted(members) == sorted([region.sg.identity_id, region.my.identity_id])
    added = c.post(
        "/api/v1/groups/asean-certs/members",
        json={"organisation": "ThaiCERT"},
        headers=region.admin,
    )
    assert region.th.identity_id in added.json()["members"]
    _problem(c.post("/api/v1/groups", json={"slug": "x", "name": "X"}, headers=region.admin), 400)
    _problem(
        c.post("/api/v1/groups", json={"slug": "eas", "name": "EAS"}, headers=region.my_analyst),
        403,
    )


def test_organisations_admin_only_and_validated(region: Region) -> None:
    c = region.client
    ok = c.post(
        "/api/v1/organisations",
        json={"name": "VNCERT", "kind": "national-cert", "state": "vn"},
        headers=region.admin,
    )
    assert ok.status_code == 201 and ok.json()["state"] == "VN"
    _problem(
        c.post(
            "/api/v1/organisations",
            json={"name": "X", "kind": "national-cert", "state": "XX"},
            headers=region.admin,
        ),
        400,
    )
    _problem(
        c.post(
            "/api/v1/organisations",
            json={"name": "X", "kind": "spies", "state": "SG"},
            headers=region.admin,
        ),
        400,
    )
    _problem(
        c.post(
            "/api/v1/organisations",
            json={"name": "VNCERT", "kind": "national-cert"},
            headers=region.admin,
        ),
        409,
    )
    _problem(
        c.post(
            "/api/v1/organisations",
            json={"name": "Y", "kind": "academia"},
            headers=region.sg_analyst,
        ),
        403,
    )


def test_export_is_a_bundle_of_what_the_caller_may_read(region: Region) -> None:
    c = region.client
    c.post(
        "/api/v1/objects?scope=community", json=indicator(tlp=TLP.GREEN), headers=region.sg_analyst
    )
    c.post(
        "/api/v1/objects", json=indicator("192.0.2.99", tlp=TLP.AMBER), headers=region.sg_analyst
    )
    exported = orjson.loads(c.get("/api/v1/export", headers=region.my_analyst).content)
    types = sorted(o["type"] for o in exported["objects"])
    assert types == ["identity", "indicator", "marking-definition"]
    assert exported["type"] == "bundle"


def test_users_sign_in_for_a_short_lived_token(region: Region, clock: Clock) -> None:
    c = region.client
    body = {
        "username": "analyst@mycert",
        "organisation": "MyCERT",
        "role": "analyst",
        "password": "correct horse battery",
    }
    created = c.post("/api/v1/users", json=body, headers=region.admin)
    assert created.status_code == 201 and created.json()["organisation"] == region.my.identity_id
    assert (
        "password" not in created.text
        and "argon2" not in c.get("/api/v1/users", headers=region.admin).text
    )
    _problem(
        c.post(
            "/api/v1/users",
            json={**body, "username": "x2", "password": "short"},
            headers=region.admin,
        ),
        400,
    )
    _problem(c.post("/api/v1/users", json=body, headers=region.admin), 409)
    _problem(
        c.post("/api/v1/users", json={**body, "username": "xyz3"}, headers=region.my_analyst), 403
    )

    wrong = c.post(
        "/api/v1/auth/token", json={"username": "analyst@mycert", "password": "wrong password!"}
    )
    nobody = c.post(
        "/api/v1/auth/token", json={"username": "nobody", "password": "wrong password!"}
    )
    assert _problem(wrong, 401)["detail"] == _problem(nobody, 401)["detail"]
    session = c.post(
        "/api/v1/auth/token",
        json={"username": "analyst@mycert", "password": "correct horse battery"},
    )
    assert session.status_code == 201 and session.json()["role"] == "analyst"
    headers = {"Authorization": f"Bearer {session.json()['token']}"}
    assert c.get("/api/v1/groups", headers=headers).json()[0]["slug"] == "asean-certs"
    clock.advance(hours=13)
    _problem(c.get("/api/v1/groups", headers=headers), 401)


def test_accounts_decide_who_sees_people_and_tokens(region: Region, node: Node) -> None:
    node.accounts.add_user(None, "analyst@mycert", "MyCERT", "analyst", "correct horse battery")
    for role in (Role.ANALYST, Role.READER):
        with pytest.raises(Forbidden):
            node.accounts.list_users(principal(node, region.my, role))
        with pytest.raises(Forbidden):
            node.accounts.list_tokens(principal(node, region.my, role))
    with pytest.raises(NotAuthenticated):
        node.accounts.organisations(ANONYMOUS)
    _problem(region.client.get("/api/v1/users", headers=region.my_analyst), 403)
    (user,) = node.accounts.list_users(principal(node, region.sg, Role.ADMIN))
    assert (user.username, user.org, user.role) == ("analyst@mycert", region.my.id, Role.ANALYST)
    # Listings are typed records with no field that could hold a secret.
    for record in (UserInfo, TokenInfo):
        assert not [f.name for f in fields(record) if "hash" in f.name or "secret" in f.name]
    assert all(isinstance(t, TokenInfo) for t in node.accounts.list_tokens(None))


def test_tokens_record_their_last_use_at_most_once_a_minute(
    region: Region, node: Node, clock: Clock
) -> None:
    issued = node.accounts.create_token(None, "ThaiCERT", "reader", "watched", None)
    headers = {"Authorization": f"Bearer {issued.plaintext}"}

    def last_used() -> datetime | None:
        (token,) = [t for t in node.accounts.list_tokens(None) if t.id == issued.info.id]
        return token.last_used

    assert last_used() is None
    first = clock.now
    assert region.client.get("/api/v1/organisations", headers=headers).status_code == 200
    assert last_used() == first
    clock.advance(seconds=59)
    region.client.get("/api/v1/organisations", headers=headers)
    assert last_used() == first  # within the minute: no write
    clock.advance(seconds=1)
    region.client.get("/api/v1/organisations", headers=headers)
    assert last_used() == clock.now


def test_a_token_used_while_another_writer_holds_sqlite_is_not_held_up(
    sqlite_node: Node, tmp_path: Path
) -> None:
    """Recording a token's use is bookkeeping: it is skipped, never waited for, when
    another writer (this process or another) holds the database; the request goes on."""
    sqlite_node.accounts.add_org(None, "SingCERT", "national-cert", "SG")
    issued = sqlite_node.accounts.create_token(None, "SingCERT", "reader", "busy", None)

    def last_used() -> datetime | None:
        (token,) = [t for t in sqlite_node.accounts.list_tokens(None) if t.id == issued.info.id]
        return token.last_used

    with write(sqlite_node.engine):  # a writer of this process
        assert sqlite_node.accounts.authenticate(issued.plaintext).token_id == issued.info.id
    assert last_used() is None
    other = sqlite3.connect(str(tmp_path / "accord.db"))  # a writer of another process
    other.execute("BEGIN IMMEDIATE")
    try:
        assert sqlite_node.accounts.authenticate(issued.plaintext).token_id == issued.info.id
    finally:
        other.rollback()
        other.close()
    assert last_used() is None
    sqlite_node.accounts.authenticate(issued.plaintext)
    assert last_used() is not None
