"""Communication checks and their targets: one contact each, with a hashed token.

Acknowledging is the hot path (thousands a second in a large check): its statements are
built once, and acknowledgements arriving together are committed together.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    Column,
    ColumnElement,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    bindparam,
    insert,
    literal,
    select,
    true,
    update,
)
from sqlalchemy.engine import Connection, Engine

from accord.domain.coordination import CHECK_TLP, OPERATOR, Reader
from accord.domain.scope import Scope
from accord.errors import NotFound
from accord.store.contacts import confirm_in, coord_contacts
from accord.store.db import write
from accord.store.gate import Gated, readable_rows
from accord.store.groupcommit import GroupCommit
from accord.store.notifications import NewNotification, queue_in
from accord.store.tables import BigPK, metadata
from accord.store.types import UTCDateTime

coord_checks = Table(
    "coord_checks",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("organiser_org", ForeignKey("organisations.id"), nullable=False),
    Column("title", String(300), nullable=False),
    Column("created", UTCDateTime, nullable=False),
    Column("deadline", UTCDateTime, nullable=False),
    Column("remind_at", UTCDateTime, nullable=False),
    Column("reminded", Boolean, nullable=False, default=False),
    # Between nodes: the id both nodes know it by, and for a check run here for an
    # organiser homed elsewhere, that organiser's node (acknowledgements go back there).
    Column("uid", String(64), nullable=True, unique=True),
    Column("origin_node", String(32), nullable=True),
)

coord_check_targets = Table(
    "coord_check_targets",
    metadata,
    Column("id", BigPK, primary_key=True),
    Column("check_id", ForeignKey("coord_checks.id", ondelete="CASCADE"), nullable=False),
    Column("contact_id", ForeignKey("coord_contacts.id", ondelete="CASCADE"), nullable=False),
    # The contact's state and kind when the check started: results do not move afterwards.
    Column("state", String(2), nullable=True),
    Column("kind", String(20), nullable=False),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("acknowledged", UTCDateTime, nullable=True),
    Index("ix_coord_check_targets_check", "check_id", "contact_id"),
)

# ``coord_checks`` as the gate sees it (``coordinate.access.check_access``).
CHECKS = Gated(
    owner=coord_checks.c.organiser_org,
    scope=literal(Scope.ORGANISATION.value),
    tlp=literal(CHECK_TLP.value),
)


def _readable(reader: Reader) -> ColumnElement[bool]:
    """The checks ``reader`` may see: all for the operator and node admins."""
    if reader is OPERATOR or reader.is_admin():
        return true()
    return readable_rows(reader, CHECKS)


@dataclass(frozen=True, slots=True)
class NewCheck:
    organiser_org: int
    title: str
    created: datetime
    deadline: datetime
    remind_at: datetime
    uid: str | None = None
    origin_node: str | None = None


@dataclass(frozen=True, slots=True)
class NewTarget:
    """A contact in a new check, with its state and kind as they are when it starts."""

    contact_id: int
    state: str | None
    kind: str
    token_hash: str


@dataclass(frozen=True, slots=True)
class CheckRow:
    id: int
    organiser_org: int
    title: str
    created: datetime
    deadline: datetime
    remind_at: datetime
    reminded: bool
    uid: str | None = None
    origin_node: str | None = None


@dataclass(frozen=True, slots=True)
class TokenTarget:
    """What an acknowledgement token leads to: its target, check and contact's name."""

    id: int
    check_id: int
    contact_id: int
    token_hash: str
    acknowledged: datetime | None
    title: str
    deadline: datetime
    contact_name: str


@dataclass(frozen=True, slots=True)
class CheckTarget:
    """A contact in a check, as results and reminders need it."""

    id: int
    contact_id: int
    state: str | None
    kind: str
    acknowledged: datetime | None
    contact_name: str
    email: str | None
    org_id: int
    home_node: str | None = None  # a copy of a contact homed there: that node reminds it


_TARGET_BY_HASH = (
    select(
        coord_check_targets.c.id,
        coord_check_targets.c.check_id,
        coord_check_targets.c.contact_id,
        coord_check_targets.c.token_hash,
        coord_check_targets.c.acknowledged,
        coord_checks.c.title,
        coord_checks.c.deadline,
        coord_contacts.c.name,
    )
    .join(coord_checks, coord_checks.c.id == coord_check_targets.c.check_id)
    .join(coord_contacts, coord_contacts.c.id == coord_check_targets.c.contact_id)
    .where(coord_check_targets.c.token_hash == bindparam("b_hash"))
)
_ACK_TARGET = (
    update(coord_check_targets)
    .where(
        coord_check_targets.c.id == bindparam("b_id"),
        coord_check_targets.c.acknowledged.is_(None),
    )
    .values(acknowledged=bindparam("b_now"))
)


def _check(r: Any) -> CheckRow:
    return CheckRow(
        r.id,
        r.organiser_org,
        r.title,
        r.created,
        r.deadline,
        r.remind_at,
        bool(r.reminded),
        r.uid,
        r.origin_node,
    )


def remote_acknowledgements_in(conn: Connection) -> list[tuple[str, str, int, datetime]]:
    """(organiser's node, check uid, contact id, when) of every acknowledgement recorded
    here for a check organised on another node."""
    c, t = coord_checks.c, coord_check_targets.c
    query = (
        select(c.origin_node, c.uid, t.contact_id, t.acknowledged)
        .join(coord_check_targets, t.check_id == c.id)
        .where(c.origin_node.is_not(None), c.uid.is_not(None), t.acknowledged.is_not(None))
        .order_by(t.id)
    )
    return [(str(n), str(u), int(k), a) for n, u, k, a in conn.execute(query)]


class CheckRepository:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._acks = GroupCommit(engine, self._acknowledge_in)

    def add(
        self,
        check: NewCheck,
        targets: Sequence[NewTarget],
        notifications: Sequence[NewNotification],
        within: Callable[[Connection, int], None] | None = None,
    ) -> int:
        """Store a check, its targets and the notifications announcing it, atomically;
        ``within`` runs in the same transaction with the new check's id."""
        with write(self._engine) as conn:
            check_id: int = conn.execute(
                insert(coord_checks)
                .values(
                    organiser_org=check.organiser_org,
                    title=check.title,
                    created=check.created,
                    deadline=check.deadline,
                    remind_at=check.remind_at,
                    reminded=False,
                    uid=check.uid,
                    origin_node=check.origin_node,
                )
                .returning(coord_checks.c.id)
            ).scalar_one()
            if targets:
                conn.execute(
                    insert(coord_check_targets),
                    [
                        {
                            "check_id": check_id,
                            "contact_id": t.contact_id,
                            "state": t.state,
                            "kind": t.kind,
                            "token_hash": t.token_hash,
                        }
                        for t in targets
                    ],
                )
            queue_in(conn, notifications)
            if within is not None:
                within(conn, check_id)
            return check_id

    def by_uid(self, uid: str) -> CheckRow | None:
        """The check both nodes know as ``uid``, whoever may see it (federation only)."""
        with self._engine.connect() as conn:
            row = conn.execute(select(coord_checks).where(coord_checks.c.uid == uid)).first()
        return None if row is None else _check(row)

    def acknowledge_remote(
        self,
        check_id: int,
        contact_id: int,
        at: datetime,
        within: Callable[[Connection], None],
    ) -> bool:
        """Record an acknowledgement made at the contact's home node (False: there was one
        already, or the contact is not in the check)."""
        t = coord_check_targets.c
        with write(self._engine) as conn:
            done = conn.execute(
                update(coord_check_targets)
                .where(t.check_id == check_id, t.contact_id == contact_id, t.acknowledged.is_(None))
                .values(acknowledged=at)
            )
            within(conn)
            return bool(done.rowcount == 1)

    def get(self, check_id: int, *, reader: Reader) -> CheckRow:
        """A check; NotFound when there is none that ``reader`` may see."""
        query = select(coord_checks).where(coord_checks.c.id == check_id, _readable(reader))
        with self._engine.connect() as conn:
            row = conn.execute(query).first()
        if row is None:
            raise NotFound(f"no communication check {check_id}")
        return _check(row)

    def by_organiser(self, org_id: int) -> list[CheckRow]:
        """An organiser's checks, oldest first."""
        query = (
            select(coord_checks)
            .where(coord_checks.c.organiser_org == org_id)
            .order_by(coord_checks.c.created, coord_checks.c.id)
        )
        with self._engine.connect() as conn:
            return [_check(r) for r in conn.execute(query)]

    def target_by_hash(self, token_hash: str) -> TokenTarget | None:
        with self._engine.connect() as conn:
            row = conn.execute(_TARGET_BY_HASH, {"b_hash": token_hash}).first()
        return None if row is None else TokenTarget(*row)

    def acknowledge(self, target_id: int, contact_id: int, now: datetime) -> bool:
        """Record the first acknowledgement (False when one was recorded before).

        Acknowledgements arriving together are committed together (see ``GroupCommit``).
        """
        return self._acks.submit((target_id, contact_id, now))

    @staticmethod
    def _acknowledge_in(conn: Connection, ack: tuple[int, int, datetime]) -> bool:
        target_id, contact_id, now = ack
        done = conn.execute(_ACK_TARGET, {"b_id": target_id, "b_now": now})
        if done.rowcount != 1:
            return False
        # Confirming through a check is a change like a manual confirm, in this transaction.
        confirm_in(conn, contact_id, now)
        return True

    def targets(self, check_id: int) -> list[CheckTarget]:
        """A check's contacts, in the order they were added.

        Not gated: the caller first reads the check through ``get`` for the same reader
        (``Checks.results``), or is the operator's scheduler (``Checks.send_reminders``).
        """
        t = coord_check_targets.c
        query = (
            select(
                t.id,
                t.contact_id,
                t.state,
                t.kind,
                t.acknowledged,
                coord_contacts.c.name,
                coord_contacts.c.email,
                coord_contacts.c.org_id,
                coord_contacts.c.home_node,
            )
            .join(coord_contacts, coord_contacts.c.id == t.contact_id)
            .where(t.check_id == check_id)
            .order_by(t.id)
        )
        with self._engine.connect() as conn:
            return [CheckTarget(*r) for r in conn.execute(query)]

    def due_reminders(self, now: datetime) -> list[CheckRow]:
        query = select(coord_checks).where(
            coord_checks.c.reminded.is_(False),
            coord_checks.c.remind_at <= now,
            coord_checks.c.deadline > now,
        )
        with self._engine.connect() as conn:
            return [_check(r) for r in conn.execute(query)]

    def mark_reminded(self, check_id: int, notifications: Sequence[NewNotification]) -> bool:
        """Mark a check reminded and queue its reminders; False when it already was."""
        with write(self._engine) as conn:
            done = conn.execute(
                update(coord_checks)
                .where(coord_checks.c.id == check_id, coord_checks.c.reminded.is_(False))
                .values(reminded=True)
            )
            if done.rowcount != 1:
                return False
            queue_in(conn, notifications)
            return True
