"""STIX objects: share bundles, list and search, read one with its versions, pass on, export."""

from __future__ import annotations

from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response, StreamingResponse

from accord.api.deps import CurrentPrincipal, MaybePrincipal
from accord.api.fields import Search, Text
from accord.api.openapi import errors
from accord.api.schemas import IngestResult, ShareCreate, SharePublic
from accord.domain.stix import normalise_timestamp
from accord.domain.tlp import TLP
from accord.errors import InvalidInput, PayloadTooLarge
from accord.exchange.service import ShareRequest
from accord.http import NodeDep, decode_cursor, encode_cursor
from accord.node import Node
from accord.store.objects import ObjectQuery, ObjectRow

router = APIRouter(tags=["objects"])

JSON = "application/json"
STIX = "application/stix+json;version=2.1"
# A STIX bundle or object in a request body (validated by the exchange, not the schema).
STIX_BODY = {
    "required": True,
    "content": {
        media: {"schema": {"type": "object", "description": "A STIX 2.1 bundle or object."}}
        for media in (JSON, STIX)
    },
}


class StixResponse(JSONResponse):
    """A STIX bundle (the OpenAPI document names its media type)."""

    media_type = STIX


def _parse(kind: str, value: str, parse: Any) -> Any:
    try:
        return parse(value)
    except ValueError as exc:
        raise InvalidInput(f"bad {kind}: {exc}") from None


def _item(row: ObjectRow, identities: dict[int, str]) -> dict[str, Any]:
    return {
        "tlp": row.tlp.value,
        "scope": row.scope.value,
        "owner": identities[row.owner],
        "date_added": row.date_added,
        "revoked": row.revoked,
        "object": orjson.Fragment(row.doc),
    }


async def read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"the body is over the {limit} byte limit; split the bundle")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"the body is over the {limit} byte limit; split the bundle")
        chunks.append(chunk)
    return b"".join(chunks)


@router.post(
    "/objects",
    response_model=IngestResult,
    status_code=201,
    responses={
        200: {"model": IngestResult, "description": "Nothing new: every version was stored."},
        **errors(404, 413, 415, 422),
    },
    openapi_extra={"requestBody": STIX_BODY},
)
async def create_objects(
    request: Request,
    node: NodeDep,
    principal: CurrentPrincipal,
    tlp: Annotated[
        Text | None, Query(description="TLP for unmarked objects; may only raise.")
    ] = None,
    scope: Annotated[Text | None, Query(description="Distribution scope.")] = None,
    recipients: Annotated[list[Text], Query(description="Recipient identity ids.")] = [],  # noqa: B006
    group: Annotated[Text | None, Query(description="Sharing group slug.")] = None,
) -> Response:
    """Share a STIX 2.1 bundle or object; all or nothing, re-posting is a no-op (200)."""
    body = await read_body(request, node.settings.max_body_bytes)
    req = ShareRequest.parse(tlp, scope, recipients, group)
    report = await run_in_threadpool(node.exchange.ingest, principal, body, req)
    detail = (
        f"stored {len(report.stored)} new object versions"
        if report.changed
        else "nothing new: every version was already stored"
    )
    result = IngestResult(
        stored=len(report.stored),
        duplicates=len(report.duplicates),
        stored_ids=report.stored,
        detail=detail,
    )
    return Response(
        result.model_dump_json(), status_code=201 if report.changed else 200, media_type=JSON
    )


@router.get("/objects", responses=errors(404))
def read_objects(
    node: NodeDep,
    principal: MaybePrincipal,
    type: Annotated[list[Text], Query(description="STIX types.")] = [],  # noqa: B006
    tlp: Annotated[list[Text], Query(description="TLP labels.")] = [],  # noqa: B006
    owner: Annotated[Text | None, Query(description="Owner identity id.")] = None,
    modified_after: Annotated[Text | None, Query(description="STIX timestamp.")] = None,
    q: Search = None,
    limit: Annotated[int, Query(ge=1, description="At most the node's page size.")] = 100,
    cursor: Text | None = None,
) -> Response:
    """The latest versions the caller may read, oldest first, one page at a time."""
    query = _query(node, type, tlp, owner, modified_after, q, limit, cursor)
    page = node.exchange.page(principal, query)
    identities = node.accounts.orgs.identities({r.owner for r in page.rows})
    body = {
        "items": [_item(r, identities) for r in page.rows],
        "next": encode_cursor(page.next_cursor),
    }
    return Response(orjson.dumps(body), media_type=JSON)


def _query(
    node: Node,
    types: list[str],
    tlps: list[str],
    owner: str | None,
    modified_after: str | None,
    text: str | None,
    limit: int,
    cursor: str | None,
) -> ObjectQuery:
    if limit > node.settings.page_size_max:
        raise InvalidInput(f"limit is at most {node.settings.page_size_max}")
    owner_id = node.accounts.orgs.find(owner).id if owner else None
    return ObjectQuery(
        types=tuple(types),
        tlps=tuple(_parse("tlp", t, TLP.parse) for t in tlps),
        owner=owner_id,
        modified_after=_parse("modified_after", modified_after, normalise_timestamp)
        if modified_after
        else None,
        text=text or None,
        after=decode_cursor(cursor),
        limit=limit,
    )


@router.get("/objects/{stix_id}", responses=errors(404))
def read_object(stix_id: Text, node: NodeDep, principal: MaybePrincipal) -> Response:
    """The latest version of one object, its stamp, and the versions the caller may read."""
    latest, versions = node.exchange.get(principal, stix_id)
    identities = node.accounts.orgs.identities({latest.owner})
    body = {
        **_item(latest, identities),
        "provenance": orjson.Fragment(latest.provenance),
        "versions": [v.modified for v in versions],
    }
    return Response(orjson.dumps(body), media_type=JSON)


@router.post(
    "/objects/{stix_id}/shares",
    response_model=SharePublic,
    status_code=201,
    responses=errors(404, 409, 422),
)
def create_share(
    stix_id: Text, body: ShareCreate, node: NodeDep, principal: CurrentPrincipal
) -> SharePublic:
    """Pass an object on, within its marking; a recipient may raise the TLP, never lower it."""
    req = ShareRequest.parse(body.tlp, body.scope, body.recipients, body.group)
    d = node.exchange.reshare(principal, stix_id, req)
    return SharePublic(tlp=d.tlp.value, scope=d.scope.value)


@router.get("/export", response_class=StixResponse, responses=errors(404))
def read_export(
    node: NodeDep,
    principal: MaybePrincipal,
    type: Annotated[list[Text], Query()] = [],  # noqa: B006
    tlp: Annotated[list[Text], Query()] = [],  # noqa: B006
    owner: Text | None = None,
    modified_after: Text | None = None,
) -> StreamingResponse:
    """A STIX 2.1 bundle of everything the caller may read (latest versions)."""
    query = _query(node, type, tlp, owner, modified_after, None, 1000, None)
    return StreamingResponse(node.exchange.export(principal, query), media_type=STIX)
