"""The STIX object store. Every read takes a principal and goes through the policy gate.

Each version of an object is one row (``stix_id`` + ``modified`` unique); ``is_latest``
marks the newest, so "latest" queries walk an index instead of grouping. Writes
happen in a ``batch``: one transaction, writers serialised, all or nothing.
"""

from __future__ import annotations

import functools
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, NamedTuple, Protocol

from sqlalchemy import (
    ColumnElement,
    Connection,
    Engine,
    Select,
    and_,
    bindparam,
    delete,
    exists,
    func,
    insert,
    or_,
    select,
    true,
    union,
    update,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import aliased
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement
from sqlalchemy.types import Boolean

from accord.domain.access import ObjectAccess, PeerAudience
from accord.domain.collections import Collection, CollectionKind
from accord.domain.model import Principal
from accord.domain.scope import Distribution, Scope
from accord.domain.tlp import TLP
from accord.store import gate
from accord.store.db import insert_rows, refresh_statistics, write
from accord.store.tables import (
    object_arrivals,
    object_recipients,
    object_shares,
    share_recipients,
    stix_objects,
)

# A version's columns as ``ObjectBatch.insert`` writes them.
VERSION_COLUMNS = (
    "stix_id",
    "type",
    "spec_version",
    "created",
    "modified",
    "owner_org",
    "revoked",
    "tlp",
    "scope",
    "group_id",
    "date_added",
    "is_latest",
    "search_text",
    "provenance",
    "via",
    "doc",
)
# A write of this many versions is a bulk load: the store's statistics may be behind it.
_BULK = 1000
# IN-lists are chunked below SQLite's historical 999-variable limit.
_CHUNK = 900
# Any constant will do: PostgreSQL writers take this advisory lock, so date_added
# values come out strictly increasing across concurrent ingests.
_WRITER_LOCK = 0x_ACC0_4D


@dataclass(frozen=True, slots=True)
class NewVersion:
    """One object version ready to store: its document and the columns indexed from it."""

    stix_id: str
    type: str
    spec_version: str
    created: str | None
    modified: str
    owner: int
    revoked: bool
    distribution: Distribution
    search_text: str
    provenance: str
    via: str
    doc: str


class VersionKey(NamedTuple):
    """What names one stored version."""

    stix_id: str
    modified: str


@dataclass(frozen=True, slots=True)
class ExistingVersion:
    pk: int
    stix_id: str
    modified: str
    owner: int
    doc: str | None  # only fetched when a new version has the same key
    is_latest: bool


@dataclass(frozen=True, slots=True)
class ObjectRow:
    """A stored version as a reader sees it: the document (JSON text) and its stamp."""

    pk: int
    stix_id: str
    type: str
    modified: str
    owner: int
    tlp: TLP
    scope: Scope
    date_added: str
    revoked: bool
    provenance: str
    doc: str


@dataclass(frozen=True, slots=True)
class Arrival:
    """How many readable versions arrived in an hour with one marking and scope."""

    hour: str  # "2026-11-24T09"
    tlp: TLP
    scope: Scope
    versions: int


@dataclass(frozen=True, slots=True)
class ObjectQuery:
    """Filters for listing the latest versions, with a keyset cursor (``after`` a pk)."""

    types: tuple[str, ...] = ()
    tlps: tuple[TLP, ...] = ()
    owner: int | None = None
    modified_after: str | None = None
    text: str | None = None
    after: int | None = None
    limit: int = 100


@dataclass(frozen=True, slots=True)
class VersionQuery:
    """TAXII-style selection of object versions in ``date_added`` order.

    ``versions`` holds ``last``, ``first``, ``all`` or normalised timestamps;
    ``after`` is the (date_added, pk) keyset of the last row already returned.
    """

    collection: Collection | None = None
    ids: tuple[str, ...] = ()
    types: tuple[str, ...] = ()
    versions: tuple[str, ...] = ("last",)
    spec_versions: tuple[str, ...] = ()
    added_after: str | None = None
    after: tuple[str, int] | None = None
    limit: int = 100


class ObjectStore(Protocol):
    """What the services need of an object store."""

    def batch(self, size: int = 0) -> AbstractContextManager[ObjectBatch]: ...
    def list_latest(self, principal: Principal, query: ObjectQuery) -> list[ObjectRow]: ...
    def arrivals(self, principal: Principal, since_hour: str) -> list[Arrival]: ...
    def latest(self, principal: Principal, stix_id: str) -> ObjectRow | None: ...
    def versions(self, principal: Principal, stix_id: str) -> list[ObjectRow]: ...
    def access(
        self, principal: Principal, stix_id: str
    ) -> tuple[ObjectRow, ObjectAccess] | None: ...
    def add_share(self, pk: int, org: int, d: Distribution, now: datetime) -> None: ...
    def count_versions(self) -> int: ...
    def versions_page(self, principal: Principal, query: VersionQuery) -> list[ObjectRow]: ...
    def travel_page(
        self, here: str, peer: PeerAudience, after: tuple[str, int] | None, limit: int
    ) -> list[TravelRow]: ...


_ROW_COLUMNS = (
    stix_objects.c.pk,
    stix_objects.c.stix_id,
    stix_objects.c.type,
    stix_objects.c.modified,
    stix_objects.c.owner_org,
    stix_objects.c.tlp,
    stix_objects.c.scope,
    stix_objects.c.date_added,
    stix_objects.c.revoked,
    stix_objects.c.provenance,
    stix_objects.c.doc,
)


_TLPS = {t.value: t for t in TLP}
_SCOPES = {s.value: s for s in Scope}


def _row(r: Any) -> ObjectRow:
    # Reads build thousands of these a page: unpack by position, look enums up in dicts.
    pk, stix_id, type_, modified, owner, tlp, scope, added, revoked, provenance, doc = r[:11]
    return ObjectRow(
        pk,
        stix_id,
        type_,
        modified,
        owner,
        _TLPS[tlp],
        _SCOPES[scope],
        added,
        bool(revoked),
        provenance,
        doc,
    )


def _chunks(items: Sequence[Any]) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), _CHUNK):
        yield items[start : start + _CHUNK]


def escape_like(term: str) -> str:
    return term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


@dataclass(frozen=True, slots=True)
class TravelRow:
    """A version bound for a peer, with the audience it was shared with here."""

    row: ObjectRow
    group_id: int | None
    recipients: frozenset[int]
    via: str


class ObjectBatch:
    """One write transaction over the store."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    @property
    def connection(self) -> Connection:
        """For other repositories whose writes must commit or fail with this batch."""
        return self._conn

    def existing(self, keys: Iterable[tuple[str, str]]) -> dict[str, list[ExistingVersion]]:
        """Every stored version of the ids in ``keys`` ((stix_id, modified) pairs).

        Documents are fetched only for versions whose exact key is asked for: those are
        the ones a new version may duplicate or clash with.
        """
        wanted = set(keys)
        found: dict[str, list[ExistingVersion]] = {}
        c = stix_objects.c
        clashing: list[int] = []
        for chunk in _chunks(sorted({stix_id for stix_id, _ in wanted})):
            rows = self._conn.execute(
                select(c.pk, c.stix_id, c.modified, c.owner_org, c.is_latest).where(
                    c.stix_id.in_(chunk)
                )
            )
            for pk, stix_id, modified, owner, is_latest in rows:
                found.setdefault(stix_id, []).append(
                    ExistingVersion(pk, stix_id, modified, owner, None, bool(is_latest))
                )
                if (stix_id, modified) in wanted:
                    clashing.append(pk)
        docs: dict[int, str] = {}
        for chunk in _chunks(clashing):
            for pk, doc in self._conn.execute(select(c.pk, c.doc).where(c.pk.in_(chunk))):
                docs[pk] = doc
        if docs:
            found = {
                stix_id: [replace(v, doc=docs.get(v.pk)) for v in versions]
                for stix_id, versions in found.items()
            }
        return found

    def last_date_added(self) -> str | None:
        value: str | None = self._conn.execute(select(func.max(stix_objects.c.date_added))).scalar()
        return value

    def insert(
        self,
        versions: Sequence[NewVersion],
        date_added: Sequence[str],
        latest: Sequence[bool],
        superseded: Iterable[int],
    ) -> None:
        """Store ``versions``; rows in ``superseded`` stop being the latest of their id."""
        stale = sorted(set(superseded))
        for chunk in _chunks(stale):
            self._conn.execute(
                update(stix_objects).where(stix_objects.c.pk.in_(chunk)).values(is_latest=False)
            )
        if not versions:
            return
        _count_arrivals(
            self._conn,
            (
                (added, v.owner, v.distribution)
                for v, added in zip(versions, date_added, strict=True)
            ),
            +1,
        )
        rows = [
            (
                v.stix_id,
                v.type,
                v.spec_version,
                v.created,
                v.modified,
                v.owner,
                v.revoked,
                v.distribution.tlp.value,
                v.distribution.scope.value,
                v.distribution.group,
                added,
                is_latest,
                v.search_text,
                v.provenance,
                v.via,
                v.doc,
            )
            for v, added, is_latest in zip(versions, date_added, latest, strict=True)
        ]
        if not any(v.distribution.recipients for v in versions):
            insert_rows(self._conn, stix_objects, VERSION_COLUMNS, rows)
            return
        params = [dict(zip(VERSION_COLUMNS, row, strict=True)) for row in rows]
        pks = self._conn.execute(
            insert(stix_objects).returning(stix_objects.c.pk, sort_by_parameter_order=True), params
        ).scalars()
        recipients = [
            {"object_pk": pk, "org_id": org}
            for pk, v in zip(pks, versions, strict=True)
            for org in sorted(v.distribution.recipients)
        ]
        self._conn.execute(insert(object_recipients), recipients)

    def delete_versions(
        self, owner: int, stix_id: str, versions: tuple[str, ...]
    ) -> list[VersionKey]:
        """Delete the owner's versions of ``stix_id`` matching TAXII ``match[version]``
        terms; the newest left becomes the latest. The keys of the versions deleted."""
        c = stix_objects.c
        doomed = self._conn.execute(
            select(c.pk, c.modified).where(
                c.stix_id == stix_id, c.owner_org == owner, _versions(versions)
            )
        ).all()
        pks = [pk for pk, _ in doomed]
        for chunk in _chunks(pks):
            _count_arrivals(self._conn, _stored(self._conn, chunk), -1)
            self._conn.execute(delete(stix_objects).where(c.pk.in_(chunk)))
        newest = self._conn.execute(
            select(c.pk).where(c.stix_id == stix_id).order_by(c.modified.desc()).limit(1)
        ).scalar()
        if newest is not None:
            self._conn.execute(
                update(stix_objects).where(c.stix_id == stix_id).values(is_latest=c.pk == newest)
            )
        return [VersionKey(stix_id, modified) for _, modified in doomed]


class SQLObjectStore:
    """``ObjectStore`` on SQLAlchemy: SQLite or PostgreSQL."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    @contextmanager
    def batch(self, size: int = 0) -> Iterator[ObjectBatch]:
        """One write transaction; ``size``, the versions it will write, when known: a bulk
        write brings PostgreSQL's statistics up to date first (``refresh_statistics``)."""
        if size >= _BULK:
            refresh_statistics(self._engine, stix_objects)
        with write(self._engine, serialise=_WRITER_LOCK) as conn:
            yield ObjectBatch(conn)

    def list_latest(self, principal: Principal, query: ObjectQuery) -> list[ObjectRow]:
        """The latest versions ``principal`` may read, in storage order, after the cursor."""
        after = query.after
        paged = after is not None
        stmt = _latest_page(principal.org, principal.groups, replace(query, after=None), paged)
        with self._engine.connect() as conn:
            return [_row(r) for r in conn.execute(stmt, {"after": after} if paged else {})]

    def arrivals(self, principal: Principal, since_hour: str) -> list[Arrival]:
        """Versions ``principal`` may read stored from ``since_hour`` on, by hour, TLP, scope."""
        a = object_arrivals.c
        stmt = (
            select(a.hour, a.tlp, a.scope, func.sum(a.versions).label("n"))
            .where(a.hour >= since_hour, gate.counted(principal))
            .group_by(a.hour, a.tlp, a.scope)
        )
        with self._engine.connect() as conn:
            return [
                Arrival(r.hour, TLP(r.tlp), Scope(r.scope), int(r.n))
                for r in conn.execute(stmt)
                if r.n
            ]

    def latest(self, principal: Principal, stix_id: str) -> ObjectRow | None:
        c = stix_objects.c
        stmt = select(*_ROW_COLUMNS).where(
            c.stix_id == stix_id, checked(and_(c.is_latest.is_(True), gate.readable(principal)))
        )
        with self._engine.connect() as conn:
            row = conn.execute(stmt).first()
        return _row(row) if row else None

    def versions(self, principal: Principal, stix_id: str) -> list[ObjectRow]:
        c = stix_objects.c
        stmt = (
            select(*_ROW_COLUMNS)
            .where(c.stix_id == stix_id, checked(gate.readable(principal)))
            .order_by(c.modified)
        )
        with self._engine.connect() as conn:
            return [_row(r) for r in conn.execute(stmt)]

    def access(self, principal: Principal, stix_id: str) -> tuple[ObjectRow, ObjectAccess] | None:
        """The latest version, if readable, with everything the gate knows of it."""
        row = self.latest(principal, stix_id)
        if row is None:
            return None
        with self._engine.connect() as conn:
            group = conn.execute(
                select(stix_objects.c.group_id).where(stix_objects.c.pk == row.pk)
            ).scalar()
            recipients = frozenset(
                conn.execute(
                    select(object_recipients.c.org_id).where(
                        object_recipients.c.object_pk == row.pk
                    )
                ).scalars()
            )
            shares = []
            for s in conn.execute(select(object_shares).where(object_shares.c.object_pk == row.pk)):
                share_to = frozenset(
                    conn.execute(
                        select(share_recipients.c.org_id).where(share_recipients.c.share_id == s.id)
                    ).scalars()
                )
                shares.append(Distribution(TLP(s.tlp), Scope(s.scope), share_to, s.group_id))
        own = Distribution(row.tlp, row.scope, recipients, group)
        return row, ObjectAccess(owner=row.owner, distribution=own, shares=tuple(shares))

    def add_share(self, pk: int, org: int, d: Distribution, now: datetime) -> None:
        with write(self._engine) as conn:
            share_id = conn.execute(
                insert(object_shares)
                .values(
                    object_pk=pk,
                    org_id=org,
                    tlp=d.tlp.value,
                    scope=d.scope.value,
                    group_id=d.group,
                    created=now,
                )
                .returning(object_shares.c.id)
            ).scalar_one()
            if d.recipients:
                conn.execute(
                    insert(share_recipients),
                    [{"share_id": share_id, "org_id": o} for o in sorted(d.recipients)],
                )

    def count_versions(self) -> int:
        with self._engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(stix_objects)).scalar() or 0)

    def versions_page(self, principal: Principal, query: VersionQuery) -> list[ObjectRow]:
        """Readable versions matching ``query``, oldest ``date_added`` first."""
        c = stix_objects.c
        condition = and_(gate.readable(principal), _versions(query.versions))
        stmt = select(*_ROW_COLUMNS).where(checked(condition) if query.ids else condition)
        if query.collection is not None:
            stmt = stmt.where(_in_collection(query.collection))
        if query.ids:
            stmt = stmt.where(c.stix_id.in_(query.ids))
        if query.types:
            stmt = stmt.where(c.type.in_(query.types))
        if query.spec_versions:
            stmt = stmt.where(c.spec_version.in_(query.spec_versions))
        if query.added_after:
            stmt = stmt.where(c.date_added > query.added_after)
        if query.after is not None:
            added, pk = query.after
            stmt = stmt.where(_after_keyset(added, pk))
        stmt = stmt.order_by(c.date_added, c.pk).limit(query.limit)
        with self._engine.connect() as conn:
            return [_row(r) for r in conn.execute(stmt)]

    def travel_page(
        self,
        here: str,
        peer: PeerAudience,
        after: tuple[str, int] | None,
        limit: int,
    ) -> list[TravelRow]:
        """Versions that may go to ``peer`` (``gate.travels_to``), in date_added order."""
        c = stix_objects.c
        stmt = select(*_ROW_COLUMNS, c.group_id, c.via).where(gate.travels_to(here, peer))
        if after is not None:
            added, pk = after
            stmt = stmt.where(_after_keyset(added, pk))
        stmt = stmt.order_by(c.date_added, c.pk).limit(limit)
        with self._engine.connect() as conn:
            rows = conn.execute(stmt).all()
            pks = [r.pk for r in rows]
            recipients: dict[int, set[int]] = {}
            for chunk in _chunks(pks):
                for r in conn.execute(
                    select(object_recipients).where(object_recipients.c.object_pk.in_(chunk))
                ):
                    recipients.setdefault(r.object_pk, set()).add(r.org_id)
        return [
            TravelRow(_row(r), r.group_id, frozenset(recipients.get(r.pk, ())), r.via) for r in rows
        ]


def _count_arrivals(
    conn: Connection, stored: Iterable[tuple[str, int, Distribution]], sign: int
) -> None:
    """Add (``sign`` +1) or take away (-1) versions, as (date_added, owner, distribution),
    in the hourly arrival counts."""
    counts: Counter[tuple[str, int, str, str, int, int]] = Counter()
    for added, owner, d in stored:
        base = (added[:13], owner, d.tlp.value, d.scope.value, d.group or 0)
        counts[(*base, 0)] += 1
        if d.scope is not Scope.RECIPIENTS:
            continue
        for org in d.recipients:
            if org != owner:
                counts[(*base, org)] += 1
    if not counts:
        return
    rows = [
        dict(zip(_ARRIVAL_KEY, key, strict=True), versions=sign * n) for key, n in counts.items()
    ]
    dialect_insert = pg_insert if conn.dialect.name == "postgresql" else sqlite_insert
    stmt = dialect_insert(object_arrivals)
    stmt = stmt.on_conflict_do_update(
        index_elements=list(_ARRIVAL_KEY),
        set_={"versions": object_arrivals.c.versions + stmt.excluded.versions},
    )
    conn.execute(stmt, rows)


def _stored(conn: Connection, pks: Sequence[int]) -> list[tuple[str, int, Distribution]]:
    """(date_added, owner, distribution) of stored versions, for their arrival counts."""
    c = stix_objects.c
    recipients: dict[int, set[int]] = {}
    for pk, org in conn.execute(
        select(object_recipients.c.object_pk, object_recipients.c.org_id).where(
            object_recipients.c.object_pk.in_(pks)
        )
    ):
        recipients.setdefault(pk, set()).add(org)
    rows = conn.execute(
        select(c.pk, c.date_added, c.owner_org, c.tlp, c.scope, c.group_id).where(c.pk.in_(pks))
    )
    return [
        (
            r.date_added,
            r.owner_org,
            Distribution(
                TLP(r.tlp), Scope(r.scope), frozenset(recipients.get(r.pk, ())), r.group_id
            ),
        )
        for r in rows
    ]


_ARRIVAL_KEY = ("hour", "owner_org", "tlp", "scope", "group_id", "recipient_org")


class checked(FunctionElement[bool]):  # noqa: N801 (an SQL construct's name)
    """A condition each row found must meet, never used by SQLite to find the rows.

    A fresh SQLite database has no statistics, and its planner then drives a read of
    given ids by whatever index it rates as selective: the is_latest indexes, or every
    branch of the gate, each walking a large part of the table (a get on 3 million
    versions read them all). Wrapped, as ``likely(X) = 1``, a condition is an
    expression no index holds, so the id's own index finds the rows and the condition
    is checked on each. PostgreSQL keeps statistics and gets the bare condition.
    """

    type = Boolean()
    inherit_cache = True
    name = "checked"


@compiles(checked)
def _checked(element: checked, compiler: SQLCompiler, **kw: Any) -> str:
    return f"({compiler.process(element.clauses, **kw)})"


@compiles(checked, "sqlite")
def _checked_sqlite(element: checked, compiler: SQLCompiler, **kw: Any) -> str:
    return f"likely({compiler.process(element.clauses, **kw)})"


# Building a page's statement (a union of the gate's branches) cost more than running it
# on SQLite; SQL expressions are immutable, so one per reader and filters serves every
# request and every page of theirs (the cursor is a bound parameter). Bounded.
@functools.lru_cache(maxsize=256)
def _latest_page(
    org: int | None, groups: frozenset[int], query: ObjectQuery, paged: bool
) -> Select[Any]:
    c = stix_objects.c
    filters: list[ColumnElement[bool]] = [c.is_latest.is_(True)]
    if query.types:
        filters.append(c.type.in_(query.types))
    if query.tlps:
        filters.append(c.tlp.in_([t.value for t in query.tlps]))
    if query.owner is not None:
        filters.append(c.owner_org == query.owner)
    if query.modified_after:
        filters.append(c.modified > query.modified_after)
    if query.text:
        pattern = f"%{escape_like(query.text.lower())}%"
        filters.append(c.search_text.like(pattern, escape="\\"))
    if paged:
        filters.append(c.pk > bindparam("after"))
    principal = Principal(org=org, groups=groups)
    page = _merged_scans(principal, filters, query.limit, newest_first=False)
    return select(*_ROW_COLUMNS).where(c.pk.in_(page)).order_by(c.pk)


def _merged_scans(
    principal: Principal, filters: list[ColumnElement[bool]], limit: int, *, newest_first: bool
) -> Any:
    """The pks of the first ``limit`` rows ``principal`` may read, in pk order.

    Each branch of the gate is its own ordered, limited scan; their union, cut to the
    page, is what is read. A page costs about the same whether the reader may see
    everything or almost nothing.
    """
    c = stix_objects.c
    order = c.pk.desc() if newest_first else c.pk
    scans = [
        select(c.pk).where(branch, *filters).order_by(order).limit(limit).subquery()
        for branch in gate.readable_branches(principal)
    ]
    merged = union(*(select(scan.c.pk) for scan in scans)).subquery()
    return (
        select(merged.c.pk)
        .order_by(merged.c.pk.desc() if newest_first else merged.c.pk)
        .limit(limit)
    )


def _after_keyset(added: str, pk: int) -> ColumnElement[bool]:
    """Rows after (date_added, pk). The first, redundant term gives planners an index range;
    without it SQLite scans from the start of the index for every page."""
    c = stix_objects.c
    return and_(c.date_added >= added, or_(c.date_added > added, c.pk > pk))


def _versions(wanted: tuple[str, ...]) -> ColumnElement[bool]:
    """SQL for TAXII's match[version]: last, first, all, or exact timestamps."""
    c = stix_objects.c
    if "all" in wanted or not wanted:
        return true()
    older = aliased(stix_objects)
    terms: list[ColumnElement[bool]] = []
    if "last" in wanted:
        terms.append(c.is_latest.is_(True))
    if "first" in wanted:
        terms.append(~exists().where(older.c.stix_id == c.stix_id, older.c.modified < c.modified))
    stamps = [v for v in wanted if v not in ("last", "first")]
    if stamps:
        terms.append(c.modified.in_(stamps))
    return or_(*terms)


def _in_collection(collection: Collection) -> ColumnElement[bool]:
    c = stix_objects.c
    if collection.kind is CollectionKind.COMMUNITY:
        return c.scope.in_([Scope.COMMUNITY.value, Scope.FEDERATION.value])
    if collection.kind is CollectionKind.PUBLIC:
        return c.scope == Scope.PUBLIC.value
    if collection.kind is CollectionKind.GROUP:
        return and_(c.scope == Scope.GROUP.value, c.group_id == collection.group_id)
    return and_(
        c.scope == Scope.RECIPIENTS.value,
        exists().where(
            object_recipients.c.object_pk == c.pk, object_recipients.c.org_id == collection.org_id
        ),
    )
