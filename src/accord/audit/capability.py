"""Audit as a capability: a tamper-evident log of reads, shares, changes and sign-ins."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from accord.capability import Capability, NavEntry

if TYPE_CHECKING:
    import typer
    from fastapi import APIRouter
    from sqlalchemy import Table

    from accord.audit.service import AuditLog
    from accord.exchange.service import Index
    from accord.node import Node


def _wire(node: Node) -> AuditLog:
    from accord.audit.service import AuditLog
    from accord.coordinate.capability import COORDINATE
    from accord.federation.capability import FEDERATION
    from accord.store.audit import AuditRepository

    log = AuditLog(AuditRepository(node.engine), node.engine, node.key, node.clock)
    node.exchange.audit = log
    node.accounts.audit = log
    if COORDINATE.runs_on(node):  # contacts, checks and requests are marked data too
        COORDINATE.service(node).record_reads(log)
    if FEDERATION.runs_on(node):  # every sync ends with the peers' signed tree heads
        from accord.audit.witness import sync_step
        from accord.federation.sync import add_sync_step

        add_sync_step(node.federation, sync_step(log, node.federation))
    return log


def _indexes(node: Node) -> Sequence[Index]:
    from accord.audit.recording import ChangeLog

    return [ChangeLog(AUDIT.service(node), node.key.node_id)]


def _api() -> Sequence[APIRouter]:
    from accord.api.routes import audit

    return [audit.router]


def _pages() -> Sequence[APIRouter]:
    from accord.web.pages import audit

    return [audit.router]


def _commands() -> Sequence[typer.Typer]:
    from accord.cli import audit

    return [audit.commands]


def _tables() -> Sequence[Table]:
    from accord.store import audit

    return [audit.audit_entries, audit.audit_nodes, audit.audit_heads, audit.audit_witness]


AUDIT: Capability[AuditLog] = Capability(
    name="audit",
    summary="A Merkle-tree log of every read, share, change and sign-in; peers witness its heads.",
    wire=_wire,
    api=_api,
    pages=_pages,
    nav=(NavEntry("Audit", "/audit", admin_only=True),),
    commands=_commands,
    indexes=_indexes,
    tables=_tables,
    migrations=Path(__file__).parent / "migrations",
)
