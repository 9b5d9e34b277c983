"""Peers, their sync cursors, and the nonces of messages already accepted from them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from accord.errors import Conflict, NotFound
from accord.store.db import write
from accord.store.tables import federation_nonces, federation_pending, peers


@dataclass(frozen=True, slots=True)
class Peer:
    id: int
    name: str
    url: str
    node_id: str
    public_key: str
    token: str | None
    push_after: tuple[str, int] | None
    pull_after: str | None
    pushed: int
    pulled: int
    last_attempt: datetime | None
    last_success: datetime | None
    last_error: str | None
    audience: str | None = None
    refused: int = 0
    last_refusal: str | None = None
    rejected: int = 0
    last_rejection: str | None = None


def _peer(r: Any) -> Peer:
    push = (r.push_after_added, r.push_after_pk) if r.push_after_added else None
    return Peer(
        r.id,
        r.name,
        r.url,
        r.node_id,
        r.public_key,
        r.token,
        push,
        r.pull_next,
        r.pushed,
        r.pulled,
        r.last_attempt,
        r.last_success,
        r.last_error,
        r.audience,
        r.refused,
        r.last_refusal,
        r.rejected,
        r.last_rejection,
    )


class PeerRepository:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def add(
        self, name: str, url: str, node_id: str, public_key: str, token: str | None, now: datetime
    ) -> Peer:
        values = {
            "name": name,
            "url": url,
            "node_id": node_id,
            "public_key": public_key,
            "token": token,
            "created": now,
            "pushed": 0,
            "pulled": 0,
        }
        try:
            with write(self._engine) as conn:
                conn.execute(insert(peers).values(**values))
        except IntegrityError:
            raise Conflict(
                f"a peer named {name!r} or with that key is already registered"
            ) from None
        return self.get(name)

    def all(self) -> list[Peer]:
        with self._engine.connect() as conn:
            return [_peer(r) for r in conn.execute(select(peers).order_by(peers.c.name))]

    def get(self, name: str) -> Peer:
        with self._engine.connect() as conn:
            row = conn.execute(select(peers).where(peers.c.name == name)).first()
        if row is None:
            raise NotFound(f"no peer {name!r}; `accord peer list` shows them")
        return _peer(row)

    def by_id(self, peer_id: int) -> Peer:
        with self._engine.connect() as conn:
            row = conn.execute(select(peers).where(peers.c.id == peer_id)).first()
        if row is None:
            raise NotFound(f"no peer with id {peer_id}")
        return _peer(row)

    def set_token(self, peer_id: int, token: str) -> None:
        with write(self._engine) as conn:
            conn.execute(update(peers).where(peers.c.id == peer_id).values(token=token))

    def set_key(self, peer_id: int, public_key: str) -> None:
        """The peer's new public key, followed from a handover its previous key signed."""
        with write(self._engine) as conn:
            conn.execute(update(peers).where(peers.c.id == peer_id).values(public_key=public_key))

    def set_audience(self, peer_id: int, digest: str) -> None:
        with write(self._engine) as conn:
            conn.execute(update(peers).where(peers.c.id == peer_id).values(audience=digest))

    def refused(self, peer_id: int, count: int, reason: str) -> None:
        """Count ``count`` more objects the peer refused; ``reason`` is the latest."""
        with write(self._engine) as conn:
            conn.execute(
                update(peers)
                .where(peers.c.id == peer_id)
                .values(refused=peers.c.refused + count, last_refusal=reason)
            )

    def rejected(self, peer_id: int, reason: str) -> None:
        """Count one more message of the peer's this node rejected, and why."""
        with write(self._engine) as conn:
            conn.execute(
                update(peers)
                .where(peers.c.id == peer_id)
                .values(rejected=peers.c.rejected + 1, last_rejection=reason)
            )

    def pending(self, limit: int = 10_000) -> list[Pending]:
        """Versions waiting for delivery, oldest first."""
        with self._engine.connect() as conn:
            rows = conn.execute(
                select(federation_pending).order_by(federation_pending.c.id).limit(limit)
            )
            return [Pending(r.id, r.peer_id, r.doc, r.meta, r.reason) for r in rows]

    def pending_counts(self) -> dict[int, tuple[int, str]]:
        """Per peer: how many of its versions wait here, and the newest reason."""
        with self._engine.connect() as conn:
            rows = conn.execute(
                select(federation_pending.c.peer_id, federation_pending.c.reason).order_by(
                    federation_pending.c.id
                )
            ).all()
        counts: dict[int, tuple[int, str]] = {}
        for r in rows:
            counts[r.peer_id] = (counts.get(r.peer_id, (0, ""))[0] + 1, r.reason)
        return counts

    def attempt(self, peer_id: int, now: datetime, error: str | None) -> None:
        values: dict[str, Any] = {"last_attempt": now, "last_error": error}
        if error is None:
            values["last_success"] = now
        with write(self._engine) as conn:
            conn.execute(update(peers).where(peers.c.id == peer_id).values(**values))

    def advance_push(self, peer_id: int, after: tuple[str, int], count: int) -> None:
        with write(self._engine) as conn:
            conn.execute(
                update(peers)
                .where(peers.c.id == peer_id)
                .values(
                    push_after_added=after[0], push_after_pk=after[1], pushed=peers.c.pushed + count
                )
            )


@dataclass(frozen=True, slots=True)
class Pending:
    """A version a peer sent that waits here for what it needs to be delivered."""

    id: int
    peer_id: int
    doc: str
    meta: str
    reason: str


def keep_pending(
    conn: Connection, peer_id: int, held: list[tuple[str, str, str, str, str]], now: datetime
) -> None:
    """Keep versions (stix id, modified, doc, meta, reason) that wait for a group or an
    organisation, in the transaction that stored the rest of their message."""
    for stix_id, modified, doc, meta, reason in held:
        found = conn.execute(
            select(federation_pending.c.id).where(
                federation_pending.c.peer_id == peer_id,
                federation_pending.c.stix_id == stix_id,
                federation_pending.c.modified == modified,
            )
        ).first()
        if found is None:
            conn.execute(
                insert(federation_pending).values(
                    peer_id=peer_id,
                    stix_id=stix_id,
                    modified=modified,
                    doc=doc,
                    meta=meta,
                    reason=reason,
                    received=now,
                )
            )


def drop_pending(conn: Connection, ids: list[int]) -> None:
    if ids:
        conn.execute(delete(federation_pending).where(federation_pending.c.id.in_(ids)))


def record_nonce(conn: Connection, peer_id: int, nonce: str, now: datetime) -> bool:
    """Remember a message's nonce in the receiving transaction; False if seen before."""
    seen = conn.execute(
        select(federation_nonces.c.nonce).where(
            federation_nonces.c.peer_id == peer_id, federation_nonces.c.nonce == nonce
        )
    ).first()
    if seen is not None:
        return False
    conn.execute(insert(federation_nonces).values(peer_id=peer_id, nonce=nonce, seen=now))
    return True


def forget_nonces(conn: Connection, before: datetime) -> None:
    conn.execute(delete(federation_nonces).where(federation_nonces.c.seen < before))


def advance_pull(conn: Connection, peer_id: int, after: str, count: int) -> None:
    """Move the pull cursor in the same transaction that stored what was pulled."""
    conn.execute(
        update(peers)
        .where(peers.c.id == peer_id)
        .values(pull_next=after, pulled=peers.c.pulled + count)
    )
