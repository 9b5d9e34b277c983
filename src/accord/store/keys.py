"""The node's own key pair, kept in its database: written once, read at every start."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, insert, select

from accord.store.db import write
from accord.store.tables import node_keys


@dataclass(frozen=True, slots=True)
class StoredKey:
    """Raw Ed25519 key bytes (32 each); the table keeps them in base64."""

    private_raw: bytes
    public_raw: bytes
    created: datetime
    rotation: str | None = None  # how the key before it handed over (JSON), if not first


class KeyRepository:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def first(self) -> StoredKey | None:
        with self._engine.connect() as conn:
            return _first(conn)

    def keep_first(self, private_raw: bytes, public_raw: bytes, now: datetime) -> StoredKey:
        """Store this key pair unless the node already has one; return the one it keeps.

        Check and insert share one serialised write transaction, so two processes
        starting on a new database agree on a single key.
        """
        with write(self._engine, serialise=_KEEP_FIRST) as conn:
            kept = _first(conn)
            if kept is not None:
                return kept
            conn.execute(
                insert(node_keys).values(
                    private_key=base64.b64encode(private_raw).decode(),
                    public_key=base64.b64encode(public_raw).decode(),
                    created=now,
                )
            )
        return StoredKey(private_raw, public_raw, now)

    def all(self) -> list[StoredKey]:
        """Every key the node has had, first to newest (the newest signs)."""
        with self._engine.connect() as conn:
            rows = conn.execute(select(node_keys).order_by(node_keys.c.id)).all()
        return [_stored(r) for r in rows]

    def add_rotated(
        self, private_raw: bytes, public_raw: bytes, rotation: str, now: datetime
    ) -> StoredKey:
        """Keep a new key, with the statement by which the previous key handed over."""
        with write(self._engine, serialise=_KEEP_FIRST) as conn:
            conn.execute(
                insert(node_keys).values(
                    private_key=base64.b64encode(private_raw).decode(),
                    public_key=base64.b64encode(public_raw).decode(),
                    created=now,
                    rotation=rotation,
                )
            )
        return StoredKey(private_raw, public_raw, now, rotation)


# The advisory lock that serialises first starts on PostgreSQL (any constant will do).
_KEEP_FIRST = 0x_ACC0_4B


def _first(conn: Connection) -> StoredKey | None:
    row = conn.execute(select(node_keys).order_by(node_keys.c.id).limit(1)).first()
    return None if row is None else _stored(row)


def _stored(row: Any) -> StoredKey:
    return StoredKey(
        base64.b64decode(row.private_key),
        base64.b64decode(row.public_key),
        row.created,
        row.rotation,
    )
