"""Shared fixtures: a fresh node per test, on SQLite and, when configured, on PostgreSQL.

Tests that take ``database_url`` (or ``node``) run once per backend. PostgreSQL runs
when ``ACCORD_TEST_POSTGRES_URL`` names a server where we may create databases;
each test gets a database of its own: a new one, dropped afterwards, or for a node a
migrated one (``Migrated``), emptied afterwards for the next test.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import create_engine, make_url, text

from accord.node import Node
from accord.settings import Settings

POSTGRES_ENV = "ACCORD_TEST_POSTGRES_URL"


class Clock:
    """A clock tests move by hand."""

    def __init__(self, start: datetime | None = None) -> None:
        self.now = start or datetime(2026, 11, 23, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


def postgres_database() -> Iterator[str]:
    """A new, empty PostgreSQL database for one test; skipped when none is configured."""
    admin_url = os.environ.get(POSTGRES_ENV)
    if not admin_url:
        pytest.skip(f"{POSTGRES_ENV} is not set")
    name = f"accord_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
        conn.execute(text(_NO_SYNC.format(name=name)))
    try:
        yield make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


# A test database's commits do not wait for the server's disk: a few milliseconds each
# on a busy machine. Only a crash of the server itself could lose them, and every test
# database is thrown away anyway; what each session sees is unchanged.
_NO_SYNC = 'ALTER DATABASE "{name}" SET synchronous_commit = off'


class Migrated:
    """Databases migrated to the newest schema, made from one template per test process
    and backend: a copy of a SQLite file, or a PostgreSQL database made with CREATE
    DATABASE ... TEMPLATE. Migrating afresh costs a second or two a database, copying a
    few milliseconds.

    A PostgreSQL database a test is done with is put back as the template left it (every
    row deleted, sequences where the template had them) and lent to the next test, when
    nothing else is connected to it and its schema is still the template's; otherwise it
    is dropped. Creating and dropping a database each writes and syncs its every page,
    tenths of a second on a busy server."""

    def __init__(self) -> None:
        self.work: Path | None = None
        self.sqlite: Path | None = None
        self.postgres: str | None = None  # the template's name
        self.idle: list[str] = []  # reset databases, ready to lend
        self.lent: set[str] = set()
        self.order: list[str] = []  # the tables to empty, children first
        self.probe_sql = ""  # names the tables that hold rows
        self.sequences_sql = ""  # puts back the template's sequences
        self.fingerprint = ""

    def sqlite_copy(self, path: Path) -> str:
        """A SQLite database at ``path``, migrated; its URL."""
        if self.sqlite is None:
            assert self.work is not None, "the session fixture sets the work folder"
            self.sqlite = self.work / "template.db"
            _migrate(f"sqlite:///{self.sqlite}")
        shutil.copyfile(self.sqlite, path)
        return f"sqlite:///{path}"

    def postgres_lease(self) -> Iterator[str]:
        """A migrated PostgreSQL database for one test: its URL; put back afterwards."""
        admin_url = os.environ.get(POSTGRES_ENV)
        if not admin_url:
            pytest.skip(f"{POSTGRES_ENV} is not set")
        if self.postgres is None:
            self.postgres = self._create(admin_url, template=None)
            _migrate(_url(admin_url, self.postgres))
            self._learn(_url(admin_url, self.postgres))
        name = self.idle.pop() if self.idle else self._create(admin_url, self.postgres)
        self.lent.add(name)
        try:
            yield _url(admin_url, name)
        finally:
            self.lent.discard(name)
            if self._reset(_url(admin_url, name)):
                self.idle.append(name)
            else:
                self._drop(admin_url, name)

    def close(self) -> None:
        admin_url = os.environ.get(POSTGRES_ENV)
        if admin_url:
            for name in [*self.idle, *self.lent, *([self.postgres] if self.postgres else [])]:
                self._drop(admin_url, name)
        self.idle.clear()
        self.lent.clear()
        self.postgres = None

    @staticmethod
    def _create(admin_url: str, template: str | None) -> str:
        """A new database: a copy of ``template``, or empty (to become the template)."""
        name = f"accord_{'test' if template else 'template'}_{uuid.uuid4().hex[:12]}"
        copy = f' TEMPLATE "{template}"' if template else ""
        admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"{copy}'))
            conn.execute(text(_NO_SYNC.format(name=name)))
        admin.dispose()
        return name

    @staticmethod
    def _drop(admin_url: str, name: str) -> None:
        admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    def _learn(self, url: str) -> None:
        """From the template: the order to empty its tables in, its sequences, its schema."""
        engine = create_engine(url, isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            tables = set(conn.execute(text(_TABLES)).scalars()) - {"alembic_version"}
            edges = {(child, parent) for child, parent in conn.execute(text(_FOREIGN_KEYS))}
            sequences = conn.execute(text(_SEQUENCES)).all()
            self.fingerprint = conn.execute(text(_FINGERPRINT)).scalar_one()
        engine.dispose()
        order: list[str] = []  # children before the tables they reference
        while len(order) < len(tables):
            free = sorted(
                t
                for t in tables - set(order)
                if not any(p == t and c != t and c not in order for c, p in edges)
            )
            assert free, "a cycle of foreign keys"
            order.extend(free)
        self.order = order
        self.probe_sql = " UNION ALL ".join(
            f"SELECT '{t}' WHERE EXISTS (SELECT 1 FROM \"{t}\")" for t in order
        )
        values = ", ".join(
            f"('{name}', {'NULL' if last is None else last})" for name, last in sequences
        )
        self.sequences_sql = (
            "SELECT setval(format('%I', s.sequencename), coalesce(t.last, s.start_value), "
            "t.last IS NOT NULL) FROM pg_sequences s JOIN (VALUES "
            f"{values}) AS t(name, last) ON t.name = s.sequencename "
            "WHERE s.schemaname = 'public' AND s.last_value IS DISTINCT FROM t.last"
        )

    def _reset(self, url: str) -> bool:
        """Put the database back as the template left it; False where that cannot be sure."""
        engine = create_engine(url)
        try:
            with engine.begin() as conn:  # one transaction, one commit
                others = conn.execute(text(_OTHER_SESSIONS)).scalar_one()
                if others or conn.execute(text(_FINGERPRINT)).scalar_one() != self.fingerprint:
                    return False
                conn.execute(text("SET LOCAL lock_timeout = '5s'"))
                full = set(conn.execute(text(self.probe_sql)).scalars())
                for table in (t for t in self.order if t in full):
                    conn.execute(text(f'DELETE FROM "{table}"'))
                conn.execute(text(self.sequences_sql))
            return True
        except Exception:  # anything odd: this database is dropped, not lent again
            return False
        finally:
            engine.dispose()


def _url(admin_url: str, database: str) -> str:
    return make_url(admin_url).set(database=database).render_as_string(hide_password=False)


def _migrate(url: str) -> None:
    """Migrate the database at ``url`` as a template: without a node key (each node that
    opens a copy makes its own) and, on SQLite, as one self-contained file to copy."""
    Node.open(Settings(database_url=url, _env_file=None)).close()  # type: ignore[call-arg]
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM node_keys"))
    if engine.dialect.name == "sqlite":
        with engine.connect() as conn:
            conn.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))
            conn.execute(text("PRAGMA journal_mode=DELETE"))
    engine.dispose()


_TABLES = "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
_FOREIGN_KEYS = (
    "SELECT conrelid::regclass::text, confrelid::regclass::text FROM pg_constraint "
    "WHERE contype = 'f' AND connamespace = 'public'::regnamespace"
)
_SEQUENCES = "SELECT sequencename, last_value FROM pg_sequences WHERE schemaname = 'public'"
_OTHER_SESSIONS = (
    "SELECT count(*) FROM pg_stat_activity "
    "WHERE datname = current_database() AND pid <> pg_backend_pid() "
    "AND backend_type = 'client backend'"
)
# What a test could change besides rows: relations and their columns, constraints,
# indexes, functions, triggers, types, schemas, and the migrations applied.
_FINGERPRINT = """
SELECT md5(string_agg(x, E'\n' ORDER BY x)) FROM (
  SELECT format('%s %s %s', c.relname, c.relkind, (
    SELECT string_agg(format('%s:%s:%s:%s', a.attname, format_type(a.atttypid, a.atttypmod),
                             a.attnotnull, pg_get_expr(d.adbin, d.adrelid)), ',' ORDER BY a.attnum)
    FROM pg_attribute a LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
    WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped)) AS x
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
  WHERE n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')
  UNION ALL SELECT format('constraint %s %s', conname, pg_get_constraintdef(oid))
  FROM pg_constraint WHERE connamespace = 'public'::regnamespace
  UNION ALL SELECT format('index %s', pg_get_indexdef(i.indexrelid))
  FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
  WHERE c.relnamespace = 'public'::regnamespace
  UNION ALL SELECT format('function %s', oid::regprocedure) FROM pg_proc
  WHERE pronamespace = 'public'::regnamespace
  UNION ALL SELECT format('trigger %s %s', tgrelid::regclass, tgname) FROM pg_trigger
  WHERE NOT tgisinternal
  UNION ALL SELECT format('type %s', oid::regtype) FROM pg_type
  WHERE typnamespace = 'public'::regnamespace
  UNION ALL SELECT format('schema %s', nspname) FROM pg_namespace
  UNION ALL SELECT format('migration %s', version_num) FROM alembic_version
) AS s
"""

MIGRATED = Migrated()


@pytest.fixture(scope="session", autouse=True)
def _migrated(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Migrated]:
    MIGRATED.work = tmp_path_factory.getbasetemp()
    yield MIGRATED
    MIGRATED.close()


@pytest.fixture
def migrated() -> None:
    """Asked for (directly or through another fixture) by tests that open a full node on
    ``database_url``: that database then starts migrated to the newest schema, as a copy
    of a template (see ``Migrated``), not empty."""


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A new database for one test, on each store: empty, or migrated (``migrated``)."""
    migrated = "migrated" in request.fixturenames
    if request.param == "sqlite":
        path = tmp_path / "accord.db"
        yield MIGRATED.sqlite_copy(path) if migrated else f"sqlite:///{path}"
    elif migrated:
        yield from MIGRATED.postgres_lease()
    else:
        yield from postgres_database()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def settings(database_url: str) -> Settings:
    return Settings(database_url=database_url, node_name="test-node", _env_file=None)  # type: ignore[call-arg]


@pytest.fixture
def node(settings: Settings, clock: Clock, migrated: None) -> Iterator[Node]:
    opened = Node.open(settings, clock=clock)
    yield opened
    opened.close()


@pytest.fixture
def sqlite_node(tmp_path: os.PathLike[str], clock: Clock) -> Iterator[Node]:
    """A node on SQLite only, for tests that are not about storage."""
    url = MIGRATED.sqlite_copy(Path(tmp_path) / "accord.db")
    opened = Node.open(Settings(database_url=url, _env_file=None), clock=clock)  # type: ignore[call-arg]
    yield opened
    opened.close()


def migrated_sqlite(folder: object, name: str) -> str:
    """The URL of a new SQLite database ``name`` in ``folder``, migrated to the newest
    schema (a copy of the template, see ``Migrated``), for a node that opens it."""
    return MIGRATED.sqlite_copy(Path(str(folder)) / name)
