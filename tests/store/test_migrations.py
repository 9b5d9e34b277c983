"""Migrations build exactly the schema the tables declare, on every backend."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect

from accord.capabilities import metadata as all_tables
from accord.node import Node
from accord.store.db import migrate, schema_is_current


def test_migrated_schema_matches_the_tables(node: Node) -> None:
    with node.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), all_tables())
    assert diff == []
    assert schema_is_current(node.engine)


def test_migrating_twice_is_a_no_op(node: Node) -> None:
    before = sorted(inspect(node.engine).get_table_names())
    migrate(node.engine)
    assert sorted(inspect(node.engine).get_table_names()) == before
    assert "alembic_version" in before


def test_sqlite_runs_in_wal_mode_with_foreign_keys(sqlite_node: Node) -> None:
    with sqlite_node.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
