"""Assistance requests and consultations, their audit log and their message threads.

A transition compares and sets the state in one UPDATE and writes its audit event and
its notifications in the same transaction, so two parties acting at once never both win.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Column,
    ColumnElement,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    and_,
    case,
    insert,
    or_,
    select,
    true,
    update,
)
from sqlalchemy.engine import Connection, Engine

from accord.domain.coordination import OPERATOR, Reader
from accord.domain.model import Principal
from accord.domain.scope import Scope
from accord.errors import Conflict, NotFound
from accord.store.contacts import coord_contacts  # noqa: F401  (registers the requester contact's table)
from accord.store.db import write
from accord.store.gate import Gated, readable_rows
from accord.store.notifications import NewNotification, queue_in
from accord.store.tables import BigPK, metadata, organisations
from accord.store.types import UTCDateTime

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
    Column("created", UTCDateTime, nullable=False),
    Column("deadline", UTCDateTime, nullable=True),  # what the requester asks for
    Column("submitted", UTCDateTime, nullable=True),
    Column("ack_due", UTCDateTime, nullable=True),
    Column("respond_due", UTCDateTime, nullable=True),
    Column("acknowledged", UTCDateTime, nullable=True),
    Column("responded", UTCDateTime, nullable=True),
    Column("finished", UTCDateTime, nullable=True),
    Column("decline_reason", Text, nullable=True),
    # Shared by both parties' nodes when they differ (``coordinate.federation``).
    Column("uid", String(64), nullable=True, unique=True),
    Column("delivered", UTCDateTime, nullable=True),  # when the other home node took it
    Column("delivery_error", Text, nullable=True),  # why it refused it
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
    Column("at", UTCDateTime, nullable=False),
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
    Column("at", UTCDateTime, nullable=False),
    Column("author_org", Integer, nullable=False),
    Column("body", Text, nullable=False),
    Column("attachments", JSON, nullable=False),  # STIX ids, read through the policy gate
    Column("uid", String(64), nullable=True, unique=True),  # shared with the other node
)


# ``coord_requests`` as the gate sees it (``coordinate.access.request_access``): the
# requester's own, and once submitted its one recipient's, within the request's marking.
REQUESTS = Gated(
    owner=coord_requests.c.requester_org,
    scope=case(
        (coord_requests.c.state == "draft", Scope.ORGANISATION.value),
        else_=Scope.RECIPIENTS.value,
    ),
    tlp=coord_requests.c.tlp,
    names=lambda org: coord_requests.c.recipient_org == org,
)


def _readable(reader: Reader) -> ColumnElement[bool]:
    """The requests ``reader`` may see (the operator sees all; node admins only their own)."""
    return true() if reader is OPERATOR else readable_rows(reader, REQUESTS)


@dataclass(frozen=True, slots=True)
class NewRequest:
    """A request as filed, before its first transition."""

    case_id: str
    kind: str
    requester_org: int
    requester_contact: int | None
    recipient_org: int
    urgency: str
    tlp: str
    title: str
    details: dict[str, Any]  # the kind's fields, as JSON
    evidence: tuple[str, ...]
    state: str
    created: datetime
    deadline: datetime | None
    uid: str | None = None
    # Set only for a request received from the requester's home node.
    submitted: datetime | None = None
    ack_due: datetime | None = None
    respond_due: datetime | None = None


@dataclass(frozen=True, slots=True)
class RequestRow:
    """A stored request: who asked whom, what, and where it stands with which deadlines."""

    id: int
    case_id: str
    kind: str
    requester_org: int
    requester_contact: int | None
    recipient_org: int
    urgency: str
    tlp: str
    title: str
    details: dict[str, Any]
    evidence: tuple[str, ...]
    state: str
    escalated: str | None
    created: datetime
    deadline: datetime | None
    submitted: datetime | None
    ack_due: datetime | None
    respond_due: datetime | None
    acknowledged: datetime | None
    responded: datetime | None
    finished: datetime | None
    decline_reason: str | None
    uid: str | None = None
    delivered: datetime | None = None
    delivery_error: str | None = None


@dataclass(frozen=True, slots=True)
class RequestEvent:
    """One transition in a request's audit log."""

    at: datetime
    actor_org: int | None  # None: the node (escalation)
    actor_role: str | None
    action: str
    source: str | None
    target: str | None
    detail: str


@dataclass(frozen=True, slots=True)
class MessageRow:
    id: int
    request_id: int
    at: datetime
    author_org: int
    body: str
    attachments: tuple[str, ...]  # STIX ids


def _request(r: Any) -> RequestRow:
    return RequestRow(
        id=r.id,
        case_id=r.case_id,
        kind=r.kind,
        requester_org=r.requester_org,
        requester_contact=r.requester_contact,
        recipient_org=r.recipient_org,
        urgency=r.urgency,
        tlp=r.tlp,
        title=r.title,
        details=dict(r.details),
        evidence=tuple(r.evidence),
        state=r.state,
        escalated=r.escalated,
        created=r.created,
        deadline=r.deadline,
        submitted=r.submitted,
        ack_due=r.ack_due,
        respond_due=r.respond_due,
        acknowledged=r.acknowledged,
        responded=r.responded,
        finished=r.finished,
        decline_reason=r.decline_reason,
        uid=r.uid,
        delivered=r.delivered,
        delivery_error=r.delivery_error,
    )


Within = Callable[[Connection, list[int]], None]


def _add_event(conn: Connection, request_id: int, e: RequestEvent) -> None:
    conn.execute(
        insert(coord_request_events).values(
            request_id=request_id,
            at=e.at,
            actor_org=e.actor_org,
            actor_role=e.actor_role,
            action=e.action,
            source=e.source,
            target=e.target,
            detail=e.detail,
        )
    )


class RequestRepository:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def add_many(
        self,
        requests: Sequence[NewRequest],
        events: Sequence[RequestEvent],
        within: Within | None = None,
    ) -> list[int]:
        """Insert requests and their first audit event (``events[i]`` is ``requests[i]``'s);
        ``within`` runs in the same transaction with the new ids."""
        with write(self._engine) as conn:
            ids = insert_requests(conn, requests, [[e] for e in events])
            if within is not None:
                within(conn, ids)
        return ids

    def add_received(self, new: NewRequest, events: Sequence[RequestEvent], within: Within) -> int:
        """Insert a request received from its requester's home node, with its audit events;
        ``within`` runs in the same transaction."""
        with write(self._engine) as conn:
            ids = insert_requests(conn, [new], [events])
            within(conn, ids)
        return ids[0]

    def get_in(self, conn: Connection, request_id: int) -> RequestRow:
        """A request as the transaction ``conn`` sees it, whoever may read it."""
        return _request(
            conn.execute(select(coord_requests).where(coord_requests.c.id == request_id)).one()
        )

    def update_in(
        self,
        request_id: int,
        changes: Mapping[str, Any],
        within: Callable[[Connection], None] | None = None,
    ) -> None:
        """Set ``changes`` on a request (no state change); ``within`` in the same transaction."""
        with write(self._engine) as conn:
            conn.execute(
                update(coord_requests).where(coord_requests.c.id == request_id).values(**changes)
            )
            if within is not None:
                within(conn)

    def by_uid(self, uid: str) -> RequestRow | None:
        """The request both nodes know as ``uid``, whoever may see it (federation only)."""
        query = select(coord_requests).where(coord_requests.c.uid == uid)
        with self._engine.connect() as conn:
            row = conn.execute(query).first()
        return _request(row) if row is not None else None

    def set_delivery(self, uid: str, delivered: datetime | None, error: str | None) -> None:
        """Record that the other party's home node took the request, or why it refused it."""
        with write(self._engine) as conn:
            conn.execute(
                update(coord_requests)
                .where(coord_requests.c.uid == uid)
                .values(delivered=delivered, delivery_error=error)
            )

    def get(self, request_id: int, *, reader: Reader) -> RequestRow:
        """A request; NotFound when there is none that ``reader`` may see."""
        query = select(coord_requests).where(coord_requests.c.id == request_id, _readable(reader))
        with self._engine.connect() as conn:
            row = conn.execute(query).first()
        if row is None:
            raise NotFound(f"no request {request_id}")
        return _request(row)

    def transition(
        self,
        request_id: int,
        expected_state: str,
        changes: Mapping[str, Any],
        event: RequestEvent,
        notifications: Sequence[NewNotification] = (),
        within: Callable[[Connection], None] | None = None,
    ) -> None:
        """Set ``changes`` on a request still in ``expected_state`` and log it, atomically.

        Conflict when someone moved it first (the state is compared and set in one UPDATE).
        """
        with write(self._engine) as conn:
            done = conn.execute(
                update(coord_requests)
                .where(coord_requests.c.id == request_id, coord_requests.c.state == expected_state)
                .values(**changes)
            )
            if done.rowcount != 1:
                raise Conflict("the request changed meanwhile; reload it and try again")
            _add_event(conn, request_id, event)
            queue_in(conn, notifications)
            if within is not None:
                within(conn)

    def page(
        self, *, reader: Principal, box: str, state: str | None, before: int | None, limit: int
    ) -> list[RequestRow]:
        """Requests to (``inbox``) or from (``outbox``) the reader's organisation that it
        may see (so no draft in an inbox), newest first."""
        col = coord_requests.c.recipient_org if box == "inbox" else coord_requests.c.requester_org
        query = select(coord_requests).where(col == reader.org, _readable(reader))
        if state is not None:
            query = query.where(coord_requests.c.state == state)
        if before is not None:
            query = query.where(coord_requests.c.id < before)
        query = query.order_by(coord_requests.c.id.desc()).limit(limit)
        with self._engine.connect() as conn:
            return [_request(r) for r in conn.execute(query)]

    def open_with_deadlines(self, now: datetime) -> list[RequestRow]:
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
            return [_request(row) for row in conn.execute(query)]

    def events(self, request_id: int) -> list[RequestEvent]:
        """A request's audit log, oldest first.

        Not gated: the caller first reads the request through ``get`` for the same reader
        (``Requests.audit``), so a request nobody may see has no log either.
        """
        e = coord_request_events.c
        query = (
            select(e.at, e.actor_org, e.actor_role, e.action, e.source, e.target, e.detail)
            .where(e.request_id == request_id)
            .order_by(e.id)
        )
        with self._engine.connect() as conn:
            return [RequestEvent(*r) for r in conn.execute(query)]

    def add_message(
        self,
        request_id: int,
        at: datetime,
        author_org: int,
        body: str,
        attachments: Sequence[str],
        uid: str | None = None,
        within: Callable[[Connection], None] | None = None,
    ) -> int:
        """Add to a request's thread; ``within`` runs in the same transaction."""
        with write(self._engine) as conn:
            message_id: int = conn.execute(
                insert(coord_messages)
                .values(
                    request_id=request_id,
                    at=at,
                    author_org=author_org,
                    body=body,
                    attachments=list(attachments),
                    uid=uid,
                )
                .returning(coord_messages.c.id)
            ).scalar_one()
            if within is not None:
                within(conn)
            return message_id

    def messages(self, request_id: int) -> list[MessageRow]:
        """A request's thread, oldest first.

        Not gated: the caller first reads the request through ``get`` for the same reader
        (``Requests.messages``), so a request nobody may see has no thread either.
        """
        m = coord_messages.c
        query = select(coord_messages).where(m.request_id == request_id).order_by(m.id)
        with self._engine.connect() as conn:
            return [
                MessageRow(r.id, r.request_id, r.at, r.author_org, r.body, tuple(r.attachments))
                for r in conn.execute(query)
            ]

    def for_metrics(self) -> list[tuple[str | None, RequestRow]]:
        """Submitted requests, each with its recipient's state, for per-state figures."""
        query = (
            select(coord_requests, organisations.c.state.label("recipient_state"))
            .join(organisations, organisations.c.id == coord_requests.c.recipient_org)
            .where(coord_requests.c.submitted.is_not(None))
        )
        with self._engine.connect() as conn:
            return [(r.recipient_state, _request(r)) for r in conn.execute(query)]


def insert_requests(
    conn: Connection, requests: Sequence[NewRequest], events: Sequence[Sequence[RequestEvent]]
) -> list[int]:
    """Insert requests and their first audit events inside the caller's transaction."""
    ids: list[int] = []
    for new, firsts in zip(requests, events, strict=True):
        request_id: int = conn.execute(
            insert(coord_requests)
            .values(
                case_id=new.case_id,
                kind=new.kind,
                requester_org=new.requester_org,
                requester_contact=new.requester_contact,
                recipient_org=new.recipient_org,
                urgency=new.urgency,
                tlp=new.tlp,
                title=new.title,
                details=new.details,
                evidence=list(new.evidence),
                state=new.state,
                created=new.created,
                deadline=new.deadline,
                uid=new.uid,
                submitted=new.submitted,
                ack_due=new.ack_due,
                respond_due=new.respond_due,
            )
            .returning(coord_requests.c.id)
        ).scalar_one()
        for event in firsts:
            _add_event(conn, request_id, event)
        ids.append(request_id)
    return ids
