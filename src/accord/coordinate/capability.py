"""Coordination as a capability: points of contact, communication checks, assistance
requests and consultations, and the notifications they send."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from accord.capability import Capability, NavEntry

if TYPE_CHECKING:
    import typer
    from fastapi import APIRouter
    from sqlalchemy import Table

    from accord.coordinate.service import Coordination
    from accord.node import Node
    from accord.periodic import Periodic


def _wire(node: Node) -> Coordination:
    from accord.coordinate.service import Coordination

    return Coordination(
        node.engine, node.settings, node.orgs, node.groups, node.exchange, node.clock
    )


def _jobs(node: Node) -> Sequence[Periodic]:
    from accord.coordinate.service import coordination_scheduler

    return [coordination_scheduler(COORDINATE.service(node), node.settings.coordination_interval)]


def _api() -> Sequence[APIRouter]:
    from accord.api.routes import checks, contacts, notifications, requests

    return [contacts.router, checks.router, requests.router, notifications.router]


def _pages() -> Sequence[APIRouter]:
    from accord.web.pages import checks, directory, requests

    return [directory.router, checks.router, requests.router]


def _commands() -> Sequence[typer.Typer]:
    from accord.cli import coordinate

    return [coordinate.commands]


def _tables() -> Sequence[Table]:
    from accord.store import coordinate as t

    return [
        t.coord_contacts,
        t.coord_contact_history,
        t.coord_requests,
        t.coord_request_events,
        t.coord_messages,
        t.coord_checks,
        t.coord_check_targets,
        t.coord_webhooks,
        t.coord_notifications,
    ]


COORDINATE: Capability[Coordination] = Capability(
    name="coordinate",
    summary="Points of contact, communication checks, assistance requests, consultations.",
    wire=_wire,
    api=_api,
    pages=_pages,
    nav=(
        NavEntry("Directory", "/directory"),
        NavEntry("Checks", "/checks"),
        NavEntry("Requests", "/requests"),
    ),
    commands=_commands,
    jobs=_jobs,
    tables=_tables,
)
