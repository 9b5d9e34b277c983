"""Migrations build exactly the schema the tables declare, on every backend."""

from __future__ import annotations

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import func, insert, inspect, select

from accord.capabilities import CAPABILITIES
from accord.capabilities import metadata as all_tables
from accord.node import Node
from accord.store.db import _alembic_config, migrate, schema_is_current
from accord.store.detect import observable_index, value_key
from tests.builders import bundle, indicator, org, principal

# Capabilities that keep their Alembic branch in their own package (``migrations=``).
OWN = [c.migrations for c in CAPABILITIES if c.migrations is not None]


def test_migrated_schema_matches_the_tables(node: Node) -> None:
    with node.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), all_tables())
    assert diff == []
    assert schema_is_current(node.engine, OWN)


def test_migrating_twice_is_a_no_op(node: Node) -> None:
    before = sorted(inspect(node.engine).get_table_names())
    migrate(node.engine, OWN)
    assert sorted(inspect(node.engine).get_table_names()) == before
    assert "alembic_version" in before


def test_d002_drops_index_rows_of_versions_no_longer_stored(node: Node) -> None:
    kept = indicator("45.33.32.156")
    node.exchange.ingest(principal(node, org(node, "SingCERT")), bundle(kept))
    with node.engine.begin() as conn:
        command.downgrade(_alembic_config(conn, OWN), "d002-1")
        stale = {"stix_id": "indicator--gone", "modified": kept["modified"], "owner_org": 1}
        conn.execute(
            insert(observable_index),
            {**stale, "kind": "k", "value": "v", "value_key": value_key("k", "v")},
        )
    migrate(node.engine, OWN)
    with node.engine.connect() as conn:
        ids = conn.execute(select(func.distinct(observable_index.c.stix_id))).scalars().all()
    assert ids == [kept["id"]]
    assert schema_is_current(node.engine, OWN)


def test_sqlite_runs_in_wal_mode_with_foreign_keys(sqlite_node: Node) -> None:
    with sqlite_node.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
