"""The REST API: thin FastAPI routers over the node's services.

The node's own resources (health, organisations, groups, users, tokens) are routed
here; each capability brings its routers in its record (``Capability.api`` under
``/api/v1``, ``Capability.routes`` at the root, as TAXII and federation are).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fastapi import APIRouter, FastAPI

from accord.api import openapi, problems
from accord.api.routes import groups, health, organisations, tokens, users
from accord.capability import Capability


def install(app: FastAPI, capabilities: Sequence[Capability[Any]]) -> None:
    """Mount the API on ``app``: problem+json errors, the node's routes, the capabilities'."""
    problems.install(app)
    openapi.install(app)
    api = APIRouter(prefix="/api/v1")
    for module in (health, organisations, groups, users, tokens):
        api.include_router(module.router)
    for capability in capabilities:
        for router in capability.api():
            api.include_router(router)
    app.include_router(api)
    # A later capability builds on earlier ones and may claim a literal path inside an
    # earlier one's pattern (federation's collection inside TAXII's), so it goes first.
    for capability in reversed(capabilities):
        for router in capability.routes():
            app.include_router(router)
