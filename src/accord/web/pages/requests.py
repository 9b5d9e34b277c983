"""Assistance requests and consultations: inbox, outbox, a new one, the thread, actions."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.datastructures import FormData

from accord.coordinate.requests import ASKS, KINDS, RequestDraft
from accord.coordinate.taxonomy import incident_categories, sectors
from accord.coordinate.workflow import Action, Urgency
from accord.domain.tlp import TLP
from accord.errors import AccordError, InvalidInput
from accord.http import NodeDep, RowId
from accord.node import Node
from accord.web.pages import FormDep, ViewerDep, field, fields
from accord.web.render import page, redirect
from accord.web.session import Viewer

router = APIRouter()

PAGE_SIZE = 50
_ACTION_LABELS = {
    Action.SUBMIT: "Submit",
    Action.ACKNOWLEDGE: "Acknowledge",
    Action.START: "Start work",
    Action.RESPOND: "Respond",
    Action.CLOSE: "Close",
    Action.DECLINE: "Decline",
    Action.WITHDRAW: "Withdraw",
}


@router.get("/requests")
def read_requests(
    request: Request,
    node: NodeDep,
    viewer: ViewerDep,
    box: str = "inbox",
    state: str = "",
    before: int | None = None,
) -> Response:
    items = node.coordination.requests.box(viewer.principal, box, state or None, before, PAGE_SIZE)
    return page(
        request,
        "requests.html" if request.headers.get("hx-request") != "true" else "_request_rows.html",
        viewer,
        title="Inbox" if box == "inbox" else "Outbox",
        box=box,
        state=state,
        items=items,
        following=items[-1].id if len(items) == PAGE_SIZE else None,
    )


def _form_context(node: Node, viewer: Viewer, form: FormData | None) -> dict[str, Any]:
    def value(name: str, default: str = "") -> str:
        return field(form, name) if form is not None else default

    return {
        "kinds": KINDS,
        "asks": ASKS,
        "urgencies": list(Urgency),
        "tlps": list(TLP),
        "categories": incident_categories(),
        "sectors": sectors(),
        "orgs": [o for o in node.accounts.orgs.all() if o.id != viewer.principal.org],
        "v": {
            name: value(name, default)
            for name, default in (
                ("kind", "assistance"),
                ("title", ""),
                ("urgency", "high"),
                ("tlp", "TLP:AMBER"),
                ("description", ""),
                ("incident_category", ""),
                ("sector", ""),
                ("questions", ""),
                ("next_steps", ""),
                ("evidence", ""),
            )
        },
        "chosen_recipients": fields(form, "recipients") if form is not None else [],
        "chosen_asks": fields(form, "asks") if form is not None else [],
    }


@router.get("/requests/new")
def read_new_request(request: Request, node: NodeDep, viewer: ViewerDep) -> Response:
    return page(
        request,
        "request_new.html",
        viewer,
        title="New request",
        error=None,
        problems=[],
        **_form_context(node, viewer, None),
    )


@router.post("/requests/new")
def create_request(request: Request, node: NodeDep, viewer: ViewerDep, form: FormDep) -> Response:
    kind = field(form, "kind")
    draft = RequestDraft(
        kind=kind,
        title=field(form, "title"),
        recipients=tuple(fields(form, "recipients")),
        urgency=field(form, "urgency"),
        tlp=field(form, "tlp") or "TLP:AMBER",
        description=field(form, "description"),
        incident_category=field(form, "incident_category") or None,
        sector=field(form, "sector") or None,
        asks=tuple(fields(form, "asks")),
        questions=tuple(q.strip() for q in field(form, "questions").splitlines() if q.strip()),
        next_steps=field(form, "next_steps"),
        evidence=tuple(fields(form, "evidence")),
    )
    try:
        created = node.coordination.requests.create(viewer.principal, draft)
    except (InvalidInput, AccordError) as exc:
        return page(
            request,
            "request_new.html",
            viewer,
            status=exc.status,
            title="New request",
            error=exc.detail,
            problems=[p.as_dict() for p in exc.problems],
            **_form_context(node, viewer, form),
        )
    if len(created) == 1:
        return redirect(request, f"/requests/{created[0].id}")
    return redirect(request, "/requests?box=outbox")


@router.get("/requests/{request_id}")
def read_request(request: Request, node: NodeDep, viewer: ViewerDep, request_id: RowId) -> Response:
    service = node.coordination.requests
    item = service.get(viewer.principal, request_id)
    return page(
        request,
        "request.html",
        viewer,
        title=item.title,
        r=item,
        actions=[(a, _ACTION_LABELS[Action(a)]) for a in item.allowed_actions],
        messages=service.messages(viewer.principal, request_id),
        audit=service.audit(viewer.principal, request_id),
        page_tlp=TLP.parse(item.tlp),
    )


@router.post("/requests/{request_id}/actions")
def create_action(
    request: Request, node: NodeDep, viewer: ViewerDep, request_id: RowId, form: FormDep
) -> Response:
    try:
        action = Action(field(form, "action"))
    except ValueError:
        raise InvalidInput(f"unknown action; use one of: {', '.join(Action)}") from None
    node.coordination.requests.act(viewer.principal, request_id, action, field(form, "reason"))
    return redirect(request, f"/requests/{request_id}")


@router.post("/requests/{request_id}/messages")
def create_message(
    request: Request, node: NodeDep, viewer: ViewerDep, request_id: RowId, form: FormDep
) -> Response:
    node.coordination.requests.post_message(
        viewer.principal, request_id, field(form, "body"), fields(form, "attachments")
    )
    return redirect(request, f"/requests/{request_id}#thread")
