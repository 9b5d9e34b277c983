"""Stores and deletions recorded inside the exchange's own transaction (an ``Index``).

The exchange calls ``index_versions``/``unindex_versions`` inside every ingest, peer
receive and delete transaction, so the log's entries commit or roll back with the
objects they tell of. One transaction is one entry per kind of act (its ``object_ref``
the first version, its ``detail`` every ``id@modified``), so a bundle of 500 objects
costs one leaf, not 500: auditing keeps ingest within a few per cent of its rate.
"""

from __future__ import annotations

from collections.abc import Sequence

from accord.audit.service import AuditLog
from accord.domain.audit import Event
from accord.store.objects import NewVersion, ObjectBatch, VersionKey


class ChangeLog:
    """``exchange.service.Index``: one entry per transaction that stores or deletes."""

    def __init__(self, log: AuditLog, node_id: str) -> None:
        self._log = log
        self._node_id = node_id

    def index_versions(self, batch: ObjectBatch, versions: Sequence[NewVersion]) -> None:
        acts: dict[tuple[str, str, str], list[NewVersion]] = {}
        for v in versions:
            local = v.via == self._node_id
            key = (
                f"org:{v.owner}" if local else f"peer-node:{v.via}",
                "store" if local else "receive",
                f"{v.distribution.tlp} {v.distribution.scope.value}",
            )
            acts.setdefault(key, []).append(v)
        events = [
            Event(
                actor,
                action,
                object_ref=group[0].stix_id,
                version=group[0].modified,
                detail=f"{how}: " + " ".join(f"{v.stix_id}@{v.modified}" for v in group),
            )
            for (actor, action, how), group in acts.items()
        ]
        self._log.append(batch.connection, events)

    def unindex_versions(self, batch: ObjectBatch, removed: Sequence[VersionKey]) -> None:
        if removed:
            refs = " ".join(f"{k.stix_id}@{k.modified}" for k in removed)
            first = removed[0]
            deleted = Event("owner", "delete", "allowed", first.stix_id, first.modified, refs)
            self._log.append(batch.connection, [deleted])
