"""TAXII status resources: written once per POST, read back by the poster."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import Engine, insert, select

from accord.store.db import write
from accord.store.tables import taxii_statuses


class StatusRepository:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def add(self, status_id: str, org_id: int, doc: dict[str, Any], now: datetime) -> None:
        with write(self._engine) as conn:
            conn.execute(
                insert(taxii_statuses).values(
                    id=status_id, org_id=org_id, created=now, doc=orjson.dumps(doc).decode()
                )
            )

    def get(self, status_id: str, org_id: int) -> dict[str, Any] | None:
        """The status, if it exists and belongs to ``org_id``."""
        with self._engine.connect() as conn:
            doc = conn.execute(
                select(taxii_statuses.c.doc).where(
                    taxii_statuses.c.id == status_id, taxii_statuses.c.org_id == org_id
                )
            ).scalar()
        return orjson.loads(doc) if doc else None
