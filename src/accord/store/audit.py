"""The audit log's tables: entries, every complete subtree's hash, signed heads, witnesses.

``audit_entries`` holds one row per recorded act; its leaf in the Merkle tree commits to
the clear columns (seq, at, action, decision) and to ``commitment``, an HMAC-SHA-256
under the entry's own ``salt`` of the columns that may name a person (actor, object,
version, detail). Erasure deletes the salt and those columns: the leaf, and so the
chain, still verify. ``audit_nodes`` keeps the hash of every complete subtree (key
``level << 48 | index``), so appends are O(log n) and a proof at any size reads
O(log n) rows.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    Column,
    Engine,
    LargeBinary,
    String,
    Table,
    Text,
    func,
    insert,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.engine import Connection

from accord.store.db import write
from accord.store.tables import BigPK, metadata

# The advisory lock (PostgreSQL) that orders appends; SQLite serialises writers already.
APPEND_LOCK = 0x41554449  # "AUDI"

Big = BigPK

audit_entries = Table(
    "audit_entries",
    metadata,
    Column("seq", Big, primary_key=True, autoincrement=False),
    Column("at", String(27), nullable=False),
    Column("action", String(32), nullable=False),
    Column("decision", String(16), nullable=False),
    Column("actor", String(200), nullable=True),
    Column("object_ref", String(128), nullable=True, index=True),
    Column("version", String(40), nullable=True),
    Column("detail", Text, nullable=True),
    Column("salt", LargeBinary(32), nullable=True),
    Column("commitment", LargeBinary(32), nullable=False),
)

audit_nodes = Table(
    "audit_nodes",
    metadata,
    Column("key", Big, primary_key=True, autoincrement=False),
    Column("hash", LargeBinary(32), nullable=False),
)

audit_heads = Table(
    "audit_heads",
    metadata,
    Column("size", Big, primary_key=True, autoincrement=False),
    Column("root", LargeBinary(32), nullable=False),
    Column("at", String(27), nullable=False),
    Column("signature", String(128), nullable=False),
)

audit_witness = Table(
    "audit_witness",
    metadata,
    Column("peer", String(64), primary_key=True),
    Column("size", Big, nullable=False),
    Column("root", LargeBinary(32), nullable=False),
    Column("at", String(27), nullable=False),
    Column("signature", String(128), nullable=False),
    Column("state", String(16), nullable=False),
    Column("problem", Text, nullable=True),
    Column("checked", String(27), nullable=False),
)


ENTRY_COLUMNS = (
    "seq",
    "at",
    "action",
    "decision",
    "actor",
    "object_ref",
    "version",
    "detail",
    "salt",
    "commitment",
)


def node_key(level: int, index: int) -> int:
    return level << 48 | index


@dataclass(frozen=True, slots=True)
class EntryRow:
    seq: int
    at: str
    action: str
    decision: str
    actor: str | None
    object_ref: str | None
    version: str | None
    detail: str | None
    salt: bytes | None
    commitment: bytes


@dataclass(frozen=True, slots=True)
class HeadRow:
    size: int
    root: bytes
    at: str
    signature: str


@dataclass(frozen=True, slots=True)
class WitnessRow:
    peer: str
    size: int
    root: bytes
    at: str
    signature: str
    state: str
    problem: str | None
    checked: str


def _entry(row: Sequence[object]) -> EntryRow:
    return EntryRow(*row)  # type: ignore[arg-type]


class AuditRepository:
    """Reads over the engine; appends join the caller's transaction (``conn``)."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    # Appending ------------------------------------------------------------------------
    @staticmethod
    def lock(conn: Connection) -> None:
        if conn.dialect.name != "sqlite":
            conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": APPEND_LOCK})

    @staticmethod
    def size(conn: Connection) -> int:
        last = conn.execute(select(func.max(audit_entries.c.seq))).scalar_one()
        return 0 if last is None else int(last) + 1

    @staticmethod
    def nodes(conn: Connection, keys: Iterable[tuple[int, int]]) -> dict[tuple[int, int], bytes]:
        wanted = {node_key(lv, ix): (lv, ix) for lv, ix in keys}
        found: dict[tuple[int, int], bytes] = {}
        if not wanted:
            return found
        rows = conn.execute(
            select(audit_nodes.c.key, audit_nodes.c.hash).where(audit_nodes.c.key.in_(wanted))
        )
        for key, h in rows:
            found[wanted[key]] = bytes(h)
        return found

    @staticmethod
    def insert(
        conn: Connection, entries: list[tuple[object, ...]], nodes: list[tuple[int, int, bytes]]
    ) -> None:
        """Entries as tuples in ``ENTRY_COLUMNS`` order, and subtree hashes.

        Straight to the driver's ``executemany``: building SQLAlchemy parameters per row
        cost more than the hashing (the log grows by about three rows per entry).
        """
        mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
        marks = ", ".join([mark] * len(ENTRY_COLUMNS))
        conn.exec_driver_sql(
            f"INSERT INTO audit_entries ({', '.join(ENTRY_COLUMNS)}) VALUES ({marks})",
            entries,
        )
        conn.exec_driver_sql(
            f"INSERT INTO audit_nodes (key, hash) VALUES ({mark}, {mark})",
            [(node_key(lv, ix), h) for lv, ix, h in nodes],
        )

    # Reading -------------------------------------------------------------------------
    def current_size(self) -> int:
        with self._engine.connect() as conn:
            return self.size(conn)

    def read_nodes(self, keys: Iterable[tuple[int, int]]) -> dict[tuple[int, int], bytes]:
        with self._engine.connect() as conn:
            return self.nodes(conn, keys)

    def entry(self, seq: int) -> EntryRow | None:
        with self._engine.connect() as conn:
            row = conn.execute(select(audit_entries).where(audit_entries.c.seq == seq)).first()
        return _entry(row) if row else None

    def entries(self, before: int | None, limit: int) -> list[EntryRow]:
        """The newest entries first, below ``before``."""
        query = select(audit_entries).order_by(audit_entries.c.seq.desc()).limit(limit)
        if before is not None:
            query = query.where(audit_entries.c.seq < before)
        with self._engine.connect() as conn:
            return [_entry(r) for r in conn.execute(query)]

    def scan(self, chunk: int = 50_000) -> Iterator[list[EntryRow]]:
        """Every entry in order, ``chunk`` at a time (keyset pages)."""
        after = -1
        while True:
            query = (
                select(audit_entries)
                .where(audit_entries.c.seq > after)
                .order_by(audit_entries.c.seq)
                .limit(chunk)
            )
            with self._engine.connect() as conn:
                rows = [_entry(r) for r in conn.execute(query)]
            if not rows:
                return
            yield rows
            after = rows[-1].seq

    def scan_raw(self, chunk: int = 100_000) -> Iterator[Sequence[Sequence[Any]]]:
        """Every entry in order as plain rows in ``ENTRY_COLUMNS`` order (for verify)."""
        after = -1
        with self._engine.connect() as conn:
            mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
            sql = (
                f"SELECT {', '.join(ENTRY_COLUMNS)} FROM audit_entries "
                f"WHERE seq > {mark} ORDER BY seq LIMIT {mark}"
            )
            # The driver's own cursor: its rows are plain tuples, with none of the
            # per-row objects a SQLAlchemy result would build for 10 million entries.
            cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
            try:
                while True:
                    cursor.execute(sql, (after, chunk))
                    rows = cursor.fetchall()
                    if not rows:
                        return
                    yield rows
                    after = rows[-1][0]
            finally:
                cursor.close()

    def scan_with_leaves(
        self, chunk: int = 50_000
    ) -> Iterator[list[tuple[EntryRow, bytes | None]]]:
        """Every entry in order with its stored leaf hash, ``chunk`` at a time."""
        leaf = audit_nodes.c.hash
        joined = audit_entries.outerjoin(audit_nodes, audit_nodes.c.key == audit_entries.c.seq)
        after = -1
        while True:
            query = (
                select(audit_entries, leaf)
                .select_from(joined)
                .where(audit_entries.c.seq > after)
                .order_by(audit_entries.c.seq)
                .limit(chunk)
            )
            with self._engine.connect() as conn:
                rows = [
                    (_entry(r[:-1]), bytes(r[-1]) if r[-1] is not None else None)
                    for r in conn.execute(query)
                ]
            if not rows:
                return
            yield rows
            after = rows[-1][0].seq

    def forget(self, object_ref: str) -> int:
        """Erase what may be personal in every entry naming ``object_ref``; how many."""
        with write(self._engine) as conn:
            result = conn.execute(
                update(audit_entries)
                .where(
                    or_(
                        audit_entries.c.object_ref == object_ref,
                        audit_entries.c.detail.contains(f"{object_ref}@", autoescape=True),
                    )
                )
                .values(salt=None, actor=None, object_ref=None, version=None, detail=None)
            )
            return int(result.rowcount or 0)

    # Heads ---------------------------------------------------------------------------
    def latest_head(self) -> HeadRow | None:
        query = select(audit_heads).order_by(audit_heads.c.size.desc()).limit(1)
        with self._engine.connect() as conn:
            row = conn.execute(query).first()
        return HeadRow(*row) if row else None

    def heads(self) -> list[HeadRow]:
        with self._engine.connect() as conn:
            rows = conn.execute(select(audit_heads).order_by(audit_heads.c.size))
            return [HeadRow(*r) for r in rows]

    def keep_head(self, head: HeadRow) -> None:
        with write(self._engine) as conn:
            exists = conn.execute(
                select(audit_heads.c.size).where(audit_heads.c.size == head.size)
            ).first()
            if exists is None:
                conn.execute(
                    insert(audit_heads).values(
                        size=head.size, root=head.root, at=head.at, signature=head.signature
                    )
                )

    # Witnessing ----------------------------------------------------------------------
    def witness(self, peer: str) -> WitnessRow | None:
        with self._engine.connect() as conn:
            row = conn.execute(select(audit_witness).where(audit_witness.c.peer == peer)).first()
        return WitnessRow(*row) if row else None

    def witnesses(self) -> list[WitnessRow]:
        with self._engine.connect() as conn:
            rows = conn.execute(select(audit_witness).order_by(audit_witness.c.peer))
            return [WitnessRow(*r) for r in rows]

    def keep_witness(self, row: WitnessRow) -> None:
        values = {
            "size": row.size,
            "root": row.root,
            "at": row.at,
            "signature": row.signature,
            "state": row.state,
            "problem": row.problem,
            "checked": row.checked,
        }
        with write(self._engine) as conn:
            done = conn.execute(
                update(audit_witness).where(audit_witness.c.peer == row.peer).values(**values)
            )
            if not done.rowcount:
                conn.execute(insert(audit_witness).values(peer=row.peer, **values))
