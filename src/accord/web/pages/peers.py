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
    peers = node.federation.statuses(viewer.principal)
    return page(
        request,
        "peers.html",
        viewer,
        title="Peers and sync",
        peers=peers,
        node_id=node.federation.key.node_id,
    )
