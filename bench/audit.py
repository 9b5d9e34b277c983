"""The audit log's figures: append rate, ingest with and without auditing, verify, proofs.

What it measures (in this process, on a fresh SQLite database in a temporary directory,
or on PostgreSQL with ``--backends postgresql``):

- append rate: events recorded one per transaction (a read's entry) and 500 per
  transaction (a bundle's stores), entries/s;
- ingest with vs without auditing: bench/ingest.py's workload (``--objects`` indicators
  in bundles of ``--bundle``, alternating TLP:GREEN/community and TLP:AMBER/organisation)
  through ``Exchange.ingest`` on a node with every capability, and on the same node
  without ``audit``; each configuration is run ``--rounds`` times alternately on fresh
  databases and the best rate of each is kept. HTTP is left out, so the ratio is the
  audit's share of the ingest work itself (over HTTP it would be diluted further).
  Target: with auditing at least 90% of the rate without;
- verify: ``--entries`` entries (10,000,000 for the issue's figure; 1,000,000 by default
  here) are appended in batches of 10,000, then ``AuditLog.verify`` recomputes every
  commitment, leaf and the whole tree and checks the signed head. Target < 60 s at 10M;
- inclusion proof at that size, for 200 random entries: the audit path alone
  (``AuditLog.inclusion``: the O(log n) stored subtrees it needs, in one query, and
  the hashing), and the whole ``accord audit prove`` answer (``AuditLog.prove``: also
  the entry, the size and the latest signed head: four queries), median and p99.
  Target < 1 ms.

    .venv/bin/python bench/audit.py                       # 1M entries, 20k objects
    .venv/bin/python bench/audit.py --entries 10000000    # the issue's figure
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from accord.audit.capability import AUDIT
from accord.capabilities import CAPABILITIES
from accord.domain.audit import Event
from accord.domain.model import Principal, Role
from accord.exchange.service import ShareRequest
from accord.node import Node
from accord.settings import Settings
from support import indicator, load_note, name_list, table

DEFAULT_PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


def _node(url: str, audited: bool) -> Node:
    caps = CAPABILITIES if audited else tuple(c for c in CAPABILITIES if c is not AUDIT)
    settings = Settings(database_url=url, node_name="bench", _env_file=None)  # type: ignore[call-arg]
    return Node.open(settings, capabilities=caps)


def _bundles(objects: int, size: int) -> list[tuple[dict[str, Any], ShareRequest]]:
    rng = random.Random(11)
    out = []
    for start in range(0, objects, size):
        visible = (start // size) % 2 == 0
        objs = [indicator(rng, n, green=visible) for n in range(start, min(objects, start + size))]
        share = ShareRequest.parse(
            "TLP:GREEN" if visible else "TLP:AMBER",
            "community" if visible else "organisation",
            [],
            None,
        )
        bundle_id = f"bundle--{uuid.UUID(int=rng.getrandbits(128), version=4)}"
        out.append(({"type": "bundle", "id": bundle_id, "objects": objs}, share))
    return out


def ingest_rate(
    url: str, audited: bool, bundles: list[tuple[dict[str, Any], ShareRequest]]
) -> float:
    node = _node(url, audited)
    try:
        org = node.accounts.add_org(None, "Bench Sharer A", "national-cert", "SG")
        who = Principal(org=org.id, role=Role.ANALYST)
        node.exchange.ingest(who, bundles[0][0], bundles[0][1])  # warm-up: validators compile
        spent = _time_audit(node)
        count = 0
        began, cpu = time.perf_counter(), time.process_time()
        for body, share in bundles[1:]:
            count += len(node.exchange.ingest(who, body, share).stored)
        wall = time.perf_counter() - began
        return count / wall, count / (time.process_time() - cpu), spent[0] / wall
    finally:
        node.close()


def _time_audit(node: Node) -> list[float]:
    """Time the audit's appends inside ingest (its ``ChangeLog`` index), in seconds."""
    from accord.audit.recording import ChangeLog

    spent = [0.0]
    for index in node.exchange._indexes:  # noqa: SLF001 - the bench looks inside
        if isinstance(index, ChangeLog):
            inner = index.index_versions

            def timed(batch: Any, versions: Any, inner: Any = inner) -> None:
                t = time.perf_counter()
                inner(batch, versions)
                spent[0] += time.perf_counter() - t

            index.index_versions = timed  # type: ignore[method-assign]
    return spent


def append_rates(url: str) -> tuple[float, float]:
    node = _node(url, True)
    try:
        log = AUDIT.service(node)
        n = 2000
        began = time.perf_counter()
        for i in range(n):
            log.record([Event(f"org:{i % 7} role:analyst", "read", object_ref=f"indicator--{i}")])
        single = n / (time.perf_counter() - began)
        batch = [
            Event("org:1", "store", object_ref=f"indicator--{i}", version="x") for i in range(500)
        ]
        began = time.perf_counter()
        for _ in range(40):
            log.record(batch)
        batched = 40 * 500 / (time.perf_counter() - began)
        return single, batched
    finally:
        node.close()


def verify_and_prove(url: str, entries: int) -> dict[str, float]:
    node = _node(url, True)
    try:
        log = AUDIT.service(node)
        events = [
            Event(
                f"org:{i % 13} role:analyst",
                "read",
                object_ref=f"indicator--{i:036d}",
                version="2026-11-01T10:00:00.000000Z",
            )
            for i in range(10_000)
        ]
        began = time.perf_counter()
        from accord.store.db import write

        done = 0
        while done < entries:
            chunk = events[: min(10_000, entries - done)]
            with write(node.engine) as conn:
                log.append(conn, chunk)
            done += len(chunk)
            if done % 1_000_000 == 0:
                print(f"  appended {done:,}", file=sys.stderr, flush=True)
        fill = time.perf_counter() - began
        log.head()
        began, cpu = time.perf_counter(), time.process_time()
        report = log.verify()
        verify_s = time.perf_counter() - began
        verify_cpu = time.process_time() - cpu
        assert report.problem is None, report.problem
        rng = random.Random(5)
        times, paths = [], []
        for _ in range(200):
            seq = rng.randrange(entries)
            t = time.perf_counter()
            log.prove(seq)
            times.append(time.perf_counter() - t)
            t = time.perf_counter()
            log.inclusion(seq, entries)
            paths.append(time.perf_counter() - t)
        times.sort()
        paths.sort()
        return {
            "path_p50_ms": statistics.median(paths) * 1000,
            "path_p99_ms": paths[int(len(paths) * 0.99) - 1] * 1000,
            "fill_rate": entries / fill,
            "verify_s": verify_s,
            "verify_cpu": verify_cpu,
            "prove_p50_ms": statistics.median(times) * 1000,
            "prove_p99_ms": times[int(len(times) * 0.99) - 1] * 1000,
        }
    finally:
        node.close()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--objects", type=int, default=20_000)
    parser.add_argument("--bundle", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument("--backends", type=name_list, default=["sqlite"])
    parser.add_argument("--pg-url", default=DEFAULT_PG_URL)
    parser.add_argument("--skip", type=name_list, default=[], help="append, ingest, verify")
    args = parser.parse_args()
    print(load_note())
    bundles = _bundles(args.objects + args.bundle, args.bundle)
    rows: list[list[str]] = []
    for backend in args.backends:
        with tempfile.TemporaryDirectory() as tmp:

            def fresh(name: str, backend: str = backend, tmp: str = tmp) -> str:
                if backend == "sqlite":
                    return f"sqlite:///{Path(tmp) / name}.db"
                return _pg(args.pg_url, name)

            if "append" not in args.skip:
                single, batched = append_rates(fresh("append"))
                rows.append(
                    [backend, "append, 1 entry a transaction", f"{single:,.0f} entries/s", ""]
                )
                rows.append([backend, "append, 500 a transaction", f"{batched:,.0f} entries/s", ""])
            if "ingest" not in args.skip:
                best = {True: 0.0, False: 0.0}
                cpu = {True: 0.0, False: 0.0}
                shares = []
                for r in range(args.rounds):
                    for audited in (False, True):
                        url = fresh(f"ingest{r}{audited}")
                        rate, per_cpu, share = ingest_rate(url, audited, bundles)
                        best[audited] = max(best[audited], rate)
                        cpu[audited] = max(cpu[audited], per_cpu)
                        if audited:
                            shares.append(share)
                rows.append(
                    [
                        backend,
                        "ingest wall time spent appending to the log",
                        f"{statistics.median(shares):.1%}",
                        f"so with audit ~{1 - statistics.median(shares):.0%} of without",
                    ]
                )
                ratio = best[True] / best[False]
                rows.append(
                    [
                        backend,
                        "ingest per CPU-second, with/without",
                        f"{cpu[True]:,.0f} / {cpu[False]:,.0f} obj/s",
                        f"{cpu[True] / cpu[False]:.0%}",
                    ]
                )
                rows.append([backend, "ingest without audit", f"{best[False]:,.0f} obj/s", ""])
                rows.append(
                    [
                        backend,
                        "ingest with audit",
                        f"{best[True]:,.0f} obj/s",
                        f"{ratio:.0%} (target >= 90%)",
                    ]
                )
            if "verify" not in args.skip:
                got = verify_and_prove(fresh("verify"), args.entries)
                rows.append(
                    [
                        backend,
                        f"fill {args.entries:,} entries (10k a transaction)",
                        f"{got['fill_rate']:,.0f} entries/s",
                        "",
                    ]
                )
                rows.append(
                    [
                        backend,
                        f"verify {args.entries:,} entries",
                        f"{got['verify_s']:.1f} s ({got['verify_cpu']:.1f} s CPU)",
                        "target < 60 s at 10M",
                    ]
                )
                rows.append(
                    [
                        backend,
                        f"inclusion proof at {args.entries:,}, with entry and signed head",
                        f"p50 {got['prove_p50_ms']:.3f} ms, p99 {got['prove_p99_ms']:.3f} ms",
                        "",
                    ]
                )
                rows.append(
                    [
                        backend,
                        f"inclusion proof at {args.entries:,} (the audit path)",
                        f"p50 {got['path_p50_ms']:.3f} ms, p99 {got['path_p99_ms']:.3f} ms",
                        "target < 1 ms",
                    ]
                )
    print(table(["backend", "what", "figure", "note"], rows))
    for manager in _PG_DATABASES:
        manager.__exit__(None, None, None)


_PG_DATABASES: list[Any] = []


def _pg(admin_url: str, name: str) -> str:
    from support import postgres_database

    manager = postgres_database(admin_url, analyze=False)
    db = manager.__enter__()
    _PG_DATABASES.append(manager)
    return db.url


if __name__ == "__main__":
    main()
