"""The federation feed: peers pull signed messages from it and push signed messages to it.

It is a TAXII collection that only peer nodes see; the bodies are TAXII envelopes
with Accord's fields, and ``X-Accord-Signature`` carries the sender's signature.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from accord.api.deps import CurrentPrincipal, TaxiiPrincipal
from accord.api.federation_schemas import PeerStatusPublic
from accord.api.openapi import errors
from accord.api.routes.objects import read_body
from accord.api.taxii import API_ROOT, TaxiiResponse, acceptable, taxii
from accord.domain.collections import FEDERATION_COLLECTION
from accord.federation.sync import SIGNATURE
from accord.http import NodeDep

FEED = f"{API_ROOT}collections/{FEDERATION_COLLECTION}/objects/"

router = APIRouter(tags=["federation"])


@router.get(FEED, dependencies=[Depends(acceptable)], response_class=TaxiiResponse)
def read_federation_feed(
    node: NodeDep,
    principal: TaxiiPrincipal,
    added_after: Annotated[str | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
) -> Response:
    """The next signed message for the calling peer."""
    out = node.federation.feed(principal, added_after, limit)
    return taxii(out.body, headers={SIGNATURE: out.signature})


@router.post(
    FEED,
    status_code=202,
    dependencies=[Depends(acceptable)],
    response_class=TaxiiResponse,
    responses=errors(409, 413, 415, 422),
)
async def create_federation_message(
    request: Request, node: NodeDep, principal: TaxiiPrincipal
) -> Response:
    """Accept one signed message pushed by a peer, all or nothing."""
    peer = node.federation.calling_peer(principal)  # before reading anyone else's body
    body = await read_body(request, node.settings.max_body_bytes)
    received = await run_in_threadpool(
        node.federation.accept, peer, body, request.headers.get(SIGNATURE)
    )
    return taxii(
        {
            "stored": received.stored,
            "duplicates": received.duplicates,
            "undeliverable": received.undeliverable,
            # Which objects were not delivered and why, so the sender's status shows it.
            "refused": received.notes[:100],
        },
        status=202,
    )


@router.get("/api/v1/peers", tags=["peers"])
def read_peers(node: NodeDep, principal: CurrentPrincipal) -> list[PeerStatusPublic]:
    """Each peer's sync state: last success, lag, last error, its audit log (admins only)."""
    from accord.audit.capability import AUDIT
    from accord.audit.witness import describe, witnessed

    logs = witnessed(AUDIT.service(node)) if AUDIT.runs_on(node) else None
    return [
        PeerStatusPublic.model_validate(s).model_copy(
            update={"witness": None if logs is None else logs.get(s.node_id, describe(None))}
        )
        for s in node.federation.statuses(principal)
    ]
