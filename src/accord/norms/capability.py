"""Norms implementation reports and capacity building as a capability."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from accord.capability import Capability, NavEntry

if TYPE_CHECKING:
    import typer
    from fastapi import APIRouter
    from sqlalchemy import Table

    from accord.node import Node
    from accord.norms.service import NormsService


def _wire(node: Node) -> NormsService:
    from accord.norms.capacity import Capacity
    from accord.norms.framework import load
    from accord.norms.service import NormsService
    from accord.store.norms import EvidenceRepository, NormsRepository

    extra = os.environ.get("ACCORD_NORMS_EXTRA")
    framework = load(Path(extra) if extra else None)
    return NormsService(
        framework,
        NormsRepository(node.engine),
        EvidenceRepository(node.engine),
        node.exchange,
        node.orgs,
        node.groups,
        node_name=node.settings.node_name,
        node_id=node.key.node_id,
        clock=node.clock,
        capacity=Capacity(framework, node.exchange, node.orgs, node.clock),
    )


def _api() -> Sequence[APIRouter]:
    from accord.api.routes import norms

    return [norms.router]


def _pages() -> Sequence[APIRouter]:
    from accord.web.pages import norms

    return [norms.router]


def _commands() -> Sequence[typer.Typer]:
    from accord.cli import norms

    return [norms.commands]


def _tables() -> Sequence[Table]:
    from accord.store import norms

    return [norms.norm_reports, norms.norm_versions, norms.norm_answers]


NORMS: Capability[NormsService] = Capability(
    name="norms",
    summary="Norms implementation reports, evidence from the node's records, the regional view.",
    wire=_wire,
    api=_api,
    pages=_pages,
    nav=(NavEntry("Norms", "/norms"),),
    commands=_commands,
    tables=_tables,
)
