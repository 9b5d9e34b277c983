"""Console pages in process, on SQLite and PostgreSQL: sessions, CSRF, headers, the gate."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from stix2patterns.validator import run_validator

from accord.app import create_app
from accord.detect.indicators import indicator_for
from accord.domain.scope import Scope
from accord.domain.tlp import TLP
from accord.errors import InvalidInput
from accord.exchange.service import ShareRequest
from accord.node import Node
from accord.web.charts import bars
from tests.asgi import Client
from tests.builders import indicator, org, principal

PASSWORD = "a long enough password"


@pytest.fixture
def client(node: Node) -> Iterator[Client]:
    c = Client(create_app(node=node))
    yield c
    c.close()


def _csrf(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, "no CSRF field"
    return found.group(1)


def _sign_in(client: Client, username: str) -> None:
    form = client.get("/signin")
    signed = client.post(
        "/signin",
        data={
            "csrf": _csrf(form.text),
            "method": "password",
            "username": username,
            "password": PASSWORD,
            "next": "/objects",
        },
    )
    assert signed.status_code == 303 and signed.headers["location"] == "/objects"


def test_pages_need_a_session_and_say_where_to_sign_in(client: Client) -> None:
    page = client.get("/requests?box=outbox")
    assert page.status_code == 303
    assert page.headers["location"] == "/signin?next=%2Frequests%3Fbox%3Doutbox"
    signin = client.get("/signin")
    assert signin.status_code == 200
    csp = signin.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "'unsafe-inline'" not in csp
    assert signin.headers["x-frame-options"] == "DENY"
    assert signin.headers["referrer-policy"] == "no-referrer"
    cookie = signin.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie


def test_sign_in_refuses_bad_csrf_wrong_passwords_and_foreign_redirects(
    node: Node, client: Client
) -> None:
    org(node, "SingCERT")
    node.accounts.add_user(None, "analyst", "SingCERT", "analyst", PASSWORD)
    form = client.get("/signin")
    fields = {"method": "password", "username": "analyst", "password": PASSWORD}
    forged = client.post("/signin", data={**fields, "csrf": "x" * 43})
    assert forged.status_code == 403 and "text/html" in forged.headers["content-type"]
    assert "reload the page" in forged.text
    wrong = client.post(
        "/signin",
        data={**fields, "password": "not it at all", "csrf": _csrf(form.text)},
    )
    assert wrong.status_code == 401 and "username or password is wrong" in wrong.text
    away = client.post(
        "/signin",
        data={**fields, "csrf": _csrf(form.text), "next": "//evil.example/"},
    )
    assert away.status_code == 303 and away.headers["location"] == "/"


def test_pages_show_only_what_the_gate_allows(node: Node, client: Client) -> None:
    sg, my = org(node, "SingCERT"), org(node, "MyCERT", state="MY")
    node.accounts.add_user(None, "my-analyst", "MyCERT", "analyst", PASSWORD)
    mine = indicator("192.0.2.10", creator=sg.identity_id)
    node.exchange.ingest(
        principal(node, sg), mine, ShareRequest(tlp=TLP.AMBER, scope=Scope.ORGANISATION)
    )
    shared = indicator("192.0.2.11", creator=sg.identity_id)
    node.exchange.ingest(principal(node, sg), shared, ShareRequest(tlp=TLP.GREEN))
    _sign_in(client, "my-analyst")
    listing = client.get("/objects").text
    assert shared["id"] in listing and mine["id"] not in listing
    assert client.get(f"/objects/{mine['id']}").status_code == 404
    overview = client.get("/")
    assert overview.status_code == 200
    # One TLP:GREEN object arrived for MyCERT; the AMBER one is not counted.
    assert re.search(r"<strong>1</strong> new object versions", overview.text)
    assert my.id != sg.id


def test_forms_need_the_session_csrf_token(node: Node, client: Client) -> None:
    org(node, "SingCERT")
    node.accounts.add_user(None, "analyst", "SingCERT", "analyst", PASSWORD)
    _sign_in(client, "analyst")
    page = client.get("/objects/new")
    data = {"value": "198.51.100.20", "tlp": "TLP:GREEN", "scope": "community"}
    assert client.post("/objects/new", data=data).status_code == 403
    made = client.post("/objects/new", data={**data, "csrf": _csrf(page.text)})
    assert made.status_code == 303 and made.headers["location"].startswith("/objects/indicator--")
    refused = client.post(
        "/objects/new", data={**data, "scope": "public", "csrf": _csrf(page.text)}
    )
    assert refused.status_code == 422
    assert "does not allow scope" in refused.text


def test_sign_out_revokes_the_session(node: Node, client: Client) -> None:
    org(node, "SingCERT")
    node.accounts.add_user(None, "analyst", "SingCERT", "analyst", PASSWORD)
    _sign_in(client, "analyst")
    page = client.get("/")
    assert page.status_code == 200
    out = client.post("/signout", data={"csrf": _csrf(page.text)})
    assert out.status_code == 303
    assert client.get("/").status_code == 303


@pytest.mark.parametrize(
    ("value", "pattern"),
    [
        ("192.0.2.1", "[ipv4-addr:value = '192.0.2.1']"),
        ("198.51.100.0/24", "[ipv4-addr:value = '198.51.100.0/24']"),
        ("2001:db8::1", "[ipv6-addr:value = '2001:db8::1']"),
        ("evil.example.com", "[domain-name:value = 'evil.example.com']"),
        ("http://evil.example.com/a'b", "[url:value = 'http://evil.example.com/a\\'b']"),
        ("x@evil.example.com", "[email-addr:value = 'x@evil.example.com']"),
        (
            "D41D8CD98F00B204E9800998ECF8427E",
            "[file:hashes.'MD5' = 'd41d8cd98f00b204e9800998ecf8427e']",
        ),
    ],
)
def test_indicator_from_a_value(value: str, pattern: str) -> None:
    made = indicator_for(value, "", "", "2026-11-24T00:00:00.000Z")
    assert made["pattern"] == pattern
    assert run_validator(made["pattern"]) == []
    assert made["name"].lower() == value.lower()


def test_indicator_from_nonsense_says_what_it_accepts() -> None:
    with pytest.raises(InvalidInput, match="IP address or range, domain, URL"):
        indicator_for("not a value at all", "", "", "2026-11-24T00:00:00.000Z")


def test_chart_labels_are_escaped() -> None:
    svg = str(bars([("<b>", 3.0), ("x", 1.0)], title="T & <t>"))
    assert "<b>" not in svg and "&lt;b&gt;" in svg and "T &amp; &lt;t&gt;" in svg
    assert svg.count("<rect") == 2


def test_console_input_no_store_can_keep_is_a_4xx_never_a_500(node: Node, client: Client) -> None:
    """Form text with NUL, ids past any key and over-long searches are refused before they
    reach the database, on both stores (each was a 500 on one)."""
    org(node, "SingCERT")
    node.accounts.add_user(None, "admin", "SingCERT", "admin", PASSWORD)
    _sign_in(client, "admin")
    token = _csrf(client.get("/organisations").text)
    made = client.post(
        "/organisations",
        data={"name": "a\x00b", "kind": "national-cert", "state": "SG", "csrf": token},
    )
    assert made.status_code == 400, made.text
    assert "name" in made.text
    assert [o.name for o in node.accounts.orgs.all()] == ["SingCERT"]
    huge = 2**40
    for url in (f"/requests/{huge}", f"/checks/{huge}", f"/contacts/{huge}"):
        assert 400 <= client.get(url).status_code < 500, url
    revoked = client.post(f"/tokens/{huge}/revoke", data={"csrf": token})
    assert 400 <= revoked.status_code < 500
    assert client.get("/objects", params={"q": "x" * 50_000}).status_code == 400
