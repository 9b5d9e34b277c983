"""A node: the one place that picks concrete classes and wires the services together.

``create_app(settings)`` and the CLI both open a ``Node``; tests open as many as they
need, each on its own database.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine

from accord.accounts import Accounts
from accord.coordinate.service import Coordination
from accord.detect.correlate import Correlations
from accord.detect.service import Detection
from accord.detect.warninglists import shipped
from accord.exchange.service import Exchange
from accord.exchange.taxii import Taxii
from accord.federation.keys import load_or_create
from accord.federation.service import Federation
from accord.settings import Settings
from accord.store.accounts import (
    GroupRepository,
    OrganisationRepository,
    TokenRepository,
    UserRepository,
)
from accord.store.db import create_db_engine, migrate
from accord.store.detect import ObservableIndexRepository
from accord.store.keys import KeyRepository
from accord.store.objects import SQLObjectStore
from accord.store.peers import PeerRepository
from accord.store.statuses import StatusRepository


def utcnow() -> datetime:
    return datetime.now(UTC)


class Node:
    def __init__(
        self, settings: Settings, engine: Engine, *, clock: Callable[[], datetime] = utcnow
    ) -> None:
        """Wire the services over a migrated database (``Node.open`` migrates first)."""
        self.settings = settings
        self.engine = engine
        self.clock = clock
        self.key = load_or_create(KeyRepository(engine), clock())
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
            node_id=self.key.node_id,
            default_tlp=settings.default_tlp,
            clock=clock,
        )
        self.detection = Detection(self.exchange, orgs, clock)
        self.correlations = Correlations(
            self.exchange, ObservableIndexRepository(self.engine), orgs, warninglists=shipped()
        )
        self.exchange.listeners.append(self.correlations.index_versions)
        self.taxii = Taxii(self.exchange, orgs, groups, StatusRepository(self.engine), clock)
        self.federation = Federation(
            self.key,
            PeerRepository(self.engine),
            self.exchange,
            self.accounts,
            orgs,
            groups,
            clock,
            timedelta(seconds=settings.federation_max_skew),
        )

        self.coordination = Coordination(self.engine, settings, orgs, groups, self.exchange, clock)

    @classmethod
    def open(cls, settings: Settings, *, clock: Callable[[], datetime] = utcnow) -> Node:
        """Open the node's database, migrating it to the newest schema first."""
        engine = create_db_engine(settings.database_url)
        migrate(engine)
        return cls(settings, engine, clock=clock)

    def close(self) -> None:
        self.engine.dispose()
