"""Personal data: rules per destination, previews, the transfer log, access requests."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, status
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from accord.api.deps import CurrentPrincipal
from accord.api.fields import Before, RowId, Text
from accord.api.openapi import errors
from accord.api.privacy_schemas import (
    AccessMatchPublic,
    AccessRequest,
    ErasureCreate,
    ErasurePeerPublic,
    ErasurePublic,
    FindingPublic,
    PreviewPublic,
    PurgePublic,
    RedactionPublic,
    RetentionCreate,
    RetentionPublic,
    RuleCreate,
    RulePublic,
    TransferPublic,
)
from accord.api.routes.objects import read_body
from accord.federation.sync import SIGNATURE, peer_http
from accord.http import NodeDep
from accord.privacy.capability import PRIVACY
from accord.store.privacy import Erasure, Rule

router = APIRouter(prefix="/privacy", tags=["privacy"])


def _rule(rule: Rule) -> RulePublic:
    return RulePublic.model_validate(rule, from_attributes=True)


@router.get("/rules", response_model=list[RulePublic], responses=errors(403))
def read_rules(node: NodeDep, principal: CurrentPrincipal) -> list[RulePublic]:
    """The rules per destination (node admins)."""
    return [_rule(r) for r in PRIVACY.service(node).rules(principal)]


@router.post(
    "/rules",
    response_model=RulePublic,
    status_code=status.HTTP_201_CREATED,
    responses=errors(403, 409),
)
def create_rule(body: RuleCreate, node: NodeDep, principal: CurrentPrincipal) -> RulePublic:
    """Add the rule for a destination state (and kind of organisation), with its basis."""
    return _rule(
        PRIVACY.service(node).add_rule(
            principal, body.state, body.kind, body.action, body.basis, body.note
        )
    )


@router.delete(
    "/rules/{rule_id}", status_code=status.HTTP_204_NO_CONTENT, responses=errors(403, 404)
)
def delete_rule(rule_id: RowId, node: NodeDep, principal: CurrentPrincipal) -> None:
    """Remove a rule; its destinations fall back to the next rule, or to redaction."""
    PRIVACY.service(node).delete_rule(principal, rule_id)


@router.get("/preview/{stix_id}", response_model=PreviewPublic, responses=errors(404))
def read_preview(
    stix_id: Text,
    node: NodeDep,
    principal: CurrentPrincipal,
    state: Annotated[Text | None, Query(max_length=2, description="ISO 3166-1 alpha-2.")] = None,
    kind: Annotated[Text | None, Query(max_length=40, description="A kind of org.")] = None,
) -> PreviewPublic:
    """What a destination would receive of an object you may read, and why."""
    p = PRIVACY.service(node).preview(principal, stix_id, state, kind)
    return PreviewPublic(
        id=p.stix_id,
        state=p.state,
        kind=p.kind,
        action=p.decision.action.value,
        basis=p.decision.basis.value,
        rule=p.decision.rule_id,
        findings=[
            FindingPublic(path=f.path, kind=f.kind, start=f.start, end=f.end) for f in p.findings
        ],
        object=p.sent,
    )


@router.get("/transfers", response_model=list[TransferPublic], responses=errors(403))
def read_transfers(
    node: NodeDep,
    principal: CurrentPrincipal,
    object_id: Annotated[Text | None, Query(max_length=100)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    before: Before = None,
) -> list[TransferPublic]:
    """Object versions that left for other nodes: of your organisation's objects (admins:
    all), newest first, with the rule, basis and what was rewritten (never the values)."""
    found = PRIVACY.service(node).transfers(principal, object_id, limit, before)
    return [
        TransferPublic(
            id=t.id,
            destination=t.destination,
            object_id=t.stix_id,
            modified=t.modified,
            action=t.action,
            basis=t.basis,
            rule=t.rule_id,
            redactions=[RedactionPublic(path=p, kind=k) for p, k in t.redactions],
            sent=t.sent,
        )
        for t in found
    ]


@router.post("/access-requests", response_model=list[AccessMatchPublic], responses=errors(403))
def create_access_request(
    body: AccessRequest, node: NodeDep, principal: CurrentPrincipal
) -> list[AccessMatchPublic]:
    """Every object you may read that mentions an identifier (data-protection authorities)."""
    rows = PRIVACY.service(node).access_request(principal, body.identifier)
    return [
        AccessMatchPublic(
            id=r.stix_id, type=r.type, modified=r.modified, owner=r.owner, tlp=r.tlp.value
        )
        for r in rows
    ]


@router.get("/retention", response_model=list[RetentionPublic], responses=errors(403))
def read_retention(node: NodeDep, principal: CurrentPrincipal) -> list[RetentionPublic]:
    """How long objects of each type and marking are kept (node admins)."""
    return [
        RetentionPublic(id=r.id, type=r.type, tlp=r.tlp, days=r.days)
        for r in PRIVACY.service(node).retention(principal)
    ]


@router.post(
    "/retention",
    response_model=RetentionPublic,
    status_code=status.HTTP_201_CREATED,
    responses=errors(403, 409),
)
def create_retention(
    body: RetentionCreate, node: NodeDep, principal: CurrentPrincipal
) -> RetentionPublic:
    """Keep objects of a type (and marking) so many days; the hourly job purges the rest."""
    r = PRIVACY.service(node).add_retention(principal, body.type, body.tlp, body.days)
    return RetentionPublic(id=r.id, type=r.type, tlp=r.tlp, days=r.days)


@router.delete(
    "/retention/{rule_id}", status_code=status.HTTP_204_NO_CONTENT, responses=errors(403, 404)
)
def delete_retention(rule_id: RowId, node: NodeDep, principal: CurrentPrincipal) -> None:
    """Remove a retention rule."""
    PRIVACY.service(node).delete_retention(principal, rule_id)


@router.get("/purges", response_model=list[PurgePublic], responses=errors(403))
def read_purges(node: NodeDep, principal: CurrentPrincipal) -> list[PurgePublic]:
    """What retention purged, newest first (node admins)."""
    return [
        PurgePublic(
            id=p.id,
            object_id=p.stix_id,
            type=p.type,
            tlp=p.tlp,
            versions=p.versions,
            reason=p.reason,
            purged=p.purged,
        )
        for p in PRIVACY.service(node).purges(principal)
    ]


def _erasure(e: Erasure) -> ErasurePublic:
    return ErasurePublic(
        id=e.id,
        object_id=e.stix_id,
        requested=e.requested,
        peers=[
            ErasurePeerPublic(
                peer=p.peer_name,
                status="confirmed" if p.confirmed is not None else "late",
                confirmed=p.confirmed,
                versions=p.versions,
                last_error=p.last_error,
            )
            for p in e.peers
        ],
    )


def _request_erasure(node: NodeDep, principal: CurrentPrincipal, object_id: str) -> Erasure:
    with peer_http(node.settings.federation_timeout) as http:
        return PRIVACY.service(node).erasures.request(principal, object_id, http)


@router.post(
    "/erasures",
    response_model=ErasurePublic,
    status_code=status.HTTP_201_CREATED,
    responses=errors(403, 404),
)
async def create_erasure(
    body: ErasureCreate, node: NodeDep, principal: CurrentPrincipal
) -> ErasurePublic:
    """Erase an object your organisation owns, here and at every peer it was sent to;
    each peer answers with a signed receipt."""
    return _erasure(await run_in_threadpool(_request_erasure, node, principal, body.object_id))


@router.get("/erasures/{erasure_id}", response_model=ErasurePublic, responses=errors(404))
def read_erasure(erasure_id: RowId, node: NodeDep, principal: CurrentPrincipal) -> ErasurePublic:
    """Which peers confirmed an erasure, and which are late."""
    return _erasure(PRIVACY.service(node).erasures.status(principal, erasure_id))


@router.post(
    "/erasures/incoming",
    responses=errors(403, 409, 413, 422),
    response_class=Response,
)
async def create_incoming_erasure(
    request: Request, node: NodeDep, principal: CurrentPrincipal
) -> Response:
    """A peer node's signed erasure request (its token); answers its signed receipt."""
    body = await read_body(request, node.settings.max_body_bytes)
    receipt, signature = await run_in_threadpool(
        PRIVACY.service(node).erasures.erase_on_request,
        principal,
        body,
        request.headers.get(SIGNATURE),
    )
    return Response(receipt, media_type="application/json", headers={SIGNATURE: signature})
