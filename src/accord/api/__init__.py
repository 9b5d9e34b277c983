"""The REST API: thin FastAPI routers over the node's services."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import APIRouter, FastAPI

import accord
from accord.api import federation, problems, taxii
from accord.api.routes import (
    checks,
    contacts,
    detect,
    groups,
    health,
    notifications,
    objects,
    organisations,
    requests,
    tokens,
    users,
)
from accord.exchange.validation import validate_objects
from accord.node import Node
from accord.settings import Settings
from accord.web import install as install_console


def create_app(settings: Settings | None = None, *, node: Node | None = None) -> FastAPI:
    """A node's web application. Pass ``node`` to share one already opened (tests, CLI)."""
    settings = settings or (node.settings if node else Settings())
    owned = node is None

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        if owned:
            app.state.node.close()

    app = FastAPI(
        title="Accord",
        version=accord.__version__,
        description="A node of Accord: STIX 2.1 threat information shared under TLP 2.0.",
        lifespan=lifespan,
        docs_url="/api/docs",
        openapi_url="/api/v1/openapi.json",
        redoc_url=None,
    )
    app.state.node = node or Node.open(settings)
    problems.install(app)
    api = APIRouter(prefix="/api/v1")
    for module in (health, organisations, groups, users, tokens, objects):
        api.include_router(module.router)
    for module in (contacts, checks, requests, notifications):
        api.include_router(module.router)
    api.include_router(detect.router)
    app.include_router(api)
    app.include_router(federation.router)  # before taxii: its collection path is literal
    app.include_router(taxii.router)
    install_console(app)
    return app


def settle() -> None:
    """Prepare a server process for steady work: compile validators, then freeze the heap.

    Start-up leaves a few hundred thousand long-lived objects; without ``gc.freeze`` every
    full collection walks them all, pausing requests for 100-300 ms.
    """
    validate_objects([_SAMPLE])
    gc.collect()
    gc.freeze()


def create_server_app() -> FastAPI:
    """The app a server worker runs (``uvicorn --factory accord.api:create_server_app``)."""
    app = create_app()
    settle()
    return app


_SAMPLE = {
    "type": "indicator",
    "spec_version": "2.1",
    "id": "indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f",
    "created": "2026-01-01T00:00:00.000Z",
    "modified": "2026-01-01T00:00:00.000Z",
    "pattern": "[ipv4-addr:value = '192.0.2.1']",
    "pattern_type": "stix",
    "valid_from": "2026-01-01T00:00:00Z",
}
