"""Peers and sync: the federation capability's page (admins only)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from accord.http import NodeDep
from accord.web.pages import AdminDep
from accord.web.render import page

router = APIRouter()


@router.get("/peers")
def read_peers(request: Request, node: NodeDep, viewer: AdminDep) -> Response:
    from accord.audit.capability import AUDIT
    from accord.audit.witness import describe, witnessed

    peers = node.federation.statuses(viewer.principal)
    logs = witnessed(AUDIT.service(node)) if AUDIT.runs_on(node) else {}
    return page(
        request,
        "peers.html",
        viewer,
        title="Peers and sync",
        peers=peers,
        witness={p.node_id: logs.get(p.node_id, describe(None)) for p in peers},
        node_id=node.federation.key.node_id,
    )
