"""Privacy's tables: rules per destination, pseudonym keys, the transfer log, purges.

The transfer log keeps, per destination and object version, the document as it was
sent (so a version has one form per destination, however the rules change later) and
what was rewritten in it as (field path, kind) pairs, never the values.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import (
    Column,
    Engine,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
    delete,
    insert,
    select,
    update,
)

from accord.errors import Conflict, NotFound
from accord.store.db import write
from accord.store.tables import BigPK, metadata, peers, stix_objects
from accord.store.types import UTCDateTime

# Advisory locks (PostgreSQL) for check-then-insert writes.
_KEYS_LOCK = 0x_ACC0_70
_TRANSFERS_LOCK = 0x_ACC0_71

privacy_rules = Table(
    "privacy_rules",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("state", String(2), nullable=False),  # "*": any state
    Column("kind", String(40), nullable=False),  # "*": any kind of organisation
    Column("action", String(16), nullable=False),
    Column("basis", String(40), nullable=False),
    Column("note", String(500), nullable=False),
    Column("created", UTCDateTime, nullable=False),
    UniqueConstraint("state", "kind"),
)

# Pseudonym keys, one per sharing group ("*": objects shared outside any group).
privacy_keys = Table(
    "privacy_keys",
    metadata,
    Column("scope", String(80), primary_key=True),
    Column("secret", String(64), nullable=False),
    Column("created", UTCDateTime, nullable=False),
)

privacy_transfers = Table(
    "privacy_transfers",
    metadata,
    Column("id", BigPK, primary_key=True),
    Column("destination", String(200), nullable=False),  # "peer:<name>" or "org:<id>"
    Column("peer_id", ForeignKey("peers.id", ondelete="SET NULL"), nullable=True),
    Column("owner", Integer, nullable=False),
    Column("stix_id", String(100), nullable=False),
    Column("modified", String(40), nullable=False),
    Column("action", String(16), nullable=False),
    Column("basis", String(40), nullable=False),
    Column("rule_id", Integer, nullable=True),
    Column("redactions", Text, nullable=False),  # JSON [[path, kind], ...]
    Column("doc", Text, nullable=True),  # what was sent; None once withheld or erased
    Column("sent", UTCDateTime, nullable=False),
    UniqueConstraint("destination", "stix_id", "modified"),
    Index("ix_privacy_transfers_stix_id", "stix_id"),
)

# How long objects of a type and marking are kept ("*": any), counted from date_added.
privacy_retention = Table(
    "privacy_retention",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("type", String(62), nullable=False),
    Column("tlp", String(20), nullable=False),
    Column("days", Integer, nullable=False),
    Column("created", UTCDateTime, nullable=False),
    UniqueConstraint("type", "tlp"),
)

privacy_purges = Table(
    "privacy_purges",
    metadata,
    Column("id", BigPK, primary_key=True),
    Column("stix_id", String(100), nullable=False),
    Column("type", String(62), nullable=False),
    Column("tlp", String(20), nullable=False),
    Column("versions", Integer, nullable=False),
    Column("reason", String(200), nullable=False),
    Column("purged", UTCDateTime, nullable=False),
)


# Erasure across the federation: what this node asked of its peers, and what it was asked.
privacy_erasures = Table(
    "privacy_erasures",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("stix_id", String(100), nullable=False),
    Column("owner", Integer, nullable=False),
    Column("nonce", String(64), nullable=False, unique=True),
    Column("requested", UTCDateTime, nullable=False),
)

privacy_erasure_peers = Table(
    "privacy_erasure_peers",
    metadata,
    Column("erasure_id", ForeignKey("privacy_erasures.id", ondelete="CASCADE"), primary_key=True),
    Column("peer_id", ForeignKey("peers.id", ondelete="CASCADE"), primary_key=True),
    Column("confirmed", UTCDateTime, nullable=True),
    Column("versions", Integer, nullable=True),
    Column("receipt", Text, nullable=True),  # the peer's signed receipt, as it came
    Column("last_error", String(1000), nullable=True),
)

privacy_erasures_received = Table(
    "privacy_erasures_received",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("from_node", String(32), nullable=False),
    Column("nonce", String(64), nullable=False),
    Column("stix_id", String(100), nullable=False),
    Column("versions", Integer, nullable=False),
    Column("received", UTCDateTime, nullable=False),
    UniqueConstraint("from_node", "nonce"),
)


@dataclass(frozen=True, slots=True)
class Rule:
    id: int
    state: str
    kind: str
    action: str
    basis: str
    note: str
    created: datetime


@dataclass(frozen=True, slots=True)
class Transfer:
    """One object version that left for one destination, and how."""

    id: int
    destination: str
    owner: int
    stix_id: str
    modified: str
    action: str
    basis: str
    rule_id: int | None
    redactions: tuple[tuple[str, str], ...]
    sent: datetime


@dataclass(frozen=True, slots=True)
class NewTransfer:
    destination: str
    peer_id: int | None
    owner: int
    stix_id: str
    modified: str
    action: str
    basis: str
    rule_id: int | None
    redactions: Sequence[tuple[str, str]]
    doc: str | None


@dataclass(frozen=True, slots=True)
class Retention:
    id: int
    type: str
    tlp: str
    days: int


@dataclass(frozen=True, slots=True)
class Held:
    """The latest version of an object this node holds, as retention sees it."""

    stix_id: str
    type: str
    tlp: str
    date_added: str


@dataclass(frozen=True, slots=True)
class ErasurePeer:
    peer_id: int
    peer_name: str
    confirmed: datetime | None
    versions: int | None
    last_error: str | None


@dataclass(frozen=True, slots=True)
class Erasure:
    id: int
    stix_id: str
    owner: int
    nonce: str
    requested: datetime
    peers: tuple[ErasurePeer, ...]


@dataclass(frozen=True, slots=True)
class Purge:
    id: int
    stix_id: str
    type: str
    tlp: str
    versions: int
    reason: str
    purged: datetime


def _rule(r: Any) -> Rule:
    return Rule(r.id, r.state, r.kind, r.action, r.basis, r.note, r.created)


def _transfer(r: Any) -> Transfer:
    pairs = tuple((str(p), str(k)) for p, k in orjson.loads(r.redactions))
    return Transfer(
        r.id,
        r.destination,
        r.owner,
        r.stix_id,
        r.modified,
        r.action,
        r.basis,
        r.rule_id,
        pairs,
        r.sent,
    )


class PrivacyRepository:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    # Rules ---------------------------------------------------------------------------
    def rules(self) -> list[Rule]:
        with self._engine.connect() as conn:
            rows = conn.execute(select(privacy_rules).order_by(privacy_rules.c.id))
            return [_rule(r) for r in rows]

    def add_rule(
        self, state: str, kind: str, action: str, basis: str, note: str, now: datetime
    ) -> Rule:
        with write(self._engine) as conn:
            clash = conn.execute(
                select(privacy_rules.c.id).where(
                    privacy_rules.c.state == state, privacy_rules.c.kind == kind
                )
            ).first()
            if clash is not None:
                raise Conflict(f"a rule for state {state!r} and kind {kind!r} exists (#{clash.id})")
            rule_id = conn.execute(
                insert(privacy_rules)
                .values(state=state, kind=kind, action=action, basis=basis, note=note, created=now)
                .returning(privacy_rules.c.id)
            ).scalar_one()
        return Rule(int(rule_id), state, kind, action, basis, note, now)

    def delete_rule(self, rule_id: int) -> None:
        with write(self._engine) as conn:
            gone = conn.execute(delete(privacy_rules).where(privacy_rules.c.id == rule_id))
            if gone.rowcount == 0:
                raise NotFound(f"no privacy rule #{rule_id}")

    # Keys ----------------------------------------------------------------------------
    def key(self, scope: str, fresh: str, now: datetime) -> str:
        """The secret kept for ``scope``; ``fresh`` becomes it if there is none yet."""
        query = select(privacy_keys.c.secret).where(privacy_keys.c.scope == scope)
        with self._engine.connect() as conn:
            found = conn.execute(query).scalar_one_or_none()
        if found is not None:
            return str(found)
        with write(self._engine, serialise=_KEYS_LOCK) as conn:
            found = conn.execute(query).scalar_one_or_none()
            if found is None:
                conn.execute(insert(privacy_keys).values(scope=scope, secret=fresh, created=now))
                return fresh
            return str(found)

    # Transfers -----------------------------------------------------------------------
    def disclosed(
        self, destination: str, versions: Iterable[tuple[str, str]]
    ) -> dict[tuple[str, str], tuple[str, str | None]]:
        """(action, document kept) of these (id, modified) versions already logged for
        ``destination``."""
        wanted = set(versions)
        ids = sorted({stix_id for stix_id, _ in wanted})
        found: dict[tuple[str, str], tuple[str, str | None]] = {}
        t = privacy_transfers.c
        # By id on the (destination, stix_id, modified) index, which both stores walk;
        # a row-value IN is a scan on SQLite.
        with self._engine.connect() as conn:
            for i in range(0, len(ids), 500):
                rows = conn.execute(
                    select(t.stix_id, t.modified, t.action, t.doc).where(
                        t.destination == destination, t.stix_id.in_(ids[i : i + 500])
                    )
                )
                for r in rows:
                    if (r.stix_id, r.modified) in wanted:
                        found[(r.stix_id, r.modified)] = (r.action, r.doc)
        return found

    def groups_of(self, pks: Iterable[int]) -> dict[int, int]:
        """The sharing group of each of these stored versions shared with a group."""
        c = stix_objects.c
        wanted = sorted(set(pks))
        found: dict[int, int] = {}
        with self._engine.connect() as conn:
            for i in range(0, len(wanted), 500):
                query = select(c.pk, c.group_id).where(
                    c.pk.in_(wanted[i : i + 500]), c.group_id.is_not(None)
                )
                found.update((r.pk, r.group_id) for r in conn.execute(query))
        return found

    def record(self, transfers: Sequence[NewTransfer], now: datetime) -> None:
        """Log these transfers; a version already logged for its destination is kept."""
        if not transfers:
            return
        t = privacy_transfers.c
        with write(self._engine, serialise=_TRANSFERS_LOCK) as conn:
            have: set[tuple[str, str, str]] = set()
            by_destination: dict[str, set[str]] = {}
            for n in transfers:
                by_destination.setdefault(n.destination, set()).add(n.stix_id)
            # By id on the (destination, stix_id, modified) index, as ``disclosed`` reads.
            for destination, wanted in by_destination.items():
                ids = sorted(wanted)
                for i in range(0, len(ids), 500):
                    found = conn.execute(
                        select(t.stix_id, t.modified).where(
                            t.destination == destination, t.stix_id.in_(ids[i : i + 500])
                        )
                    )
                    have.update((destination, r.stix_id, r.modified) for r in found)
            rows = []
            for n in transfers:
                key = (n.destination, n.stix_id, n.modified)
                if key in have:
                    continue
                have.add(key)
                rows.append(
                    {
                        "destination": n.destination,
                        "peer_id": n.peer_id,
                        "owner": n.owner,
                        "stix_id": n.stix_id,
                        "modified": n.modified,
                        "action": n.action,
                        "basis": n.basis,
                        "rule_id": n.rule_id,
                        "redactions": orjson.dumps([list(p) for p in n.redactions]).decode(),
                        "doc": n.doc,
                        "sent": now,
                    }
                )
            if rows:
                conn.execute(insert(privacy_transfers), rows)

    def transfers(
        self, owner: int | None, stix_id: str | None, limit: int, before: int | None
    ) -> list[Transfer]:
        """The newest transfers first (of ``owner``'s objects; None: every owner)."""
        t = privacy_transfers.c
        query = select(privacy_transfers).order_by(t.id.desc()).limit(limit)
        if owner is not None:
            query = query.where(t.owner == owner)
        if stix_id is not None:
            query = query.where(t.stix_id == stix_id)
        if before is not None:
            query = query.where(t.id < before)
        with self._engine.connect() as conn:
            return [_transfer(r) for r in conn.execute(query)]

    # Purges --------------------------------------------------------------------------
    def record_purge(
        self, stix_id: str, type_: str, tlp: str, versions: int, reason: str, now: datetime
    ) -> Purge:
        with write(self._engine) as conn:
            new = conn.execute(
                insert(privacy_purges)
                .values(
                    stix_id=stix_id,
                    type=type_,
                    tlp=tlp,
                    versions=versions,
                    reason=reason,
                    purged=now,
                )
                .returning(privacy_purges.c.id)
            ).scalar_one()
        return Purge(int(new), stix_id, type_, tlp, versions, reason, now)

    def purges(self, limit: int = 100) -> list[Purge]:
        p = privacy_purges.c
        with self._engine.connect() as conn:
            rows = conn.execute(select(privacy_purges).order_by(p.id.desc()).limit(limit))
            return [
                Purge(r.id, r.stix_id, r.type, r.tlp, r.versions, r.reason, r.purged) for r in rows
            ]

    # Retention -----------------------------------------------------------------------
    def retention(self) -> list[Retention]:
        r = privacy_retention.c
        with self._engine.connect() as conn:
            rows = conn.execute(select(privacy_retention).order_by(r.id))
            return [Retention(x.id, x.type, x.tlp, x.days) for x in rows]

    def add_retention(self, type_: str, tlp: str, days: int, now: datetime) -> Retention:
        r = privacy_retention.c
        with write(self._engine) as conn:
            clash = conn.execute(
                select(r.id).where(r.type == type_, r.tlp == tlp)
            ).scalar_one_or_none()
            if clash is not None:
                raise Conflict(f"a retention rule for {type_!r} at {tlp!r} exists (#{clash})")
            new = conn.execute(
                insert(privacy_retention)
                .values(type=type_, tlp=tlp, days=days, created=now)
                .returning(r.id)
            ).scalar_one()
        return Retention(int(new), type_, tlp, days)

    def delete_retention(self, rule_id: int) -> None:
        with write(self._engine) as conn:
            gone = conn.execute(delete(privacy_retention).where(privacy_retention.c.id == rule_id))
            if gone.rowcount == 0:
                raise NotFound(f"no retention rule #{rule_id}")

    def held_before(self, cutoff: str, type_: str, tlp: str, limit: int) -> list[Held]:
        """Objects whose latest version was added before ``cutoff``, oldest first."""
        c = stix_objects.c
        query = (
            select(c.stix_id, c.type, c.tlp, c.date_added)
            .where(c.is_latest.is_(True), c.date_added < cutoff)
            .order_by(c.date_added)
            .limit(limit)
        )
        if type_ != "*":
            query = query.where(c.type == type_)
        if tlp != "*":
            query = query.where(c.tlp == tlp)
        with self._engine.connect() as conn:
            return [Held(r.stix_id, r.type, r.tlp, r.date_added) for r in conn.execute(query)]

    def forget_sent(self, stix_id: str) -> None:
        """Drop the copies kept of what was sent of ``stix_id`` (the log's rows stay)."""
        t = privacy_transfers.c
        with write(self._engine) as conn:
            conn.execute(update(privacy_transfers).where(t.stix_id == stix_id).values(doc=None))

    # Erasure ---------------------------------------------------------------------------
    def owner_of(self, stix_id: str) -> int | None:
        """The organisation that owns ``stix_id`` here, or None when no version is held."""
        c = stix_objects.c
        with self._engine.connect() as conn:
            found = conn.execute(select(c.owner_org).where(c.stix_id == stix_id).limit(1))
            owner = found.scalar_one_or_none()
        return int(owner) if owner is not None else None

    def recipients(self, stix_id: str) -> list[int]:
        """Peers that were sent some version of ``stix_id`` (withheld ones are not)."""
        t = privacy_transfers.c
        query = (
            select(t.peer_id)
            .where(t.stix_id == stix_id, t.peer_id.is_not(None), t.action != "refuse")
            .distinct()
        )
        with self._engine.connect() as conn:
            return sorted(int(p) for p in conn.execute(query).scalars())

    def add_erasure(
        self, stix_id: str, owner: int, nonce: str, peers: Sequence[int], now: datetime
    ) -> int:
        with write(self._engine) as conn:
            new = conn.execute(
                insert(privacy_erasures)
                .values(stix_id=stix_id, owner=owner, nonce=nonce, requested=now)
                .returning(privacy_erasures.c.id)
            ).scalar_one()
            if peers:
                conn.execute(
                    insert(privacy_erasure_peers),
                    [{"erasure_id": new, "peer_id": p} for p in peers],
                )
        return int(new)

    def erasure(self, erasure_id: int) -> Erasure:
        e, ep, pe = privacy_erasures.c, privacy_erasure_peers.c, peers.c
        with self._engine.connect() as conn:
            row = conn.execute(select(privacy_erasures).where(e.id == erasure_id)).first()
            if row is None:
                raise NotFound(f"no erasure #{erasure_id}")
            found = conn.execute(
                select(ep.peer_id, pe.name, ep.confirmed, ep.versions, ep.last_error)
                .join(peers, pe.id == ep.peer_id)
                .where(ep.erasure_id == erasure_id)
                .order_by(pe.name)
            )
            held = tuple(ErasurePeer(*r) for r in found)
        return Erasure(row.id, row.stix_id, row.owner, row.nonce, row.requested, held)

    def pending_erasures(self) -> list[int]:
        ep = privacy_erasure_peers.c
        query = select(ep.erasure_id).where(ep.confirmed.is_(None)).distinct()
        with self._engine.connect() as conn:
            return sorted(int(i) for i in conn.execute(query).scalars())

    def confirm(
        self, erasure_id: int, peer_id: int, versions: int, receipt: str, now: datetime
    ) -> None:
        ep = privacy_erasure_peers.c
        with write(self._engine) as conn:
            conn.execute(
                update(privacy_erasure_peers)
                .where(ep.erasure_id == erasure_id, ep.peer_id == peer_id)
                .values(confirmed=now, versions=versions, receipt=receipt, last_error=None)
            )

    def erasure_failed(self, erasure_id: int, peer_id: int, error: str) -> None:
        ep = privacy_erasure_peers.c
        with write(self._engine) as conn:
            conn.execute(
                update(privacy_erasure_peers)
                .where(ep.erasure_id == erasure_id, ep.peer_id == peer_id)
                .values(last_error=error[:1000])
            )

    def received(self, from_node: str, nonce: str) -> bool:
        r = privacy_erasures_received.c
        query = select(r.id).where(r.from_node == from_node, r.nonce == nonce)
        with self._engine.connect() as conn:
            return conn.execute(query).first() is not None

    def record_received(
        self, from_node: str, nonce: str, stix_id: str, versions: int, now: datetime
    ) -> None:
        with write(self._engine) as conn:
            conn.execute(
                insert(privacy_erasures_received).values(
                    from_node=from_node,
                    nonce=nonce,
                    stix_id=stix_id,
                    versions=versions,
                    received=now,
                )
            )

    def erasure_by_nonce(self, nonce: str) -> Erasure | None:
        e = privacy_erasures.c
        with self._engine.connect() as conn:
            found = conn.execute(select(e.id).where(e.nonce == nonce)).scalar_one_or_none()
        return self.erasure(int(found)) if found is not None else None
