"""The observable index: which values each stored object version carries, for correlation.

Filled and emptied inside the transactions that store and delete versions
(``Exchange.add_index``), so an object and its index rows come and go together.
The table names ids only; the threat data is still read through the gate, and
``accord.detect.correlate`` shows an id only after the gate says the reader may
see that object.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from itertools import groupby

from sqlalchemy import Column, Engine, Integer, String, Table, Text, delete, func, select
from sqlalchemy.engine import Connection

from accord.store.db import insert_rows
from accord.store.tables import BigPK, metadata

# One row per (object version, observable value): what correlation looks values up in.
observable_index = Table(
    "observable_index",
    metadata,
    Column("id", BigPK, primary_key=True),
    Column("stix_id", String(128), nullable=False, index=True),
    Column("modified", String(27), nullable=False),
    Column("owner_org", Integer, nullable=False),
    Column("kind", String(64), nullable=False),
    Column("value", Text, nullable=False),
    # sha256 of kind and value: fixed width, indexable on every backend whatever the value.
    Column("value_key", String(64), nullable=False, index=True),
)


_INDEXED = ("stix_id", "modified", "owner_org", "kind", "value", "value_key")


def value_key(kind: str, value: str) -> str:
    return hashlib.sha256(f"{kind}\x00{value}".encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class IndexedValue:
    kind: str
    value: str
    key: str


@dataclass(frozen=True, slots=True)
class IndexedObject:
    stix_id: str
    modified: str
    owner: int


class ObservableIndexRepository:
    """Rows of ``observable_index``; writes join the caller's transaction."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    @staticmethod
    def add(
        conn: Connection,
        entries: Iterable[tuple[str, str, int, Iterable[tuple[str, str]]]],
    ) -> None:
        """Index (stix_id, modified, owner, values) entries with one statement."""
        rows = [
            (stix_id, modified, owner, kind, value, value_key(kind, value))
            for stix_id, modified, owner, values in entries
            for kind, value in sorted(set(values))
        ]
        insert_rows(conn, observable_index, _INDEXED, rows)

    @staticmethod
    def remove(conn: Connection, versions: Iterable[tuple[str, str]]) -> None:
        """Drop the rows of (stix_id, modified) versions."""
        c = observable_index.c
        for stix_id, keys in groupby(sorted(versions), key=lambda k: k[0]):
            modified = [m for _, m in keys]
            conn.execute(
                delete(observable_index).where(c.stix_id == stix_id, c.modified.in_(modified))
            )

    def values(self, stix_id: str, modified: str) -> list[IndexedValue]:
        c = observable_index.c
        stmt = select(c.kind, c.value, c.value_key).where(
            c.stix_id == stix_id, c.modified == modified
        )
        with self._engine.connect() as conn:
            return [IndexedValue(r.kind, r.value, r.value_key) for r in conn.execute(stmt)]

    def object_count(self, key: str) -> int:
        """How many distinct objects carry the value (any version)."""
        c = observable_index.c
        stmt = select(func.count(func.distinct(c.stix_id))).where(c.value_key == key)
        with self._engine.connect() as conn:
            return int(conn.execute(stmt).scalar() or 0)

    def carriers(self, key: str, limit: int) -> list[IndexedObject]:
        """Object versions that carry the value, at most ``limit``."""
        c = observable_index.c
        stmt = (
            select(c.stix_id, c.modified, c.owner_org)
            .where(c.value_key == key)
            .order_by(c.id)
            .limit(limit)
        )
        with self._engine.connect() as conn:
            return [IndexedObject(r.stix_id, r.modified, r.owner_org) for r in conn.execute(stmt)]
