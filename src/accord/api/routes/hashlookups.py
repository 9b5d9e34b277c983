"""Lookups by peer nodes: the owner's node answers a peer's signed request (hashes in,
hit or no hit with labels out); see ``accord.hashlists.remote``."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from accord.api.deps import CurrentPrincipal
from accord.api.openapi import errors
from accord.api.routes.objects import read_body
from accord.errors import InvalidInput, NotAuthenticated
from accord.federation.sync import SIGNATURE
from accord.hashlists.capability import HASHLISTS
from accord.http import NodeDep

router = APIRouter(tags=["hash lists"])


@router.post(
    "/federation/hash-lookups",
    response_class=Response,
    responses=errors(400, 401, 403, 404, 409, 413, 429),
)
async def create_peer_hash_lookup(
    request: Request, node: NodeDep, principal: CurrentPrincipal
) -> Response:
    """A peer node's signed lookup request (with the token this node issued it): hit or
    no hit, with labels, for each hash, in a signed answer."""
    remote = HASHLISTS.service(node).remote
    if remote is None:
        raise InvalidInput("this node runs without federation: it answers no peer lookups")
    if principal.peer is None:  # before reading the body: only peers' tokens get this far
        raise NotAuthenticated("hash lookups by peer nodes come with the token issued to them")
    body = await read_body(request, node.settings.max_body_bytes)
    answer, signature = await run_in_threadpool(
        remote.answer, principal, body, request.headers.get(SIGNATURE)
    )
    return Response(answer, media_type="application/json", headers={SIGNATURE: signature})
