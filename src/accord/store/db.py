"""Engines and migrations, the same code for embedded SQLite and production PostgreSQL."""

from __future__ import annotations

import functools
import os
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import Engine, Table, create_engine, event, make_url, text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError, OperationalError

from accord.errors import InvalidInput

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS = "accord.store:migrations"
_BUSY_TIMEOUT_MS = 30_000
# Connections a process keeps open: as many as requests it runs at once (the server caps
# its thread pool at this, see ``accord.app``), so a busy server never opens and closes
# connections per request. Overflow covers the few places that nest a second connection
# and the background jobs; on PostgreSQL each worker holds up to POOL_SIZE + POOL_OVERFLOW.
POOL_SIZE = 16
POOL_OVERFLOW = 8


def create_db_engine(url: str) -> Engine:
    """An engine for ``url``. SQLite gets WAL, foreign keys and writers that never deadlock.

    Its errors never quote a statement's parameters (``hide_parameters``): they reach
    logs, and parameters carry secrets (a webhook's, a password's hash) and shared data.
    """
    try:
        parsed = make_url(url)
    except Exception as exc:  # sqlalchemy raises ArgumentError with its own wording
        raise InvalidInput(f"ACCORD_DATABASE_URL is not a database URL: {url!r}") from exc
    if parsed.get_backend_name() == "sqlite":
        return _sqlite_engine(url, parsed.database)
    # Reads run in autocommit: under READ COMMITTED each statement sees its own snapshot
    # anyway, and a read then costs no BEGIN and no ROLLBACK, two of its four round trips
    # (with the pre-ping). ``write`` opens a READ COMMITTED transaction.
    return create_engine(
        url,
        isolation_level="AUTOCOMMIT",
        pool_pre_ping=True,
        pool_size=POOL_SIZE,
        max_overflow=POOL_OVERFLOW,
        hide_parameters=True,
    )


def _sqlite_engine(url: str, database: str | None) -> Engine:
    if database and database != ":memory:":
        Path(database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(
        url,
        connect_args={"check_same_thread": False, "timeout": 30},
        pool_size=POOL_SIZE,
        max_overflow=POOL_OVERFLOW,
        hide_parameters=True,
    )

    # The driver's own transaction handling is switched off so that SQLAlchemy's BEGIN
    # is the one that runs, and writers can ask for BEGIN IMMEDIATE: a deferred
    # transaction that reads and then writes can fail with "database is locked".
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA cache_size=-16384")  # 16 MiB a connection, not the 2 MiB default
        # Checkpoint every 64 MiB of WAL, not 4 MiB: a page written by many commits in
        # between is copied into the database once (bulk writes: +15% throughput).
        cursor.execute("PRAGMA wal_autocheckpoint=16384")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        if conn.get_execution_options().get("writer", False):
            conn.exec_driver_sql("BEGIN IMMEDIATE")  # may wait, or fail as SQLAlchemy's error
            return
        # A read's BEGIN never waits: on the driver's connection, as through SQLAlchemy's
        # execute it costs as much as a small query (events, a cursor result).
        driver = conn.connection.driver_connection
        assert driver is not None
        driver.execute("BEGIN")

    return engine


# SQLite takes one writer at a time and makes the others poll with growing sleeps; queueing
# this process's writers on a lock instead keeps many small writes fast.
_SQLITE_WRITERS = threading.Lock()


@contextmanager
def write(engine: Engine, *, serialise: int | None = None) -> Iterator[Connection]:
    """The one write path: a transaction that commits on success and rolls back on error.

    On SQLite it is ``BEGIN IMMEDIATE`` (a deferred transaction that reads and then
    writes can fail with "database is locked"), with this process's writers queued on a
    lock; on PostgreSQL a plain READ COMMITTED transaction (reads outside it run in
    autocommit). Every repository writes through here.

    ``serialise`` names a lock (any constant of the caller's) for writes that must not
    interleave, such as a check followed by an insert: on PostgreSQL the transaction
    takes that advisory lock first; on SQLite every writer is serialised already.
    """
    if engine.dialect.name != "sqlite":
        transactional = engine.connect().execution_options(isolation_level="READ COMMITTED")
        with transactional as conn, conn.begin():
            if serialise is not None:
                conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": serialise})
            yield conn
        return
    # The option on the connection, not ``engine.execution_options``: that builds a new
    # engine proxy on every call, a noticeable cost at thousands of writes a second.
    with _SQLITE_WRITERS, engine.connect().execution_options(writer=True) as conn, conn.begin():
        yield conn


def insert_rows(
    conn: Connection, table: Table, columns: Sequence[str], rows: Sequence[Sequence[Any]]
) -> None:
    """Insert ``rows`` (values in ``columns`` order) in ``conn``'s transaction: the bulk
    write path, for tables that take thousands of rows a transaction.

    PostgreSQL's COPY, several times faster than INSERT; on SQLite one prepared INSERT
    the driver runs for each row. Either way straight to the driver, without SQLAlchemy
    building a parameter dictionary per row (a fifth of a large import's storing time).
    Values are the driver's: str, int, bool or None.
    """
    if not rows:
        return
    names = ", ".join(table.c[name].name for name in columns)  # KeyError on a wrong name
    if conn.dialect.name == "postgresql":
        import psycopg

        statement = f"COPY {table.name} ({names}) FROM STDIN"
        raw = cast("psycopg.Connection[Any]", conn.connection.dbapi_connection)
        try:
            with raw.cursor() as cursor, cursor.copy(statement) as copy:
                for row in rows:
                    copy.write_row(row)
        except psycopg.Error as exc:  # as SQLAlchemy's own: a lost server is an outage
            lost = bool(raw.closed)
            raise DBAPIError.instance(
                statement, None, exc, psycopg.Error, connection_invalidated=lost
            ) from exc
        return
    marks = ", ".join("?" * len(columns))
    conn.exec_driver_sql(f"INSERT INTO {table.name} ({names}) VALUES ({marks})", list(rows))


def refresh_statistics(engine: Engine, *tables: Table) -> None:
    """PostgreSQL: ANALYZE each of ``tables`` that changed by more than a fifth of its rows
    (and a thousand) since its last analysis; nothing on SQLite.

    Autovacuum applies that rule about once a minute, where it is on; a bulk load of
    millions of rows outruns it, and without statistics the planner reads a table whole
    for an IN-list of a few hundred ids (an import slowed from seconds to minutes). Bulk
    writers call this before their transaction, on a connection of its own, so no write
    waits on it; a table another session is vacuuming or analysing (its lock not free
    within a second) is left for the next bulk write. Fresh statistics cost one read.
    """
    if engine.dialect.name != "postgresql":
        return
    transactional = engine.connect().execution_options(isolation_level="READ COMMITTED")
    with transactional as conn, conn.begin():  # reads run in autocommit otherwise
        conn.execute(text("SET LOCAL lock_timeout = '1s'"))
        for table in tables:
            stale = conn.execute(
                text(
                    "SELECT n_mod_since_analyze > 1000 + n_live_tup / 5 "
                    "FROM pg_stat_user_tables WHERE relid = CAST(:name AS regclass)"
                ),
                {"name": table.name},
            ).scalar()
            if not stale:
                continue
            try:
                with conn.begin_nested():
                    conn.execute(text(f"ANALYZE {table.name}"))
            except OperationalError:  # the lock was not free in time: the next bulk write
                continue


class WriterBusy(Exception):
    """Another writer holds the database, and the caller chose not to wait."""


@contextmanager
def write_unless_busy(engine: Engine) -> Iterator[Connection]:
    """``write`` for bookkeeping that may be skipped: raises ``WriterBusy`` at once where
    ``write`` would wait for another writer (SQLite: this process's or another's).

    On PostgreSQL writers of different rows do not wait for each other, so it is ``write``.
    """
    if engine.dialect.name != "sqlite":
        with write(engine) as conn:
            yield conn
        return
    if not _SQLITE_WRITERS.acquire(blocking=False):
        raise WriterBusy
    try:
        with engine.connect().execution_options(writer=True) as conn:
            # On the driver's connection: through SQLAlchemy it would begin the transaction.
            driver = conn.connection.driver_connection
            assert driver is not None
            driver.execute("PRAGMA busy_timeout=0")
            try:
                # BEGIN IMMEDIATE, the one statement that waits for another writer.
                transaction = conn.begin()
            except OperationalError as exc:  # another process holds the write lock
                raise WriterBusy from exc
            finally:
                driver.execute(f"PRAGMA busy_timeout={_BUSY_TIMEOUT_MS}")
            with transaction:
                yield conn
    finally:
        _SQLITE_WRITERS.release()


def _alembic_config(connection: Connection, extra: Sequence[Path]) -> Config:
    # Alembic (with mako) loads only when migrating: every command pays for it otherwise.
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", MIGRATIONS)
    if extra:
        # The node's own versions folder first, then each capability's branch.
        own = Path(__file__).parent / "migrations" / "versions"
        config.set_main_option("path_separator", "os")
        config.set_main_option("version_locations", os.pathsep.join(map(str, [own, *extra])))
    config.attributes["connection"] = connection
    return config


def migrate(engine: Engine, extra: Sequence[Path] = ()) -> None:
    """Apply every migration not yet applied, on every branch (a no-op when current).

    Capabilities add their own migration branches off the first revision, so "heads";
    ``extra`` names the folders of capabilities that keep their branch in their package.
    A database already at the newest revisions is left alone after one read of its
    version table, without Alembic loading every migration script again.
    """
    from alembic import command

    if schema_is_current(engine, extra):
        return
    with write(engine) as connection:
        command.upgrade(_alembic_config(connection, extra), "heads")


def schema_is_current(engine: Engine, extra: Sequence[Path] = ()) -> bool:
    """True when the database is at the newest migration."""
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as connection:
        current = MigrationContext.configure(connection).get_current_heads()
    return set(current) == _heads(tuple(extra))


@functools.cache
def _heads(extra: tuple[Path, ...]) -> frozenset[str]:
    """The newest revisions of every branch: read from the scripts once per process (they
    do not change under a running one), as loading them costs as much as a small migration."""
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    config = Config()
    config.set_main_option("script_location", MIGRATIONS)
    config.set_main_option("path_separator", "os")
    locations = [Path(__file__).parent / "migrations" / "versions", *extra]
    config.set_main_option("version_locations", os.pathsep.join(map(str, locations)))
    return frozenset(ScriptDirectory.from_config(config).get_heads())
