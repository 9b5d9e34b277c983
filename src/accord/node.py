"""A node: the one place that opens the database and wires the capabilities together.

``Node`` builds what every capability shares (the engine, the node's key, organisations,
groups, accounts), then asks each registered capability (``accord.capabilities``) to
wire its own service, in registry order. ``create_app`` and the CLI both open a
``Node``; tests open as many as they need, each on its own database.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Engine

from accord.accounts import Accounts, signin_rules
from accord.capabilities import CAPABILITIES
from accord.capability import Capability
from accord.coordinate.capability import COORDINATE
from accord.coordinate.service import Coordination
from accord.detect.capability import DETECT
from accord.detect.correlate import Correlations
from accord.detect.service import Detection
from accord.domain.clock import Clock, utcnow
from accord.exchange.capability import EXCHANGE
from accord.exchange.misp.service import Misp
from accord.exchange.service import Exchange
from accord.exchange.taxii import Taxii
from accord.federation.capability import FEDERATION
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
from accord.store.keys import KeyRepository
from accord.store.signins import SigninRepository


class Node:
    def __init__(
        self,
        settings: Settings,
        engine: Engine,
        *,
        clock: Clock = utcnow,
        capabilities: Sequence[Capability[Any]] = CAPABILITIES,
    ) -> None:
        """Wire the services over a migrated database (``Node.open`` migrates first)."""
        self.settings = settings
        self.engine = engine
        self.clock = clock
        self.capabilities = tuple(capabilities)
        self.key = load_or_create(KeyRepository(engine), clock())
        self.orgs = OrganisationRepository(engine)
        self.groups = GroupRepository(engine)
        self.accounts = Accounts(
            self.orgs,
            self.groups,
            UserRepository(engine),
            TokenRepository(engine),
            SigninRepository(engine),
            signin_rules(settings),
            clock,
        )
        self.services: dict[str, object] = {}
        for capability in self.capabilities:
            self.services[capability.name] = capability.wire(self)
        for capability in self.capabilities:
            for index in capability.indexes(self):
                self.exchange.add_index(index)

    @classmethod
    def open(
        cls,
        settings: Settings,
        *,
        clock: Clock = utcnow,
        capabilities: Sequence[Capability[Any]] = CAPABILITIES,
    ) -> Node:
        """Open the node's database, migrating it to the newest schema first."""
        engine = create_db_engine(settings.database_url)
        migrate(engine, [c.migrations for c in capabilities if c.migrations is not None])
        return cls(settings, engine, clock=clock, capabilities=capabilities)

    def close(self) -> None:
        self.engine.dispose()

    # The built-in capabilities' services, typed ---------------------------------------
    @property
    def exchange(self) -> Exchange:
        return EXCHANGE.service(self).exchange

    @property
    def taxii(self) -> Taxii:
        return EXCHANGE.service(self).taxii

    @property
    def misp(self) -> Misp:
        return EXCHANGE.service(self).misp

    @property
    def detection(self) -> Detection:
        return DETECT.service(self).detection

    @property
    def correlations(self) -> Correlations:
        return DETECT.service(self).correlations

    @property
    def coordination(self) -> Coordination:
        return COORDINATE.service(self)

    @property
    def federation(self) -> Federation:
        return FEDERATION.service(self)
