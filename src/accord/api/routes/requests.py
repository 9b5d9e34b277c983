"""Assistance requests (norm 13(h)) and consultations: file, move, thread, audit, metrics."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, status

from accord.api.coordinate_schemas import (
    MessageCreate,
    MessagePublic,
    RequestAction,
    RequestCreate,
    RequestEventPublic,
    RequestMetricsPublic,
    RequestPublic,
    RequestsPublic,
    TaxonomiesPublic,
)
from accord.api.deps import CurrentPrincipal
from accord.api.fields import Before, RowId, Text
from accord.api.openapi import errors
from accord.coordinate.requests import RequestDraft
from accord.coordinate.taxonomy import incident_categories, sectors
from accord.http import NodeDep

router = APIRouter(tags=["requests"])


@router.get("/taxonomies", response_model=TaxonomiesPublic)
def read_taxonomies() -> TaxonomiesPublic:
    """The incident categories (RSIT) and critical-infrastructure sectors requests use."""
    return TaxonomiesPublic(incident_categories=incident_categories(), sectors=sectors())


@router.post(
    "/requests",
    response_model=RequestsPublic,
    status_code=status.HTTP_201_CREATED,
    responses=errors(404, 422),
)
def create_request(
    body: RequestCreate, node: NodeDep, principal: CurrentPrincipal
) -> RequestsPublic:
    """File a request: one per recipient, with a shared case id; submitted unless a draft."""
    draft = RequestDraft(
        **{
            **body.model_dump(exclude={"recipients", "asks", "questions", "evidence"}),
            "recipients": tuple(body.recipients),
            "asks": tuple(body.asks),
            "questions": tuple(body.questions),
            "evidence": tuple(body.evidence),
        }
    )
    filed = node.coordination.requests.create(principal, draft)
    return RequestsPublic(items=[RequestPublic.model_validate(r) for r in filed], next_before=None)


@router.get("/requests", response_model=RequestsPublic)
def read_requests(
    node: NodeDep,
    principal: CurrentPrincipal,
    box: Annotated[str, Query(pattern="^(inbox|outbox)$")] = "inbox",
    state: Text | None = None,
    before: Before = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> RequestsPublic:
    """Your organisation's inbox (addressed to it) or outbox, newest first."""
    items = node.coordination.requests.box(principal, box, state, before, limit)
    return RequestsPublic(
        items=[RequestPublic.model_validate(r) for r in items],
        next_before=items[-1].id if len(items) == limit else None,
    )


@router.get("/requests/metrics", response_model=dict[str, RequestMetricsPublic])
def read_request_metrics(
    node: NodeDep, principal: CurrentPrincipal
) -> dict[str, RequestMetricsPublic]:
    """Per recipient state: median hours to acknowledge and respond, share overdue."""
    return {
        state: RequestMetricsPublic.model_validate(m)
        for state, m in node.coordination.requests.metrics().items()
    }


@router.get("/requests/{request_id}", response_model=RequestPublic, responses=errors(404))
def read_request(request_id: RowId, node: NodeDep, principal: CurrentPrincipal) -> RequestPublic:
    """One request, with the actions open to you; 404 unless you are a party."""
    return RequestPublic.model_validate(node.coordination.requests.get(principal, request_id))


@router.post(
    "/requests/{request_id}/actions", response_model=RequestPublic, responses=errors(404, 409)
)
def create_request_action(
    request_id: RowId, body: RequestAction, node: NodeDep, principal: CurrentPrincipal
) -> RequestPublic:
    """Move a request on; 409 listing the allowed actions when this one is not."""
    done = node.coordination.requests.act(principal, request_id, body.action, body.reason)
    return RequestPublic.model_validate(done)


@router.get(
    "/requests/{request_id}/audit", response_model=list[RequestEventPublic], responses=errors(404)
)
def read_request_audit(
    request_id: RowId, node: NodeDep, principal: CurrentPrincipal
) -> list[RequestEventPublic]:
    """Every transition of a request, oldest first."""
    events = node.coordination.requests.audit(principal, request_id)
    return [RequestEventPublic.model_validate(e) for e in events]


@router.get(
    "/requests/{request_id}/messages", response_model=list[MessagePublic], responses=errors(404)
)
def read_request_messages(
    request_id: RowId, node: NodeDep, principal: CurrentPrincipal
) -> list[MessagePublic]:
    """The request's thread, oldest first."""
    messages = node.coordination.requests.messages(principal, request_id)
    return [MessagePublic.model_validate(m) for m in messages]


@router.post(
    "/requests/{request_id}/messages",
    response_model=MessagePublic,
    status_code=status.HTTP_201_CREATED,
    responses=errors(404, 409),
)
def create_request_message(
    request_id: RowId, body: MessageCreate, node: NodeDep, principal: CurrentPrincipal
) -> MessagePublic:
    """Add a message, with STIX attachments you may read."""
    posted = node.coordination.requests.post_message(
        principal, request_id, body.body, body.attachments
    )
    return MessagePublic.model_validate(posted)
