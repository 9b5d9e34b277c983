"""The error responses of the OpenAPI document, stated in one place.

Each operation lists the error statuses it can answer: those it declares with
``errors(...)`` (404, 409, 413, 422: what its service raises), and those that follow
from how it is built, added here to every operation alike:

* 400 for any input (parameters, a body, TAXII filters); 415 for a JSON body;
* 401 and 403 where the operation takes credentials (its ``security``), 429 where a
  password is checked (HTTP Basic on TAXII; sign-in declares it); 406 on TAXII, where
  content negotiation runs;
* 503 everywhere: the database may be out.

Errors are ``application/problem+json`` with the ``Problem`` schema on the REST API,
and TAXII error messages (``TaxiiError``) under ``/taxii2/``. FastAPI's default 422
entry is dropped: request validation answers 400 here (``accord.api.problems``).
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from pydantic import BaseModel, Field

from accord.api.deps import BASIC
from accord.api.problems import MEDIA_TYPE as PROBLEM_MEDIA_TYPE
from accord.exchange.taxii import MEDIA_TYPE as TAXII_MEDIA_TYPE

DESCRIPTIONS = {
    400: "Invalid input; each bad field is named.",
    401: "No, unknown, expired or revoked credentials.",
    403: "Authenticated, but the caller may not do this.",
    404: "Absent, or not visible to the caller.",
    406: "The client does not accept the TAXII media type.",
    409: "Clashes with what is stored, or not allowed in the current state.",
    413: "The body is over the node's size limit.",
    415: "The body is not in a media type this operation takes.",
    422: "The content failed validation, or the sharing rules forbid it.",
    429: "Too many failed sign-ins; retry after Retry-After seconds.",
    502: "A remote source (a MISP feed) did not answer, or answered nonsense.",
    503: "The database is unavailable; retry later.",
}
HEADERS = {
    401: {
        "WWW-Authenticate": {
            "description": "The schemes to authenticate with.",
            "schema": {"type": "string"},
        }
    },
    429: {"Retry-After": {"description": "Seconds to wait.", "schema": {"type": "integer"}}},
}
SIGN_IN = 429


# One specific thing wrong with an input.
class ProblemItem(BaseModel):
    reason: str
    field: str | None = Field(default=None, description="The field, e.g. 'name' or 'query.limit'.")
    index: int | None = Field(default=None, description="The object's index in a bundle.")
    object_id: str | None = None


# An RFC 9457 problem document.
class Problem(BaseModel):
    type: str = Field(description="/api/v1/problems/{slug}; a GET there explains it.")
    title: str
    status: int
    detail: str
    problems: list[ProblemItem] | None = None


# A TAXII 2.1 error message (section 3.6.1).
class TaxiiError(BaseModel):
    title: str
    description: str | None = None
    http_status: str | None = None
    details: dict[str, Any] | None = None


def errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """``responses=`` for an operation or router that may answer these error statuses."""
    return {status: {"description": DESCRIPTIONS[status]} for status in statuses}


def install(app: FastAPI) -> None:
    """Make ``app``'s OpenAPI document state every operation's error responses."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        schema = build()  # FastAPI's, cached until the routes change
        if Problem.__name__ not in schema.get("components", {}).get("schemas", {}):
            _document(schema)
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


def _derived(path: str, operation: dict[str, Any]) -> set[int]:
    taxii = path.startswith("/taxii2")
    schemes = {name for requirement in operation.get("security", []) for name in requirement}
    found = {503}
    if taxii or operation.get("parameters") or "requestBody" in operation:
        found.add(400)
    if "application/json" in operation.get("requestBody", {}).get("content", {}):
        found.add(415)
    if schemes:
        found |= {401, 403}
    if BASIC.scheme_name in schemes:
        found.add(SIGN_IN)
    if taxii:
        found.add(406)
    return found


def _document(schema: dict[str, Any]) -> None:
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    for model in (ProblemItem, Problem, TaxiiError):
        components[model.__name__] = model.model_json_schema(
            ref_template="#/components/schemas/{model}"
        )
    for path, operations in schema.get("paths", {}).items():
        for operation in operations.values():
            _errors(path, operation)
    for unused in ("HTTPValidationError", "ValidationError"):
        components.pop(unused, None)


def _errors(path: str, operation: dict[str, Any]) -> None:
    taxii = path.startswith("/taxii2")
    responses: dict[str, Any] = operation.setdefault("responses", {})
    if "HTTPValidationError" in str(responses.get("422", "")):
        del responses["422"]
    declared = {int(code) for code in responses if code.isdigit() and int(code) >= 400}
    media, ref = (TAXII_MEDIA_TYPE, "TaxiiError") if taxii else (PROBLEM_MEDIA_TYPE, "Problem")
    for status in sorted(declared | _derived(path, operation)):
        entry: dict[str, Any] = {
            "description": DESCRIPTIONS[status],
            "content": {media: {"schema": {"$ref": f"#/components/schemas/{ref}"}}},
        }
        if status in HEADERS:
            entry["headers"] = HEADERS[status]
        responses[str(status)] = entry
