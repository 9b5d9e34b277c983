"""Repositories for organisations, sharing groups, users and API tokens.

Listings come back as frozen dataclasses that carry no secret; a password hash or a
token's secret hash leaves here only in the one record that checking it needs.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from accord.domain.model import Organisation, OrgKind, Role, SharingGroup
from accord.errors import Conflict, NotFound
from accord.store.db import WriterBusy, write, write_unless_busy
from accord.store.tables import group_members, organisations, sharing_groups, tokens, users


@dataclass(frozen=True, slots=True)
class UserInfo:
    """A user as admins see it: never the password hash."""

    id: int
    username: str
    org: int
    role: Role
    created: datetime
    disabled: datetime | None


@dataclass(frozen=True, slots=True)
class UserLogin:
    """What checking a user's password needs."""

    user: UserInfo
    password_hash: str


@dataclass(frozen=True, slots=True)
class TokenInfo:
    """A token as admins see it: never the secret."""

    id: int
    org: int | None  # None for a peer node's token
    role: Role
    name: str
    created: datetime
    expires: datetime | None
    revoked: datetime | None
    last_used: datetime | None = None
    user: int | None = None  # the user a session token was issued to
    peer: int | None = None  # the peer node that presents it


@dataclass(frozen=True, slots=True)
class KeyedToken:
    """What checking a presented token needs: the token and its secret's hash."""

    info: TokenInfo
    secret_hash: str


def _user(row: Any) -> UserInfo:
    return UserInfo(row.id, row.username, row.org_id, Role(row.role), row.created, row.disabled)


def _token(row: Any) -> TokenInfo:
    return TokenInfo(
        id=row.id,
        org=row.org_id,
        role=Role(row.role),
        name=row.name,
        created=row.created,
        expires=row.expires,
        revoked=row.revoked,
        last_used=row.last_used,
        user=row.user_id,
        peer=row.peer_id,
    )


# Every column but the secret's hash: what listing and looking up by id read.
_TOKEN_INFO = [c for c in tokens.c if c.name != "secret_hash"]


def _org(row: Any) -> Organisation:
    return Organisation(
        id=row.id,
        name=row.name,
        kind=OrgKind(row.kind),
        state=row.state,
        identity_id=row.identity_id,
        created=row.created,
        peer=row.peer_id,
        home=row.home_node,
    )


class OrganisationRepository:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._identities: dict[int, str] = {}  # see ``identities``

    def add(
        self, name: str, kind: OrgKind, state: str | None, identity_id: str, now: datetime
    ) -> Organisation:
        values = {
            "name": name,
            "kind": kind.value,
            "state": state,
            "identity_id": identity_id,
            "created": now,
        }
        try:
            with write(self._engine) as conn:
                org_id = conn.execute(
                    insert(organisations).values(**values).returning(organisations.c.id)
                ).scalar_one()
        except IntegrityError:
            raise Conflict(f"an organisation named {name!r} already exists") from None
        return Organisation(
            id=org_id, name=name, kind=kind, state=state, identity_id=identity_id, created=now
        )

    def add_remote(
        self,
        *,
        name: str,
        kind: OrgKind,
        state: str | None,
        identity_id: str,
        home_node: str,
        peer_id: int,
        peer_name: str,
        now: datetime,
    ) -> None:
        """Record an organisation homed on another node (learnt through ``peer_id``); a
        clashing name gets the peer's as suffix."""
        values = {
            "kind": kind.value,
            "state": state,
            "identity_id": identity_id,
            "created": now,
            "peer_id": peer_id,
            "home_node": home_node,
        }
        for candidate in (name, f"{name} @ {peer_name}", f"{name} @ {identity_id}"):
            try:
                with write(self._engine) as conn:
                    conn.execute(insert(organisations).values(name=candidate, **values))
                return
            except IntegrityError:
                if self.by_identity([identity_id]):
                    return  # learnt meanwhile, e.g. from a concurrent message
        raise Conflict(f"cannot record organisation {identity_id}")

    def all(self) -> list[Organisation]:
        with self._engine.connect() as conn:
            rows = conn.execute(select(organisations).order_by(organisations.c.name))
            return [_org(r) for r in rows]

    def get(self, org_id: int) -> Organisation:
        with self._engine.connect() as conn:
            row = conn.execute(select(organisations).where(organisations.c.id == org_id)).first()
        if row is None:
            raise NotFound(f"no organisation with id {org_id}")
        return _org(row)

    def find(self, ref: str) -> Organisation:
        """By STIX identity id or by exact name."""
        col = organisations.c.identity_id if ref.startswith("identity--") else organisations.c.name
        with self._engine.connect() as conn:
            row = conn.execute(select(organisations).where(col == ref)).first()
        if row is None:
            raise NotFound(f"no organisation {ref!r}; `accord org list` shows them")
        return _org(row)

    def by_identity(self, identity_ids: Iterable[str]) -> dict[str, int]:
        wanted = sorted(set(identity_ids))
        if not wanted:
            return {}
        with self._engine.connect() as conn:
            rows = conn.execute(
                select(organisations.c.identity_id, organisations.c.id).where(
                    organisations.c.identity_id.in_(wanted)
                )
            )
            return {r.identity_id: r.id for r in rows}

    def homes(self, identity_ids: Iterable[str]) -> dict[str, str | None]:
        """The home node of each known organisation, by identity id (None: this node)."""
        wanted = sorted(set(identity_ids))
        if not wanted:
            return {}
        with self._engine.connect() as conn:
            rows = conn.execute(
                select(organisations.c.identity_id, organisations.c.home_node).where(
                    organisations.c.identity_id.in_(wanted)
                )
            )
            return {r.identity_id: r.home_node for r in rows}

    def homed_on(self, node_id: str) -> frozenset[int]:
        """The organisations whose home is the node ``node_id``."""
        with self._engine.connect() as conn:
            rows = conn.execute(
                select(organisations.c.id).where(organisations.c.home_node == node_id)
            )
            return frozenset(r.id for r in rows)

    def identities(self, org_ids: Iterable[int]) -> dict[int, str]:
        """STIX identity ids by organisation id. An organisation's identity never changes
        and organisations are never deleted, so each is read once per process (every
        listing names its rows' owners)."""
        wanted = set(org_ids)
        known = self._identities
        missing = sorted(wanted - known.keys())
        if missing:
            with self._engine.connect() as conn:
                rows = conn.execute(
                    select(organisations.c.id, organisations.c.identity_id).where(
                        organisations.c.id.in_(missing)
                    )
                )
                known.update((r.id, r.identity_id) for r in rows)
        return {i: known[i] for i in wanted if i in known}

    def count(self) -> int:
        with self._engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(organisations)).scalar_one())


class GroupRepository:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def add(self, slug: str, name: str, description: str) -> SharingGroup:
        """A new group owned by this node."""
        group_uuid = str(uuid.uuid4())
        try:
            with write(self._engine) as conn:
                gid = conn.execute(
                    insert(sharing_groups)
                    .values(slug=slug, name=name, description=description, uuid=group_uuid)
                    .returning(sharing_groups.c.id)
                ).scalar_one()
        except IntegrityError:
            raise Conflict(f"a sharing group {slug!r} already exists") from None
        return SharingGroup(id=gid, slug=slug, name=name, description=description, uuid=group_uuid)

    def keep_copy(
        self,
        *,
        group_uuid: str,
        owner_node: str,
        slug: str,
        name: str,
        version: int,
        doc: str,
        members: frozenset[int],
    ) -> None:
        """Store (or replace) this node's copy of a group owned by ``owner_node``: its
        name, its membership at ``version`` and the owner's document, in one transaction.
        A slug taken here gets the owner's node id as suffix."""
        with write(self._engine, serialise=_MEMBERSHIP) as conn:
            found = conn.execute(
                select(sharing_groups.c.id).where(sharing_groups.c.uuid == group_uuid)
            ).first()
            values = {"name": name, "version": version, "members_doc": doc}
            if found is None:
                taken = conn.execute(
                    select(sharing_groups.c.id).where(sharing_groups.c.slug == slug)
                ).first()
                if taken is not None:
                    slug = f"{slug[:60]}-{owner_node[:12]}"
                gid = conn.execute(
                    insert(sharing_groups)
                    .values(
                        uuid=group_uuid, owner_node=owner_node, slug=slug, description="", **values
                    )
                    .returning(sharing_groups.c.id)
                ).scalar_one()
            else:
                gid = found.id
                conn.execute(
                    update(sharing_groups).where(sharing_groups.c.id == gid).values(**values)
                )
            conn.execute(delete(group_members).where(group_members.c.group_id == gid))
            if members:
                conn.execute(
                    insert(group_members), [{"group_id": gid, "org_id": m} for m in sorted(members)]
                )

    def copies(self) -> list[tuple[SharingGroup, str]]:
        """Every group owned elsewhere, with the owner's membership document."""
        with self._engine.connect() as conn:
            found = self._load(conn, sharing_groups.c.owner_node.is_not(None))
            docs = dict(
                conn.execute(
                    select(sharing_groups.c.id, sharing_groups.c.members_doc).where(
                        sharing_groups.c.owner_node.is_not(None)
                    )
                ).all()
            )
        return [(g, docs[g.id] or "") for g in found]

    def _load(self, conn: Connection, where: Any) -> list[SharingGroup]:
        groups = conn.execute(
            select(sharing_groups).where(where).order_by(sharing_groups.c.slug)
        ).all()
        ids = [g.id for g in groups]
        members: dict[int, set[int]] = {i: set() for i in ids}
        for m in conn.execute(select(group_members).where(group_members.c.group_id.in_(ids))):
            members[m.group_id].add(m.org_id)
        return [
            SharingGroup(
                g.id,
                g.slug,
                g.name,
                g.description,
                frozenset(members[g.id]),
                g.uuid,
                g.owner_node,
                g.version,
            )
            for g in groups
        ]

    def all(self) -> list[SharingGroup]:
        with self._engine.connect() as conn:
            return self._load(conn, sharing_groups.c.id.is_not(None))

    def get(self, slug: str) -> SharingGroup:
        with self._engine.connect() as conn:
            found = self._load(conn, sharing_groups.c.slug == slug)
        if not found:
            raise NotFound(f"no sharing group {slug!r}")
        return found[0]

    def of_org(self, org_id: int) -> frozenset[int]:
        with self._engine.connect() as conn:
            rows = conn.execute(
                select(group_members.c.group_id).where(group_members.c.org_id == org_id)
            )
            return frozenset(r.group_id for r in rows)

    def add_member(self, group_id: int, org_id: int) -> None:
        """Add ``org_id`` to the group; a no-op when it is a member already."""
        # Read and insert in one serialised write transaction, so two admins adding the
        # same member at once cannot both find it absent.
        with write(self._engine, serialise=_MEMBERSHIP) as conn:
            exists = conn.execute(
                select(group_members).where(
                    group_members.c.group_id == group_id, group_members.c.org_id == org_id
                )
            ).first()
            if exists is None:
                conn.execute(insert(group_members).values(group_id=group_id, org_id=org_id))
                _bump(conn, group_id)

    def remove_member(self, group_id: int, org_id: int) -> None:
        with write(self._engine, serialise=_MEMBERSHIP) as conn:
            gone = conn.execute(
                delete(group_members).where(
                    group_members.c.group_id == group_id, group_members.c.org_id == org_id
                )
            ).rowcount
            if gone:
                _bump(conn, group_id)


def _bump(conn: Connection, group_id: int) -> None:
    """A new membership version: the owner's document travels again with it."""
    conn.execute(
        update(sharing_groups)
        .where(sharing_groups.c.id == group_id)
        .values(version=sharing_groups.c.version + 1)
    )


# The advisory lock that serialises membership changes on PostgreSQL.
_MEMBERSHIP = 0x_ACC0_47


class UserRepository:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def add(
        self, username: str, org_id: int, role: Role, password_hash: str, now: datetime
    ) -> UserInfo:
        values = {
            "username": username,
            "org_id": org_id,
            "role": role.value,
            "password_hash": password_hash,
            "created": now,
        }
        try:
            with write(self._engine) as conn:
                user_id: int = conn.execute(
                    insert(users).values(**values).returning(users.c.id)
                ).scalar_one()
        except IntegrityError:
            raise Conflict(f"a user named {username!r} already exists") from None
        return UserInfo(user_id, username, org_id, role, now, None)

    def by_username(self, username: str) -> UserLogin | None:
        with self._engine.connect() as conn:
            row = conn.execute(select(users).where(users.c.username == username)).first()
        return UserLogin(_user(row), row.password_hash) if row is not None else None

    def list(self) -> list[UserInfo]:
        columns = [c for c in users.c if c.name != "password_hash"]
        with self._engine.connect() as conn:
            return [_user(r) for r in conn.execute(select(*columns).order_by(users.c.username))]

    def set_password_hash(self, user_id: int, password_hash: str) -> None:
        with write(self._engine) as conn:
            conn.execute(
                update(users).where(users.c.id == user_id).values(password_hash=password_hash)
            )


class TokenRepository:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def add(
        self,
        *,
        key: str,
        secret_hash: str,
        org_id: int | None,
        role: Role,
        name: str,
        created: datetime,
        expires: datetime | None,
        user_id: int | None = None,
        peer_id: int | None = None,
    ) -> int:
        with write(self._engine) as conn:
            result = conn.execute(
                insert(tokens)
                .returning(tokens.c.id)
                .values(
                    user_id=user_id,
                    peer_id=peer_id,
                    key=key,
                    secret_hash=secret_hash,
                    org_id=org_id,
                    role=role.value,
                    name=name,
                    created=created,
                    expires=expires,
                )
            )
            token_id: int = result.scalar_one()
            return token_id

    def by_key(self, key: str) -> KeyedToken | None:
        with self._engine.connect() as conn:
            row = conn.execute(select(tokens).where(tokens.c.key == key)).first()
        return KeyedToken(_token(row), row.secret_hash) if row is not None else None

    def get(self, token_id: int) -> TokenInfo:
        with self._engine.connect() as conn:
            row = conn.execute(select(*_TOKEN_INFO).where(tokens.c.id == token_id)).first()
        if row is None:
            raise NotFound(f"no token with id {token_id}")
        return _token(row)

    def list(self, org_id: int | None = None) -> list[TokenInfo]:
        query = select(*_TOKEN_INFO).order_by(tokens.c.id)
        if org_id is not None:
            query = query.where(tokens.c.org_id == org_id)
        with self._engine.connect() as conn:
            return [_token(r) for r in conn.execute(query)]

    def revoke(self, token_id: int, now: datetime) -> None:
        with write(self._engine) as conn:
            done = conn.execute(
                update(tokens)
                .where(tokens.c.id == token_id, tokens.c.revoked.is_(None))
                .values(revoked=now)
            )
            if done.rowcount == 0:
                row = conn.execute(select(tokens.c.id).where(tokens.c.id == token_id)).first()
                if row is None:
                    raise NotFound(f"no token with id {token_id}")

    def touch(self, token_id: int, now: datetime) -> bool:
        """Record a token's use, best effort: False (nothing written) when another writer
        holds the database, so a read never waits behind an ingest for bookkeeping."""
        try:
            with write_unless_busy(self._engine) as conn:
                conn.execute(update(tokens).where(tokens.c.id == token_id).values(last_used=now))
        except WriterBusy:
            return False
        return True
