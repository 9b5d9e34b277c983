"""The floor under a bulk import on SQLite: rows of ``stix_objects`` inserted with nothing
else done, in the node's own schema and settings.

Rows shaped like an import's versions (a random STIX id, a 700-byte document, the
marking, scope and stamps) go straight to the driver (one prepared INSERT, executemany)
in transactions of ``--per`` rows, with no validation, no other table and no Python
beyond building the tuples. What it prints, per fifth of the run, is what SQLite itself
costs per row as the table grows: the random ids make every insert into the unique
(stix_id, modified) index touch a page of its own. A MISP attribute is about 3.25 STIX
versions (misp-stix writes observed data, its observables and, for ``to_ids``, an
indicator), so this floor in microseconds a row times 3.25 bounds an import's rate.

Run it, for example::

    .venv/bin/python bench/store_floor.py --rows 3250000    # 1,000,000 attributes' worth
"""

from __future__ import annotations

import argparse
import tempfile
import time
import uuid

from accord.node import Node
from accord.settings import Settings
from accord.store.db import insert_rows
from accord.store.objects import VERSION_COLUMNS
from accord.store.tables import stix_objects

PROVENANCE = '{"origin_node":"misp","origin_node_id":"0123456789abcdef","via":[]}'
SCOPES = ("organisation", "group", "community", "public")


def _stamp(n: int) -> str:
    """Distinct, increasing date_added stamps, as an import's are."""
    hours, minutes, seconds = n // 3_600_000_000, n // 60_000_000 % 60, n // 1_000_000 % 60
    return f"2026-12-01T{hours:02d}:{minutes:02d}:{seconds:02d}.{n % 1_000_000:06d}Z"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=3_250_000)
    parser.add_argument("--per", type=int, default=20_000, help="rows a transaction")
    args = parser.parse_args()
    doc = "x" * 700
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(database_url=f"sqlite:///{tmp}/floor.db", _env_file=None)  # type: ignore[call-arg]
        node = Node.open(settings)
        owner = node.accounts.add_org(None, "SingCERT", "national-cert", "SG").id
        fifth = max(1, args.rows // 5)
        print(f"{args.rows:,} rows, {args.per:,} a transaction")
        print(f"{'rows so far':>12} {'µs/row (CPU)':>13} {'µs/row (wall)':>14}")
        done, mark_rows, mark_cpu, mark_wall = 0, 0, time.process_time(), time.perf_counter()
        start_cpu, start_wall = mark_cpu, mark_wall
        while done < args.rows:
            count = min(args.per, args.rows - done)
            rows = [
                (
                    f"indicator--{uuid.uuid4()}",
                    "indicator",
                    "2.1",
                    "2023-11-14T22:13:20.000Z",
                    "2023-11-14T22:13:20.000Z",
                    owner,
                    False,
                    "TLP:GREEN",
                    SCOPES[(done + i) % len(SCOPES)],
                    None,
                    _stamp(done + i),
                    True,
                    "d1.example 10.0.0.1",
                    PROVENANCE,
                    "0123456789abcdef",
                    doc,
                )
                for i in range(count)
            ]
            with node.engine.connect().execution_options(writer=True) as conn, conn.begin():
                insert_rows(conn, stix_objects, VERSION_COLUMNS, rows)
            done += count
            if done - mark_rows >= fifth or done == args.rows:
                cpu, wall = time.process_time(), time.perf_counter()
                rows_in = done - mark_rows
                print(
                    f"{done:>12,} {1e6 * (cpu - mark_cpu) / rows_in:>13.1f}"
                    f" {1e6 * (wall - mark_wall) / rows_in:>14.1f}"
                )
                mark_rows, mark_cpu, mark_wall = done, cpu, wall
        cpu, wall = time.process_time() - start_cpu, time.perf_counter() - start_wall
        print(
            f"all: {args.rows / cpu:,.0f} rows per CPU second, {args.rows / wall:,.0f} a second "
            f"wall; at 3.25 versions an attribute, {args.rows / 3.25 / wall:,.0f} attributes/s"
        )
        node.close()


if __name__ == "__main__":
    main()
