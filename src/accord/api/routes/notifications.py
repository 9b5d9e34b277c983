"""The notification log (admins) and each organisation's webhooks."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, status
from fastapi.responses import Response

from accord.accounts import require_admin
from accord.api.coordinate_schemas import WebhookCreate
from accord.api.deps import CurrentPrincipal, NodeDep
from accord.domain.model import Role
from accord.errors import Forbidden
from accord.store.coordinate import aware

router = APIRouter(tags=["notifications"])


@router.get("/notifications")
def read_notifications(
    node: NodeDep,
    principal: CurrentPrincipal,
    status_: Annotated[str | None, Query(alias="status")] = None,
    topic: str | None = None,
    before: int | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[dict[str, Any]]:
    """The log of e-mails and webhook calls, newest first (admins only; no bodies)."""
    require_admin(principal)
    rows = node.coordination.notifier.repo.log(
        status=status_, topic=topic, before=before, limit=limit
    )
    return [
        {
            "id": r.id,
            "channel": r.channel,
            "target": r.target,
            "topic": r.topic,
            "subject": r.subject,
            "status": r.status,
            "attempts": r.attempts,
            "created": aware(r.created),
            "sent": aware(r.sent),
            "next_attempt": aware(r.next_attempt),
            "last_error": r.last_error,
        }
        for r in rows
    ]


@router.post("/webhooks", status_code=status.HTTP_201_CREATED)
def create_webhook(
    body: WebhookCreate, node: NodeDep, principal: CurrentPrincipal
) -> dict[str, Any]:
    """Register a webhook for your organisation's request events, signed with your secret."""
    if principal.org is None or principal.role not in (Role.ADMIN, Role.LIAISON):
        raise Forbidden("only an organisation's liaisons or admins register webhooks")
    hook_id = node.coordination.notifier.add_webhook(principal.org, body.url, body.secret)
    return {"id": hook_id, "url": body.url.strip()}


@router.get("/webhooks")
def read_webhooks(node: NodeDep, principal: CurrentPrincipal) -> list[dict[str, Any]]:
    """Every organisation's webhooks, without their secrets (admins only)."""
    return node.coordination.notifier.list_webhooks(principal)


@router.delete("/webhooks/{webhook_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_webhook(webhook_id: int, node: NodeDep, principal: CurrentPrincipal) -> Response:
    """Remove a webhook; nothing more is queued for it (admins only)."""
    node.coordination.notifier.delete_webhook(principal, webhook_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
