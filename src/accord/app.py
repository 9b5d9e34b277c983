"""The HTTP application, assembled: the REST API, TAXII and the console over one node.

This is the one place where the API (``accord.api``) and the console (``accord.web``)
meet. Each registered capability brings its own routers and pages (``Capability``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from anyio import to_thread
from fastapi import FastAPI

import accord
from accord import api, web
from accord.api.edge import Edge
from accord.node import Node
from accord.runtime import settle
from accord.settings import Settings
from accord.store.db import POOL_SIZE


def create_app(settings: Settings | None = None, *, node: Node | None = None) -> FastAPI:
    """A node's web application. Pass ``node`` to share one already opened (tests, CLI)."""
    settings = settings or (node.settings if node else Settings())
    owned = node is None

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # Requests run at most as many at once as there are pooled connections: more
        # threads only wait for a connection (or open one per request) and take turns
        # on the GIL.
        to_thread.current_default_thread_limiter().total_tokens = POOL_SIZE
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
        swagger_ui_oauth2_redirect_url=None,
    )
    app.state.node = node or Node.open(settings)
    capabilities = app.state.node.capabilities
    api.install(app, capabilities)
    web.install(app, capabilities)
    app.add_middleware(Edge)  # the last added is the outermost
    return app


def create_server_app() -> FastAPI:
    """The app a server worker runs (``uvicorn --factory accord.app:create_server_app``)."""
    app = create_app()
    settle()
    return app
