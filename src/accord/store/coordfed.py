"""Coordination between nodes: the outbox of signed coordination messages, and the
message ids already applied here (so a message sent twice is applied once).

An outgoing message is queued in the transaction that causes it (a request filed, a
transition, a thread message), so a crash never loses one and a rolled-back change
never sends one; the courier (``coordinate.federation.Courier``) sends each destination's
queue in order, and a message leaves the queue only when its home node accepted it
(``sent``) or refused it for good (``refused``, with the reason).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import orjson
from sqlalchemy import (
    Column,
    Index,
    Integer,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.engine import Connection, Engine

from accord.store.db import write
from accord.store.tables import BigPK, metadata
from accord.store.types import UTCDateTime

coord_outbox = Table(
    "coord_outbox",
    metadata,
    Column("id", BigPK, primary_key=True),
    Column("node", String(32), nullable=False),  # the destination node's id
    Column("msg_id", String(64), nullable=False, unique=True),
    Column("kind", String(40), nullable=False),
    Column("request_uid", String(64), nullable=True),  # the request it is about
    Column("body", Text, nullable=False),  # the message (JSON), signed when it leaves
    Column("created", UTCDateTime, nullable=False),
    Column("status", String(10), nullable=False),  # pending | sent | refused
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_attempt", UTCDateTime, nullable=False),
    Column("sent", UTCDateTime, nullable=True),
    Column("last_error", Text, nullable=True),
    Index("ix_coord_outbox_due", "status", "node", "id"),
)

coord_fed_seen = Table(
    "coord_fed_seen",
    metadata,
    Column("node", String(32), nullable=False),  # the node that sent it
    Column("msg_id", String(64), nullable=False),
    Column("at", UTCDateTime, nullable=False),
    PrimaryKeyConstraint("node", "msg_id"),
)


@dataclass(frozen=True, slots=True)
class Outgoing:
    id: int
    node: str
    msg_id: str
    kind: str
    request_uid: str | None
    body: str
    attempts: int


def enqueue(
    conn: Connection,
    *,
    node: str,
    msg_id: str,
    kind: str,
    request_uid: str | None,
    body: str,
    now: datetime,
) -> None:
    """Queue one message for ``node``, inside the caller's transaction."""
    conn.execute(
        insert(coord_outbox).values(
            node=node,
            msg_id=msg_id,
            kind=kind,
            request_uid=request_uid,
            body=body,
            created=now,
            status="pending",
            attempts=0,
            next_attempt=now,
        )
    )


def contact_versions(conn: Connection) -> dict[tuple[str, int], int]:
    """The newest version of each contact queued for each node (not refused there):
    (node, contact id) to version."""
    o = coord_outbox.c
    query = select(o.node, o.body).where(o.kind == "contact", o.status != "refused")
    found: dict[tuple[str, int], int] = {}
    for node, body in conn.execute(query):
        contact = orjson.loads(body).get("contact") or {}
        contact_id, version = contact.get("id"), contact.get("version")
        if isinstance(contact_id, int) and isinstance(version, int):
            key = (str(node), contact_id)
            found[key] = max(found.get(key, 0), version)
    return found


def queued_check_acks(conn: Connection) -> set[tuple[str, str, int]]:
    """(node, check uid, contact id) of every acknowledgement ever queued for a node."""
    o = coord_outbox.c
    found: set[tuple[str, str, int]] = set()
    for node, body in conn.execute(select(o.node, o.body).where(o.kind == "check-ack")):
        message = orjson.loads(body)
        check, contact = message.get("check"), message.get("contact")
        if isinstance(check, str) and isinstance(contact, int):
            found.add((str(node), check, contact))
    return found


def mark_seen(conn: Connection, node: str, msg_id: str, now: datetime) -> bool:
    """Record that ``node``'s message ``msg_id`` is applied here; False if it already was."""
    s = coord_fed_seen.c
    found = conn.execute(select(s.msg_id).where(s.node == node, s.msg_id == msg_id)).first()
    if found is not None:
        return False
    # Two deliveries of one message at once: the second's insert fails, its transaction
    # rolls back whole, and its sender, told to retry, finds it applied.
    conn.execute(insert(coord_fed_seen).values(node=node, msg_id=msg_id, at=now))
    return True


def is_seen(engine: Engine, node: str, msg_id: str) -> bool:
    """Whether ``node``'s message ``msg_id`` was applied here."""
    s = coord_fed_seen.c
    with engine.connect() as conn:
        return (
            conn.execute(select(s.msg_id).where(s.node == node, s.msg_id == msg_id)).first()
            is not None
        )


class OutboxRepository:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    @property
    def engine(self) -> Engine:
        return self._engine

    def add(self, node: str, msg_id: str, kind: str, body: str, now: datetime) -> None:
        """Queue one message in a transaction of its own."""
        with write(self._engine) as conn:
            enqueue(conn, node=node, msg_id=msg_id, kind=kind, request_uid=None, body=body, now=now)

    def due_nodes(self, now: datetime) -> list[str]:
        """The destinations with a message due now (cheap: one indexed query)."""
        o = coord_outbox.c
        query = select(o.node).where(o.status == "pending", o.next_attempt <= now).group_by(o.node)
        with self._engine.connect() as conn:
            return list(conn.execute(query).scalars())

    def head(self, node: str, limit: int) -> list[Outgoing]:
        """``node``'s oldest pending messages, in the order they were queued.

        Sent in that order: a transition never arrives before the request it moves."""
        o = coord_outbox.c
        query = (
            select(o.id, o.node, o.msg_id, o.kind, o.request_uid, o.body, o.attempts)
            .where(o.status == "pending", o.node == node)
            .order_by(o.id)
            .limit(limit)
        )
        with self._engine.connect() as conn:
            return [Outgoing(*r) for r in conn.execute(query)]

    def sent(self, item: Outgoing, now: datetime) -> None:
        with write(self._engine) as conn:
            conn.execute(
                update(coord_outbox)
                .where(coord_outbox.c.id == item.id)
                .values(status="sent", sent=now, attempts=item.attempts + 1, last_error=None)
            )

    def refused(self, item: Outgoing, reason: str) -> None:
        with write(self._engine) as conn:
            conn.execute(
                update(coord_outbox)
                .where(coord_outbox.c.id == item.id)
                .values(status="refused", attempts=item.attempts + 1, last_error=reason)
            )

    def retry(self, node: str, error: str, at: datetime) -> None:
        """Every pending message to ``node`` waits until ``at`` (its queue stays in order)."""
        o = coord_outbox.c
        with write(self._engine) as conn:
            conn.execute(
                update(coord_outbox)
                .where(o.status == "pending", o.node == node)
                .values(next_attempt=at, attempts=o.attempts + 1, last_error=error)
            )

    def pending(self, request_uids: Sequence[str]) -> dict[str, tuple[int, str | None]]:
        """For each request with messages still queued: how many, and the last error."""
        if not request_uids:
            return {}
        o = coord_outbox.c
        query = (
            select(o.request_uid, func.count(), func.max(o.last_error))
            .where(o.status == "pending", o.request_uid.in_(list(request_uids)))
            .group_by(o.request_uid)
        )
        with self._engine.connect() as conn:
            return {r[0]: (r[1], r[2]) for r in conn.execute(query)}

    def count(self, status: str) -> int:
        query = (
            select(func.count()).select_from(coord_outbox).where(coord_outbox.c.status == status)
        )
        with self._engine.connect() as conn:
            return int(conn.execute(query).scalar_one())
