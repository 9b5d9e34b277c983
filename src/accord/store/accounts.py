"""Repositories for organisations, sharing groups and API tokens."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from accord.domain.model import Organisation, OrgKind, Role, SharingGroup
from accord.errors import Conflict, NotFound
from accord.store.tables import group_members, organisations, sharing_groups, tokens, users


def _org(row: Any) -> Organisation:
    return Organisation(
        id=row.id,
        name=row.name,
        kind=OrgKind(row.kind),
        state=row.state,
        identity_id=row.identity_id,
        created=row.created,
        peer=row.peer_id,
    )


class OrganisationRepository:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

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
            with self._engine.begin() as conn:
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
        peer_id: int,
        peer_name: str,
        now: datetime,
    ) -> None:
        """Record an organisation of a peer node; a clashing name gets the peer's as suffix."""
        values = {
            "kind": kind.value,
            "state": state,
            "identity_id": identity_id,
            "created": now,
            "peer_id": peer_id,
        }
        for candidate in (name, f"{name} @ {peer_name}", f"{name} @ {identity_id}"):
            try:
                with self._engine.begin() as conn:
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

    def identities(self, org_ids: Iterable[int]) -> dict[int, str]:
        wanted = sorted(set(org_ids))
        with self._engine.connect() as conn:
            rows = conn.execute(
                select(organisations.c.id, organisations.c.identity_id).where(
                    organisations.c.id.in_(wanted)
                )
            )
            return {r.id: r.identity_id for r in rows}

    def count(self) -> int:
        with self._engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(organisations)).scalar_one())


class GroupRepository:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def add(self, slug: str, name: str, description: str) -> SharingGroup:
        try:
            with self._engine.begin() as conn:
                gid = conn.execute(
                    insert(sharing_groups)
                    .values(slug=slug, name=name, description=description)
                    .returning(sharing_groups.c.id)
                ).scalar_one()
        except IntegrityError:
            raise Conflict(f"a sharing group {slug!r} already exists") from None
        return SharingGroup(id=gid, slug=slug, name=name, description=description)

    def _load(self, conn: Connection, where: Any) -> list[SharingGroup]:
        groups = conn.execute(
            select(sharing_groups).where(where).order_by(sharing_groups.c.slug)
        ).all()
        ids = [g.id for g in groups]
        members: dict[int, set[int]] = {i: set() for i in ids}
        for m in conn.execute(select(group_members).where(group_members.c.group_id.in_(ids))):
            members[m.group_id].add(m.org_id)
        return [
            SharingGroup(g.id, g.slug, g.name, g.description, frozenset(members[g.id]))
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
        with self._engine.begin() as conn:
            exists = conn.execute(
                select(group_members).where(
                    group_members.c.group_id == group_id, group_members.c.org_id == org_id
                )
            ).first()
            if exists is None:
                conn.execute(insert(group_members).values(group_id=group_id, org_id=org_id))

    def remove_member(self, group_id: int, org_id: int) -> None:
        with self._engine.begin() as conn:
            conn.execute(
                delete(group_members).where(
                    group_members.c.group_id == group_id, group_members.c.org_id == org_id
                )
            )


class UserRepository:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def add(self, username: str, org_id: int, role: Role, password_hash: str, now: datetime) -> int:
        values = {
            "username": username,
            "org_id": org_id,
            "role": role.value,
            "password_hash": password_hash,
            "created": now,
        }
        try:
            with self._engine.begin() as conn:
                user_id: int = conn.execute(
                    insert(users).values(**values).returning(users.c.id)
                ).scalar_one()
        except IntegrityError:
            raise Conflict(f"a user named {username!r} already exists") from None
        return user_id

    def by_username(self, username: str) -> Any:
        with self._engine.connect() as conn:
            return conn.execute(select(users).where(users.c.username == username)).first()

    def list(self) -> list[Any]:
        with self._engine.connect() as conn:
            return list(conn.execute(select(users).order_by(users.c.username)).all())

    def set_password_hash(self, user_id: int, password_hash: str) -> None:
        with self._engine.begin() as conn:
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
        with self._engine.begin() as conn:
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

    def by_key(self, key: str) -> Any:
        with self._engine.connect() as conn:
            return conn.execute(select(tokens).where(tokens.c.key == key)).first()

    def get(self, token_id: int) -> Any:
        with self._engine.connect() as conn:
            row = conn.execute(select(tokens).where(tokens.c.id == token_id)).first()
        if row is None:
            raise NotFound(f"no token with id {token_id}")
        return row

    def list(self, org_id: int | None = None) -> list[Any]:
        query = select(tokens).order_by(tokens.c.id)
        if org_id is not None:
            query = query.where(tokens.c.org_id == org_id)
        with self._engine.connect() as conn:
            return list(conn.execute(query).all())

    def revoke(self, token_id: int, now: datetime) -> None:
        with self._engine.begin() as conn:
            done = conn.execute(
                update(tokens)
                .where(tokens.c.id == token_id, tokens.c.revoked.is_(None))
                .values(revoked=now)
            )
            if done.rowcount == 0:
                row = conn.execute(select(tokens.c.id).where(tokens.c.id == token_id)).first()
                if row is None:
                    raise NotFound(f"no token with id {token_id}")

    def touch(self, token_id: int, now: datetime) -> None:
        with self._engine.begin() as conn:
            conn.execute(update(tokens).where(tokens.c.id == token_id).values(last_used=now))
