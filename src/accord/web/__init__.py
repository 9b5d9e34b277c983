"""The web console: server-rendered pages over the same services as the API.

Pages are Jinja2 templates with autoescaping; htmx (vendored from its npm package)
adds live updates where a browser runs script, and every page works without it.
"""

from __future__ import annotations

import time
from typing import Any

from fastapi import Depends, FastAPI, Request
from fastapi.staticfiles import StaticFiles

from accord.web import render
from accord.web.pages import admin, auth, checks, directory, objects, overview, requests


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


def install(app: FastAPI) -> None:
    app.add_middleware(ServerTiming)
    app.mount("/static", StaticFiles(packages=[("accord.web", "static")]), name="static")
    for module in (auth, overview, objects, directory, checks, requests, admin):
        app.include_router(module.router, dependencies=[Depends(_page)], include_in_schema=False)
