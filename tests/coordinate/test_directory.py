"""The directory of points of contact through the API: validation, visibility, history,
exports (vCard parsed back by vobject) and all-or-nothing CSV import.
"""

from __future__ import annotations

import csv
import io

import pytest
import vobject

from accord.domain.model import ANONYMOUS, Principal, Role
from accord.errors import NotFound
from tests.coordinate.conftest import Region, contact


def _problems(response: object) -> list[dict[str, object]]:
    body = response.json()  # type: ignore[attr-defined]
    assert response.headers["content-type"] == "application/problem+json"  # type: ignore[attr-defined]
    return list(body.get("problems", []))


def test_contact_is_validated_and_normalised(region: Region) -> None:
    created = contact(region, "my", phone="+60 3-8992 8888", email="Desk@MyCERT.example.org")
    assert created["phone"] == "+60389928888"
    assert created["email"] == "Desk@mycert.example.org"
    assert created["state"] == "MY" and created["organisation"] == region.my.identity_id


@pytest.mark.parametrize(
    ("field", "value", "says"),
    [
        ("phone", "12345", "E.164"),
        ("phone", "+6500000000", "no such number"),
        ("email", "not-an-address", "invalid e-mail"),
        ("languages", ["xx"], "ISO 639-1"),
        ("timezone", "Mars/Olympus", "IANA"),
        ("kind", "spy", "unknown kind"),
    ],
)
def test_bad_contact_fields_are_400_naming_the_field(
    region: Region, field: str, value: object, says: str
) -> None:
    body = {"kind": "technical", "name": "Desk", "email": "a@example.org", "languages": ["en"]}
    body[field] = value
    response = region.client.post("/api/v1/contacts", json=body, headers=region.auth["my"])
    assert response.status_code == 400
    problems = _problems(response)
    assert problems[0]["field"] == field and says in str(problems[0]["reason"])


def test_search_by_state_kind_language_and_unknown_codes(region: Region) -> None:
    contact(region, "my", kind="diplomatic", languages=["ms", "en"])
    contact(region, "th", kind="technical", languages=["th"])
    c = region.client
    h = region.auth["sg"]
    names = lambda q: [x["state"] for x in c.get(f"/api/v1/contacts?{q}", headers=h).json()]  # noqa: E731
    assert names("state=MY") == ["MY"]
    assert names("language=th") == ["TH"]
    assert names("kind=diplomatic") == ["MY"]
    assert sorted(names("state=MY&state=TH")) == ["MY", "TH"]
    assert c.get("/api/v1/contacts?state=ZZ", headers=h).status_code == 400
    assert c.get("/api/v1/contacts?language=zz", headers=h).status_code == 400
    assert c.get("/api/v1/contacts").status_code == 401


def test_group_restricted_contact_is_invisible_outside_the_group(region: Region) -> None:
    hidden = contact(region, "my", groups=["asean-certs"])
    c = region.client
    assert c.get(f"/api/v1/contacts/{hidden['id']}", headers=region.auth["sg"]).status_code == 200
    assert c.get(f"/api/v1/contacts/{hidden['id']}", headers=region.auth["th"]).status_code == 404
    assert c.get("/api/v1/contacts", headers=region.auth["th"]).json() == []
    response = c.post(
        "/api/v1/contacts", json={**_body(), "groups": ["nope"]}, headers=region.auth["my"]
    )
    assert response.status_code == 400


def test_a_peer_nodes_token_sees_no_contact(region: Region) -> None:
    # A peer node is not an organisation of this node: not even community contacts.
    contact(region, "my")
    directory = region.node.coordination.directory
    peer = Principal(org=None, peer=1)
    member = Principal(org=region.th.id, role=Role.READER)
    assert directory.search(member) and directory.search(peer) == []
    assert directory.search(ANONYMOUS) == []
    shown = directory.search(member)[0].id
    with pytest.raises(NotFound):
        directory.get(peer, shown)
    with pytest.raises(NotFound):
        directory.history(peer, shown)


def _body() -> dict[str, object]:
    return {"kind": "policy", "name": "Policy desk", "email": "p@example.org", "languages": ["en"]}


def test_only_own_liaisons_edit_and_history_keeps_every_version(region: Region) -> None:
    created = contact(region, "my")
    c = region.client
    url = f"/api/v1/contacts/{created['id']}"
    assert c.request("PUT", url, json=_body(), headers=region.auth["th"]).status_code == 403
    assert c.request("PUT", url, json=_body(), headers=region.auth["my-reader"]).status_code == 403
    updated = c.request("PUT", url, json=_body(), headers=region.auth["my"])
    assert updated.status_code == 200 and updated.json()["version"] == 2
    assert c.post(f"{url}/confirm", headers=region.auth["my"]).json()["last_confirmed"]
    assert c.delete(url, headers=region.auth["my"]).status_code == 204
    assert c.get(url, headers=region.auth["my"]).status_code == 404
    history = c.get(f"{url}/history", headers=region.auth["admin"]).json()
    assert [h["action"] for h in history] == ["created", "updated", "confirmed", "deleted"]
    assert (
        history[0]["contact"]["kind"] == "technical" and history[1]["contact"]["kind"] == "policy"
    )


def test_backups_must_belong_to_the_same_organisation(region: Region) -> None:
    theirs = contact(region, "th")
    mine = contact(region, "my")
    bad = region.client.post(
        "/api/v1/contacts", json={**_body(), "backups": [theirs["id"]]}, headers=region.auth["my"]
    )
    assert bad.status_code == 400
    good = contact(region, "my", backups=[mine["id"]])
    assert good["backups"] == [mine["id"]]


def test_exports_round_trip_through_independent_parsers(region: Region) -> None:
    contact(
        region,
        "my",
        name="Siti, 24/7; desk",
        kind="24-7-desk",
        languages=["ms", "en"],
        messaging="signal:+60123456789",
        public_key="age1" + "q" * 80,
    )
    contact(region, "th", name="สมชาย ใจดี", languages=["th"], timezone="Asia/Bangkok")
    c, h = region.client, region.auth["sg"]
    cards = list(
        vobject.readComponents(c.get("/api/v1/contacts/export?format=vcard", headers=h).text)
    )
    assert len(cards) == 2
    first = cards[0]
    assert first.version.value == "4.0"
    assert first.fn.value == "Siti, 24/7; desk"
    assert first.email.value == "duty-my@example.org"
    assert first.tel.value == "tel:+6561234567"
    assert [x.value for x in first.contents["lang"]] == ["en", "ms"]
    assert first.key.value == "age1" + "q" * 80
    assert cards[1].fn.value == "สมชาย ใจดี" and cards[1].tz.value == "Asia/Bangkok"
    rows = list(
        csv.DictReader(io.StringIO(c.get("/api/v1/contacts/export?format=csv", headers=h).text))
    )
    assert [r["state"] for r in rows] == ["MY", "TH"] and rows[0]["languages"] == "en ms"
    data = c.get("/api/v1/contacts/export?format=json", headers=h).json()
    assert [x["name"] for x in data["contacts"]] == ["Siti, 24/7; desk", "สมชาย ใจดี"]


def test_csv_import_is_all_or_nothing_with_row_errors(region: Region) -> None:
    c, h = region.client, {**region.auth["my"], "Content-Type": "text/csv"}
    good = (
        "kind,name,email,phone,languages,timezone\r\n"
        "technical,Desk A,a@example.org,+6561234567,en,UTC\r\n"
    )
    bad = (
        good
        + "spy,Desk B,b@example.org,123,xx,UTC\r\ntechnical,,c@example.org,,en,Nowhere/Zone\r\n"
    )
    response = c.post("/api/v1/contacts/import", content=bad.encode(), headers=h)
    assert response.status_code == 400
    problems = _problems(response)
    assert {p["index"] for p in problems} == {2, 3}
    assert {p["field"] for p in problems if p["index"] == 2} >= {"kind", "phone", "languages"}
    assert c.get("/api/v1/contacts", headers=h).json() == []
    exported = c.get("/api/v1/contacts/export?format=csv", headers=h).text
    assert c.post("/api/v1/contacts/import", content=good.encode(), headers=h).status_code == 201
    exported = c.get("/api/v1/contacts/export?format=csv", headers=h).text
    again = c.post("/api/v1/contacts/import", content=exported.encode(), headers=h)
    assert again.status_code == 201 and again.json()[0]["name"] == "Desk A"
