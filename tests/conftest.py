"""Shared fixtures: a fresh node per test, on SQLite and, when configured, on PostgreSQL.

Tests that take ``database_url`` (or ``node``) run once per backend. PostgreSQL runs
when ``ACCORD_TEST_POSTGRES_URL`` names a server where we may create databases;
each test gets a database of its own, dropped afterwards.
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
    try:
        yield make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: os.PathLike[str]) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path}/accord.db"
    else:
        yield from postgres_database()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def settings(database_url: str) -> Settings:
    return Settings(database_url=database_url, node_name="test-node", _env_file=None)  # type: ignore[call-arg]


@pytest.fixture(scope="session")
def _templates(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """Databases migrated once per test process, by backend; each ``node`` starts from a
    copy (a file copy, or PostgreSQL's CREATE DATABASE ... TEMPLATE), which is several
    times faster than running every migration again. Made lazily, on first use."""
    made: dict[str, str] = {}
    yield made
    if "postgresql" in made:
        admin = create_engine(os.environ[POSTGRES_ENV], isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{made["postgresql"]}" WITH (FORCE)'))
        admin.dispose()


def _template(made: dict[str, str], backend: str, work: Path) -> str:
    """The migrated template for ``backend``: a SQLite file's path or a database's name."""
    if backend in made:
        return made[backend]
    if backend == "sqlite":
        url = f"sqlite:///{work}/template.db"
        name = str(work / "template.db")
    else:
        name = f"accord_template_{uuid.uuid4().hex[:12]}"
        admin = create_engine(os.environ[POSTGRES_ENV], isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        admin.dispose()
        url = (
            make_url(os.environ[POSTGRES_ENV])
            .set(database=name)
            .render_as_string(hide_password=False)
        )
    Node.open(Settings(database_url=url, _env_file=None)).close()  # type: ignore[call-arg]
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM node_keys"))  # each node makes its own key
    if backend == "sqlite":
        with engine.connect() as conn:  # one self-contained file to copy
            conn.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))
            conn.execute(text("PRAGMA journal_mode=DELETE"))
    engine.dispose()
    made[backend] = name
    return name


@pytest.fixture
def node(
    settings: Settings,
    clock: Clock,
    _templates: dict[str, str],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Node]:
    url = make_url(settings.database_url)
    if url.get_backend_name() == "sqlite" and url.database:
        template = _template(_templates, "sqlite", tmp_path_factory.getbasetemp())
        shutil.copyfile(template, url.database)
    elif url.get_backend_name() == "postgresql":
        template = _template(_templates, "postgresql", tmp_path_factory.getbasetemp())
        admin = create_engine(os.environ[POSTGRES_ENV], isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE "{url.database}"'))
            conn.execute(text(f'CREATE DATABASE "{url.database}" TEMPLATE "{template}"'))
        admin.dispose()
    opened = Node.open(settings, clock=clock)
    yield opened
    opened.close()


@pytest.fixture
def sqlite_node(tmp_path: os.PathLike[str], clock: Clock) -> Iterator[Node]:
    """A node on SQLite only, for tests that are not about storage."""
    url = f"sqlite:///{tmp_path}/accord.db"
    opened = Node.open(Settings(database_url=url, _env_file=None), clock=clock)  # type: ignore[call-arg]
    yield opened
    opened.close()
