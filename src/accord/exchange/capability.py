"""Exchange as a capability: STIX 2.1 ingest, the object API, TAXII 2.1, MISP, the pages."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from accord.capability import Capability, NavEntry

if TYPE_CHECKING:
    import typer
    from fastapi import APIRouter
    from sqlalchemy import Table

    from accord.exchange.misp.service import Misp
    from accord.exchange.service import Exchange
    from accord.exchange.taxii import Taxii
    from accord.node import Node
    from accord.periodic import Periodic


@dataclass(frozen=True, slots=True)
class ExchangeServices:
    exchange: Exchange
    taxii: Taxii
    misp: Misp


def _wire(node: Node) -> ExchangeServices:
    from accord.exchange.misp.service import Misp
    from accord.exchange.service import Exchange
    from accord.exchange.taxii import Taxii
    from accord.store.misp import MispRepository
    from accord.store.objects import SQLObjectStore
    from accord.store.statuses import StatusRepository

    exchange = Exchange(
        SQLObjectStore(node.engine),
        node.orgs,
        node.groups,
        node_name=node.settings.node_name,
        node_id=node.key.node_id,
        default_tlp=node.settings.default_tlp,
        clock=node.clock,
    )
    taxii = Taxii(exchange, node.orgs, node.groups, StatusRepository(node.engine), node.clock)
    misp = Misp(
        exchange,
        MispRepository(node.engine),
        node.orgs,
        node.groups,
        node_id=node.key.node_id,
        default_tlp=node.settings.default_tlp,
        clock=node.clock,
        hold_bytes=node.settings.misp_import_hold_mb * 2**20,
    )
    return ExchangeServices(exchange, taxii, misp)


def _api() -> Sequence[APIRouter]:
    from accord.api.routes import misp, objects

    return [objects.router, misp.router]


def _routes() -> Sequence[APIRouter]:
    from accord.api import taxii
    from accord.api.routes import misp

    return [taxii.router, misp.feed_router]


def _pages() -> Sequence[APIRouter]:
    from accord.web.pages import objects

    return [objects.router]


def _commands() -> Sequence[typer.Typer]:
    from accord.cli import misp, objects

    return [objects.commands, misp.commands]


def _jobs(node: Node) -> Sequence[Periodic]:
    from accord.exchange.misp.feeds import pull_all
    from accord.periodic import Periodic

    services = EXCHANGE.service(node)
    return [Periodic("misp-feeds", node.settings.sync_interval, lambda: pull_all(services.misp))]


def _tables() -> Sequence[Table]:
    from accord.store import tables as t
    from accord.store.misp import misp_feeds, misp_sharing_groups

    return [
        misp_sharing_groups,
        misp_feeds,
        t.stix_objects,
        t.object_arrivals,
        t.object_recipients,
        t.object_shares,
        t.share_recipients,
        t.taxii_statuses,
    ]


EXCHANGE: Capability[ExchangeServices] = Capability(
    name="exchange",
    summary="STIX 2.1 objects under TLP 2.0 and a distribution scope; TAXII 2.1.",
    wire=_wire,
    api=_api,
    routes=_routes,
    pages=_pages,
    nav=(NavEntry("Threat objects", "/objects"), NavEntry("Share", "/objects/new")),
    commands=_commands,
    jobs=_jobs,
    tables=_tables,
)
