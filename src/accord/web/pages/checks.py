"""Communication checks: start one, watch it fill in, the history; the public ack page."""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter, Request
from fastapi.responses import Response

from accord.errors import Conflict, InvalidInput
from accord.http import NodeDep, RowId
from accord.web.pages import FormDep, ViewerDep, field, fields
from accord.web.render import page, redirect

router = APIRouter()


@router.get("/checks")
def read_checks(request: Request, node: NodeDep, viewer: ViewerDep) -> Response:
    # The console shows a person of no organisation an empty history rather than an error.
    principal = viewer.principal
    trend = node.coordination.checks.trend(principal) if principal.org is not None else []
    return page(
        request,
        "checks.html",
        viewer,
        title="Communication checks",
        trend=list(reversed(trend)),
        rates=[(f"#{c.check}", c.rate) for c in trend[-20:]],
        groups=node.accounts.visible_groups(viewer.principal),
        error=None,
    )


@router.post("/checks")
def create_check(request: Request, node: NodeDep, viewer: ViewerDep, form: FormDep) -> Response:
    try:
        hours = float(field(form, "hours") or "24")
    except ValueError:
        raise InvalidInput("the deadline is a number of hours") from None
    if not 0 < hours <= 24 * 30:
        raise InvalidInput("the deadline is between a minute and 30 days away")
    started = node.coordination.checks.start(
        viewer.principal,
        field(form, "title"),
        node.clock() + timedelta(hours=hours),
        group=field(form, "group") or None,
        states=fields(form, "states") or None,
        kind=field(form, "kind") or None,
    )
    return redirect(request, f"/checks/{started.id}")


@router.get("/checks/{check_id}")
def read_check(request: Request, node: NodeDep, viewer: ViewerDep, check_id: RowId) -> Response:
    results = node.coordination.checks.results(viewer.principal, check_id)
    return page(request, "check.html", viewer, title=results.title, r=results)


@router.get("/checks/{check_id}/live")
def read_check_live(
    request: Request, node: NodeDep, viewer: ViewerDep, check_id: RowId
) -> Response:
    """The results panel alone: htmx polls it while the check is open."""
    results = node.coordination.checks.results(viewer.principal, check_id)
    return page(request, "_check_results.html", viewer, r=results)


@router.get("/ack/{token}")
def read_ack(request: Request, node: NodeDep, token: str) -> Response:
    """Where the link in a check's e-mail lands: no sign-in, one button."""
    shown = node.coordination.checks.show(token)
    return page(
        request, "ack.html", None, title="Communication check", shown=shown, token=token, done=False
    )


@router.post("/ack/{token}")
def create_ack(request: Request, node: NodeDep, token: str, form: FormDep) -> Response:
    try:
        shown = node.coordination.checks.acknowledge(token)
    except Conflict as exc:
        shown = node.coordination.checks.show(token)
        return page(
            request,
            "ack.html",
            None,
            status=exc.status,
            title="Communication check",
            shown=shown,
            token=token,
            done=False,
            error=exc.detail,
        )
    return page(
        request, "ack.html", None, title="Communication check", shown=shown, token=token, done=True
    )
