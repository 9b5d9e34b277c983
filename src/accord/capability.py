"""The capability record: one small, typed description of what a feature adds to a node.

A capability (exchange, federation, detect, coordinate, and every later one) is one
package whose ``capability.py`` builds one ``Capability``; the node, the HTTP app, the
console and the CLI loop over the registered records (``accord.capabilities``), so
adding a feature touches its own package and one line of the registry.

The record names things lazily (zero-argument functions), so a command that needs only
the CLI tree does not import the web stack, and ``accord --help`` stays fast. Its
``wire`` function is where the capability picks its concrete classes: repositories
over the node's engine, handed to its services.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Generic, TypeVar, cast

if TYPE_CHECKING:
    import typer
    from fastapi import APIRouter
    from sqlalchemy import Table

    from accord.exchange.service import Index
    from accord.node import Node
    from accord.periodic import Periodic

S = TypeVar("S")


def _no_routers() -> Sequence[APIRouter]:
    return ()


def _no_commands() -> Sequence[typer.Typer]:
    return ()


def _no_jobs(node: Node) -> Sequence[Periodic]:
    return ()


def _no_indexes(node: Node) -> Sequence[Index]:
    return ()


def _no_tables() -> Sequence[Table]:
    return ()


@dataclass(frozen=True, slots=True)
class NavEntry:
    """A link in the console's main navigation."""

    label: str
    href: str
    admin_only: bool = False


@dataclass(frozen=True, slots=True)
class Capability(Generic[S]):
    """What one capability adds to a node.

    - ``wire(node)`` builds its service (any object; ``service(node)`` hands it back typed);
    - ``api()``: routers mounted under ``/api/v1``; ``routes()``: routers mounted at the
      root (TAXII, the federation endpoint); ``pages()``: console pages (not in the
      OpenAPI document); ``nav``: the console's navigation entries;
    - ``commands()``: Typer apps whose commands join the root ``accord`` command;
    - ``jobs(node)``: background jobs ``accord serve`` runs; ``indexes(node)``:
      indexes kept in every ingest and delete transaction (``exchange.service.Index``);
    - ``tables()``: the tables it owns (each registers on the store's one metadata);
      ``migrations``: the folder of its Alembic branch, when it keeps one of its own.
    """

    name: str
    summary: str
    wire: Callable[[Node], S]
    api: Callable[[], Sequence[APIRouter]] = _no_routers
    routes: Callable[[], Sequence[APIRouter]] = _no_routers
    pages: Callable[[], Sequence[APIRouter]] = _no_routers
    nav: Sequence[NavEntry] = ()
    commands: Callable[[], Sequence[typer.Typer]] = _no_commands
    jobs: Callable[[Node], Sequence[Periodic]] = _no_jobs
    indexes: Callable[[Node], Sequence[Index]] = _no_indexes
    tables: Callable[[], Sequence[Table]] = _no_tables
    migrations: Path | None = None

    def runs_on(self, node: Node) -> bool:
        """Whether ``node`` was built with this capability (a page shows its panels then)."""
        return self.name in node.services

    def service(self, node: Node) -> S:
        """This capability's service on ``node``."""
        return cast(S, node.services[self.name])
