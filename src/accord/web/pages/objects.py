"""Threat objects: browse, filter and search; one object in full; share a bundle or a value."""

from __future__ import annotations

from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from starlette.datastructures import FormData, UploadFile

from accord.detect.capability import DETECT
from accord.detect.indicators import indicator_for
from accord.domain.scope import ALLOWED_SCOPES, Scope, default_scope
from accord.domain.stix import format_timestamp
from accord.domain.tlp import TLP
from accord.errors import AccordError, InvalidInput, PayloadTooLarge
from accord.exchange.service import ShareRequest
from accord.http import NodeDep, decode_cursor, encode_cursor
from accord.node import Node
from accord.store.objects import ObjectQuery, ObjectRow
from accord.web.pages import FormDep, ViewerDep, field, fields
from accord.web.render import page, redirect
from accord.web.session import Viewer

router = APIRouter()

PAGE_SIZE = 50
TYPES = (
    "indicator",
    "malware",
    "threat-actor",
    "campaign",
    "attack-pattern",
    "vulnerability",
    "report",
    "sighting",
    "observed-data",
    "identity",
    "infrastructure",
    "tool",
)


def _label(doc: dict[str, Any]) -> str:
    for key in ("name", "value", "pattern"):
        if isinstance(doc.get(key), str):
            return str(doc[key])
    if doc.get("type") == "sighting":
        return f"sighting of {doc.get('sighting_of_ref', '?')}"
    return str(doc.get("id", ""))


def _listed(node: Node, rows: list[ObjectRow]) -> list[dict[str, Any]]:
    """Rows as a list shows them: with a label and the owner's identity (named by the page)."""
    owners = node.accounts.orgs.identities({r.owner for r in rows})
    return [
        {"row": r, "label": _label(orjson.loads(r.doc)), "owner": owners.get(r.owner, "")}
        for r in rows
    ]


@router.get("/objects")
def read_objects(
    request: Request,
    node: NodeDep,
    viewer: ViewerDep,
    q: str = "",
    type: str = "",
    tlp: str = "",
    cursor: str = "",
) -> Response:
    try:
        tlps = (TLP.parse(tlp),) if tlp else ()
    except ValueError as exc:
        raise InvalidInput(str(exc)) from None
    query = ObjectQuery(
        types=(type,) if type else (),
        tlps=tlps,
        text=q.strip() or None,
        after=decode_cursor(cursor or None),
        limit=PAGE_SIZE,
    )
    result = node.exchange.page(viewer.principal, query)
    rows = _listed(node, result.rows)
    following = encode_cursor(result.next_cursor)
    shown = [r.tlp for r in result.rows]
    return page(
        request,
        "objects.html",
        viewer,
        title="Threat objects",
        rows=rows,
        q=q,
        type=type,
        tlp_filter=tlp,
        types=TYPES,
        tlps=list(TLP),
        following=following,
        page_tlp=max(shown, key=lambda t: t.rank) if shown else None,
    )


def _share_context(node: Node, viewer: Viewer, form: FormData | None) -> dict[str, Any]:
    tlp = TLP.parse(field(form, "tlp")) if form is not None and field(form, "tlp") else TLP.AMBER
    orgs = [o for o in node.accounts.orgs.all() if o.id != viewer.principal.org]
    return {
        "tlps": list(TLP),
        "chosen_tlp": tlp,
        "scopes": _scopes(tlp),
        "chosen_scope": field(form, "scope") if form is not None else default_scope(tlp).value,
        "groups": node.accounts.visible_groups(viewer.principal),
        "orgs": orgs,
        "value": field(form, "value") if form is not None else "",
        "name": field(form, "name") if form is not None else "",
        "description": field(form, "description") if form is not None else "",
    }


def _scopes(tlp: TLP) -> list[Scope]:
    return [s for s in Scope if s in ALLOWED_SCOPES[tlp]]


@router.get("/objects/new")
def read_new_object(request: Request, node: NodeDep, viewer: ViewerDep) -> Response:
    return page(
        request,
        "object_new.html",
        viewer,
        title="Share threat information",
        error=None,
        problems=[],
        **_share_context(node, viewer, None),
    )


@router.get("/objects/scopes")
def read_scopes(
    request: Request,
    viewer: ViewerDep,
    tlp: str = "TLP:AMBER",
    scope: str = "",
    form_id: Annotated[str, Query(pattern="^[a-z]{1,20}$")] = "value",
) -> Response:
    """The scope choices a marking allows (htmx swaps them in when the TLP changes)."""
    try:
        marking = TLP.parse(tlp)
    except ValueError as exc:
        raise InvalidInput(str(exc)) from None
    scopes = _scopes(marking)
    chosen = scope if scope in {s.value for s in scopes} else default_scope(marking).value
    return page(
        request, "_scopes.html", viewer, scopes=scopes, chosen_scope=chosen, form_id=form_id
    )


def _share_request(form: FormData) -> ShareRequest:
    scope = field(form, "scope")
    return ShareRequest.parse(
        field(form, "tlp") or None,
        scope or None,
        fields(form, "recipients") if scope == Scope.RECIPIENTS else [],
        field(form, "group") or None if scope == Scope.GROUP else None,
    )


async def _shared(
    request: Request, node: NodeDep, viewer: Viewer, form: FormData, payload: bytes | dict[str, Any]
) -> Response:
    try:
        report = await run_in_threadpool(
            node.exchange.ingest, viewer.principal, payload, _share_request(form)
        )
    except AccordError as exc:
        return page(
            request,
            "object_new.html",
            viewer,
            status=exc.status,
            title="Share threat information",
            error=exc.detail,
            problems=[p.as_dict() for p in exc.problems],
            **_share_context(node, viewer, form),
        )
    if len(report.stored) == 1:
        return redirect(request, f"/objects/{report.stored[0]}")
    return redirect(request, "/objects")


@router.post("/objects/new")
async def create_indicator(
    request: Request, node: NodeDep, viewer: ViewerDep, form: FormDep
) -> Response:
    try:
        stamp = format_timestamp(node.clock())
        indicator = indicator_for(
            field(form, "value"), field(form, "name"), field(form, "description"), stamp
        )
    except InvalidInput as exc:
        return page(
            request,
            "object_new.html",
            viewer,
            status=exc.status,
            title="Share threat information",
            error=exc.detail,
            problems=[],
            **_share_context(node, viewer, form),
        )
    indicator["created_by_ref"] = viewer.org_identity
    return await _shared(request, node, viewer, form, indicator)


@router.post("/objects/upload")
async def create_upload(
    request: Request, node: NodeDep, viewer: ViewerDep, form: FormDep
) -> Response:
    upload = form.get("bundle")
    limit = node.settings.max_body_bytes
    if not isinstance(upload, UploadFile):
        body = b""
    else:
        body = await upload.read(limit + 1)
    if len(body) > limit:
        raise PayloadTooLarge(f"the file is over the {limit} byte limit; split the bundle")
    if not body:
        raise InvalidInput("choose a STIX 2.1 bundle (JSON file) to upload")
    return await _shared(request, node, viewer, form, body)


@router.get("/objects/{stix_id}")
def read_object(request: Request, node: NodeDep, viewer: ViewerDep, stix_id: str) -> Response:
    latest, versions = node.exchange.get(viewer.principal, stix_id)
    doc = orjson.loads(latest.doc)
    return page(
        request,
        "object.html",
        viewer,
        title=_label(doc),
        row=latest,
        owner=node.accounts.orgs.identities({latest.owner}).get(latest.owner, ""),
        doc=orjson.dumps(doc, option=orjson.OPT_INDENT_2).decode(),
        versions=versions,
        provenance=orjson.loads(latest.provenance),
        # None: the node does not run detection, so the page has no correlations panel.
        correlations=(
            node.correlations.of(viewer.principal, stix_id) if DETECT.runs_on(node) else None
        ),
        sightings=_listed(node, node.exchange.sightings_of(viewer.principal, stix_id)),
        page_tlp=latest.tlp,
    )
