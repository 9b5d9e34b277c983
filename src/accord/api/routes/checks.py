"""Communication checks: start one, acknowledge through the link, read the results."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, status
from fastapi.responses import RedirectResponse, Response

from accord.api.coordinate_schemas import CheckCreate, CheckStarted
from accord.api.deps import CurrentPrincipal, NodeDep
from accord.errors import Forbidden

router = APIRouter(prefix="/checks", tags=["checks"])


@router.post("", response_model=CheckStarted, status_code=status.HTTP_201_CREATED)
def create_check(body: CheckCreate, node: NodeDep, principal: CurrentPrincipal) -> CheckStarted:
    """Start a check; each contact's token and link are in the answer (and their e-mail)."""
    if principal.org is None:
        raise Forbidden("only an organisation organises checks")
    check_id, targets = node.coordination.checks.start(
        principal,
        body.title,
        body.deadline,
        organiser=principal.org,
        group=body.group,
        states=body.states,
        kind=body.kind,
    )
    return CheckStarted(id=check_id, targets=targets)


@router.get("/ack/{token}", response_model=None)
def read_check_ack(token: str, node: NodeDep, request: Request) -> dict[str, Any] | Response:
    """What an acknowledgement link is for, and whether it was used (no token needed).

    A browser (asking for HTML) following the link from the e-mail is sent to the
    console's one-button page; a program gets JSON, and may POST here to acknowledge.
    """
    if "text/html" in request.headers.get("accept", ""):
        return RedirectResponse(f"/ack/{token}", status_code=303)
    return node.coordination.checks.show(token)


@router.post("/ack/{token}")
def create_check_ack(token: str, node: NodeDep) -> dict[str, Any]:
    """Acknowledge a check (idempotent; 409 after the deadline, 404 for a forged link)."""
    return node.coordination.checks.acknowledge(token)


@router.get("/trend")
def read_checks_trend(node: NodeDep, principal: CurrentPrincipal) -> list[dict[str, Any]]:
    """The response rate of each of your organisation's checks, oldest first."""
    if principal.org is None:
        raise Forbidden("only an organisation has checks")
    return node.coordination.checks.trend(principal, principal.org)


@router.get("/{check_id}")
def read_check(check_id: int, node: NodeDep, principal: CurrentPrincipal) -> dict[str, Any]:
    """Results: response rates per state and kind, median and p90 times, who never answered."""
    return node.coordination.checks.results(principal, check_id)
