"""Hash lists as a capability: shared PDQ, MD5 and SHA-256 lists, matched without content."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import TYPE_CHECKING

from accord.capability import Capability, NavEntry

if TYPE_CHECKING:
    import typer
    from fastapi import APIRouter
    from sqlalchemy import Table

    from accord.exchange.service import Index
    from accord.hashlists.service import HashLists
    from accord.node import Node


def _wire(node: Node) -> HashLists:
    from accord.federation.capability import FEDERATION
    from accord.hashlists.service import HashLists
    from accord.store.hashlists import HashListRepository
    from accord.store.peers import PeerRepository

    federated = FEDERATION.runs_on(node)
    lists = HashLists(
        node.exchange,
        HashListRepository(node.engine),
        node.orgs,
        node.groups,
        node.clock,
        peers=PeerRepository(node.engine) if federated else None,
    )
    if federated:
        from accord.federation.sync import peer_http
        from accord.hashlists.remote import PeerLookups

        settings = node.settings
        lists.remote = PeerLookups(
            lists,
            lambda: node.federation.key,
            PeerRepository(node.engine),
            node.orgs,
            node.clock,
            timedelta(seconds=settings.federation_max_skew),
            settings.max_body_bytes,
            lambda: peer_http(settings.federation_timeout),
        )
    return lists


def _indexes(node: Node) -> Sequence[Index]:
    return [HASHLISTS.service(node)]


def _api() -> Sequence[APIRouter]:
    from accord.api.routes import hashlists, hashlookups

    return [hashlists.router, hashlookups.router]


def _pages() -> Sequence[APIRouter]:
    from accord.web.pages import hashlists

    return [hashlists.router]


def _commands() -> Sequence[typer.Typer]:
    from accord.cli import hashlists

    return [hashlists.commands]


def _tables() -> Sequence[Table]:
    from accord.store import hashlists

    return [
        hashlists.hashlist_entries,
        hashlists.hashlist_links,
        hashlists.hashlist_grants,
        hashlists.hashlist_node_grants,
        hashlists.hashlist_holds,
        hashlists.hashlist_activity,
    ]


HASHLISTS: Capability[HashLists] = Capability(
    name="hashlists",
    summary="Shared PDQ, MD5 and SHA-256 hash lists: match without sharing content.",
    wire=_wire,
    api=_api,
    pages=_pages,
    nav=(NavEntry("Hash lists", "/hashlists"),),
    commands=_commands,
    indexes=_indexes,
    tables=_tables,
)
