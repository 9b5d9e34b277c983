"""Personal data: preview what a destination would receive, and the transfer log."""

from __future__ import annotations

from typing import Annotated

import orjson
from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from accord.domain.model import OrgKind
from accord.errors import AccordError
from accord.http import NodeDep
from accord.privacy.capability import PRIVACY
from accord.web.pages import ViewerDep
from accord.web.render import page

router = APIRouter()
_Param = Annotated[str, Query(max_length=300)]


@router.get("/privacy")
def read_privacy(
    request: Request,
    node: NodeDep,
    viewer: ViewerDep,
    object: _Param = "",
    state: _Param = "",
    kind: _Param = "",
) -> Response:
    """The preview form, and its answer when an object was named."""
    privacy = PRIVACY.service(node)
    preview, error = None, None
    if object.strip():
        try:
            preview = privacy.preview(
                viewer.principal, object.strip(), state.strip() or None, kind.strip() or None
            )
        except AccordError as exc:
            error = exc.detail
    rules = privacy.rules(viewer.principal) if viewer.principal.is_admin() else []
    return page(
        request,
        "privacy.html",
        viewer,
        title="Personal data",
        object=object,
        state=state,
        kind=kind,
        kinds=[k.value for k in OrgKind],
        preview=preview,
        sent=orjson.dumps(preview.sent, option=orjson.OPT_INDENT_2).decode()
        if preview is not None and preview.sent is not None
        else None,
        error=error,
        rules=rules,
        status=400 if error else 200,
    )


@router.get("/privacy/transfers")
def read_transfers(request: Request, node: NodeDep, viewer: ViewerDep) -> Response:
    """Object versions that left this node: to whom, under which rule, what was rewritten."""
    transfers = PRIVACY.service(node).transfers(viewer.principal, limit=200)
    return page(
        request, "privacy_transfers.html", viewer, title="Transfer log", transfers=transfers
    )
