"""Stores and deletions recorded inside the exchange's own transaction (an ``Index``).

The exchange calls ``index_versions``/``unindex_versions`` inside every ingest, peer
receive and delete transaction, so the log's entries commit or roll back with the
objects they tell of, and a whole bundle is one append (O(log n) reads, one insert).
"""

from __future__ import annotations

from collections.abc import Sequence

from accord.audit.service import AuditLog
from accord.domain.audit import Event
from accord.store.objects import NewVersion, ObjectBatch, VersionKey


class ChangeLog:
    """``exchange.service.Index``: one entry per version stored or deleted."""

    def __init__(self, log: AuditLog, node_id: str) -> None:
        self._log = log
        self._node_id = node_id

    def index_versions(self, batch: ObjectBatch, versions: Sequence[NewVersion]) -> None:
        events = [
            Event(
                f"org:{v.owner}" if v.via == self._node_id else f"peer-node:{v.via}",
                "store" if v.via == self._node_id else "receive",
                object_ref=v.stix_id,
                version=v.modified,
                detail=f"{v.distribution.tlp} {v.distribution.scope.value}",
            )
            for v in versions
        ]
        self._log.append(batch.connection, events)

    def unindex_versions(self, batch: ObjectBatch, removed: Sequence[VersionKey]) -> None:
        events = [
            Event("owner", "delete", object_ref=k.stix_id, version=k.modified) for k in removed
        ]
        self._log.append(batch.connection, events)
