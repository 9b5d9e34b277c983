"""The notification log and outbox, and each organisation's webhooks.

A notification is queued in the transaction that causes it (``queue_in``, by whichever
repository writes the change), so a crash never loses one and a rolled-back change never
sends one; ``NotificationRepository.due`` hands them to the sender later.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Column,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    delete,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.engine import Connection, Engine

from accord.errors import NotFound
from accord.store.db import write
from accord.store.tables import BigPK, metadata, organisations
from accord.store.types import UTCDateTime

coord_webhooks = Table(
    "coord_webhooks",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("org_id", ForeignKey("organisations.id", ondelete="CASCADE"), nullable=False),
    Column("url", String(500), nullable=False),
    Column("secret", String(128), nullable=False),
    Column("created", UTCDateTime, nullable=False),
)

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
    Column("created", UTCDateTime, nullable=False),
    Column("status", String(10), nullable=False),  # pending | sent | failed
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_attempt", UTCDateTime, nullable=False),
    Column("sent", UTCDateTime, nullable=True),
    Column("last_error", Text, nullable=True),  # "delivery failed": reasons go to the node log
    Index("ix_coord_notifications_due", "status", "next_attempt"),
)


@dataclass(frozen=True, slots=True)
class NewNotification:
    """A notification to queue: due at once, never attempted."""

    channel: str  # email | webhook
    org_id: int | None
    target: str  # an e-mail address or a webhook URL
    topic: str
    subject: str
    body: str
    secret: str | None = field(repr=False)  # the webhook's signing key: never printed
    created: datetime


@dataclass(frozen=True, slots=True)
class Notification:
    """A notification as the sender needs it, its body and webhook key included.

    Only ``due`` hands these out, to the sender; the log answers ``LoggedNotification``.
    """

    id: int
    channel: str
    org_id: int | None
    target: str
    topic: str
    subject: str
    body: str
    secret: str | None = field(repr=False)  # the webhook's signing key: never printed
    created: datetime
    status: str  # pending | sent | failed
    attempts: int
    next_attempt: datetime
    sent: datetime | None
    last_error: str | None


@dataclass(frozen=True, slots=True)
class LoggedNotification:
    """A notification as the log lists it: where it went and how its attempts went.

    No body and no webhook key: the log is for finding failures, and a key listed is a key
    leaked (its columns are selected by name, so a new secret column stays out too).
    """

    id: int
    channel: str
    org_id: int | None
    target: str
    topic: str
    subject: str
    created: datetime
    status: str  # pending | sent | failed
    attempts: int
    next_attempt: datetime
    sent: datetime | None
    last_error: str | None


_LOGGED = select(
    coord_notifications.c.id,
    coord_notifications.c.channel,
    coord_notifications.c.org_id,
    coord_notifications.c.target,
    coord_notifications.c.topic,
    coord_notifications.c.subject,
    coord_notifications.c.created,
    coord_notifications.c.status,
    coord_notifications.c.attempts,
    coord_notifications.c.next_attempt,
    coord_notifications.c.sent,
    coord_notifications.c.last_error,
)


@dataclass(frozen=True, slots=True)
class Outcome:
    """One delivery attempt's result; fields left None are not changed."""

    id: int
    status: str
    attempts: int
    sent: datetime | None = None
    next_attempt: datetime | None = None
    last_error: str | None = None


@dataclass(frozen=True, slots=True)
class Webhook:
    id: int
    org_id: int
    url: str
    secret: str = field(repr=False)
    created: datetime


@dataclass(frozen=True, slots=True)
class RegisteredWebhook:
    """A webhook as the operator lists it: its organisation named, its secret left out."""

    id: int
    organisation: str  # STIX identity id
    organisation_name: str
    url: str
    created: datetime


def _values(n: NewNotification) -> dict[str, Any]:
    return {
        "channel": n.channel,
        "org_id": n.org_id,
        "target": n.target,
        "topic": n.topic,
        "subject": n.subject,
        "body": n.body,
        "secret": n.secret,
        "created": n.created,
        "status": "pending",
        "attempts": 0,
        "next_attempt": n.created,
    }


def queue_in(conn: Connection, notifications: Sequence[NewNotification]) -> None:
    """Queue notifications in the caller's transaction: they exist only if it commits."""
    if notifications:
        conn.execute(insert(coord_notifications), [_values(n) for n in notifications])


def _notification(r: Any) -> Notification:
    return Notification(
        r.id,
        r.channel,
        r.org_id,
        r.target,
        r.topic,
        r.subject,
        r.body,
        r.secret,
        r.created,
        r.status,
        r.attempts,
        r.next_attempt,
        r.sent,
        r.last_error,
    )


class NotificationRepository:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def add_many(self, notifications: Sequence[NewNotification]) -> None:
        if notifications:
            with write(self._engine) as conn:
                queue_in(conn, notifications)

    def due(self, now: datetime, limit: int) -> list[Notification]:
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
            return [_notification(r) for r in conn.execute(query)]

    def record(self, outcomes: Sequence[Outcome]) -> None:
        """Write each attempt's outcome."""
        if not outcomes:
            return
        with write(self._engine) as conn:
            for o in outcomes:
                values: dict[str, Any] = {"status": o.status, "attempts": o.attempts}
                for name, value in (
                    ("sent", o.sent),
                    ("next_attempt", o.next_attempt),
                    ("last_error", o.last_error),
                ):
                    if value is not None:
                        values[name] = value
                conn.execute(
                    update(coord_notifications)
                    .where(coord_notifications.c.id == o.id)
                    .values(**values)
                )

    def log(
        self, *, status: str | None, topic: str | None, before: int | None, limit: int
    ) -> list[LoggedNotification]:
        """The log, newest first, filtered by status and topic, keyset-paged by id."""
        query = _LOGGED
        if status is not None:
            query = query.where(coord_notifications.c.status == status)
        if topic is not None:
            query = query.where(coord_notifications.c.topic == topic)
        if before is not None:
            query = query.where(coord_notifications.c.id < before)
        query = query.order_by(coord_notifications.c.id.desc()).limit(limit)
        with self._engine.connect() as conn:
            return [LoggedNotification(**r._mapping) for r in conn.execute(query)]

    def count(self, status: str) -> int:
        with self._engine.connect() as conn:
            return int(
                conn.execute(
                    select(func.count()).where(coord_notifications.c.status == status)
                ).scalar_one()
            )

    def add_webhook(self, org_id: int, url: str, secret: str, now: datetime) -> int:
        with write(self._engine) as conn:
            hook_id: int = conn.execute(
                insert(coord_webhooks)
                .values(org_id=org_id, url=url, secret=secret, created=now)
                .returning(coord_webhooks.c.id)
            ).scalar_one()
            return hook_id

    def webhooks(self, org_id: int) -> list[Webhook]:
        w = coord_webhooks.c
        query = (
            select(w.id, w.org_id, w.url, w.secret, w.created)
            .where(coord_webhooks.c.org_id == org_id)
            .order_by(coord_webhooks.c.id)
        )
        with self._engine.connect() as conn:
            return [
                Webhook(r.id, r.org_id, r.url, r.secret, r.created) for r in conn.execute(query)
            ]

    def all_webhooks(self) -> list[RegisteredWebhook]:
        """Every webhook with its organisation's identity id and name."""
        query = (
            select(
                coord_webhooks.c.id,
                organisations.c.identity_id,
                organisations.c.name,
                coord_webhooks.c.url,
                coord_webhooks.c.created,
            )
            .join(organisations, organisations.c.id == coord_webhooks.c.org_id)
            .order_by(coord_webhooks.c.id)
        )
        with self._engine.connect() as conn:
            return [RegisteredWebhook(*r) for r in conn.execute(query)]

    def delete_webhook(self, hook_id: int) -> None:
        """Remove a webhook; NotFound when there is none with this id."""
        with write(self._engine) as conn:
            done = conn.execute(delete(coord_webhooks).where(coord_webhooks.c.id == hook_id))
            if done.rowcount != 1:
                raise NotFound(f"no webhook {hook_id}")
