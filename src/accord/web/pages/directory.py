"""The directory of points of contact: search, one contact, export."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from accord.coordinate.contacts import ContactKind
from accord.coordinate.directory import to_csv, to_json, to_vcard
from accord.coordinate.model import Contact
from accord.domain.states import states
from accord.http import NodeDep, RowId
from accord.node import Node
from accord.web.pages import ViewerDep
from accord.web.render import headers, page
from accord.web.session import Viewer

router = APIRouter()

_EXPORTS = {
    "json": ("application/json", "json"),
    "csv": ("text/csv; charset=utf-8", "csv"),
    "vcard": ("text/vcard; charset=utf-8", "vcf"),
}


def _search(
    node: Node, viewer: Viewer, state: str, kind: str, language: str, home: str = ""
) -> list[Contact]:
    found = node.coordination.directory.search(
        viewer.principal,
        states=[state] if state else None,
        kind=kind or None,
        language=language or None,
    )
    if home:  # "local": this node's own; "remote": read-only copies from their home nodes
        return [c for c in found if (c.home_node is not None) == (home == "remote")]
    return found


@router.get("/directory")
def read_directory(
    request: Request,
    node: NodeDep,
    viewer: ViewerDep,
    state: str = "",
    kind: str = "",
    language: str = "",
    home: Annotated[str, Query(pattern="^(|local|remote)$")] = "",
) -> Response:
    found = _search(node, viewer, state, kind, language, home)
    return page(
        request,
        "directory.html",
        viewer,
        title="Directory",
        contacts=found,
        state=state,
        kind=kind,
        language=language,
        home=home,
        states=sorted(states().items(), key=lambda item: item[1]),
        kinds=list(ContactKind),
    )


@router.get("/directory/export")
def read_directory_export(
    request: Request,
    node: NodeDep,
    viewer: ViewerDep,
    format: Annotated[str, Query(pattern="^(json|csv|vcard)$")] = "json",
    state: str = "",
    kind: str = "",
    language: str = "",
    home: Annotated[str, Query(pattern="^(|local|remote)$")] = "",
) -> Response:
    found = _search(node, viewer, state, kind, language, home)
    media_type, extension = _EXPORTS[format]
    body = {"json": to_json, "csv": to_csv, "vcard": to_vcard}[format](found)
    return Response(
        body,
        media_type=media_type,
        headers={
            **headers(request),
            "Content-Disposition": f'attachment; filename="accord-contacts.{extension}"',
        },
    )


@router.get("/directory/{contact_id}")
def read_contact(request: Request, node: NodeDep, viewer: ViewerDep, contact_id: RowId) -> Response:
    contact = node.coordination.directory.get(viewer.principal, contact_id)
    return page(
        request,
        "contact.html",
        viewer,
        title=contact.name,
        contact=contact,
        history=node.coordination.directory.history(viewer.principal, contact_id),
    )
