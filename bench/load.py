"""Throughput and latency of a node under many concurrent clients, on loopback.

What it measures, for each backend (``--backends``: a SQLite file, and a scratch
PostgreSQL database at ``--pg-url`` when the server is reachable) and each worker count
(``--workers``):

- the node is seeded untimed with the demo region (``accord demo``, ``--objects`` STIX
  objects, 3,000 by default) and serves with ``accord serve`` (``ACCORD_WORKERS``);
- a closed loop of ``--clients`` keep-alive HTTP/1.1 connections (10, 50 and 200), each
  with one request in flight, sends for ``--seconds`` each of:
  (a) ``GET /api/v1/objects?limit=100`` with an analyst's API token,
  (b) a TAXII objects page of the default size (1,000) of a collection the analyst reads,
  (c) the console overview ``/``, signed in (a session cookie);
- printed per cell: requests/s, p50/p99 latency, errors (anything but a 200 or a
  dropped connection), the server's resident memory afterwards (the sum over its
  processes), and the cores the server and this load generator used;
- then the three requests at 50 clients again, ``--rss-runs`` times (3), with the
  server's resident memory after each: a server that does not leak stays flat.

The targets are printed beside the figures: the authenticated 100-object list at
>= 1,000 requests/s with 2 workers and p99 < 250 ms at 50 clients; PostgreSQL within
1.5x of SQLite; resident memory flat across the repeated runs (within 10%).

The load generator is a few lines of asyncio over raw streams (see ``drive``): tens of
microseconds of CPU a request, where an HTTP client library would spend a millisecond,
which on a 2-core machine is CPU the server under test needs. Its share is printed.
The machine's load average is printed with every cell: other work on the machine skews
the figures.

Run it as, for example::

    .venv/bin/python bench/load.py
    .venv/bin/python bench/load.py --backends sqlite --workers 2 --clients 50 --seconds 5
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib.util
import os
import re
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psutil

from support import (
    HOST,
    Database,
    Server,
    SetupError,
    Skip,
    accord_cli,
    accord_env,
    add_token,
    free_port,
    int_list,
    load_note,
    mark,
    name_list,
    p50_p99_ms,
    postgres_database,
    sqlite_database,
    table,
)

TARGET_RATE = 1000.0  # authenticated 100-object list, 2 workers
TARGET_P99_MS = 250.0  # the same at 50 clients
TARGET_PG_RATIO = 1.5  # PostgreSQL's rate within this factor of SQLite's
TARGET_RSS_DRIFT = 0.10  # resident memory across the repeated runs
TAXII_MEDIA = "application/taxii+json;version=2.1"
ORG = "SingCERT"  # a demo organisation in every sharing group: the widest gate
WORKLOADS = ("objects?limit=100", "taxii page", "console overview")
RSS_CLIENTS = 50


# The load generator ----------------------------------------------------------------------
@dataclass
class Cell:
    """The outcome of one workload at one concurrency."""

    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    first_error: str = ""
    seconds: float = 0.0
    client_cpu: float = 0.0  # cores this process used
    server_cpu: float = 0.0  # cores the server's processes used
    rss_mb: float = 0.0
    load: float = 0.0

    @property
    def rate(self) -> float:
        return len(self.latencies) / self.seconds if self.seconds else 0.0


def _request(path: str, headers: dict[str, str]) -> bytes:
    lines = [f"GET {path} HTTP/1.1", f"Host: {HOST}"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


async def _exchange(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes
) -> tuple[int, bool]:
    """Send one request and read its response; its status and whether the server closes."""
    writer.write(request)
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    found = re.search(rb"(?i)\r\ncontent-length:\s*(\d+)", head)
    if found is None:
        raise SetupError(f"a response without Content-Length: {head[:80]!r}")
    await reader.readexactly(int(found.group(1)))
    return status, re.search(rb"(?i)\r\nconnection:\s*close", head) is not None


async def drive(port: int, request: bytes, clients: int, seconds: float) -> Cell:
    """``clients`` keep-alive connections, each sending ``request`` again as soon as the
    answer is in, for ``seconds``.

    Connections open one after another, each answered once before the next opens
    (untimed), so they spread over the server's workers as arriving clients would rather
    than all landing on whichever worker wakes first. One the server closed while it
    waited for the others (its keep-alive timeout) is opened again, uncounted.
    """
    cell = Cell()
    connections = []
    try:
        for _ in range(clients):
            reader, writer = await asyncio.open_connection(HOST, port)
            connections.append((reader, writer))
            status, _ = await _exchange(reader, writer, request)
            if status != 200:
                raise SetupError(f"the warm-up request answered {status}")
        deadline = time.perf_counter() + seconds

        async def loop(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            idle = True  # not used since its warm-up
            while time.perf_counter() < deadline:
                started = time.perf_counter()
                try:
                    status, closing = await _exchange(reader, writer, request)
                except asyncio.IncompleteReadError as exc:
                    if idle and not exc.partial:  # closed while idle: not the server's fault
                        writer.close()
                        reader, writer = await asyncio.open_connection(HOST, port)
                        idle = False
                        continue
                    status, closing = 0, True
                    cell.first_error = cell.first_error or f"connection: {exc!r}"
                except OSError as exc:
                    status, closing = 0, True
                    cell.first_error = cell.first_error or f"connection: {exc!r}"
                idle = False
                if status == 200:
                    cell.latencies.append(time.perf_counter() - started)
                else:
                    cell.errors += 1
                    cell.first_error = cell.first_error or f"HTTP {status}"
                if closing:
                    writer.close()
                    reader, writer = await asyncio.open_connection(HOST, port)
            writer.close()

        started = time.perf_counter()
        await asyncio.gather(*(loop(r, w) for r, w in connections))
        cell.seconds = time.perf_counter() - started
    finally:
        for _, writer in connections:
            writer.close()
    return cell


# The server ------------------------------------------------------------------------------
def _tree(proc: psutil.Process) -> list[psutil.Process]:
    with contextlib.suppress(psutil.Error):
        return [proc, *proc.children(recursive=True)]
    return [proc]


def rss_mb(proc: psutil.Process) -> float:
    """Resident memory of the server, summed over its processes (workers and their parent)."""
    total = 0
    for p in _tree(proc):
        with contextlib.suppress(psutil.Error):
            total += p.memory_info().rss
    return total / 2**20


def cpu_seconds(procs: list[psutil.Process]) -> float:
    total = 0.0
    for p in procs:
        with contextlib.suppress(psutil.Error):
            t = p.cpu_times()
            total += t.user + t.system
    return total


@dataclass
class Node:
    """A seeded node's database and the credentials the workloads use."""

    env: dict[str, str]
    workdir: Path
    token: str


def seed(database: Database, workdir: Path, objects: int) -> Node:
    port = free_port()
    env = accord_env(database.url, port, sync_interval="3600")
    accord_cli(["demo", "--objects", str(objects)], env, workdir, timeout=600)
    token = add_token(ORG, env, workdir, role="analyst")
    database.analyze()
    return Node(env, workdir, token)


def prepare(server: Server, token: str) -> dict[str, bytes]:
    """The three requests, ready to send: the TAXII collection and the session found."""
    bearer = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=server.base, timeout=60) as client:
        listed = client.get("/taxii2/api/collections/", headers={**bearer, "Accept": TAXII_MEDIA})
        if listed.status_code != 200:
            raise SetupError(f"TAXII collections answered {listed.status_code}")
        readable = [c for c in listed.json().get("collections", []) if c.get("can_read")]
        sizes = {}
        for c in readable:  # the collection with the most objects the analyst reads
            page = client.get(
                f"/taxii2/api/collections/{c['id']}/objects/",
                headers={**bearer, "Accept": TAXII_MEDIA},
            )
            sizes[c["id"]] = len(page.json().get("objects", []))
        if not sizes or not max(sizes.values()):
            raise SetupError("the analyst reads no TAXII collection with objects in it")
        collection = max(sizes, key=lambda k: sizes[k])
        form = client.get("/signin")
        csrf = re.search(r'name="csrf" value="([^"]+)"', form.text)
        if csrf is None:
            raise SetupError("no CSRF token on the sign-in page")
        signed = client.post(
            "/signin",
            data={"csrf": csrf.group(1), "method": "token", "token": token, "next": "/"},
        )
        session = client.cookies.get("accord_session")
        if signed.status_code != 303 or not session:
            raise SetupError(f"signing in to the console answered {signed.status_code}")
    print(
        f"  TAXII collection {collection}: a default page holds {sizes[collection]:,} objects",
        flush=True,
    )
    return {
        WORKLOADS[0]: _request("/api/v1/objects?limit=100", bearer),
        WORKLOADS[1]: _request(
            f"/taxii2/api/collections/{collection}/objects/",
            {**bearer, "Accept": TAXII_MEDIA},
        ),
        WORKLOADS[2]: _request("/", {"Cookie": f"accord_session={session}"}),
    }


@contextlib.contextmanager
def serving(node: Node, workers: int) -> Iterator[Server]:
    port = free_port()
    env = {**node.env, "ACCORD_PORT": str(port), "ACCORD_WORKERS": str(workers)}
    server = Server(env, node.workdir, port)
    try:
        server.wait_healthy()
        if workers > 1:  # every worker up, not just the first to answer
            deadline = time.monotonic() + 60
            while len(psutil.Process(server.proc.pid).children()) < workers:
                if time.monotonic() > deadline:
                    raise SetupError(f"fewer than {workers} workers started")
                time.sleep(0.2)
            time.sleep(1.0)
        yield server
    finally:
        server.stop()


def measure(server: Server, request: bytes, clients: int, seconds: float) -> Cell:
    port = int(server.base.rsplit(":", 1)[1])
    parent = psutil.Process(server.proc.pid)
    me = psutil.Process()
    procs = _tree(parent)
    before_server, before_me = cpu_seconds(procs), cpu_seconds([me])
    t0 = time.perf_counter()
    cell = asyncio.run(drive(port, request, clients, seconds))
    wall = time.perf_counter() - t0  # the warm-up counts on both sides alike
    cell.server_cpu = (cpu_seconds(procs) - before_server) / wall
    cell.client_cpu = (cpu_seconds([me]) - before_me) / wall
    cell.rss_mb = rss_mb(parent)
    cell.load = os.getloadavg()[0]
    return cell


# The runs --------------------------------------------------------------------------------
@dataclass
class Result:
    backend: str
    workers: int
    cells: dict[tuple[str, int], Cell] = field(default_factory=dict)
    rss_runs: list[float] = field(default_factory=list)


def run_backend(
    backend: str, database: Database, args: argparse.Namespace, workdir: Path
) -> list[Result]:
    print(f"[{backend}] seeding the demo region with {args.objects:,} objects ...", flush=True)
    node = seed(database, workdir, args.objects)
    results = []
    for workers in args.workers:
        result = Result(backend, workers)
        results.append(result)
        with serving(node, workers) as server:
            requests = prepare(server, node.token)
            for name in WORKLOADS:
                for clients in args.clients:
                    cell = measure(server, requests[name], clients, args.seconds)
                    result.cells[(name, clients)] = cell
                    print(
                        f"[{backend}, {workers} worker(s)] {name} x{clients}: "
                        f"{cell.rate:,.0f} req/s, p99 {p50_p99_ms(cell.latencies)[1]:,.0f} ms, "
                        f"{cell.errors} errors, server CPU "
                        f"{cell.server_cpu * 1000 / max(cell.rate, 1e-9):.1f} ms/req, "
                        f"load {cell.load:.2f}",
                        flush=True,
                    )
            for run in range(args.rss_runs):
                for name in WORKLOADS:
                    measure(server, requests[name], RSS_CLIENTS, args.seconds)
                result.rss_runs.append(rss_mb(psutil.Process(server.proc.pid)))
                print(
                    f"[{backend}, {workers} worker(s)] RSS after run {run + 1}: "
                    f"{result.rss_runs[-1]:,.0f} MB",
                    flush=True,
                )
    return results


@contextlib.contextmanager
def database_for(backend: str, args: argparse.Namespace, workdir: Path) -> Iterator[Database]:
    if backend == "sqlite":
        with sqlite_database(workdir) as db:
            yield db
    else:
        with postgres_database(args.pg_url, analyze=True) as db:
            yield db


# Output ----------------------------------------------------------------------------------
def report(results: list[Result], args: argparse.Namespace, load: str) -> bool:
    print()
    print(
        f"Load benchmark: demo region of {args.objects:,} objects, {args.seconds:g} s a cell, "
        f"closed loop (one request in flight per client), {load}"
    )
    headers = [
        "backend / workers / request",
        "clients",
        "req/s",
        "p50 ms",
        "p99 ms",
        "errors",
        "RSS MB",
        "server CPU ms/req",
        "server cores",
        "generator cores",
        "load avg",
    ]
    rows = []
    errors = []
    for r in results:
        for (name, clients), c in r.cells.items():
            p50, p99 = p50_p99_ms(c.latencies) if c.latencies else (0.0, 0.0)
            rows.append(
                [
                    f"{r.backend} / {r.workers} / {name}",
                    str(clients),
                    f"{c.rate:,.0f}",
                    f"{p50:,.1f}",
                    f"{p99:,.1f}",
                    str(c.errors),
                    f"{c.rss_mb:,.0f}",
                    f"{c.server_cpu * 1000 / c.rate:.1f}" if c.rate else "-",
                    f"{c.server_cpu:.2f}",
                    f"{c.client_cpu:.2f}",
                    f"{c.load:.2f}",
                ]
            )
            if c.errors:
                errors.append(f"{r.backend} / {r.workers} / {name} x{clients}: {c.first_error}")
    print(table(headers, rows))
    for e in errors:
        print(f"note: errors in {e}")

    print()
    print("Targets")
    met = True
    target_rows = []
    for r in results:
        list50 = r.cells.get((WORKLOADS[0], RSS_CLIENTS))
        best = max((c.rate for (n, _), c in r.cells.items() if n == WORKLOADS[0]), default=0.0)
        if r.workers == 2:
            ok = best >= TARGET_RATE
            met &= ok
            target_rows.append(
                [
                    f"{r.backend} / 2 workers: 100-object list req/s",
                    f"{best:,.0f}",
                    f">= {TARGET_RATE:,.0f}",
                    mark(ok),
                ]
            )
        if list50 is not None and list50.latencies:
            p99 = p50_p99_ms(list50.latencies)[1]
            ok = p99 < TARGET_P99_MS
            met &= ok
            target_rows.append(
                [
                    f"{r.backend} / {r.workers} workers: 100-object list p99 at 50 clients",
                    f"{p99:,.0f} ms",
                    f"< {TARGET_P99_MS:,.0f} ms",
                    mark(ok),
                ]
            )
        if r.rss_runs:
            low, high = min(r.rss_runs), max(r.rss_runs)
            ok = high <= low * (1 + TARGET_RSS_DRIFT)
            met &= ok
            target_rows.append(
                [
                    f"{r.backend} / {r.workers} workers: RSS after {len(r.rss_runs)} runs",
                    " -> ".join(f"{x:,.0f}" for x in r.rss_runs) + " MB",
                    f"flat (within {TARGET_RSS_DRIFT:.0%})",
                    mark(ok),
                ]
            )
    for pg in (r for r in results if r.backend == "postgresql"):
        lite = next((r for r in results if r.backend == "sqlite" and r.workers == pg.workers), None)
        if lite is None:
            continue
        for key, c in pg.cells.items():
            other = lite.cells.get(key)
            if other is None or not c.rate:
                continue
            ratio = other.rate / c.rate
            ok = ratio <= TARGET_PG_RATIO
            met &= ok
            target_rows.append(
                [
                    f"sqlite/postgresql req/s, {pg.workers} workers, {key[0]} x{key[1]}",
                    f"x{ratio:.2f}",
                    f"<= x{TARGET_PG_RATIO}",
                    mark(ok),
                ]
            )
    print(table(["target", "measured", "goal", ""], target_rows))
    return met


# Entry point -----------------------------------------------------------------------------
def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0] if __doc__ else None,
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument(
        "--backends",
        type=name_list,
        default=["sqlite", "postgresql"],
        help="sqlite, postgresql (skipped when --pg-url is unreachable)",
    )
    p.add_argument("--workers", type=int_list, default=[1, 2])
    p.add_argument("--clients", type=int_list, default=[10, 50, 200])
    p.add_argument("--seconds", type=float, default=2.0, help="duration of each cell")
    p.add_argument("--objects", type=int, default=3000, help="demo objects seeded")
    p.add_argument("--rss-runs", type=int, default=3, help="repeated runs watched for growth")
    p.add_argument(
        "--pg-url",
        default=os.environ.get(
            "ACCORD_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
        ),
        help="an administrative URL of a PostgreSQL server on 127.0.0.1",
    )
    args = p.parse_args(argv)
    unknown = set(args.backends) - {"sqlite", "postgresql"}
    if unknown:
        p.error(f"unknown backend(s): {', '.join(sorted(unknown))}")
    if min(args.workers) < 1 or min(args.clients) < 1 or args.seconds <= 0 or args.objects < 1:
        p.error("--workers, --clients, --seconds and --objects must be positive")
    if max(args.clients) > 1000:
        p.error("--clients is at most 1000")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if importlib.util.find_spec("accord") is None:
        print("error: the accord package is not importable; use .venv/bin/python")
        return 2
    load = load_note()
    results: list[Result] = []
    try:
        for backend in args.backends:
            workdir = Path(tempfile.mkdtemp(prefix=f"accord-bench-load-{backend}-"))
            try:
                with database_for(backend, args, workdir) as database:
                    results += run_backend(backend, database, args, workdir)
            except Skip as exc:
                print(f"note: {backend} skipped: {exc}", flush=True)
            finally:
                shutil.rmtree(workdir, ignore_errors=True)
    except SetupError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    return 0 if report(results, args, load) else 1


if __name__ == "__main__":
    sys.exit(main())
