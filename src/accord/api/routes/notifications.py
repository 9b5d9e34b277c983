"""The notification log (admins) and each organisation's webhooks."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, status
from fastapi.responses import Response

from accord.api.coordinate_schemas import (
    NotificationPublic,
    WebhookCreate,
    WebhookCreated,
    WebhookPublic,
)
from accord.api.deps import CurrentPrincipal
from accord.api.fields import Before, RowId, Text
from accord.api.openapi import errors
from accord.errors import NotFound
from accord.http import NodeDep

router = APIRouter(tags=["notifications"])


@router.get("/notifications", response_model=list[NotificationPublic])
def read_notifications(
    node: NodeDep,
    principal: CurrentPrincipal,
    status_: Annotated[Text | None, Query(alias="status")] = None,
    topic: Text | None = None,
    before: Before = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[NotificationPublic]:
    """The log of e-mails and webhook calls, newest first (admins only; no bodies).

    A failed attempt reads "delivery failed" whatever went wrong; the reason is in the
    node's log only, so the log cannot serve to probe what a webhook URL reaches.
    """
    logged = node.coordination.notifier.log(
        principal, status=status_, topic=topic, before=before, limit=limit
    )
    return [NotificationPublic.model_validate(n) for n in logged]


@router.post("/webhooks", response_model=WebhookCreated, status_code=status.HTTP_201_CREATED)
def create_webhook(
    body: WebhookCreate, node: NodeDep, principal: CurrentPrincipal
) -> WebhookCreated:
    """Register a webhook for your organisation's request events, signed with your secret.

    Its URL must be http(s) and resolve, now, to public addresses only (or to networks
    the operator allows in ACCORD_WEBHOOK_ALLOW); 400 naming ``url`` otherwise.
    """
    hook_id = node.coordination.notifier.register_webhook(principal, body.url, body.secret)
    return WebhookCreated(id=hook_id, url=body.url.strip())


@router.get("/webhooks", response_model=list[WebhookPublic])
def read_webhooks(node: NodeDep, principal: CurrentPrincipal) -> list[WebhookPublic]:
    """Every organisation's webhooks, without their secrets (admins only)."""
    hooks = node.coordination.notifier.list_webhooks(principal)
    return [WebhookPublic.model_validate(h) for h in hooks]


@router.delete(
    "/webhooks/{webhook_id}", status_code=status.HTTP_204_NO_CONTENT, responses=errors(404)
)
def delete_webhook(webhook_id: RowId, node: NodeDep, principal: CurrentPrincipal) -> Response:
    """Remove a webhook; nothing more is queued for it (admins only)."""
    try:
        node.coordination.notifier.delete_webhook(principal, webhook_id)
    except NotFound as exc:
        raise NotFound(f"{exc.detail}; list them with GET /api/v1/webhooks") from None
    return Response(status_code=status.HTTP_204_NO_CONTENT)
