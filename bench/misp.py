"""MISP import, round trip and feed export on one core, against a SQLite node.

- builds ``--events`` MISP events holding ``--attributes`` attributes in all (ip-dst,
  domain, md5, url; mixed distributions 0-5 with a sharing group, tlp: tags) as a MISP
  instance writes them (core format, timestamps set), serialised before timing starts;
- times ``Misp.import_events`` (wall and this process's CPU time, since a shared machine's
  load inflates the wall time) (read with PyMISP, content through misp-stix, mapping,
  STIX validation, stamping, storing): attributes/s;
- checks the round trip over all of them: every event exported equals the input
  (PyMISP-normalised);
- times the feed export of the same (manifest.json, <uuid>.json, hashes.csv into a
  directory): events/s and attributes/s.

With ``--database-url`` it runs on that (empty) PostgreSQL database instead of a new
SQLite file, and also prints the CPU time of the PostgreSQL backends serving the node
(read from /proc, so the server must run on this machine), since there the index work
is the server's.

Run it, for example::

    .venv/bin/python bench/misp.py --attributes 5000 --events 5
    .venv/bin/python bench/misp.py            # 1,000,000 attributes in 1,000 events
    .venv/bin/python bench/misp.py --attributes 100000 --events 100 \
        --database-url postgresql+psycopg://postgres@127.0.0.1:5432/bench_misp
"""

from __future__ import annotations

import argparse
import os
import resource
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson

from accord.cli.misp import write_feed
from accord.domain.model import Principal, Role
from accord.node import Node
from accord.settings import Settings

SG = "5d6e7f80-1111-4222-8333-444455556666"
STAMP = "1700000000"
KINDS = ("ip-dst", "domain", "md5", "url")
TAGS = ("tlp:clear", "tlp:green", "tlp:amber", None)


def _value(kind: str, n: int) -> str:
    if kind == "ip-dst":
        return f"10.{n >> 16 & 255}.{n >> 8 & 255}.{n & 255}"
    if kind == "domain":
        return f"d{n}.example"
    if kind == "md5":
        return f"{n:032x}"
    return f"http://u{n}.example/p"


def build(events: int, attributes: int) -> Iterator[dict[str, Any]]:
    """The events one at a time (a million attributes as dictionaries take gigabytes)."""
    per = max(1, attributes // events)
    n = 0
    for e in range(events):
        attrs = []
        for _ in range(per):
            kind = KINDS[n % len(KINDS)]
            dist = n % 6
            attr: dict[str, Any] = {
                "uuid": str(uuid.uuid4()),
                "type": kind,
                "category": "Network activity" if kind != "md5" else "Payload delivery",
                "value": _value(kind, n),
                "to_ids": True,
                "distribution": str(dist),
                "timestamp": STAMP,
                "disable_correlation": False,
            }
            if dist == 4:
                attr["sharing_group_id"] = "7"
                attr["SharingGroup"] = {"uuid": SG, "name": "ASEAN CERTs"}
            tag = TAGS[n % len(TAGS)]
            if tag:
                attr["Tag"] = [{"name": tag}]
            attrs.append(attr)
            n += 1
        yield (
            {
                "Event": {
                    "uuid": str(uuid.uuid4()),
                    "info": f"bench event {e}",
                    "date": "2026-11-30",
                    "distribution": str(e % 4),
                    "analysis": "2",
                    "threat_level_id": "2",
                    "published": True,
                    "timestamp": STAMP,
                    "Orgc": {"name": "SingCERT", "uuid": "3f2c5b8e-4c1d-4e2a-9b7f-1a2b3c4d5e6f"},
                    "Tag": [{"name": "tlp:green"}],
                    "Attribute": attrs,
                }
            }
        )


def normal(event: dict[str, Any]) -> str:
    from pymisp import MISPEvent

    misp = MISPEvent()
    misp.load(orjson.loads(orjson.dumps(event)))
    return str(misp.to_json(sort_keys=True))


def _backend_cpu(node: Node) -> float | None:
    """CPU seconds used so far by the PostgreSQL backends of ``node``'s database (None on
    SQLite): user and system time from /proc of each backend process."""
    if node.engine.dialect.name != "postgresql":
        return None
    from sqlalchemy import text

    with node.engine.connect() as conn:
        pids = conn.execute(
            text("SELECT pid FROM pg_stat_activity WHERE datname = current_database()")
        ).scalars()
        total = 0.0
        for pid in pids:
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--attributes", type=int, default=1_000_000)
    parser.add_argument("--events", type=int, default=1_000)
    parser.add_argument("--database-url", help="an empty PostgreSQL database (default: SQLite)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = args.database_url or f"sqlite:///{tmp}/bench.db"
        settings = Settings(database_url=url, _env_file=None)  # type: ignore[call-arg]
        node = Node.open(settings)
        org = node.accounts.add_org(None, "SingCERT", "national-cert", "SG")
        node.accounts.add_group(None, "asean-certs", "ASEAN CERTs")
        node.accounts.set_member(None, "asean-certs", org.identity_id, True)
        admin = Principal(org=org.id, role=Role.ADMIN, groups=node.accounts.groups.of_org(org.id))
        node.misp.link_group(admin, SG, "asean-certs")
        payloads = [orjson.dumps(e) for e in build(args.events, args.attributes)]
        total = max(1, args.attributes // args.events) * args.events
        payload_mib = sum(len(p) for p in payloads) / 2**20
        print(f"{len(payloads)} events, {total} attributes; pid {os.getpid()}, one process")
        node.misp.import_events(admin, list(build(1, 4)))  # warm-up: validators compile lazily
        server = _backend_cpu(node)
        start, cpu = time.perf_counter(), time.process_time()
        report = node.misp.import_events(admin, payloads)
        took, cpu = time.perf_counter() - start, time.process_time() - cpu
        print(
            f"import: {total / took:,.0f} attributes/s wall, {total / cpu:,.0f} per CPU second "
            f"({took:.1f} s wall, {cpu:.1f} s CPU; {report.stored:,} STIX object versions stored)"
        )
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"        peak RSS: {peak:,.0f} MiB (the payloads, {payload_mib:,.0f} MiB, included)")
        if server is not None:
            used = (_backend_cpu(node) or 0.0) - server
            print(
                f"        PostgreSQL backends: {used:.1f} s CPU ({total / used:,.0f} attributes "
                "per CPU second of the server)"
            )
        start = time.perf_counter()
        bad = 0
        for payload in payloads:
            event = orjson.loads(payload)
            bad += normal(node.misp.event(admin, event["Event"]["uuid"])) != normal(event)
        took = time.perf_counter() - start
        print(f"round trip: {len(payloads) - bad}/{len(payloads)} events identical ({took:.1f} s)")
        start, cpu = time.perf_counter(), time.process_time()
        count = write_feed(node.misp, admin, Path(tmp) / "feed")
        took, cpu = time.perf_counter() - start, time.process_time() - cpu
        print(
            f"feed export: {count / took:,.1f} events/s, {total / took:,.0f} attributes/s wall, "
            f"{total / cpu:,.0f} per CPU second ({took:.1f} s wall, {cpu:.1f} s CPU)"
        )
        node.close()
        if bad:
            raise SystemExit(1)


if __name__ == "__main__":
    main()
