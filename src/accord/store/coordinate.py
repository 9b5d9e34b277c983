"""Tables and repositories of the coordination features: the directory of points of contact,
communication checks, assistance requests and consultations, and the notification log.

Lists and template fields are JSON columns: they are read whole, never queried inside.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar, cast

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    DateTime,
    Engine,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    and_,
    bindparam,
    delete,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.engine import Connection, Row
from sqlalchemy.sql import Select

from accord.errors import Conflict, NotFound
from accord.store.tables import BigPK, metadata, organisations

T = TypeVar("T")
R = TypeVar("R")

coord_contacts = Table(
    "coord_contacts",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("org_id", ForeignKey("organisations.id", ondelete="CASCADE"), nullable=False),
    Column("kind", String(20), nullable=False),
    Column("name", String(200), nullable=False),
    Column("role", String(200), nullable=False),
    Column("email", String(320), nullable=True),
    Column("phone", String(32), nullable=True),
    Column("messaging", String(200), nullable=True),
    Column("languages", JSON, nullable=False),
    Column("timezone", String(64), nullable=False),
    Column("public_key", Text, nullable=True),
    Column("backups", JSON, nullable=False),  # ids of contacts of the same organisation
    Column("groups", JSON, nullable=False),  # sharing-group ids; empty: everyone on the node
    Column("last_confirmed", DateTime(timezone=True), nullable=True),
    Column("version", Integer, nullable=False),
    Column("updated", DateTime(timezone=True), nullable=False),
    Column("deleted", DateTime(timezone=True), nullable=True),
    Index("ix_coord_contacts_org_kind", "org_id", "kind"),
)

# Every version of every contact, so the directory's history can be shown in full.
coord_contact_history = Table(
    "coord_contact_history",
    metadata,
    Column("id", BigPK, primary_key=True),
    Column(
        "contact_id",
        ForeignKey("coord_contacts.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    Column("version", Integer, nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("actor_org", Integer, nullable=True),  # None: the node's operator
    Column("action", String(20), nullable=False),
    Column("snapshot", JSON, nullable=False),
)

coord_requests = Table(
    "coord_requests",
    metadata,
    Column("id", BigPK, primary_key=True),
    Column("case_id", String(64), nullable=False, index=True),
    Column("kind", String(20), nullable=False),  # assistance | consultation
    Column("requester_org", ForeignKey("organisations.id"), nullable=False),
    Column("requester_contact", ForeignKey("coord_contacts.id"), nullable=True),
    Column("recipient_org", ForeignKey("organisations.id"), nullable=False),
    Column("urgency", String(10), nullable=False),
    Column("tlp", String(20), nullable=False),
    Column("title", String(300), nullable=False),
    Column("details", JSON, nullable=False),
    Column("evidence", JSON, nullable=False),
    Column("state", String(20), nullable=False),
    Column("escalated", String(20), nullable=True),  # the overdue step that escalated it
    Column("created", DateTime(timezone=True), nullable=False),
    Column("deadline", DateTime(timezone=True), nullable=True),  # what the requester asks for
    Column("submitted", DateTime(timezone=True), nullable=True),
    Column("ack_due", DateTime(timezone=True), nullable=True),
    Column("respond_due", DateTime(timezone=True), nullable=True),
    Column("acknowledged", DateTime(timezone=True), nullable=True),
    Column("responded", DateTime(timezone=True), nullable=True),
    Column("finished", DateTime(timezone=True), nullable=True),
    Column("decline_reason", Text, nullable=True),
    Index("ix_coord_requests_recipient", "recipient_org", "id"),
    Index("ix_coord_requests_requester", "requester_org", "id"),
    Index("ix_coord_requests_state", "state"),
)

# The audit log of the workflow: one row per transition, written with the transition.
coord_request_events = Table(
    "coord_request_events",
    metadata,
    Column("id", BigPK, primary_key=True),
    Column(
        "request_id",
        ForeignKey("coord_requests.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("actor_org", Integer, nullable=True),  # None: the node (escalation)
    Column("actor_role", String(20), nullable=True),
    Column("action", String(20), nullable=False),
    Column("source", String(20), nullable=True),
    Column("target", String(20), nullable=True),
    Column("detail", Text, nullable=False, default=""),
)

coord_messages = Table(
    "coord_messages",
    metadata,
    Column("id", BigPK, primary_key=True),
    Column(
        "request_id",
        ForeignKey("coord_requests.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("author_org", Integer, nullable=False),
    Column("body", Text, nullable=False),
    Column("attachments", JSON, nullable=False),  # STIX ids, read through the policy gate
)

coord_checks = Table(
    "coord_checks",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("organiser_org", ForeignKey("organisations.id"), nullable=False),
    Column("title", String(300), nullable=False),
    Column("created", DateTime(timezone=True), nullable=False),
    Column("deadline", DateTime(timezone=True), nullable=False),
    Column("remind_at", DateTime(timezone=True), nullable=False),
    Column("reminded", Boolean, nullable=False, default=False),
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
    Column("acknowledged", DateTime(timezone=True), nullable=True),
    Index("ix_coord_check_targets_check", "check_id", "contact_id"),
)

coord_webhooks = Table(
    "coord_webhooks",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("org_id", ForeignKey("organisations.id", ondelete="CASCADE"), nullable=False),
    Column("url", String(500), nullable=False),
    Column("secret", String(128), nullable=False),
    Column("created", DateTime(timezone=True), nullable=False),
)

# The notification log and outbox: queued in the transaction that causes it, sent later.
coord_notifications = Table(
    "coord_notifications",
    metadata,
    Column("id", BigPK, primary_key=True),
    Column("channel", String(10), nullable=False),  # email | webhook
    Column("org_id", Integer, nullable=True),  # the organisation it is addressed to
    Column("target", String(500), nullable=False),
    Column("topic", String(60), nullable=False),
    Column("subject", String(300), nullable=False),
    Column("body", Text, nullable=False),
    Column("secret", String(128), nullable=True),  # the webhook's signing key
    Column("created", DateTime(timezone=True), nullable=False),
    Column("status", String(10), nullable=False),  # pending | sent | failed
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_attempt", DateTime(timezone=True), nullable=False),
    Column("sent", DateTime(timezone=True), nullable=True),
    Column("last_error", Text, nullable=True),
    Index("ix_coord_notifications_due", "status", "next_attempt"),
)


# The acknowledgement path is the hot one (thousands a second in a large check): its
# statements are built once, so each call only binds values.
_TARGET_BY_HASH = (
    select(
        coord_check_targets,
        coord_checks.c.title,
        coord_checks.c.deadline,
        coord_contacts.c.name.label("contact_name"),
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
# A confirmation through a check: the same change as a manual confirm, in one statement.
_CONFIRM_CONTACT = (
    update(coord_contacts)
    .where(coord_contacts.c.id == bindparam("b_id"), coord_contacts.c.deleted.is_(None))
    .values(
        last_confirmed=bindparam("b_now"),
        version=coord_contacts.c.version + 1,
        updated=bindparam("b_now"),
    )
    .returning(*coord_contacts.c)
)
_ADD_HISTORY = insert(coord_contact_history)


def aware(moment: datetime | None) -> datetime | None:
    """SQLite hands timestamps back naive; they were written in UTC."""
    if moment is None:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


# SQLite takes one writer at a time and makes the others poll with growing sleeps; queueing
# this process's writers on a lock instead keeps many small writes (acknowledgements) fast.
_SQLITE_WRITERS = threading.Lock()


@contextmanager
def _writer(engine: Engine) -> Iterator[Connection]:
    if engine.dialect.name != "sqlite":
        with engine.begin() as conn:
            yield conn
        return
    # The option on the connection, not ``engine.execution_options``: that builds a new
    # engine proxy on every call, a noticeable cost at thousands of writes a second.
    with _SQLITE_WRITERS, engine.connect().execution_options(writer=True) as conn, conn.begin():
        yield conn


class GroupCommit(Generic[T, R]):
    """Small writes from many threads, committed together ("group commit").

    ``submit`` queues one item and returns what ``write_one`` returned for it once it is
    committed, or raises what it raised. Whichever caller takes its turn first writes every
    item queued by then in one transaction; the callers whose items it wrote find their
    results ready. Under load that is one BEGIN/COMMIT, and one wait for SQLite's single
    writer slot, for many writes instead of one each. When a batch fails it is retried one
    item at a time, so a failing write fails only its own caller.
    """

    def __init__(self, engine: Engine, write_one: Callable[[Connection, T], R]) -> None:
        self._engine = engine
        self._write_one = write_one
        self._queued: list[_Pending[T, R]] = []
        self._queue_lock = threading.Lock()
        self._turn = threading.Lock()

    def submit(self, item: T) -> R:
        pending = _Pending[T, R](item)
        with self._queue_lock:
            self._queued.append(pending)
        with self._turn:
            if not pending.done:
                with self._queue_lock:
                    batch, self._queued = self._queued, []
                self._write(batch)
        if pending.error is not None:
            raise pending.error
        return cast(R, pending.result)

    def _write(self, batch: list[_Pending[T, R]]) -> None:
        try:
            with _writer(self._engine) as conn:
                results = [self._write_one(conn, p.item) for p in batch]
        except Exception as exc:
            if len(batch) == 1:
                batch[0].fail(exc)
            else:
                for pending in batch:
                    self._write([pending])
            return
        except BaseException:
            for pending in batch:
                pending.fail(RuntimeError("the write was interrupted"))
            raise
        for pending, result in zip(batch, results, strict=True):
            pending.result, pending.done = result, True


class _Pending(Generic[T, R]):
    __slots__ = ("done", "error", "item", "result")

    def __init__(self, item: T) -> None:
        self.item = item
        self.done = False
        self.result: R | None = None
        self.error: BaseException | None = None

    def fail(self, error: BaseException) -> None:
        self.error, self.done = error, True


def _history(
    conn: Connection,
    contact_id: int,
    version: int,
    actor_org: int | None,
    action: str,
    snapshot: dict[str, Any],
    now: datetime,
) -> None:
    plain = {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in snapshot.items()}
    conn.execute(
        _ADD_HISTORY,
        {
            "contact_id": contact_id,
            "version": version,
            "at": now,
            "actor_org": actor_org,
            "action": action,
            "snapshot": plain,
        },
    )


def _update_contact(
    conn: Connection,
    contact_id: int,
    values: dict[str, Any],
    actor_org: int | None,
    action: str,
    now: datetime,
) -> None:
    """Change a live contact and write its next version to the history, in ``conn``."""
    after = conn.execute(
        update(coord_contacts)
        .where(coord_contacts.c.id == contact_id, coord_contacts.c.deleted.is_(None))
        .values(**values, version=coord_contacts.c.version + 1, updated=now)
        .returning(*coord_contacts.c)
    ).first()
    if after is None:
        raise NotFound(f"no contact {contact_id}")
    _history(conn, contact_id, after.version, actor_org, action, dict(after._mapping), now)


def _rows(engine: Engine, query: Select[Any]) -> list[Row[Any]]:
    """Every row of ``query``, on a connection of its own."""
    with engine.connect() as conn:
        return list(conn.execute(query).all())


class ContactRepository:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def add(self, values: dict[str, Any], actor_org: int | None, now: datetime) -> int:
        with _writer(self._engine) as conn:
            return self.add_in(conn, values, actor_org, now)

    def add_many(
        self, rows: Sequence[dict[str, Any]], actor_org: int | None, now: datetime
    ) -> None:
        """All rows in one transaction: every one is stored, or none."""
        with _writer(self._engine) as conn:
            for values in rows:
                self.add_in(conn, values, actor_org, now)

    def add_in(
        self, conn: Connection, values: dict[str, Any], actor_org: int | None, now: datetime
    ) -> int:
        row = {**values, "version": 1, "updated": now}
        contact_id: int = conn.execute(
            insert(coord_contacts).values(**row).returning(coord_contacts.c.id)
        ).scalar_one()
        _history(conn, contact_id, 1, actor_org, "created", {**row, "id": contact_id}, now)
        return contact_id

    def update(
        self,
        contact_id: int,
        values: dict[str, Any],
        actor_org: int | None,
        action: str,
        now: datetime,
    ) -> None:
        with _writer(self._engine) as conn:
            _update_contact(conn, contact_id, values, actor_org, action, now)

    def confirm_many(self, contact_ids: Iterable[int], now: datetime) -> None:
        """Record that each contact answered a check now (a change like any other)."""
        for contact_id in contact_ids:
            self.update(contact_id, {"last_confirmed": now}, None, "confirmed", now)

    def get(self, contact_id: int, *, deleted: bool = False) -> Row[Any]:
        """A live contact (``deleted``: or a retired one), with its organisation's state."""
        query = self._select().where(coord_contacts.c.id == contact_id)
        if not deleted:
            query = query.where(coord_contacts.c.deleted.is_(None))
        with self._engine.connect() as conn:
            row = conn.execute(query).first()
        if row is None:
            raise NotFound(f"no contact {contact_id}")
        return row

    @staticmethod
    def _select() -> Any:
        return select(coord_contacts, organisations.c.state.label("state")).join(
            organisations, organisations.c.id == coord_contacts.c.org_id
        )

    def search(
        self,
        *,
        org_ids: Sequence[int] | None = None,
        states: Sequence[str] | None = None,
        kind: str | None = None,
    ) -> list[Row[Any]]:
        """Live contacts, filtered in SQL; visibility and language are the service's to apply."""
        query = self._select().where(coord_contacts.c.deleted.is_(None))
        if org_ids is not None:
            query = query.where(coord_contacts.c.org_id.in_(list(org_ids)))
        if states is not None:
            query = query.where(organisations.c.state.in_(list(states)))
        if kind is not None:
            query = query.where(coord_contacts.c.kind == kind)
        with self._engine.connect() as conn:
            return list(conn.execute(query.order_by(coord_contacts.c.id)).all())

    def history(self, contact_id: int) -> list[Row[Any]]:
        return _rows(
            self._engine,
            select(coord_contact_history)
            .where(coord_contact_history.c.contact_id == contact_id)
            .order_by(coord_contact_history.c.version),
        )


class RequestRepository:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def add_many(
        self, rows: Sequence[dict[str, Any]], events: Sequence[dict[str, Any]]
    ) -> list[int]:
        """Insert requests and their first audit event (``events[i]`` belongs to ``rows[i]``)."""
        ids: list[int] = []
        with _writer(self._engine) as conn:
            for values, event in zip(rows, events, strict=True):
                request_id: int = conn.execute(
                    insert(coord_requests).values(**values).returning(coord_requests.c.id)
                ).scalar_one()
                conn.execute(insert(coord_request_events).values(**event, request_id=request_id))
                ids.append(request_id)
        return ids

    def get(self, request_id: int) -> Row[Any]:
        with self._engine.connect() as conn:
            row = conn.execute(
                select(coord_requests).where(coord_requests.c.id == request_id)
            ).first()
        if row is None:
            raise NotFound(f"no request {request_id}")
        return row

    def transition(
        self,
        request_id: int,
        expected_state: str,
        values: dict[str, Any],
        event: dict[str, Any],
        notifications: Sequence[dict[str, Any]] = (),
    ) -> None:
        """Move a request on from ``expected_state`` and log it, atomically.

        Conflict when someone moved it first (the state is compared and set in one UPDATE).
        """
        with _writer(self._engine) as conn:
            done = conn.execute(
                update(coord_requests)
                .where(coord_requests.c.id == request_id, coord_requests.c.state == expected_state)
                .values(**values)
            )
            if done.rowcount != 1:
                raise Conflict("the request changed meanwhile; reload it and try again")
            conn.execute(insert(coord_request_events).values(**event, request_id=request_id))
            if notifications:
                conn.execute(insert(coord_notifications), list(notifications))

    def page(
        self, *, org_id: int, box: str, state: str | None, before: int | None, limit: int
    ) -> list[Row[Any]]:
        """Requests to (``inbox``) or from (``outbox``) an organisation, newest first."""
        col = coord_requests.c.recipient_org if box == "inbox" else coord_requests.c.requester_org
        query = select(coord_requests).where(col == org_id)
        if box == "inbox":  # a draft is the requester's own until submitted
            query = query.where(coord_requests.c.state != "draft")
        if state is not None:
            query = query.where(coord_requests.c.state == state)
        if before is not None:
            query = query.where(coord_requests.c.id < before)
        with self._engine.connect() as conn:
            return list(conn.execute(query.order_by(coord_requests.c.id.desc()).limit(limit)).all())

    def open_with_deadlines(self, now: datetime) -> list[Row[Any]]:
        """Requests waiting on their recipient, late for a step they were not escalated for:
        only those, so a scheduler tick costs nothing when nothing is newly late."""
        r = coord_requests.c
        query = select(coord_requests).where(
            r.state.in_(["submitted", "acknowledged", "in_progress"]),
            or_(
                and_(r.state == "submitted", r.ack_due < now, r.escalated.is_(None)),
                and_(
                    r.respond_due < now,
                    or_(r.escalated.is_(None), r.escalated == "acknowledge"),
                ),
            ),
        )
        with self._engine.connect() as conn:
            return list(conn.execute(query).all())

    def events(self, request_id: int) -> list[Row[Any]]:
        return _rows(
            self._engine,
            select(coord_request_events)
            .where(coord_request_events.c.request_id == request_id)
            .order_by(coord_request_events.c.id),
        )

    def add_message(self, values: dict[str, Any]) -> int:
        with _writer(self._engine) as conn:
            message_id: int = conn.execute(
                insert(coord_messages).values(**values).returning(coord_messages.c.id)
            ).scalar_one()
            return message_id

    def messages(self, request_id: int) -> list[Row[Any]]:
        return _rows(
            self._engine,
            select(coord_messages)
            .where(coord_messages.c.request_id == request_id)
            .order_by(coord_messages.c.id),
        )

    def for_metrics(self) -> list[Row[Any]]:
        """Submitted requests with their recipient's state, for per-state figures."""
        query = (
            select(coord_requests, organisations.c.state.label("recipient_state"))
            .join(organisations, organisations.c.id == coord_requests.c.recipient_org)
            .where(coord_requests.c.submitted.is_not(None))
        )
        with self._engine.connect() as conn:
            return list(conn.execute(query).all())


class CheckRepository:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._acks = GroupCommit(engine, self._acknowledge_in)

    def add(
        self,
        values: dict[str, Any],
        targets: Sequence[dict[str, Any]],
        notifications: Sequence[dict[str, Any]],
    ) -> int:
        with _writer(self._engine) as conn:
            check_id: int = conn.execute(
                insert(coord_checks).values(**values).returning(coord_checks.c.id)
            ).scalar_one()
            if targets:
                conn.execute(
                    insert(coord_check_targets), [{**t, "check_id": check_id} for t in targets]
                )
            if notifications:
                conn.execute(insert(coord_notifications), list(notifications))
            return check_id

    def get(self, check_id: int) -> Row[Any]:
        with self._engine.connect() as conn:
            row = conn.execute(select(coord_checks).where(coord_checks.c.id == check_id)).first()
        if row is None:
            raise NotFound(f"no communication check {check_id}")
        return row

    def by_organiser(self, org_id: int) -> list[Row[Any]]:
        return _rows(
            self._engine,
            select(coord_checks)
            .where(coord_checks.c.organiser_org == org_id)
            .order_by(coord_checks.c.created, coord_checks.c.id),
        )

    def target_by_hash(self, token_hash: str) -> Row[Any] | None:
        with self._engine.connect() as conn:
            return conn.execute(_TARGET_BY_HASH, {"b_hash": token_hash}).first()

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
        # Confirming through a check is a change like a manual confirm: same history row,
        # same transaction. A contact retired since the check started keeps its history.
        after = conn.execute(_CONFIRM_CONTACT, {"b_id": contact_id, "b_now": now}).first()
        if after is not None:
            _history(conn, contact_id, after.version, None, "confirmed", after._asdict(), now)
        return True

    def targets(self, check_id: int) -> list[Row[Any]]:
        query = (
            select(
                coord_check_targets,
                coord_contacts.c.name.label("contact_name"),
                coord_contacts.c.email,
                coord_contacts.c.org_id,
            )
            .join(coord_contacts, coord_contacts.c.id == coord_check_targets.c.contact_id)
            .where(coord_check_targets.c.check_id == check_id)
            .order_by(coord_check_targets.c.id)
        )
        with self._engine.connect() as conn:
            return list(conn.execute(query).all())

    def due_reminders(self, now: datetime) -> list[Row[Any]]:
        query = select(coord_checks).where(
            coord_checks.c.reminded.is_(False),
            coord_checks.c.remind_at <= now,
            coord_checks.c.deadline > now,
        )
        with self._engine.connect() as conn:
            return list(conn.execute(query).all())

    def mark_reminded(self, check_id: int, notifications: Sequence[dict[str, Any]]) -> bool:
        with _writer(self._engine) as conn:
            done = conn.execute(
                update(coord_checks)
                .where(coord_checks.c.id == check_id, coord_checks.c.reminded.is_(False))
                .values(reminded=True)
            )
            if done.rowcount != 1:
                return False
            if notifications:
                conn.execute(insert(coord_notifications), list(notifications))
            return True


class NotificationRepository:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def add_many(self, rows: Sequence[dict[str, Any]]) -> None:
        if rows:
            with _writer(self._engine) as conn:
                conn.execute(insert(coord_notifications), list(rows))

    def due(self, now: datetime, limit: int) -> list[Row[Any]]:
        query = (
            select(coord_notifications)
            .where(
                coord_notifications.c.status == "pending",
                coord_notifications.c.next_attempt <= now,
            )
            .order_by(coord_notifications.c.id)
            .limit(limit)
        )
        with self._engine.connect() as conn:
            return list(conn.execute(query).all())

    def record(self, outcomes: Sequence[dict[str, Any]]) -> None:
        """Write each attempt's outcome: ``id`` plus the columns that changed."""
        if not outcomes:
            return
        with _writer(self._engine) as conn:
            for outcome in outcomes:
                values = {k: v for k, v in outcome.items() if k != "id"}
                conn.execute(
                    update(coord_notifications)
                    .where(coord_notifications.c.id == outcome["id"])
                    .values(**values)
                )

    def log(
        self, *, status: str | None, topic: str | None, before: int | None, limit: int
    ) -> list[Row[Any]]:
        query = select(coord_notifications)
        conditions = []
        if status is not None:
            conditions.append(coord_notifications.c.status == status)
        if topic is not None:
            conditions.append(coord_notifications.c.topic == topic)
        if before is not None:
            conditions.append(coord_notifications.c.id < before)
        if conditions:
            query = query.where(and_(*conditions))
        with self._engine.connect() as conn:
            return list(
                conn.execute(query.order_by(coord_notifications.c.id.desc()).limit(limit)).all()
            )

    def count(self, status: str) -> int:
        with self._engine.connect() as conn:
            return int(
                conn.execute(
                    select(func.count()).where(coord_notifications.c.status == status)
                ).scalar_one()
            )

    def add_webhook(self, org_id: int, url: str, secret: str, now: datetime) -> int:
        with _writer(self._engine) as conn:
            hook_id: int = conn.execute(
                insert(coord_webhooks)
                .values(org_id=org_id, url=url, secret=secret, created=now)
                .returning(coord_webhooks.c.id)
            ).scalar_one()
            return hook_id

    def webhooks(self, org_id: int) -> list[Row[Any]]:
        return _rows(
            self._engine,
            select(coord_webhooks)
            .where(coord_webhooks.c.org_id == org_id)
            .order_by(coord_webhooks.c.id),
        )

    def all_webhooks(self) -> list[Row[Any]]:
        """Every webhook with its organisation's name and identity id."""
        query = (
            select(
                coord_webhooks,
                organisations.c.name.label("org_name"),
                organisations.c.identity_id,
            )
            .join(organisations, organisations.c.id == coord_webhooks.c.org_id)
            .order_by(coord_webhooks.c.id)
        )
        with self._engine.connect() as conn:
            return list(conn.execute(query).all())

    def delete_webhook(self, hook_id: int) -> None:
        """Remove a webhook; NotFound when there is none with this id."""
        with _writer(self._engine) as conn:
            done = conn.execute(delete(coord_webhooks).where(coord_webhooks.c.id == hook_id))
            if done.rowcount != 1:
                raise NotFound(f"no webhook {hook_id}; list them with GET /api/v1/webhooks")
