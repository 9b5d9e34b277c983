"""Reads of given ids are driven by the id's own index on SQLite, whatever its statistics;
bulk loads keep PostgreSQL's statistics up to date.

A fresh SQLite database has no statistics, and its planner then rates ``is_latest IS 1``
as selective as ``stix_id = ?``: it walked every latest row of an is_latest index to
find one id's (a get on a store of 3 million versions read all of them). The
statements these reads run are recorded and explained here, so a query that
regresses to such a walk fails, whatever the size of the test's data.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import Connection, event, text

from accord.node import Node
from accord.store.db import insert_rows, refresh_statistics
from accord.store.detect import observable_index
from accord.store.objects import VersionQuery
from tests.builders import bundle, indicator, org, principal

_COLUMNS = ("stix_id", "modified", "owner_org", "kind", "value", "value_key")
# The unique (stix_id, modified) index: the only way a read of given ids should find rows.
_BY_ID = "USING INDEX sqlite_autoindex_stix_objects_1 (stix_id=?)"
_BY_PK = "USING INTEGER PRIMARY KEY (rowid=?)"  # a row found before, read again


@contextmanager
def _statements(node: Node) -> Iterator[list[tuple[str, Any]]]:
    seen: list[tuple[str, Any]] = []

    def record(_conn: Any, _cursor: Any, statement: str, params: Any, *_: Any) -> None:
        if statement.lstrip().upper().startswith("SELECT") and "stix_objects" in statement:
            seen.append((statement, params))

    event.listen(node.engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(node.engine, "before_cursor_execute", record)


def _plans(node: Node, read: Callable[[], object]) -> list[str]:
    with _statements(node) as seen:
        read()
    assert seen, "the read ran no statement on stix_objects"
    steps: list[str] = []
    with node.engine.connect() as conn:
        driver = conn.connection.driver_connection
        assert driver is not None
        for statement, params in seen:
            for row in driver.execute(f"EXPLAIN QUERY PLAN {statement}", params):
                steps.append(str(row[3]))
    return steps


def test_reads_of_given_ids_use_the_id_index(sqlite_node: Node) -> None:
    node = sqlite_node
    owner = org(node, "SingCERT")
    reader = principal(node, owner)
    stored = [indicator(f"198.51.{i // 250}.{i % 250}") for i in range(600)]
    node.exchange.ingest(reader, bundle(*stored))
    wanted = tuple(o["id"] for o in stored[:500])  # a page of a MISP event's members

    def get() -> object:
        return node.exchange.get(reader, wanted[0])

    def versions_page() -> object:
        return node.exchange.versions_page(reader, VersionQuery(ids=wanted, versions=("last",)))

    def versions() -> object:
        return node.exchange.get(reader, wanted[1])[1]

    for read in (get, versions_page, versions):
        steps = _plans(node, read)
        finding = [s for s in steps if "stix_objects" in s or s == "MULTI-INDEX OR"]
        assert finding, steps
        assert all(_BY_ID in s or _BY_PK in s for s in finding), (read.__name__, steps)


def test_a_bulk_load_brings_postgresql_statistics_up_to_date(node: Node) -> None:
    """Without statistics PostgreSQL read the whole table for each IN-list of ids a bulk
    import looks up (100,000 MISP attributes took 12 minutes, not 10 seconds): a table
    changed by more than a fifth since its last analysis is analysed before such lookups."""
    if node.engine.dialect.name != "postgresql":
        refresh_statistics(node.engine, observable_index)  # nothing to do, and no error
        return
    rows = [
        (f"indicator--{i}", "m", 1, "ipv4-addr:value", f"v{i}", f"{i:064x}") for i in range(5000)
    ]

    def analysed(conn: Connection) -> bool:
        found = conn.execute(
            text("SELECT count(*) FROM pg_stats WHERE tablename = 'observable_index'")
        ).scalar()
        return bool(found)

    with node.engine.connect() as conn:
        with conn.begin():
            assert not analysed(conn)
            insert_rows(conn, observable_index, _COLUMNS, rows)
        with conn.begin():  # this backend's counts are flushed at the end of the next one
            if int(conn.execute(text("SHOW server_version_num")).scalar_one()) < 150000:
                pytest.skip("pg_stat_force_next_flush is PostgreSQL 15's")
            conn.execute(text("SELECT pg_stat_force_next_flush()"))
    refresh_statistics(node.engine, observable_index)
    with node.engine.connect() as conn:
        assert analysed(conn)
