"""Server time of the web console's busiest pages with a large store and many sessions.

What it measures (SQLite in a temporary directory, or ``--pg-url`` for a scratch
PostgreSQL database):

- the store is seeded untimed: ``--objects`` indicators (1,000,000 by default) shared
  through the exchange service by 20 organisations with a mix of markings and scopes
  (TLP:CLEAR public, TLP:GREEN community, TLP:AMBER to a group, TLP:AMBER+STRICT to the
  owner only), and ``--requests`` assistance requests (100,000) inserted in bulk, those
  already late marked escalated, as they would have been when they fell late;
- the node serves the console with ``--workers`` processes (2: one per core here);
  ``--sessions`` people (20) sign in with a password each, one after another (argon2,
  untimed), then all at once load the overview, the object list and the request inbox
  ``--rounds`` times each, in random order;
- printed per page: p50 and p99 of the server time (the ``Server-Timing`` header the
  node adds, which covers routing, the services and rendering), p50 and p99 of the
  time the client waited, and the target (server time under 200 ms); then peak RSS.

Run it as::

    .venv/bin/python bench/web.py
    .venv/bin/python bench/web.py --objects 100000 --requests 10000   # a quick look
"""

from __future__ import annotations

import argparse
import asyncio
import random
import re
import sys
import tempfile
import time
from pathlib import Path

import httpx

from accord.domain.model import Principal, Role
from accord.domain.scope import Scope
from accord.domain.tlp import TLP
from accord.exchange.service import ShareRequest
from accord.node import Node
from accord.settings import Settings
from support import (
    RssSampler,
    Server,
    SetupError,
    Skip,
    accord_env,
    free_port,
    indicator,
    p50_p99_ms,
    postgres_database,
    sqlite_database,
    store_requests,
    table,
)

PASSWORD = "bench console password"
PAGES = {"overview": "/", "object list": "/objects", "request inbox": "/requests"}
TIMING = re.compile(r"app;dur=([0-9.]+)")
MIX = (
    (TLP.CLEAR, Scope.PUBLIC, None),
    (TLP.GREEN, Scope.COMMUNITY, None),
    (TLP.AMBER, Scope.GROUP, "bench-group"),
    (TLP.AMBER_STRICT, Scope.ORGANISATION, None),
)


def seed(node: Node, orgs: int, objects: int, requests: int) -> None:
    ids = []
    for i in range(orgs):
        org = node.accounts.add_org(None, f"CERT {i:02d}", "national-cert", "SG")
        ids.append(org.id)
        node.accounts.add_user(None, f"analyst{i:02d}", org.name, "analyst", PASSWORD)
    node.accounts.add_group(None, "bench-group", "Bench group")
    for i in range(0, orgs, 2):
        node.accounts.set_member(None, "bench-group", f"CERT {i:02d}", True)
    rng = random.Random(7)
    started = time.perf_counter()
    batch = 5_000
    for start in range(0, objects, batch):
        owner = ids[(start // batch) % orgs]
        tlp, scope, group = MIX[(start // batch) % len(MIX)]
        if group and (start // batch) % orgs % 2:
            tlp, scope, group = MIX[1]  # only members share to the group
        principal = Principal(org=owner, role=Role.ANALYST, groups=frozenset())
        bundle = {
            "type": "bundle",
            "id": f"bundle--{rng.getrandbits(64):016x}-0000-4000-8000-000000000000",
            "objects": [indicator(rng, n) for n in range(start, min(start + batch, objects))],
        }
        node.exchange.ingest(principal, bundle, ShareRequest(tlp=tlp, scope=scope, group=group))
        done = min(start + batch, objects)
        if done % 100_000 == 0 or done == objects:
            rate = done / (time.perf_counter() - started)
            print(f"  seeded {done:,} objects ({rate:,.0f}/s)", flush=True)
    store_requests(node.engine, ids, requests)
    print(f"  seeded {requests:,} requests", flush=True)


async def sign_in(client: httpx.AsyncClient, username: str) -> None:
    form = await client.get("/signin")
    csrf = re.search(r'name="csrf" value="([^"]+)"', form.text)
    assert csrf, "no CSRF token on the sign-in page"
    fields = {"csrf": csrf.group(1), "method": "password", "next": "/"}
    signed = await client.post(
        "/signin", data={**fields, "username": username, "password": PASSWORD}
    )
    assert signed.status_code == 303, signed.text[:200]


async def browse(client: httpx.AsyncClient, rounds: int, seed_: int) -> dict[str, list[float]]:
    """One person loads each page ``rounds`` times, in random order."""
    out: dict[str, list[float]] = {
        f"{n} {kind}": [] for n in PAGES for kind in ("server", "client")
    }
    visits = [name for name in PAGES for _ in range(rounds)]
    random.Random(seed_).shuffle(visits)
    for name in visits:
        t0 = time.perf_counter()
        response = await client.get(PAGES[name])
        waited = time.perf_counter() - t0
        assert response.status_code == 200, (name, response.status_code)
        timing = TIMING.search(response.headers.get("server-timing", ""))
        assert timing, "no Server-Timing header"
        out[f"{name} server"].append(float(timing.group(1)) / 1000)
        out[f"{name} client"].append(waited)
    return out


async def load(base: str, sessions: int, rounds: int) -> tuple[dict[str, list[float]], float]:
    """Sign ``sessions`` people in, then have them all browse at once; times and seconds."""
    clients = [httpx.AsyncClient(base_url=base, timeout=60) for _ in range(sessions)]
    try:
        # People sign in one after another, as they arrive. A burst of new connections
        # would all be accepted by whichever server worker wakes first (asyncio accepts
        # everything queued on the shared socket at once), leaving the other idle.
        for i, c in enumerate(clients):
            await sign_in(c, f"analyst{i:02d}")
        started = time.perf_counter()
        results = await asyncio.gather(*(browse(c, rounds, i) for i, c in enumerate(clients)))
        elapsed = time.perf_counter() - started
    finally:
        for c in clients:
            await c.aclose()
    merged: dict[str, list[float]] = {}
    for r in results:
        for key, values in r.items():
            merged.setdefault(key, []).extend(values)
    return merged, elapsed


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--objects", type=int, default=1_000_000)
    p.add_argument("--requests", type=int, default=100_000)
    p.add_argument("--sessions", type=int, default=20)
    p.add_argument("--rounds", type=int, default=10, help="loads of each page per session")
    p.add_argument("--workers", type=int, default=2, help="server processes (ACCORD_WORKERS)")
    p.add_argument("--pg-url", help="PostgreSQL admin URL: run on a scratch database there")
    p.add_argument(
        "--keep",
        type=Path,
        help="SQLite: keep the seeded store in this folder and reuse it on the next run",
    )
    args = p.parse_args()
    with tempfile.TemporaryDirectory(prefix="accord-bench-web-") as tmp:
        workdir = args.keep or Path(tmp)
        workdir.mkdir(parents=True, exist_ok=True)
        reuse = args.keep is not None and (workdir / "accord.db").exists() and not args.pg_url
        databases = (
            postgres_database(args.pg_url, analyze=True)
            if args.pg_url
            else sqlite_database(workdir)
        )
        try:
            with databases as db:
                if reuse:
                    print(f"reusing the store in {workdir}", flush=True)
                else:
                    print(
                        f"seeding {args.objects:,} objects and {args.requests:,} requests ...",
                        flush=True,
                    )
                    node = Node.open(Settings(database_url=db.url, _env_file=None))  # type: ignore[call-arg]
                    try:
                        seed(node, max(args.sessions, 2), args.objects, args.requests)
                    finally:
                        node.close()
                db.analyze()
                port = free_port()
                env = accord_env(db.url, port, name="bench-web", workers=str(args.workers))
                server = Server(env, workdir, port)
                try:
                    server.wait_healthy()
                    rss = RssSampler(server.proc.pid)
                    asyncio.run(load(server.base, 2, 1))  # warm-up
                    times, elapsed = asyncio.run(load(server.base, args.sessions, args.rounds))
                    rss.stop()
                finally:
                    server.stop()
        except (SetupError, Skip) as exc:
            print(f"bench/web.py: {exc}", file=sys.stderr)
            return 1
    rows = []
    for name in PAGES:
        s50, s99 = p50_p99_ms(times[f"{name} server"])
        c50, c99 = p50_p99_ms(times[f"{name} client"])
        rows.append(
            [
                name,
                f"{len(times[f'{name} server']):,}",
                f"{s50:.1f} / {s99:.1f}",
                f"{c50:.1f} / {c99:.1f}",
                "yes" if s99 < 200 else "NO",
            ]
        )
    loads = sum(len(v) for k, v in times.items() if k.endswith("server"))
    print()
    print(
        f"Console pages, {args.objects:,} objects and {args.requests:,} requests stored, "
        f"{args.sessions} concurrent sessions ({'PostgreSQL' if args.pg_url else 'SQLite'}, "
        f"{args.workers} server worker{'s' if args.workers > 1 else ''})"
    )
    print(
        table(
            ["page", "loads", "server p50 / p99 ms", "client p50 / p99 ms", "p99 < 200 ms"],
            rows,
        )
    )
    print(
        f"{loads:,} page loads in {elapsed:.1f} s ({loads / elapsed:,.0f}/s); "
        f"server peak RSS {rss.peak_mb:,.0f} MB"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
