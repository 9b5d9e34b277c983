"""Liveness and the problem-type documents."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from sqlalchemy import text

import accord
from accord.api.fields import Text
from accord.api.openapi import errors
from accord.api.problems import describe
from accord.api.schemas import Health
from accord.errors import NotFound
from accord.http import NodeDep

router = APIRouter(tags=["node"])


@router.get("/health", response_model=Health)
def read_health(node: NodeDep) -> Health:
    """Whether the node and its database answer."""
    with node.engine.connect() as conn:
        conn.execute(text("SELECT 1"))
    return Health(
        status="ok",
        node=node.settings.node_name,
        state=node.settings.node_state,
        version=accord.__version__,
        database=node.engine.dialect.name,
    )


@router.get("/problems/{slug}", responses=errors(404))
def read_problem_type(slug: Text) -> dict[str, Any]:
    """What a problem ``type`` means."""
    doc = describe(slug)
    if doc is None:
        raise NotFound(f"no problem type {slug!r}")
    return doc
