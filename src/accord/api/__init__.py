"""The REST API: thin FastAPI routers over the node's services."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import APIRouter, FastAPI

import accord
from accord.api import federation, problems, taxii
from accord.api.routes import groups, health, objects, organisations, tokens, users
from accord.node import Node
from accord.settings import Settings


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
    app.include_router(api)
    app.include_router(federation.router)  # before taxii: its collection path is literal
    app.include_router(taxii.router)
    return app
