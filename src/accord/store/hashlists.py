"""Hash lists' own tables: the entry index, opinion links, grants, holds and the activity log.

The STIX objects themselves live in the exchange store. ``hashlist_entries`` is the
durable index of entry versions the in-memory matcher is built from (filled inside the
ingest transaction, like detection's observable index); ``hashlist_links`` says which
opinions and sightings concern which entry; ``hashlist_grants`` names the organisations
and ``hashlist_node_grants`` the peer nodes that may look up a list without reading it;
``hashlist_holds`` the entries held by flood quarantine; and ``hashlist_activity``
records every change, opinion, match, disable and lookup.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from itertools import groupby

from sqlalchemy import (
    Boolean,
    Column,
    Engine,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
    delete,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from accord.store.db import write
from accord.store.peers import forget_nonces, record_nonce
from accord.store.tables import BigPK, metadata
from accord.store.types import UTCDateTime

hashlist_entries = Table(
    "hashlist_entries",
    metadata,
    Column("id", BigPK, primary_key=True),
    Column("stix_id", String(128), nullable=False, index=True),
    Column("modified", String(27), nullable=False),
    Column("list_ref", String(128), nullable=False, index=True),
    Column("owner_org", Integer, nullable=False),
    Column("signal", String(8), nullable=False),
    Column("value", String(64), nullable=False),
    Column("disabled", Boolean, nullable=False),
)

hashlist_links = Table(
    "hashlist_links",
    metadata,
    Column("id", BigPK, primary_key=True),
    Column("stix_id", String(128), nullable=False, index=True),
    Column("modified", String(27), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("target", String(128), nullable=False, index=True),
)

hashlist_grants = Table(
    "hashlist_grants",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("list_ref", String(128), nullable=False, index=True),
    Column("grantee_org", Integer, nullable=False),
    Column("granted_by", Integer, nullable=False),
    Column("created", UTCDateTime, nullable=False),
    UniqueConstraint("list_ref", "grantee_org"),
)

# Peer nodes (by node id) whose organisations may look a list up from their own node.
hashlist_node_grants = Table(
    "hashlist_node_grants",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("list_ref", String(128), nullable=False, index=True),
    Column("node_id", String(32), nullable=False),
    Column("granted_by", Integer, nullable=False),
    Column("created", UTCDateTime, nullable=False),
    UniqueConstraint("list_ref", "node_id"),
)

hashlist_holds = Table(
    "hashlist_holds",
    metadata,
    Column("entry_ref", String(128), primary_key=True),
    Column("list_ref", String(128), nullable=False),
    Column("since", UTCDateTime, nullable=False),
    Column("item_count", Integer, nullable=False),
    Column("released", UTCDateTime, nullable=True),
)

hashlist_activity = Table(
    "hashlist_activity",
    metadata,
    Column("id", BigPK, primary_key=True),
    Column("at", UTCDateTime, nullable=False),
    Column("list_ref", String(128), nullable=False),
    Column("entry_ref", String(128), nullable=True),
    Column("org", Integer, nullable=True),
    Column("kind", String(16), nullable=False),
    Column("detail", Text, nullable=False),
    Index("ix_hashlist_activity_list_at", "list_ref", "at"),
    Index("ix_hashlist_activity_org_kind_at", "org", "kind", "at"),
)


@dataclass(frozen=True, slots=True)
class EntryRow:
    ref: int
    stix_id: str
    modified: str
    list_ref: str
    owner: int
    signal: str
    value: str
    disabled: bool


@dataclass(frozen=True, slots=True)
class Activity:
    at: datetime
    list_ref: str
    entry_ref: str | None
    org: int | None
    kind: str
    detail: str


@dataclass(frozen=True, slots=True)
class Hold:
    entry_ref: str
    list_ref: str
    since: datetime
    items: int
    released: datetime | None


def _entry(r: Sequence[object]) -> EntryRow:
    return EntryRow(*r)  # type: ignore[arg-type]


_ENTRY_COLUMNS = (
    hashlist_entries.c.id,
    hashlist_entries.c.stix_id,
    hashlist_entries.c.modified,
    hashlist_entries.c.list_ref,
    hashlist_entries.c.owner_org,
    hashlist_entries.c.signal,
    hashlist_entries.c.value,
    hashlist_entries.c.disabled,
)


class HashListRepository:
    """Rows of the hash lists' tables; the ``add_*``/``remove_*`` statics join the caller's
    transaction (the exchange's ingest or delete)."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    # Inside the exchange's transactions ------------------------------------------------
    @staticmethod
    def add_entries(
        conn: Connection, rows: Sequence[tuple[str, str, str, int, str, str, bool]]
    ) -> None:
        if rows:
            keys = ("stix_id", "modified", "list_ref", "owner_org", "signal", "value", "disabled")
            conn.execute(insert(hashlist_entries), [dict(zip(keys, r, strict=True)) for r in rows])

    @staticmethod
    def add_links(conn: Connection, rows: Sequence[tuple[str, str, str, str]]) -> None:
        if rows:
            keys = ("stix_id", "modified", "kind", "target")
            conn.execute(insert(hashlist_links), [dict(zip(keys, r, strict=True)) for r in rows])

    @staticmethod
    def remove_versions(conn: Connection, versions: Iterable[tuple[str, str]]) -> list[int]:
        """Drop the rows of deleted (stix_id, modified) versions; the entry refs dropped."""
        gone: list[int] = []
        for stix_id, keys in groupby(sorted(versions), key=lambda k: k[0]):
            modified = [m for _, m in keys]
            for table in (hashlist_entries, hashlist_links):
                where = (table.c.stix_id == stix_id, table.c.modified.in_(modified))
                if table is hashlist_entries:
                    gone += [r[0] for r in conn.execute(select(table.c.id).where(*where))]
                conn.execute(delete(table).where(*where))
        return gone

    # Reads -------------------------------------------------------------------------
    def entries_after(self, ref: int, limit: int) -> list[EntryRow]:
        """Entry versions indexed after ``ref``, in ref order."""
        c = hashlist_entries.c
        stmt = select(*_ENTRY_COLUMNS).where(c.id > ref).order_by(c.id).limit(limit)
        with self._engine.connect() as conn:
            return [_entry(r) for r in conn.execute(stmt)]

    def entries(self, refs: Iterable[int]) -> dict[int, EntryRow]:
        wanted = sorted(set(refs))
        found: dict[int, EntryRow] = {}
        with self._engine.connect() as conn:
            for i in range(0, len(wanted), 900):
                stmt = select(*_ENTRY_COLUMNS).where(hashlist_entries.c.id.in_(wanted[i : i + 900]))
                found.update((r[0], _entry(r)) for r in conn.execute(stmt))
        return found

    def entry_ids_of(self, list_ref: str, after: str, limit: int) -> list[str]:
        """Ids of the list's entries (any version), in id order after ``after``."""
        c = hashlist_entries.c
        stmt = (
            select(c.stix_id)
            .where(c.list_ref == list_ref, c.stix_id > after)
            .group_by(c.stix_id)
            .order_by(c.stix_id)
            .limit(limit)
        )
        with self._engine.connect() as conn:
            return [r[0] for r in conn.execute(stmt)]

    def count_entries(self, list_ref: str) -> int:
        c = hashlist_entries.c
        stmt = select(func.count(func.distinct(c.stix_id))).where(c.list_ref == list_ref)
        with self._engine.connect() as conn:
            return int(conn.execute(stmt).scalar() or 0)

    def linked(self, targets: Iterable[str], kind: str) -> dict[str, list[str]]:
        """Ids of objects of ``kind`` linked to each target."""
        wanted = sorted(set(targets))
        found: dict[str, list[str]] = {}
        c = hashlist_links.c
        with self._engine.connect() as conn:
            for i in range(0, len(wanted), 900):
                stmt = select(c.target, c.stix_id).where(
                    c.kind == kind, c.target.in_(wanted[i : i + 900])
                )
                for target, stix_id in conn.execute(stmt).all():
                    ids = found.setdefault(target, [])
                    if stix_id not in ids:
                        ids.append(stix_id)
        return found

    # Grants ------------------------------------------------------------------------
    def grant(self, list_ref: str, org: int, by: int, now: datetime) -> bool:
        c = hashlist_grants.c
        with write(self._engine) as conn:
            exists = conn.execute(
                select(c.id).where(c.list_ref == list_ref, c.grantee_org == org)
            ).first()
            if exists:
                return False
            conn.execute(
                insert(hashlist_grants).values(
                    list_ref=list_ref, grantee_org=org, granted_by=by, created=now
                )
            )
            return True

    def revoke(self, list_ref: str, org: int) -> bool:
        c = hashlist_grants.c
        with write(self._engine) as conn:
            gone = conn.execute(
                delete(hashlist_grants).where(c.list_ref == list_ref, c.grantee_org == org)
            )
            return bool(gone.rowcount)

    def granted(self, list_ref: str, org: int) -> bool:
        c = hashlist_grants.c
        with self._engine.connect() as conn:
            row = conn.execute(
                select(c.id).where(c.list_ref == list_ref, c.grantee_org == org)
            ).first()
            return row is not None

    def grant_owner(self, list_ref: str) -> int | None:
        """The organisation that granted lookups of the list (its owner), if any did."""
        with self._engine.connect() as conn:
            for table in (hashlist_grants, hashlist_node_grants):
                c = table.c
                row = conn.execute(
                    select(c.granted_by).where(c.list_ref == list_ref).limit(1)
                ).first()
                if row is not None:
                    return int(row[0])
        return None

    def grant_node(self, list_ref: str, node_id: str, by: int, now: datetime) -> bool:
        """Let the organisations of peer node ``node_id`` look the list up; False if they may."""
        c = hashlist_node_grants.c
        with write(self._engine) as conn:
            exists = conn.execute(
                select(c.id).where(c.list_ref == list_ref, c.node_id == node_id)
            ).first()
            if exists:
                return False
            conn.execute(
                insert(hashlist_node_grants).values(
                    list_ref=list_ref, node_id=node_id, granted_by=by, created=now
                )
            )
            return True

    def revoke_node(self, list_ref: str, node_id: str) -> bool:
        c = hashlist_node_grants.c
        with write(self._engine) as conn:
            gone = conn.execute(
                delete(hashlist_node_grants).where(c.list_ref == list_ref, c.node_id == node_id)
            )
            return bool(gone.rowcount)

    def node_granted(self, list_ref: str, node_id: str) -> bool:
        c = hashlist_node_grants.c
        with self._engine.connect() as conn:
            row = conn.execute(
                select(c.id).where(c.list_ref == list_ref, c.node_id == node_id)
            ).first()
            return row is not None

    def node_grantees(self, list_ref: str) -> list[str]:
        c = hashlist_node_grants.c
        stmt = select(c.node_id).where(c.list_ref == list_ref).order_by(c.node_id)
        with self._engine.connect() as conn:
            return [r[0] for r in conn.execute(stmt)]

    def remember_nonce(self, peer_id: int, nonce: str, now: datetime, forget: datetime) -> bool:
        """Keep a peer's request nonce (beside its messages' nonces, which are of the same
        kind and never collide); False if it was seen before. Nonces seen before
        ``forget`` are dropped: a request that old is refused by its time anyway."""
        try:
            with write(self._engine) as conn:
                if not record_nonce(conn, peer_id, nonce, now):
                    return False
                forget_nonces(conn, forget)
                return True
        except IntegrityError:  # the same nonce, committed meanwhile by another request
            return False

    def grantees(self, list_ref: str) -> list[int]:
        c = hashlist_grants.c
        with self._engine.connect() as conn:
            return [r[0] for r in conn.execute(select(c.grantee_org).where(c.list_ref == list_ref))]

    # Holds (flood quarantine) ---------------------------------------------------------
    def hold(self, entry_ref: str, list_ref: str, items: int, now: datetime) -> bool:
        """Hold an entry for review; False when it is held already."""
        c = hashlist_holds.c
        with write(self._engine) as conn:
            row = conn.execute(select(c.released).where(c.entry_ref == entry_ref)).first()
            if row is not None and row[0] is None:
                return False
            if row is not None:
                conn.execute(
                    update(hashlist_holds)
                    .where(c.entry_ref == entry_ref)
                    .values(since=now, item_count=items, released=None)
                )
            else:
                conn.execute(
                    insert(hashlist_holds).values(
                        entry_ref=entry_ref, list_ref=list_ref, since=now, item_count=items
                    )
                )
            return True

    def release(self, entry_ref: str, now: datetime) -> bool:
        c = hashlist_holds.c
        with write(self._engine) as conn:
            done = conn.execute(
                update(hashlist_holds)
                .where(c.entry_ref == entry_ref, c.released.is_(None))
                .values(released=now)
            )
            return bool(done.rowcount)

    def held(self, entry_refs: Iterable[str]) -> set[str]:
        wanted = sorted(set(entry_refs))
        c = hashlist_holds.c
        found: set[str] = set()
        with self._engine.connect() as conn:
            for i in range(0, len(wanted), 900):
                stmt = select(c.entry_ref).where(
                    c.entry_ref.in_(wanted[i : i + 900]), c.released.is_(None)
                )
                found.update(r[0] for r in conn.execute(stmt))
        return found

    def holds_of(self, list_ref: str) -> list[Hold]:
        c = hashlist_holds.c
        stmt = select(c.entry_ref, c.list_ref, c.since, c.item_count, c.released).where(
            c.list_ref == list_ref
        )
        with self._engine.connect() as conn:
            return [Hold(*r) for r in conn.execute(stmt)]

    # Activity --------------------------------------------------------------------------
    def record(self, rows: Sequence[Activity]) -> None:
        if not rows:
            return
        with write(self._engine) as conn:
            conn.execute(
                insert(hashlist_activity),
                [
                    {
                        "at": a.at,
                        "list_ref": a.list_ref,
                        "entry_ref": a.entry_ref,
                        "org": a.org,
                        "kind": a.kind,
                        "detail": a.detail,
                    }
                    for a in rows
                ],
            )

    def activity(self, list_ref: str, start: datetime, end: datetime) -> list[Activity]:
        c = hashlist_activity.c
        stmt = (
            select(c.at, c.list_ref, c.entry_ref, c.org, c.kind, c.detail)
            .where(c.list_ref == list_ref, c.at >= start, c.at < end)
            .order_by(c.id)
        )
        with self._engine.connect() as conn:
            return [Activity(*r) for r in conn.execute(stmt)]

    def oldest_recent(self, org: int, kind: str, since: datetime) -> datetime | None:
        """When the oldest act of ``kind`` by ``org`` since ``since`` was, if any."""
        c = hashlist_activity.c
        stmt = select(func.min(c.at)).where(c.org == org, c.kind == kind, c.at >= since)
        with self._engine.connect() as conn:
            found: datetime | None = conn.execute(stmt).scalar()
            return found

    def count_recent(self, org: int, kind: str, since: datetime) -> int:
        c = hashlist_activity.c
        stmt = select(func.count()).where(c.org == org, c.kind == kind, c.at >= since)
        with self._engine.connect() as conn:
            return int(conn.execute(stmt).scalar() or 0)
