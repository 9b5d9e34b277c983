"""The federation feed: peers pull signed messages from it and push signed messages to it.

It is a TAXII collection that only peer nodes see; the bodies are TAXII envelopes
with Accord's fields, and ``X-Accord-Signature`` carries the sender's signature.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from accord.accounts import require_admin
from accord.api.deps import CurrentPrincipal, NodeDep, TaxiiPrincipal
from accord.api.routes.objects import read_body
from accord.api.taxii import API_ROOT, acceptable, taxii
from accord.domain.collections import FEDERATION_COLLECTION
from accord.domain.model import Principal
from accord.domain.stix import normalise_timestamp
from accord.errors import InvalidInput, NotAuthenticated
from accord.federation.sync import SIGNATURE
from accord.node import Node
from accord.store.peers import Peer

FEED = f"{API_ROOT}collections/{FEDERATION_COLLECTION}/objects/"
# After a date_added, every pk: date_added values are distinct on a node.
_PAST_EVERY_PK = 2**63 - 1

router = APIRouter(tags=["federation"])


def _peer(node: Node, principal: Principal) -> Peer:
    if principal.peer is None:
        raise NotAuthenticated("the federation feed is for peer nodes' tokens")
    return node.federation.peers.by_id(principal.peer)


@router.get(FEED, dependencies=[Depends(acceptable)])
def read_federation_feed(
    node: NodeDep,
    principal: TaxiiPrincipal,
    added_after: Annotated[str | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
) -> Response:
    """The next signed message for the calling peer."""
    peer = _peer(node, principal)
    after = None
    if added_after:
        try:
            after = (normalise_timestamp(added_after), _PAST_EVERY_PK)
        except ValueError as exc:
            raise InvalidInput(f"'added_after': {exc}") from None
    out = node.federation.outgoing(peer, after, limit)
    return taxii(out.body, headers={SIGNATURE: out.signature})


@router.post(FEED, status_code=202, dependencies=[Depends(acceptable)])
async def create_federation_message(
    request: Request, node: NodeDep, principal: TaxiiPrincipal
) -> Response:
    """Accept one signed message pushed by a peer, all or nothing."""
    peer = _peer(node, principal)
    body = await read_body(request, node.settings.max_body_bytes)
    received = await run_in_threadpool(
        node.federation.receive, peer, body, request.headers.get(SIGNATURE), pulled=False
    )
    return taxii(
        {
            "stored": received.stored,
            "duplicates": received.duplicates,
            "undeliverable": received.undeliverable,
        },
        status=202,
    )


@router.get("/api/v1/peers", tags=["peers"])
def read_peers(node: NodeDep, principal: CurrentPrincipal) -> list[dict[str, object]]:
    """Each peer's sync state: last success, lag, last error (admins only)."""
    require_admin(principal)
    return [node.federation.status(p) for p in node.federation.peers.all()]
