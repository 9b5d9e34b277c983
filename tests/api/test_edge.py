"""The HTTP edge (``accord.api.edge``): request ids, the last resort for unexpected errors
and database outages, security headers, refused media types and bytes, and 405's Allow."""

from __future__ import annotations

import base64
import hashlib
import logging
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import APIRouter, FastAPI
from fastapi.responses import StreamingResponse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import event, text
from sqlalchemy.exc import DBAPIError

from accord.api.edge import API_CSP, RETRY_AFTER_S
from accord.app import create_app
from accord.domain.collections import Collection, CollectionKind
from accord.node import Node
from accord.web.render import CSP as CONSOLE_CSP
from tests.asgi import Client
from tests.builders import org
from tests.server import free_port, serving

SECRET = "whsec-never-in-a-log-7f3a9c"
TAXII = "application/taxii+json;version=2.1"
PROBLEM = "application/problem+json"
COMMUNITY = Collection(CollectionKind.COMMUNITY, "", "").id
PUBLIC = Collection(CollectionKind.PUBLIC, "", "").id
ALWAYS = {
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "x-frame-options": "DENY",
}
SANE_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")


def _app(node: Node) -> FastAPI:
    """The node's app with throwaway routes that fail the ways a bug would."""
    app = create_app(node=node)
    router = APIRouter()

    @router.get("/api/v1/boom/{token}")
    def boom(token: str) -> None:
        """A statement that fails, with a secret among its parameters and in the path."""
        with node.engine.connect() as conn:
            conn.execute(text("SELECT * FROM no_such_table WHERE secret = :s"), {"s": SECRET})

    @router.get("/taxii2/boom/")
    def taxii_boom() -> None:
        raise RuntimeError(SECRET)

    @router.get("/api/v1/boom-midway")
    def boom_midway() -> StreamingResponse:
        def body() -> Iterator[bytes]:
            yield b'{"items": ['
            raise RuntimeError(SECRET)

        return StreamingResponse(body(), media_type="application/json")

    app.include_router(router)
    return app


def _server_lines(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    """What the server logged at WARNING or above (the client's own lines left out)."""
    return [
        r
        for r in caplog.records
        if r.levelno >= logging.WARNING and not r.name.startswith(("httpx", "httpcore"))
    ]


def _local_port(response: httpx.Response) -> int:
    port: int = response.extensions["network_stream"].get_extra_info("client_addr")[1]
    return port


def test_an_unexpected_error_is_one_log_line_and_a_500_on_a_connection_kept_open(
    node: Node, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    with serving(_app(node)) as url, httpx.Client(base_url=url) as client:
        failed = client.get(f"/api/v1/boom/{SECRET}", headers={"X-Request-ID": "req-42"})
        first = _local_port(failed)
        after = client.get("/api/v1/health")
        second = _local_port(after)
    assert failed.status_code == 500 and failed.headers["content-type"] == PROBLEM
    body = failed.json()
    assert body["type"] == "/api/v1/problems/internal-error"
    assert body["request_id"] == "req-42" == failed.headers["x-request-id"]
    assert "req-42" in body["detail"] and SECRET not in failed.text
    # The same keep-alive connection served the next request.
    assert after.status_code == 200 and first == second
    lines = _server_lines(caplog)
    assert len(lines) == 1, [r.getMessage() for r in lines]
    line = lines[0].getMessage()
    assert line.startswith("request req-42: GET /api/v1/boom/{token} raised ")
    assert re.search(r"raised (OperationalError|ProgrammingError) at ", line)
    assert "\n" not in line and lines[0].exc_info is None
    # Nothing the server logged, at any level, quotes the parameters, the SQL or the path.
    server_text = "\n".join(
        r.getMessage() for r in caplog.records if not r.name.startswith(("httpx", "httpcore"))
    )
    assert SECRET not in server_text and "no_such_table" not in server_text


def test_an_error_after_the_response_started_is_logged_once_and_cuts_it_short(
    sqlite_node: Node, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    with serving(_app(sqlite_node)) as url, httpx.Client(base_url=url) as client:
        with pytest.raises(httpx.RemoteProtocolError):
            client.get("/api/v1/boom-midway")
        assert client.get("/api/v1/health").status_code == 200
    ours = [r.getMessage() for r in caplog.records if r.name == "accord.http"]
    assert len(ours) == 1 and "GET /api/v1/boom-midway raised RuntimeError" in ours[0]
    assert all(SECRET not in r.getMessage() for r in caplog.records)


def test_an_unexpected_error_on_taxii_is_a_taxii_error_naming_the_request(
    sqlite_node: Node, caplog: pytest.LogCaptureFixture
) -> None:
    with Client(_app(sqlite_node)) as c:
        failed = c.get("/taxii2/boom/", headers={"Accept": TAXII})
    assert failed.status_code == 500 and failed.headers["content-type"] == TAXII
    body = failed.json()
    assert body["http_status"] == "500" and body["error_id"] == failed.headers["x-request-id"]
    assert SECRET not in failed.text and SECRET not in caplog.text


def _unreachable(tmp_path: Path) -> Any:
    """A ``do_connect`` listener: every new connection goes where no database answers."""

    def listener(dialect: Any, _record: Any, cargs: list[Any], cparams: dict[str, Any]) -> None:
        if dialect.name == "sqlite":
            cargs[:] = [str(tmp_path / "gone" / "accord.db")]
        else:
            cparams["host"], cparams["port"] = "127.0.0.1", free_port()

    return listener


def test_a_database_outage_is_a_503_with_retry_after(
    node: Node, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    app = create_app(node=node)
    event.listen(node.engine, "do_connect", _unreachable(tmp_path))
    node.engine.dispose()  # the pooled connections go; new ones are refused
    with Client(app) as c:
        api = c.get("/api/v1/objects", headers={"X-Request-ID": "outage-1"})
        taxii = c.get(f"/taxii2/api/collections/{PUBLIC}/objects/", headers={"Accept": TAXII})
    assert api.status_code == 503 and api.headers["content-type"] == PROBLEM
    assert api.headers["retry-after"] == str(RETRY_AFTER_S)
    body = api.json()
    assert body["type"] == "/api/v1/problems/unavailable" and body["request_id"] == "outage-1"
    assert taxii.status_code == 503 and taxii.headers["content-type"] == TAXII
    assert taxii.headers["retry-after"] == str(RETRY_AFTER_S)
    assert taxii.json()["error_id"] == taxii.headers["x-request-id"]
    lines = [r.getMessage() for r in _server_lines(caplog)]
    assert len(lines) == 2 and lines[0].startswith("request outage-1: GET /api/v1/objects: ")
    assert all("the database is unavailable (OperationalError)" in line for line in lines)


def test_database_errors_never_quote_parameters(node: Node) -> None:
    with pytest.raises(DBAPIError) as caught, node.engine.connect() as conn:
        conn.execute(text("SELECT * FROM no_such_table WHERE secret = :s"), {"s": SECRET})
    assert SECRET not in str(caught.value) and "parameters hidden" in str(caught.value)


def test_every_response_carries_the_security_headers_once(sqlite_node: Node) -> None:
    sg = org(sqlite_node, "SingCERT")
    sqlite_node.accounts.add_user(None, "alice", sg.name, "admin", "correct horse battery")
    with Client(_app(sqlite_node)) as c:
        session = c.post(
            "/api/v1/auth/token", json={"username": "alice", "password": "correct horse battery"}
        )
        bearer = {"Authorization": f"Bearer {session.json()['token']}"}
        issued = c.post(
            "/api/v1/tokens",
            json={"organisation": sg.name, "role": "reader", "name": "feed"},
            headers=bearer,
        )
        seen = {
            "api": c.get("/api/v1/health"),
            "session token": session,
            "issued token": issued,
            "taxii": c.get("/taxii2/", headers={"Accept": TAXII}),
            "docs": c.get("/api/docs"),
            "404": c.get("/api/v1/no-such-thing"),
            "console 404": c.get("/no/such/page"),
            "500": c.get("/taxii2/boom/"),
            "console": c.get("/signin"),
            "static": c.get("/static/htmx.min.js"),
        }
    assert session.status_code == issued.status_code == 201
    for name, response in seen.items():
        for header, value in ALWAYS.items():
            assert response.headers.get_list(header) == [value], (name, header)
        assert len(response.headers.get_list("content-security-policy")) == 1, name
        assert SANE_ID.fullmatch(response.headers["x-request-id"]), name
    for name in ("api", "session token", "issued token", "taxii", "docs", "404", "500"):
        assert seen[name].headers.get_list("cache-control") == ["no-store"], name
        if name != "docs":
            assert seen[name].headers["content-security-policy"] == API_CSP, name
    assert seen["console"].headers["content-security-policy"] == CONSOLE_CSP
    assert seen["console"].headers.get_list("cache-control") == ["no-store"]


def test_the_docs_page_allows_its_own_inline_script_and_nothing_else_inline(
    sqlite_node: Node,
) -> None:
    with Client(create_app(node=sqlite_node)) as c:
        docs = c.get("/api/docs")
    assert docs.status_code == 200
    policy = dict(
        (d.strip().split(" ", 1) + [""])[:2]
        for d in docs.headers["content-security-policy"].split(";")
    )
    scripts = re.findall(r"<script>(.*?)</script>", docs.text, re.DOTALL)
    assert scripts, "Swagger UI boots from an inline script"
    for script in scripts:
        digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
        assert f"'sha256-{digest}'" in policy["script-src"]
    assert "unsafe-inline" not in policy["script-src"] and "unsafe-eval" not in policy["script-src"]
    assert policy["default-src"] == "'none'" and policy["frame-ancestors"] == "'none'"
    assert all(
        src.startswith("https://cdn.jsdelivr.net/")
        for src in re.findall(r'<script src="([^"]+)"', docs.text)
    )


@pytest.mark.parametrize(
    ("path", "content_type", "expected"),
    [
        ("/api/v1/objects", None, PROBLEM),
        ("/api/v1/objects", "text/plain", PROBLEM),
        ("/api/v1/objects", "application/x-www-form-urlencoded", PROBLEM),
        ("/api/v1/tokens", "text/json", PROBLEM),
        ("/api/v1/contacts/import", "application/json", PROBLEM),
        (f"/taxii2/api/collections/{COMMUNITY}/objects/", "application/json", TAXII),
        (
            f"/taxii2/api/collections/{COMMUNITY}/objects/",
            "application/taxii+json;version=2.0",
            TAXII,
        ),
        ("/signin", "application/json", PROBLEM),
    ],
)
def test_a_body_in_a_media_type_the_endpoint_does_not_parse_is_a_415(
    sqlite_node: Node, path: str, content_type: str | None, expected: str
) -> None:
    headers = {"Accept": TAXII} | ({"Content-Type": content_type} if content_type else {})
    with Client(create_app(node=sqlite_node)) as c:
        response = c.post(path, content=b'{"a": 1}', headers=headers)
    assert response.status_code == 415, response.text
    assert response.headers["content-type"] == expected
    body = response.json()
    problems = body["details"]["problems"] if expected == TAXII else body["problems"]
    assert problems[0]["field"] == "Content-Type"


@pytest.mark.parametrize(
    ("path", "content_type"),
    [
        ("/api/v1/objects", "application/json"),
        ("/api/v1/objects", "application/json; charset=utf-8"),
        ("/api/v1/objects", "application/stix+json;version=2.1"),
        ("/api/v1/contacts/import", "text/csv; charset=utf-8"),
        (f"/taxii2/api/collections/{COMMUNITY}/objects/", TAXII),
        (f"/taxii2/api/collections/{COMMUNITY}/objects/", "application/taxii+json"),
        ("/signin", "application/x-www-form-urlencoded"),
        ("/signin", "multipart/form-data; boundary=x"),
        ("/api/v1/checks/ack/no-such-link", None),  # no body, nothing to parse
    ],
)
def test_a_body_in_the_endpoints_media_type_passes_the_edge(
    sqlite_node: Node, path: str, content_type: str | None
) -> None:
    headers = {"Accept": TAXII} | ({"Content-Type": content_type} if content_type else {})
    body = b"" if content_type is None else b'{"a": 1}'
    with Client(create_app(node=sqlite_node)) as c:
        response = c.post(path, content=body, headers=headers)
    assert response.status_code not in (415, 500), response.text


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("TRACE", "/api/v1/tokens", "GET, POST"),
        ("DELETE", "/api/v1/objects", "GET, POST"),
        ("TRACE", "/taxii2/", "GET"),
        ("PUT", f"/taxii2/api/collections/{COMMUNITY}/objects/", "GET, POST"),
        ("TRACE", "/signin", "GET, POST"),
        ("TRACE", "/static/htmx.min.js", "GET, HEAD"),
    ],
)
def test_a_405_names_every_method_the_path_takes(
    sqlite_node: Node, method: str, path: str, allow: str
) -> None:
    with Client(create_app(node=sqlite_node)) as c:
        response = c.request(method, path, headers={"Accept": TAXII})
    assert response.status_code == 405
    assert response.headers["allow"] == allow


def test_nul_and_bytes_that_are_not_utf8_are_refused_naming_where(node: Node) -> None:
    cases = {
        "/api/v1/objects/%00": "path",
        "/api/v1/objects/%ed%a0%80": "path",  # an unpaired surrogate, as UTF-8 would spell it
        "/api/v1/objects?q=%00": "q",
        "/api/v1/objects?q=a%00b&type=indicator": "q",
        "/api/v1/objects?q=%ff": "q",
        "/api/v1/objects?q=%ed%b0%80": "q",
        "/api/v1/objects?%00=1": "query string",
        f"/taxii2/api/collections/{COMMUNITY}/objects/?match[id]=%00": "match[id]",
    }
    with Client(create_app(node=node)) as c:
        for url, field in cases.items():
            response = c.get(url, headers={"Accept": TAXII})
            assert response.status_code == 400, url
            body = response.json()
            problems = body["details"]["problems"] if "/taxii2/" in url else body["problems"]
            assert problems[0]["field"] == field, url
        nul_token = c.get("/api/v1/tokens", headers={"Authorization": "Bearer abc\0def"})
        fine = c.get("/api/v1/objects?q=caf%C3%A9+%F0%9F%98%80")
    assert nul_token.status_code == 400
    assert nul_token.json()["problems"][0]["field"] == "authorization"
    assert fine.status_code == 200


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=80))
def test_a_request_id_is_echoed_when_sane_and_replaced_otherwise(
    sqlite_client: Client, sent: str
) -> None:
    answered = sqlite_client.get("/api/v1/health", headers={"X-Request-ID": sent}).headers[
        "x-request-id"
    ]
    assert SANE_ID.fullmatch(answered)
    assert (answered == sent) == bool(SANE_ID.fullmatch(sent))


@pytest.fixture
def sqlite_client(sqlite_node: Node) -> Iterator[Client]:
    with Client(create_app(node=sqlite_node)) as client:
        yield client
