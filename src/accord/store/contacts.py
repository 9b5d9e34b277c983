"""The directory of points of contact, and every version of every contact.

Every change to a contact (added, updated, confirmed, retired) bumps its version and
writes the new version to the history in the same transaction, so the directory's
history can be shown in full. Lists are JSON columns: read whole, never queried inside.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    ColumnElement,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
    bindparam,
    case,
    exists,
    false,
    func,
    insert,
    literal,
    select,
    true,
    update,
)
from sqlalchemy.engine import Connection, Engine

from accord.domain.coordination import CONTACT_TLP, OPERATOR, Reader
from accord.domain.scope import Scope
from accord.errors import NotFound
from accord.store.db import write
from accord.store.gate import Gated, readable_rows
from accord.store.tables import BigPK, metadata, organisations
from accord.store.types import UTCDateTime

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
    Column("last_confirmed", UTCDateTime, nullable=True),
    Column("version", Integer, nullable=False),
    Column("updated", UTCDateTime, nullable=False),
    Column("deleted", UTCDateTime, nullable=True),
    # Travels to every node of the federation (else only to its groups' members' nodes).
    Column("federation", Boolean, nullable=False, default=False, server_default=false()),
    # A read-only copy of a contact kept on its organisation's home node: that node's id
    # and the contact's id there. None: a contact of this node.
    Column("home_node", String(32), nullable=True),
    Column("remote_id", Integer, nullable=True),
    Index("ix_coord_contacts_org_kind", "org_id", "kind"),
    UniqueConstraint("home_node", "remote_id"),
)

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
    Column("at", UTCDateTime, nullable=False),
    Column("actor_org", Integer, nullable=True),  # None: the node's operator
    Column("action", String(20), nullable=False),
    Column("snapshot", JSON, nullable=False),
)


def contact_gate(dialect: str) -> Gated:
    """``coord_contacts`` as the gate sees it (``coordinate.access.contact_access``): the
    organisation's own; with no groups, the community's; else each group's members'.

    The groups are a JSON list, so the membership test walks it with the backend's own
    JSON function.
    """
    c = coord_contacts.c

    def in_groups(ids: Sequence[int]) -> ColumnElement[bool]:
        if dialect == "postgresql":
            each = func.json_array_elements_text(c.groups).table_valued("value")
            return exists().where(each.c.value.in_([str(i) for i in ids]))
        each = func.json_each(c.groups).table_valued("value")
        return exists().where(each.c.value.in_(list(ids)))

    return Gated(
        owner=c.org_id,
        scope=case(
            (func.json_array_length(c.groups) == 0, Scope.COMMUNITY.value),
            else_=Scope.GROUP.value,
        ),
        tlp=literal(CONTACT_TLP.value),
        in_groups=in_groups,
    )


@dataclass(frozen=True, slots=True)
class ContactFields:
    """What a person sets on a contact: every column but its bookkeeping."""

    org_id: int
    kind: str
    name: str
    role: str
    email: str | None
    phone: str | None
    messaging: str | None
    languages: tuple[str, ...]
    timezone: str
    public_key: str | None
    backups: tuple[int, ...]
    groups: tuple[int, ...]  # sharing-group ids; empty: everyone on the node
    federation: bool = False  # travels to every peer node, read-only there


@dataclass(frozen=True, slots=True)
class ContactRow:
    """A stored contact, with its organisation's state (None: an international body)."""

    id: int
    org_id: int
    state: str | None
    kind: str
    name: str
    role: str
    email: str | None
    phone: str | None
    messaging: str | None
    languages: tuple[str, ...]
    timezone: str
    public_key: str | None
    backups: tuple[int, ...]
    groups: tuple[int, ...]
    last_confirmed: datetime | None
    version: int
    updated: datetime
    deleted: datetime | None
    federation: bool = False
    home_node: str | None = None  # a copy of a contact homed on that node; None: local
    remote_id: int | None = None


@dataclass(frozen=True, slots=True)
class ContactVersion:
    """One entry of a contact's history: who changed it, how, and the contact after."""

    version: int
    at: datetime
    actor_org: int | None  # None: the node's operator, or a check's acknowledgement
    action: str  # created | updated | confirmed | deleted
    snapshot: dict[str, Any]  # the contact's columns after the change, as JSON


def _contact(r: Any) -> ContactRow:
    return ContactRow(
        id=r.id,
        org_id=r.org_id,
        state=r.state,
        kind=r.kind,
        name=r.name,
        role=r.role,
        email=r.email,
        phone=r.phone,
        messaging=r.messaging,
        languages=tuple(r.languages),
        timezone=r.timezone,
        public_key=r.public_key,
        backups=tuple(r.backups),
        groups=tuple(r.groups),
        last_confirmed=r.last_confirmed,
        version=r.version,
        updated=r.updated,
        deleted=r.deleted,
        federation=bool(r.federation),
        home_node=r.home_node,
        remote_id=r.remote_id,
    )


def _columns(fields: ContactFields) -> dict[str, Any]:
    return {
        "org_id": fields.org_id,
        "kind": fields.kind,
        "name": fields.name,
        "role": fields.role,
        "email": fields.email,
        "phone": fields.phone,
        "messaging": fields.messaging,
        "languages": list(fields.languages),
        "timezone": fields.timezone,
        "public_key": fields.public_key,
        "backups": list(fields.backups),
        "groups": list(fields.groups),
        "federation": fields.federation,
    }


# A confirmation through a check is on the hot acknowledgement path: built once.
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


def _history(
    conn: Connection,
    contact_id: int,
    version: int,
    actor_org: int | None,
    action: str,
    snapshot: Mapping[str, Any],
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
    values: Mapping[str, Any],
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


def confirm_in(conn: Connection, contact_id: int, now: datetime) -> None:
    """Confirm a contact through a check, in the caller's transaction: the same change and
    history row as a manual confirm. A contact retired meanwhile is left as it is."""
    after = conn.execute(_CONFIRM_CONTACT, {"b_id": contact_id, "b_now": now}).first()
    if after is not None:
        _history(conn, contact_id, after.version, None, "confirmed", dict(after._mapping), now)


_SELECT = select(coord_contacts, organisations.c.state.label("state")).join(
    organisations, organisations.c.id == coord_contacts.c.org_id
)


class ContactRepository:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._gate = contact_gate(engine.dialect.name)
        # Runs inside every add, change, confirmation and retirement made through this
        # repository, with the contact's id (the regional directory queues its travel).
        self.on_change: Callable[[Connection, int], None] | None = None

    def _readable(self, reader: Reader) -> ColumnElement[bool]:
        """The contacts ``reader`` may see: all for the operator and node admins."""
        if reader is OPERATOR or reader.is_admin():
            return true()
        return readable_rows(reader, self._gate)

    def add(self, fields: ContactFields, actor_org: int | None, now: datetime) -> int:
        with write(self._engine) as conn:
            contact_id = self._add_in(conn, fields, actor_org, now)
            if self.on_change is not None:
                self.on_change(conn, contact_id)
            return contact_id

    def add_many(
        self, contacts: Sequence[ContactFields], actor_org: int | None, now: datetime
    ) -> list[int]:
        """All contacts in one transaction: every one is stored, or none."""
        with write(self._engine) as conn:
            ids = [self._add_in(conn, fields, actor_org, now) for fields in contacts]
            if self.on_change is not None:
                for contact_id in ids:
                    self.on_change(conn, contact_id)
            return ids

    @staticmethod
    def _add_in(
        conn: Connection, fields: ContactFields, actor_org: int | None, now: datetime
    ) -> int:
        row = {**_columns(fields), "version": 1, "updated": now}
        contact_id: int = conn.execute(
            insert(coord_contacts).values(**row).returning(coord_contacts.c.id)
        ).scalar_one()
        _history(conn, contact_id, 1, actor_org, "created", {**row, "id": contact_id}, now)
        return contact_id

    def replace(
        self, contact_id: int, fields: ContactFields, actor_org: int | None, now: datetime
    ) -> None:
        """Set every field of a live contact (NotFound when there is none)."""
        self._update(contact_id, _columns(fields), actor_org, "updated", now)

    def confirm(self, contact_id: int, actor_org: int | None, now: datetime) -> None:
        """Record that a live contact was confirmed current ``now``."""
        self._update(contact_id, {"last_confirmed": now}, actor_org, "confirmed", now)

    def retire(self, contact_id: int, actor_org: int | None, now: datetime) -> None:
        """Retire a live contact; it and its history stay stored."""
        self._update(contact_id, {"deleted": now}, actor_org, "deleted", now)

    def _update(
        self,
        contact_id: int,
        values: Mapping[str, Any],
        actor_org: int | None,
        action: str,
        now: datetime,
    ) -> None:
        with write(self._engine) as conn:
            _update_contact(conn, contact_id, values, actor_org, action, now)
            if self.on_change is not None:
                self.on_change(conn, contact_id)

    def copy_of(self, home_node: str, remote_id: int) -> ContactRow | None:
        """The copy kept here of contact ``remote_id`` of ``home_node``, live or retired."""
        c = coord_contacts.c
        query = _SELECT.where(c.home_node == home_node, c.remote_id == remote_id)
        with self._engine.connect() as conn:
            row = conn.execute(query).first()
        return _contact(row) if row is not None else None

    def own_live_in(self, conn: Connection) -> list[ContactRow]:
        """This node's own contacts (not copies), not retired, as ``conn`` sees them."""
        c = coord_contacts.c
        query = _SELECT.where(c.home_node.is_(None), c.deleted.is_(None)).order_by(c.id)
        return [_contact(row) for row in conn.execute(query)]

    def row_in(self, conn: Connection, contact_id: int) -> ContactRow:
        """A contact, live or retired, as the transaction ``conn`` sees it."""
        return _contact(conn.execute(_SELECT.where(coord_contacts.c.id == contact_id)).one())

    def keep_copy(
        self,
        fields: ContactFields,
        *,
        home_node: str,
        remote_id: int,
        version: int,
        last_confirmed: datetime | None,
        updated: datetime,
        deleted: datetime | None,
        within: Callable[[Connection], None],
    ) -> bool:
        """Keep (or bring up to date) the read-only copy of a contact homed on
        ``home_node``; False, and nothing written, when the held copy is as new."""
        c = coord_contacts.c
        values = {
            **_columns(fields),
            "home_node": home_node,
            "remote_id": remote_id,
            "version": version,
            "last_confirmed": last_confirmed,
            "updated": updated,
            "deleted": deleted,
        }
        with write(self._engine) as conn:
            held = conn.execute(
                select(c.id, c.version).where(c.home_node == home_node, c.remote_id == remote_id)
            ).first()
            if held is not None and held.version >= version:
                return False
            if held is None:
                contact_id: int = conn.execute(
                    insert(coord_contacts).values(**values).returning(c.id)
                ).scalar_one()
            else:
                contact_id = held.id
                conn.execute(update(coord_contacts).where(c.id == contact_id).values(**values))
            _history(
                conn, contact_id, version, None, "received", {**values, "id": contact_id}, updated
            )
            within(conn)
        return True

    def get(self, contact_id: int, *, reader: Reader, deleted: bool = False) -> ContactRow:
        """A live contact (``deleted``: or a retired one), with its organisation's state;
        NotFound when there is none that ``reader`` may see."""
        query = _SELECT.where(coord_contacts.c.id == contact_id, self._readable(reader))
        if not deleted:
            query = query.where(coord_contacts.c.deleted.is_(None))
        with self._engine.connect() as conn:
            row = conn.execute(query).first()
        if row is None:
            raise NotFound(f"no contact {contact_id}")
        return _contact(row)

    def search(
        self,
        *,
        org_ids: Sequence[int] | None = None,
        states: Sequence[str] | None = None,
        kind: str | None = None,
        reader: Reader,
    ) -> list[ContactRow]:
        """Live contacts ``reader`` may see, filtered in SQL (language is the service's)."""
        query = _SELECT.where(coord_contacts.c.deleted.is_(None), self._readable(reader))
        if org_ids is not None:
            query = query.where(coord_contacts.c.org_id.in_(list(org_ids)))
        if states is not None:
            query = query.where(organisations.c.state.in_(list(states)))
        if kind is not None:
            query = query.where(coord_contacts.c.kind == kind)
        with self._engine.connect() as conn:
            return [_contact(r) for r in conn.execute(query.order_by(coord_contacts.c.id))]

    def history(self, contact_id: int) -> list[ContactVersion]:
        """Every version of a contact, oldest first.

        Not gated: the caller first reads the contact through ``get`` for the same reader
        (``Directory.history`` does), so a contact nobody may see has no history either.
        """
        h = coord_contact_history.c
        query = (
            select(h.version, h.at, h.actor_org, h.action, h.snapshot)
            .where(h.contact_id == contact_id)
            .order_by(h.version)
        )
        with self._engine.connect() as conn:
            return [ContactVersion(*r) for r in conn.execute(query)]
