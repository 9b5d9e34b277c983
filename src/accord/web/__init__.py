"""The web console: server-rendered pages over the same services as the API.

Pages are Jinja2 templates with autoescaping; htmx (vendored from its npm package)
adds live updates where a browser runs script, and every page works without it. The
node's own pages (sign-in, overview, administration) are here; each capability brings
its pages and navigation entries in its record.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from fastapi import Depends, FastAPI, Request
from fastapi.staticfiles import StaticFiles

from accord.capability import Capability, NavEntry
from accord.web import render
from accord.web.pages import admin, auth, overview

# The node's own entries around the capabilities': the overview first, administration last.
_NAV_FIRST = (NavEntry("Overview", "/"),)
_NAV_LAST = (
    NavEntry("Organisations", "/organisations"),
    NavEntry("Groups", "/groups"),
    NavEntry("Tokens", "/tokens", admin_only=True),
    NavEntry("Sign-ins", "/signins", admin_only=True),
)


def _page(request: Request) -> None:
    """Errors on these routes render as pages, not problem+json."""
    request.state.page_error = render.error_page


class ServerTiming:
    """ASGI middleware: a ``Server-Timing: app;dur=<ms>`` header on every response."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()

        async def timed(message: Any) -> None:
            if message["type"] == "http.response.start":
                took = f"app;dur={(time.perf_counter() - started) * 1000:.1f}"
                message = {
                    **message,
                    "headers": [*message["headers"], (b"server-timing", took.encode())],
                }
            await send(message)

        await self.app(scope, receive, timed)


def install(app: FastAPI, capabilities: Sequence[Capability[Any]]) -> None:
    """Mount the console on ``app``: static files, the node's pages, the capabilities'."""
    app.add_middleware(ServerTiming)
    app.mount("/static", StaticFiles(packages=[("accord.web", "static")]), name="static")
    routers = [auth.router, overview.router, admin.router]
    routers += [r for capability in capabilities for r in capability.pages()]
    for router in routers:
        app.include_router(router, dependencies=[Depends(_page)], include_in_schema=False)
    app.state.nav = (*_NAV_FIRST, *(e for c in capabilities for e in c.nav), *_NAV_LAST)
