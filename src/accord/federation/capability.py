"""Federation as a capability: peer nodes, signed TAXII sync, the federation endpoint."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import TYPE_CHECKING

from accord.capability import Capability, NavEntry

if TYPE_CHECKING:
    import typer
    from fastapi import APIRouter
    from sqlalchemy import Table

    from accord.federation.service import Federation
    from accord.node import Node
    from accord.periodic import Periodic


def _wire(node: Node) -> Federation:
    from accord.federation.service import Federation
    from accord.store.keys import KeyRepository
    from accord.store.peers import PeerRepository

    return Federation(
        node.key,
        PeerRepository(node.engine),
        node.exchange,
        node.accounts,
        node.orgs,
        node.groups,
        node.clock,
        timedelta(seconds=node.settings.federation_max_skew),
        KeyRepository(node.engine),
    )


def _jobs(node: Node) -> Sequence[Periodic]:
    from accord.federation.push import Pusher
    from accord.federation.scheduler import sync_scheduler
    from accord.federation.sync import PeerLocks
    from accord.store.changes import latest_change

    locks = PeerLocks()  # the scheduled sync and push never push to one peer at once
    jobs = [sync_scheduler(node.federation, node.settings, locks)]
    if node.settings.federation_push:
        pusher = Pusher(node.federation, node.settings, lambda: latest_change(node.engine), locks)
        node.exchange.on_commit(pusher.wake)  # a write in this process: no wait for the poll
        jobs.append(pusher)
    return jobs


def _routes() -> Sequence[APIRouter]:
    from accord.api import federation

    return [federation.router]


def _pages() -> Sequence[APIRouter]:
    from accord.web.pages import peers

    return [peers.router]


def _commands() -> Sequence[typer.Typer]:
    from accord.cli import federation

    return [federation.commands]


def _tables() -> Sequence[Table]:
    from accord.store import tables as t

    return [t.peers, t.node_keys, t.federation_nonces]


FEDERATION: Capability[Federation] = Capability(
    name="federation",
    summary="Peer nodes, signed TAXII 2.1 sync and push, the federation endpoint.",
    wire=_wire,
    routes=_routes,
    pages=_pages,
    nav=(NavEntry("Peers", "/peers", admin_only=True),),
    commands=_commands,
    jobs=_jobs,
    tables=_tables,
)
