"""Where peer nodes deliver signed coordination messages (``coordinate.federation``)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field

from accord.api.deps import CurrentPrincipal
from accord.api.openapi import errors
from accord.api.routes.objects import read_body
from accord.coordinate.federation import PATH
from accord.federation.sync import SIGNATURE
from accord.http import NodeDep

router = APIRouter(tags=["federation"])


class AppliedPublic(BaseModel):
    kind: str = Field(description="transition, message, receipt or escalate.")
    request: str = Field(description="The request's id, shared by both nodes.")


@router.post(
    PATH,
    status_code=202,
    response_model=AppliedPublic,
    responses=errors(401, 403, 409, 413, 415, 422),
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": {"type": "object"}}},
        }
    },
)
async def create_coordination_message(
    request: Request, node: NodeDep, principal: CurrentPrincipal
) -> AppliedPublic:
    """Apply one signed coordination message from a peer node (its token, its key), all or
    nothing: 403 for a forged or misaddressed one, 409 for a replay or a transition the
    request's state does not allow here."""
    peer = node.federation.calling_peer(principal)  # before reading anyone else's body
    body = await read_body(request, node.settings.max_body_bytes)
    link = node.coordination.link
    assert link is not None  # wired whenever the node runs coordination
    applied = await run_in_threadpool(link.receive, peer, body, request.headers.get(SIGNATURE))
    return AppliedPublic(kind=applied.kind, request=applied.request)
