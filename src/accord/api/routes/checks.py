"""Communication checks: start one, acknowledge through the link, read the results."""

from __future__ import annotations

from fastapi import APIRouter, Request, status
from fastapi.responses import RedirectResponse, Response

from accord.api.coordinate_schemas import (
    AcknowledgementPublic,
    CheckCreate,
    CheckResultsPublic,
    CheckStarted,
    CheckTrendPublic,
)
from accord.api.deps import CurrentPrincipal
from accord.api.fields import RowId, Text
from accord.api.openapi import errors
from accord.http import NodeDep

router = APIRouter(prefix="/checks", tags=["checks"])


@router.post(
    "", response_model=CheckStarted, status_code=status.HTTP_201_CREATED, responses=errors(404)
)
def create_check(body: CheckCreate, node: NodeDep, principal: CurrentPrincipal) -> CheckStarted:
    """Start a check; each contact's token and link are in the answer (and their e-mail)."""
    started = node.coordination.checks.start(
        principal,
        body.title,
        body.deadline,
        group=body.group,
        states=body.states,
        kind=body.kind,
    )
    return CheckStarted.model_validate(started)


@router.get(
    "/ack/{token}",
    response_model=AcknowledgementPublic,
    responses={
        303: {"description": "A browser is sent to the console's page for the link."},
        **errors(404),
    },
)
def read_check_ack(
    token: Text, node: NodeDep, request: Request
) -> AcknowledgementPublic | Response:
    """What an acknowledgement link is for, and whether it was used (no token needed).

    A browser (asking for HTML) following the link from the e-mail is sent to the
    console's one-button page; a program gets JSON, and may POST here to acknowledge.
    """
    if "text/html" in request.headers.get("accept", ""):
        return RedirectResponse(f"/ack/{token}", status_code=303)
    return AcknowledgementPublic.model_validate(node.coordination.checks.show(token))


@router.post("/ack/{token}", response_model=AcknowledgementPublic, responses=errors(404, 409))
def create_check_ack(token: Text, node: NodeDep) -> AcknowledgementPublic:
    """Acknowledge a check (idempotent; 409 after the deadline, 404 for a forged link)."""
    return AcknowledgementPublic.model_validate(node.coordination.checks.acknowledge(token))


@router.get("/trend", response_model=list[CheckTrendPublic])
def read_checks_trend(node: NodeDep, principal: CurrentPrincipal) -> list[CheckTrendPublic]:
    """The response rate of each of your organisation's checks, oldest first."""
    return [CheckTrendPublic.model_validate(t) for t in node.coordination.checks.trend(principal)]


@router.get("/{check_id}", response_model=CheckResultsPublic, responses=errors(404))
def read_check(check_id: RowId, node: NodeDep, principal: CurrentPrincipal) -> CheckResultsPublic:
    """Results: response rates per state and kind, median and p90 times, who never answered."""
    return CheckResultsPublic.model_validate(node.coordination.checks.results(principal, check_id))
