"""The OpenAPI document states the errors, bounds and schemes the node really enforces."""

from __future__ import annotations

from typing import Any

import pytest

from accord.app import create_app
from accord.node import Node
from tests.asgi import Client


@pytest.fixture
def document(sqlite_node: Node) -> dict[str, Any]:
    with Client(create_app(node=sqlite_node)) as http:
        response = http.get("/api/v1/openapi.json")
    assert response.status_code == 200
    body: dict[str, Any] = response.json()
    return body


def _operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (path, method, op) for path, ops in document["paths"].items() for method, op in ops.items()
    ]


def test_every_error_is_a_problem_or_a_taxii_error_and_none_is_fastapis_422(
    document: dict[str, Any],
) -> None:
    for path, method, op in _operations(document):
        responses = op["responses"]
        assert "503" in responses, (method, path)
        for status, response in responses.items():
            if int(status) < 400:
                continue
            (media,) = response["content"]
            if path.startswith("/taxii2"):
                assert media == "application/taxii+json;version=2.1", (method, path, status)
            else:
                assert media == "application/problem+json", (method, path, status)
    assert "HTTPValidationError" not in document["components"]["schemas"]
    assert {"Problem", "TaxiiError"} <= set(document["components"]["schemas"])


def test_statuses_follow_from_the_body_the_security_and_the_route(
    document: dict[str, Any],
) -> None:
    paths = document["paths"]
    tokens = paths["/api/v1/tokens"]["post"]["responses"]
    assert {"400", "401", "403", "404", "415"} <= set(tokens)
    assert "429" not in tokens
    sign_in = paths["/api/v1/auth/token"]["post"]["responses"]
    assert "Retry-After" in sign_in["429"]["headers"] and "403" not in sign_in
    assert "WWW-Authenticate" in tokens["401"]["headers"]
    taxii = paths["/taxii2/api/collections/"]["get"]["responses"]
    assert {"401", "406", "429"} <= set(taxii)
    assert "415" not in paths["/api/v1/health"]["get"]["responses"]
    schemes = document["components"]["securitySchemes"]
    assert schemes["bearer"]["scheme"] == "bearer" and schemes["basic"]["scheme"] == "basic"


def test_bounds_the_server_enforces_are_in_the_schemas(document: dict[str, Any]) -> None:
    schemas = document["components"]["schemas"]
    assert schemas["TokenCreate"]["properties"]["expires_in_days"]["anyOf"][0]["maximum"] == 3650
    delete = document["paths"]["/api/v1/tokens/{token_id}"]["delete"]
    (token_id,) = delete["parameters"]
    assert token_id["schema"]["minimum"] == 1 and token_id["schema"]["maximum"] == 2**31 - 1
    objects = document["paths"]["/api/v1/objects"]["get"]["parameters"]
    (q,) = [p for p in objects if p["name"] == "q"]
    assert q["schema"]["anyOf"][0]["maxLength"] == 300
    assert "enum" in schemas["RequestCreate"]["properties"]["urgency"]
    assert schemas["OrganisationCreate"]["properties"]["kind"]["$ref"].endswith("/OrgKind")
    assert "academia" in schemas["OrgKind"]["enum"]
