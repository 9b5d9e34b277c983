"""Hash lists as a capability: shared PDQ, MD5 and SHA-256 lists, matched without content."""

from __future__ import annotations

from collections.abc import Sequence
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
    from accord.hashlists.service import HashLists
    from accord.store.hashlists import HashListRepository

    return HashLists(
        node.exchange,
        HashListRepository(node.engine),
        node.orgs,
        node.groups,
        node.clock,
    )


def _indexes(node: Node) -> Sequence[Index]:
    return [HASHLISTS.service(node)]


def _api() -> Sequence[APIRouter]:
    from accord.api.routes import hashlists

    return [hashlists.router]


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
