"""MISP's own bookkeeping: sharing groups linked by UUID, and the feeds a node pulls."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import Column, Engine, ForeignKey, Integer, String, Table, Text, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from accord.store.db import write
from accord.store.tables import metadata
from accord.store.types import UTCDateTime

misp_sharing_groups = Table(
    "misp_sharing_groups",
    metadata,
    Column("uuid", String(36), primary_key=True),
    Column("group_id", ForeignKey("sharing_groups.id", ondelete="CASCADE"), nullable=False),
)

misp_feeds = Table(
    "misp_feeds",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(80), nullable=False, unique=True),
    Column("url", String(2000), nullable=False),
    Column("org_id", ForeignKey("organisations.id", ondelete="CASCADE"), nullable=False),
    Column("distribution", Integer, nullable=False),
    Column("tlp", String(20), nullable=False),
    # {event uuid: manifest timestamp} of what was stored: the incremental cursor.
    Column("cursor", Text, nullable=False, default="{}"),
    Column("last_pulled", UTCDateTime, nullable=True),
    Column("last_error", Text, nullable=True),
)


@dataclass(frozen=True, slots=True)
class Feed:
    id: int
    name: str
    url: str
    org: int
    distribution: int
    tlp: str
    cursor: dict[str, int]
    last_pulled: datetime | None
    last_error: str | None


def _feed(row: Any) -> Feed:
    return Feed(
        row.id,
        row.name,
        row.url,
        row.org_id,
        row.distribution,
        row.tlp,
        orjson.loads(row.cursor),
        row.last_pulled,
        row.last_error,
    )


class MispRepository:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    # Sharing groups ------------------------------------------------------------------
    def link_group(self, misp_uuid: str, group_id: int) -> None:
        """Link a MISP sharing group's UUID to a local group (replacing any earlier link)."""
        with write(self._engine) as conn:
            values = {"uuid": misp_uuid, "group_id": group_id}
            if conn.dialect.name == "postgresql":
                stmt: Any = pg_insert(misp_sharing_groups).values(values)
            else:
                stmt = sqlite_insert(misp_sharing_groups).values(values)
            conn.execute(
                stmt.on_conflict_do_update(index_elements=["uuid"], set_={"group_id": group_id})
            )

    def group_links(self) -> dict[str, int]:
        with self._engine.connect() as conn:
            return {r.uuid: r.group_id for r in conn.execute(select(misp_sharing_groups))}

    # Feeds -----------------------------------------------------------------------------
    def add_feed(self, name: str, url: str, org: int, distribution: int, tlp: str) -> Feed:
        with write(self._engine) as conn:
            conn.execute(
                misp_feeds.insert().values(
                    name=name, url=url, org_id=org, distribution=distribution, tlp=tlp, cursor="{}"
                )
            )
        found = self.feed(name)
        assert found is not None
        return found

    def feed(self, name: str) -> Feed | None:
        with self._engine.connect() as conn:
            row = conn.execute(select(misp_feeds).where(misp_feeds.c.name == name)).first()
        return _feed(row) if row else None

    def feeds(self) -> list[Feed]:
        with self._engine.connect() as conn:
            return [_feed(r) for r in conn.execute(select(misp_feeds).order_by(misp_feeds.c.name))]

    def advance(self, feed_id: int, stored: dict[str, int], now: datetime) -> None:
        """Record events stored from a feed (their manifest timestamps), in one write."""
        with write(self._engine) as conn:
            row = conn.execute(
                select(misp_feeds.c.cursor).where(misp_feeds.c.id == feed_id)
            ).scalar_one()
            cursor = {**orjson.loads(row), **stored}
            conn.execute(
                update(misp_feeds)
                .where(misp_feeds.c.id == feed_id)
                .values(cursor=orjson.dumps(cursor).decode(), last_pulled=now, last_error=None)
            )

    def failed(self, feed_id: int, error: str, now: datetime) -> None:
        with write(self._engine) as conn:
            conn.execute(
                update(misp_feeds)
                .where(misp_feeds.c.id == feed_id)
                .values(last_error=error[:2000], last_pulled=now)
            )
