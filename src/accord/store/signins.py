"""Streaks of failed sign-ins, per key, and hourly failure counts: shared by every worker.

Accounts decides what a failure or a success does to a streak (domain/throttle.py); this
keeps the streaks where every worker process, and the node after a restart, sees them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, and_, delete, func, insert, or_, select, update

from accord.domain.throttle import Key, Streak
from accord.store.db import write
from accord.store.tables import signin_failure_hours, signin_streaks

# Streak updates read then write: on PostgreSQL they take this lock, so two workers
# counting failures of one key at once both count.
_STREAKS = 0x_ACC0_53
HOURS_KEPT = timedelta(hours=48)
USERNAME_MAX = 120
ADDRESS_MAX = 64


@dataclass(frozen=True, slots=True)
class Throttled:
    """A key waiting now, for the admin's view."""

    kind: Key
    username: str
    address: str
    failures: int
    blocked_until: datetime


def hour_of(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H")


def _columns(key: Key, username: str, address: str) -> dict[str, str]:
    """The row's key columns: the parts ``key`` counts by, "" for the other."""
    # Anything a client sent is stored, cut to the column and without NUL (PostgreSQL
    # text refuses it); a username longer than any user's is never a user's.
    return {
        "kind": key.value,
        "username": username[:USERNAME_MAX].replace("\0", "?") if key is not Key.ADDRESS else "",
        "address": address[:ADDRESS_MAX].replace("\0", "?") if key is not Key.ACCOUNT else "",
    }


def _streak(row: Any) -> Streak:
    return Streak(row.failures, row.last_failure, row.blocked_until, row.last_success)


class SigninRepository:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def streaks(self, username: str, address: str) -> dict[Key, Streak]:
        """The streaks that apply to ``username`` signing in from ``address``."""
        with self._engine.connect() as conn:
            return self._read(conn, username, address)

    def _read(self, conn: Connection, username: str, address: str) -> dict[Key, Streak]:
        c = signin_streaks.c
        wanted = [
            and_(*(c[name] == value for name, value in _columns(k, username, address).items()))
            for k in Key
        ]
        rows = conn.execute(select(signin_streaks).where(or_(*wanted)))
        return {Key(r.kind): _streak(r) for r in rows}

    def change(
        self,
        username: str,
        address: str,
        change: Callable[[dict[Key, Streak]], Mapping[Key, Streak]],
        *,
        failed_at: datetime | None = None,
    ) -> None:
        """Replace the streaks of this sign-in by what ``change`` makes of them, in one
        transaction; ``failed_at`` also counts one failure in that hour."""
        with write(self._engine, serialise=_STREAKS) as conn:
            now = self._read(conn, username, address)
            for key, streak in change(now).items():
                where = _columns(key, username, address)
                values = {
                    "failures": streak.failures,
                    "last_failure": streak.last_failure,
                    "blocked_until": streak.blocked_until,
                    "last_success": streak.last_success,
                }
                if key in now:
                    c = signin_streaks.c
                    conn.execute(
                        update(signin_streaks)
                        .where(*(c[name] == value for name, value in where.items()))
                        .values(values)
                    )
                else:
                    conn.execute(insert(signin_streaks).values({**where, **values}))
            if failed_at is not None:
                self._count(conn, hour_of(failed_at))

    def _count(self, conn: Connection, hour: str) -> None:
        h = signin_failure_hours.c
        done = conn.execute(
            update(signin_failure_hours).where(h.hour == hour).values(failures=h.failures + 1)
        )
        if done.rowcount == 0:
            conn.execute(insert(signin_failure_hours).values(hour=hour, failures=1))

    def prune(self, now: datetime, forget: timedelta, known: timedelta) -> int:
        """Drop streaks that neither wait, nor failed within ``forget``, nor signed in
        within ``known``, and hourly counts older than two days. Returns streaks dropped."""
        c = signin_streaks.c
        with write(self._engine, serialise=_STREAKS) as conn:
            dropped = conn.execute(
                delete(signin_streaks).where(
                    or_(c.last_failure.is_(None), c.last_failure < now - forget),
                    or_(c.blocked_until.is_(None), c.blocked_until <= now),
                    or_(c.last_success.is_(None), c.last_success < now - known),
                )
            ).rowcount
            conn.execute(
                delete(signin_failure_hours).where(
                    signin_failure_hours.c.hour < hour_of(now - HOURS_KEPT)
                )
            )
        return int(dropped)

    def failures_since(self, since: datetime) -> int:
        """Failed sign-ins counted from the hour holding ``since`` on."""
        h = signin_failure_hours.c
        with self._engine.connect() as conn:
            total = conn.execute(
                select(func.coalesce(func.sum(h.failures), 0)).where(h.hour >= hour_of(since))
            ).scalar_one()
        return int(total)

    def throttled(self, now: datetime, limit: int = 100) -> list[Throttled]:
        """Keys that must wait now, the longest wait first."""
        c = signin_streaks.c
        with self._engine.connect() as conn:
            rows = conn.execute(
                select(signin_streaks)
                .where(c.blocked_until > now)
                .order_by(c.blocked_until.desc(), c.kind, c.username, c.address)
                .limit(limit)
            )
            return [
                Throttled(Key(r.kind), r.username, r.address, r.failures, r.blocked_until)
                for r in rows
            ]
