"""The TAXII 2.1 server at ``/taxii2/``: thin HTTP over ``exchange.taxii``.

Every response, errors included, is ``application/taxii+json;version=2.1``; a client
may ask for it with or without the version parameter.
"""

from __future__ import annotations

from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response

import accord
from accord.api.deps import TaxiiPrincipal
from accord.api.fields import Text
from accord.api.openapi import errors
from accord.api.routes.objects import read_body
from accord.errors import NotAcceptable, NotAuthenticated, UnsupportedMediaType
from accord.exchange.taxii import MEDIA_TYPE, Page, parse_filters
from accord.http import NodeDep
from accord.store.objects import VersionQuery

API_ROOT = "/taxii2/api/"


async def acceptable(request: Request) -> None:  # no I/O: in the event loop, see get_node
    accept = request.headers.get("accept", "*/*").replace(" ", "").lower()
    for item in accept.split(","):
        media, *params = item.split(";")
        if media in ("*/*", "application/*"):
            return
        if media == "application/taxii+json" and all(
            p in ("version=2.1",) or p.startswith("q=") for p in params
        ):
            return
    raise NotAcceptable(f"this server speaks {MEDIA_TYPE}; send 'Accept: {MEDIA_TYPE}'")


class TaxiiResponse(JSONResponse):
    """A TAXII message (the OpenAPI document names its media type)."""

    media_type = MEDIA_TYPE


# An envelope of objects in a request body (validated by the exchange, not the schema).
ENVELOPE_BODY = {
    "required": True,
    "content": {MEDIA_TYPE: {"schema": {"type": "object", "description": "A TAXII envelope."}}},
}

router = APIRouter(
    tags=["taxii"], dependencies=[Depends(acceptable)], default_response_class=TaxiiResponse
)


def taxii(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    content = body if isinstance(body, bytes) else orjson.dumps(body)
    return Response(content, status_code=status, media_type=MEDIA_TYPE, headers=headers)


def _filters(request: Request, node: NodeDep) -> VersionQuery:
    return parse_filters(request.query_params, node.settings.page_size_max)


Filters = Annotated[VersionQuery, Depends(_filters)]


def _envelope(page: Page) -> bytes:
    head: dict[str, Any] = {"more": page.more}
    if page.next:
        head["next"] = page.next
    parts = b",".join(row.doc.encode() for row in page.rows)
    return orjson.dumps(head)[:-1] + b',"objects":[' + parts + b"]}"


@router.get("/taxii2/")
def read_discovery(request: Request, node: NodeDep) -> Response:
    """TAXII discovery: this server and its one API root."""
    root = str(request.base_url).rstrip("/") + API_ROOT
    return taxii(
        {
            "title": f"Accord node {node.settings.node_name}",
            "description": "STIX 2.1 threat information shared under TLP 2.0.",
            "default": root,
            "api_roots": [root],
        }
    )


@router.get(API_ROOT)
def read_api_root(node: NodeDep) -> Response:
    """The API root: its versions and the largest envelope it accepts."""
    return taxii(
        {
            "title": f"Accord {node.settings.node_name}",
            "description": f"Accord {accord.__version__}",
            "versions": [MEDIA_TYPE],
            "max_content_length": node.settings.max_body_bytes,
        }
    )


@router.get(API_ROOT + "status/{status_id}/", responses=errors(404))
def read_status(status_id: Text, node: NodeDep, principal: TaxiiPrincipal) -> Response:
    """The outcome of an earlier POST by the caller's organisation."""
    if principal.org is None:
        raise NotAuthenticated("status resources need credentials")
    return taxii(node.taxii.status(principal, status_id))


@router.get(API_ROOT + "collections/")
def read_collections(node: NodeDep, principal: TaxiiPrincipal) -> Response:
    """The collections the caller may know of."""
    views = node.taxii.collections(principal)
    return taxii({"collections": [v.resource() for v in views]})


@router.get(API_ROOT + "collections/{collection_id}/", responses=errors(404))
def read_collection(collection_id: Text, node: NodeDep, principal: TaxiiPrincipal) -> Response:
    """One collection."""
    return taxii(node.taxii.collection(principal, collection_id).resource())


@router.get(API_ROOT + "collections/{collection_id}/objects/", responses=errors(404))
def read_collection_objects(
    collection_id: Text, node: NodeDep, principal: TaxiiPrincipal, query: Filters
) -> Response:
    """Objects in the collection, oldest ``date_added`` first, one page at a time."""
    page = node.taxii.page(principal, collection_id, query)
    return taxii(_envelope(page), headers=page.headers())


@router.post(
    API_ROOT + "collections/{collection_id}/objects/",
    status_code=202,
    responses=errors(404, 413, 415, 422),
    openapi_extra={"requestBody": ENVELOPE_BODY},
)
async def create_collection_objects(
    collection_id: Text, request: Request, node: NodeDep, principal: TaxiiPrincipal
) -> Response:
    """Add an envelope of objects, all or nothing; answers a status resource."""
    content_type = request.headers.get("content-type", "").replace(" ", "").lower()
    if content_type.split(";")[0] != "application/taxii+json" or (
        "version=" in content_type and "version=2.1" not in content_type
    ):
        raise UnsupportedMediaType(f"send 'Content-Type: {MEDIA_TYPE}'")
    if principal.org is None:
        raise NotAuthenticated("adding objects needs credentials")
    body = await read_body(request, node.settings.max_body_bytes)
    status = await run_in_threadpool(node.taxii.add, principal, collection_id, body)
    return taxii(status, status=202)


@router.get(API_ROOT + "collections/{collection_id}/objects/{object_id}/", responses=errors(404))
def read_collection_object(
    collection_id: Text, object_id: Text, node: NodeDep, principal: TaxiiPrincipal, query: Filters
) -> Response:
    """One object: by default its latest version; match[version] for others."""
    page = node.taxii.object_page(principal, collection_id, object_id, query)
    return taxii(_envelope(page), headers=page.headers())


@router.delete(API_ROOT + "collections/{collection_id}/objects/{object_id}/", responses=errors(404))
def delete_collection_object(
    collection_id: Text, object_id: Text, request: Request, node: NodeDep, principal: TaxiiPrincipal
) -> Response:
    """Delete an object the caller's organisation owns (every version, or match[version])."""
    query = _filters(request, node)
    if "match[version]" not in request.query_params:
        query = VersionQuery(**{**_fields(query), "versions": ("all",)})
    node.taxii.delete(principal, collection_id, object_id, query)
    return taxii(b"", status=200)


@router.get(
    API_ROOT + "collections/{collection_id}/objects/{object_id}/versions/", responses=errors(404)
)
def read_object_versions(
    collection_id: Text, object_id: Text, request: Request, node: NodeDep, principal: TaxiiPrincipal
) -> Response:
    """Every version of an object the caller may read, oldest first."""
    query = VersionQuery(**{**_fields(_filters(request, node)), "versions": ("all",)})
    page = node.taxii.object_page(principal, collection_id, object_id, query)
    body: dict[str, Any] = {"more": page.more, "versions": [r.modified for r in page.rows]}
    if page.next:
        body["next"] = page.next
    return taxii(body, headers=page.headers())


@router.get(API_ROOT + "collections/{collection_id}/manifest/", responses=errors(404))
def read_manifest(
    collection_id: Text, node: NodeDep, principal: TaxiiPrincipal, query: Filters
) -> Response:
    """What the collection holds, without the objects themselves."""
    page = node.taxii.page(principal, collection_id, query)
    body: dict[str, Any] = {
        "more": page.more,
        "objects": [
            {
                "id": r.stix_id,
                "date_added": r.date_added,
                "version": r.modified,
                "media_type": "application/stix+json;version=2.1",
            }
            for r in page.rows
        ],
    }
    if page.next:
        body["next"] = page.next
    return taxii(body, headers=page.headers())


def _fields(query: VersionQuery) -> dict[str, Any]:
    return {name: getattr(query, name) for name in VersionQuery.__dataclass_fields__}
