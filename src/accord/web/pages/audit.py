"""The audit log: recent entries, the signed head, and what peers' heads looked like (admins)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from accord.audit.capability import AUDIT
from accord.http import NodeDep
from accord.web.pages import AdminDep
from accord.web.render import page

router = APIRouter()


@router.get("/audit")
def read_audit(
    request: Request,
    node: NodeDep,
    viewer: AdminDep,
    before: Annotated[int | None, Query(ge=0, le=2**62)] = None,
) -> Response:
    log = AUDIT.service(node)
    entries = log.entries(before, 100)
    return page(
        request,
        "audit.html",
        viewer,
        title="Audit log",
        head=log.head(),
        entries=entries,
        older=entries[-1].seq if len(entries) == 100 and entries[-1].seq > 0 else None,
        witnesses=log.witnesses(),
    )
