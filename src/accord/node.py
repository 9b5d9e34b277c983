"""A node: the one place that picks concrete classes and wires the services together.

``create_app(settings)`` and the CLI both open a ``Node``; tests open as many as they
need, each on its own database.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from sqlalchemy import Engine

from accord.accounts import Accounts
from accord.exchange.service import Exchange
from accord.exchange.taxii import Taxii
from accord.settings import Settings
from accord.store.accounts import (
    GroupRepository,
    OrganisationRepository,
    TokenRepository,
    UserRepository,
)
from accord.store.db import create_db_engine, migrate
from accord.store.objects import SQLObjectStore
from accord.store.statuses import StatusRepository


def utcnow() -> datetime:
    return datetime.now(UTC)


class Node:
    def __init__(
        self,
        settings: Settings,
        *,
        engine: Engine | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.settings = settings
        self.engine = engine or create_db_engine(settings.database_url)
        self.clock = clock
        orgs = OrganisationRepository(self.engine)
        groups = GroupRepository(self.engine)
        self.accounts = Accounts(
            orgs, groups, UserRepository(self.engine), TokenRepository(self.engine), clock
        )
        self.exchange = Exchange(
            SQLObjectStore(self.engine),
            orgs,
            groups,
            node_name=settings.node_name,
            default_tlp=settings.default_tlp,
            clock=clock,
        )
        self.taxii = Taxii(self.exchange, orgs, groups, StatusRepository(self.engine), clock)

    @classmethod
    def open(cls, settings: Settings, *, clock: Callable[[], datetime] = utcnow) -> Node:
        """Open the node's database, migrating it to the newest schema first."""
        node = cls(settings, clock=clock)
        migrate(node.engine)
        return node

    def close(self) -> None:
        self.engine.dispose()
