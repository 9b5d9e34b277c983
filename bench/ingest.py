"""Ingest and read throughput of a real Accord node, on SQLite and on PostgreSQL.

What it measures, per backend:

- a node is started as its own server process (``python -m accord serve``) on a fresh
  database in a temporary directory, with two organisations: A shares, B reads;
- ``--objects`` STIX 2.1 indicators (100,000 by default) are pre-generated as bundles
  of ``--bundle`` objects (serialised before timing starts), then POSTed to
  ``/api/v1/objects`` as A by ``--concurrency`` client threads on keep-alive
  connections, after one untimed warm-up bundle (the node compiles validators lazily).
  Bundles alternate between TLP:GREEN/community (B may read them) and
  TLP:AMBER/organisation (only A may), so B may read half;
- B then reads back everything it may through ``GET /api/v1/objects`` with keyset
  pagination (``--page`` objects a page). The bench checks that B got exactly the
  objects shared visibly, nothing hidden and no repeats, and that an anonymous caller
  gets an empty page (timed too: the gate scans every stored row to answer it);
- reported per backend: ingest objects/s (validated and stored), read objects/s (time
  waiting on the server; the client's JSON parsing is left out and shown apart), p50
  and p99 latency of POST and of GET-page requests, peak RSS of the server process and
  its children (sampled every 100 ms), and the cores busy on average in the server, in
  PostgreSQL and in this client during each phase.

``--grow`` then keeps ingesting up to ``--grow-to`` objects (1,000,000 by default) and,
at ``--grow-at`` sizes (10k, 100k, 1M) and the final size, times 50 GETs as B of each
of: the first page, a page at one of a fixed set of random cursors, and a filtered
first page (type and TLP), plus 10 anonymous empty pages, to show whether page
latency stays flat as the store grows.

``--profile DIR`` samples the server with py-spy during each phase (``pip install
py-spy``) and prints its hottest functions.

Run it with ``make bench`` (which runs ``python bench/ingest.py``) or, for example::

    .venv/bin/python bench/ingest.py --objects 20000 --backends sqlite
    .venv/bin/python bench/ingest.py --backends sqlite --grow --grow-to 1000000

PostgreSQL is reached at ``--pg-url`` (a server the bench may create and drop a scratch
database on); when it cannot be reached that backend is skipped with a note. Where the
PostgreSQL server runs with autovacuum off, the bench runs ANALYZE (untimed) before
each read phase, as autovacuum would have.

Targets (2-core machine): ingest >= 10,000 obj/s, read >= 50,000 obj/s, page latency
flat from 10,000 to 1,000,000 objects, peak server RSS <= 500 MB. The bench shares the
machine with the server it measures, and prints the load average it started under.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import importlib.util
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import orjson

from support import (
    CpuMeter,
    Database,
    RssSampler,
    Server,
    SetupError,
    Skip,
    accord_env,
    add_org,
    add_token,
    free_port,
    indicator,
    int_list,
    mark,
    p50_p99_ms,
    percentile,
    postgres_database,
    sqlite_database,
    table,
)

TARGET_INGEST = 10_000.0
TARGET_READ = 50_000.0
TARGET_RSS_MB = 500.0
FLAT_FACTOR = 1.5  # page latency "flat": p50 at the largest size within 1.5x of the smallest
PROBES = 50  # GETs per latency probe in --grow mode
WARM_UP = 100  # objects posted (hidden from B) before timing starts
OUTSIDER_PROBES = 10  # anonymous GETs (which may read nothing) per --grow probe
DEFAULT_PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
VISIBLE = {"tlp": "TLP:GREEN", "scope": "community"}
HIDDEN = {"tlp": "TLP:AMBER", "scope": "organisation"}
ORGS = ("Bench Sharer A", "Bench Reader B")


# Results ---------------------------------------------------------------------------------
@dataclass
class GrowRow:
    stored: int
    ingest_rate: float
    first: tuple[float, float]
    cursor: tuple[float, float]
    filtered: tuple[float, float]
    rows_per_page: float
    outsider: tuple[float, float]


@dataclass
class Result:
    backend: str
    objects: int = 0
    ingest_rate: float = 0.0
    post_ms: tuple[float, float] = (0.0, 0.0)
    read_objects: int = 0
    read_rate: float = 0.0  # objects / time spent waiting on GETs
    read_wall_rate: float = 0.0  # objects / wall time, client parsing included
    get_ms: tuple[float, float] = (0.0, 0.0)
    peak_rss_mb: float = 0.0
    outsider_ms: float = 0.0  # the anonymous (empty) first page: scans everything stored
    expected_visible: int = 0
    problems: list[str] = field(default_factory=list)
    grow: list[GrowRow] = field(default_factory=list)
    grow_read: tuple[int, float] | None = None  # (objects read, obj/s) at the final size
    cpu: dict[str, str] = field(default_factory=dict)  # phase: average cores busy, by whom


def _fractions(n: int) -> list[float]:
    rng = random.Random(7)
    return [rng.random() for _ in range(n)]


# Workload --------------------------------------------------------------------------------
@dataclass(frozen=True)
class Bundle:
    index: int  # global bundle number: even ones are visible to B
    body: bytes
    count: int

    @property
    def visible(self) -> bool:
        return self.index % 2 == 0


def make_bundles(
    rng: random.Random, first_object: int, count: int, size: int, creator: str
) -> list[Bundle]:
    """Bundles for objects ``first_object`` .. ``first_object + count``, serialised."""
    bundles = []
    for start in range(first_object, first_object + count, size):
        n = min(size, first_object + count - start)
        objects = [indicator(rng, start + i, creator) for i in range(n)]
        doc = {"type": "bundle", "id": f"bundle--{uuid.uuid4()}", "objects": objects}
        bundles.append(Bundle(start // size, orjson.dumps(doc), n))
    return bundles


# Server profiling ------------------------------------------------------------------------
class Profiler:
    """py-spy sampling of the server for one phase (``--profile``); collapsed stacks."""

    def __init__(self, out: Path | None, pid: int) -> None:
        self._out, self._pid = out, pid
        exe = Path(sys.executable).with_name("py-spy")
        self._exe = str(exe) if exe.exists() else shutil.which("py-spy")
        if out is not None and self._exe is None:
            raise SetupError("--profile needs py-spy (pip install py-spy)")
        self._name: str | None = None
        self._parts: list[Path] = []
        self._spy: subprocess.Popen[bytes] | None = None

    def _start(self) -> None:
        assert self._out is not None and self._exe is not None and self._name is not None
        path = self._out / f"{self._name}.{len(self._parts)}.txt"
        self._parts.append(path)
        cmd = [self._exe, "record", "--format", "raw", "-r", "200", "-o", str(path)]
        self._spy = subprocess.Popen(
            [*cmd, "-p", str(self._pid)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        time.sleep(0.5)  # let py-spy attach

    def _stop(self) -> None:
        spy, self._spy = self._spy, None
        if spy is None:
            return
        spy.send_signal(signal.SIGINT)  # py-spy writes its file on SIGINT
        try:
            spy.wait(timeout=60)
        except subprocess.TimeoutExpired:
            spy.kill()
            spy.wait()

    @contextlib.contextmanager
    def phase(self, name: str) -> Iterator[None]:
        if self._out is None or self._exe is None:
            yield
            return
        self._out.mkdir(parents=True, exist_ok=True)
        self._name, self._parts = name, []
        self._start()
        try:
            yield
        finally:
            self._stop()
            print_profile(name, self._parts)
            self._name = None

    @contextlib.contextmanager
    def paused(self) -> Iterator[None]:
        """Leave out what happens inside (the --grow probes made during ingest)."""
        if self._name is None:
            yield
            return
        self._stop()
        try:
            yield
        finally:
            self._start()


# Frames every server stack goes through, and the frame of an idle thread-pool worker.
_PLUMBING = (
    "threading.py",
    "<frozen runpy>",
    "typer/",
    "click/",
    "anyio/",
    "uvicorn/main.py",
    "uvicorn/server.py",
    "uvicorn/_compat.py",
    "accord/__main__.py",
    "accord/cli",
)
_IDLE = "Condition.wait (threading.py)"


def print_profile(name: str, parts: list[Path], top: int = 25) -> None:
    """The functions with the most samples (inclusive and self) in collapsed-stack files."""
    inclusive: Counter[str] = Counter()
    own: Counter[str] = Counter()
    total = 0
    for path in parts:
        if not path.exists():
            continue
        for line in path.read_text(errors="replace").splitlines():
            stack, _, count_text = line.rpartition(" ")
            if not stack or not count_text.isdigit():
                continue
            count = int(count_text)
            frames = [_frame(f) for f in stack.split(";")[1:]]  # drop the thread frame
            if not frames or frames[-1] == _IDLE:
                continue
            total += count
            for frame in set(frames):
                inclusive[frame] += count
            own[frames[-1]] += count
    if not total:
        print(f"[profile {name}] py-spy recorded nothing (is ptrace allowed?)")
        return
    where = parts[0].parent
    print(f"\n[profile {name}] {total} samples of busy server threads -> {where}/{name}.*.txt")
    print(f"  {'incl%':>6} {'self%':>6}  function")
    busy = [(f, c) for f, c in inclusive.most_common() if not any(p in f for p in _PLUMBING)]
    for frame, count in busy[:top]:
        print(f"  {100 * count / total:6.1f} {100 * own[frame] / total:6.1f}  {frame}")
    print("  top self time:")
    for frame, count in own.most_common(12):
        print(f"  {100 * inclusive[frame] / total:6.1f} {100 * count / total:6.1f}  {frame}")


def _frame(raw: str) -> str:
    # py-spy frames look like "function (path/to/module.py:123)"; keep function + file.
    m = re.match(r"(.*) \((.*?):\d+\)$", raw.strip())
    if not m:
        return raw.strip()
    path = m.group(2)
    for marker in ("site-packages/", "/src/", "/lib/python3"):
        if marker in path:
            path = path.split(marker, 1)[1]
            break
    return f"{m.group(1)} ({path})"


# The run ---------------------------------------------------------------------------------
@dataclass
class Node:
    server: Server
    sharer: str  # A's token
    reader: str  # B's token
    sharer_identity: str


def setup_node(database_url: str, workdir: Path) -> Node:
    port = free_port()
    env = accord_env(database_url, port)
    identities = [add_org(name, env, workdir) for name in ORGS]
    tokens = [add_token(name, env, workdir) for name in ORGS]
    server = Server(env, workdir, port)
    return Node(server, tokens[0], tokens[1], identities[0])


class Ingester:
    """Posts bundles as A from ``concurrency`` threads, each with a keep-alive client."""

    def __init__(self, node: Node, concurrency: int, cpu: CpuMeter) -> None:
        self._node = node
        self._cpu = cpu
        self._local = threading.local()
        self._clients: list[httpx.Client] = []
        self._lock = threading.Lock()
        self.latencies: list[float] = []
        self.seconds = 0.0
        self.objects = 0
        self.visible = 0
        self._pool = ThreadPoolExecutor(concurrency, thread_name_prefix="poster")

    def _client(self) -> httpx.Client:
        client: httpx.Client | None = getattr(self._local, "client", None)
        if client is None:
            client = httpx.Client(
                base_url=self._node.server.base,
                headers={
                    "Authorization": f"Bearer {self._node.sharer}",
                    "Content-Type": "application/json",
                },
                timeout=300,
            )
            self._local.client = client
            with self._lock:
                self._clients.append(client)
        return client

    def _post(self, bundle: Bundle) -> float:
        client = self._client()
        params = VISIBLE if bundle.visible else HIDDEN
        start = time.perf_counter()
        response = client.post("/api/v1/objects", params=params, content=bundle.body)
        elapsed = time.perf_counter() - start
        if response.status_code != 201:
            raise SetupError(
                f"POST bundle {bundle.index} answered {response.status_code}: {response.text[:300]}"
            )
        stored = orjson.loads(response.content).get("stored")
        if stored != bundle.count:
            raise SetupError(f"POST bundle {bundle.index} stored {stored} of {bundle.count}")
        return elapsed

    def run(self, bundles: list[Bundle]) -> float:
        """Post ``bundles``; the wall-clock seconds it took."""
        with self._cpu.phase("ingest"):
            start = time.perf_counter()
            latencies = list(self._pool.map(self._post, bundles))
            elapsed = time.perf_counter() - start
        self.latencies.extend(latencies)
        self.seconds += elapsed
        self.objects += sum(b.count for b in bundles)
        self.visible += sum(b.count for b in bundles if b.visible)
        return elapsed

    def warm_up(self, creator: str) -> None:
        """One untimed bundle of hidden objects: the node compiles its validators lazily."""
        rng = random.Random(-1)
        objects = [indicator(rng, 10**9 + i, creator) for i in range(WARM_UP)]
        body = orjson.dumps({"type": "bundle", "id": f"bundle--{uuid.uuid4()}", "objects": objects})
        self._post(Bundle(-1, body, WARM_UP))  # an odd index: shared hidden from B

    def close(self) -> None:
        self._pool.shutdown()
        for client in self._clients:
            client.close()


def reader_client(node: Node, *, anonymous: bool = False) -> httpx.Client:
    return httpx.Client(
        base_url=node.server.base,
        headers={} if anonymous else {"Authorization": f"Bearer {node.reader}"},
        timeout=300,
    )


def read_all(node: Node, page: int, result: Result) -> tuple[int, float, float, list[float]]:
    """Everything B may read, page by page: (count, seconds in GETs, wall seconds, latencies).

    The time in GETs leaves out the client's own JSON parsing and checks of each page.
    """
    seen: set[str] = set()
    latencies: list[float] = []
    count = 0
    cursor: str | None = None
    leaks = 0
    with reader_client(node) as client:
        start = time.perf_counter()
        while True:
            params: dict[str, Any] = {"limit": page}
            if cursor:
                params["cursor"] = cursor
            t0 = time.perf_counter()
            response = client.get("/api/v1/objects", params=params)
            latencies.append(time.perf_counter() - t0)
            if response.status_code != 200:
                raise SetupError(f"GET page answered {response.status_code}: {response.text[:300]}")
            body = orjson.loads(response.content)
            items = body["items"]
            count += len(items)
            for item in items:
                seen.add(item["object"]["id"])
                if item["tlp"] != "TLP:GREEN" or item["scope"] != "community":
                    leaks += 1
                if item["owner"] != node.sharer_identity:
                    leaks += 1
            cursor = body["next"]
            if not cursor:
                break
        wall = time.perf_counter() - start
    if leaks:
        result.problems.append(f"B read {leaks} items it should not see (or with a wrong stamp)")
    if len(seen) != count:
        result.problems.append(f"pagination repeated objects: {count} items, {len(seen)} distinct")
    return count, sum(latencies), wall, latencies


def probe(node: Node, page: int, stored: int, fractions: list[float]) -> GrowRow:
    """Page latency at this store size: first page, fixed random cursors, filtered page."""
    results: dict[str, list[float]] = {"first": [], "cursor": [], "filtered": []}
    rows = 0
    span = max(1, stored - 3 * page)
    with reader_client(node) as client:
        client.get("/api/v1/objects", params={"limit": page})  # warm the connection
        for i in range(PROBES):
            pk = 1 + int(fractions[i % len(fractions)] * span)
            # The node's cursor is the URL-safe base64 of a storage key (opaque to clients;
            # built here only to land pages all over the store without walking to them).
            cursor = base64.urlsafe_b64encode(str(pk).encode()).decode().rstrip("=")
            requests: dict[str, dict[str, str | int]] = {
                "first": {"limit": page},
                "cursor": {"limit": page, "cursor": cursor},
                "filtered": {"limit": page, "type": "indicator", "tlp": "TLP:GREEN"},
            }
            for name, params in requests.items():
                t0 = time.perf_counter()
                response = client.get("/api/v1/objects", params=params)
                results[name].append(time.perf_counter() - t0)
                if response.status_code != 200:
                    raise SetupError(f"GET answered {response.status_code}: {response.text[:300]}")
                rows += len(orjson.loads(response.content)["items"])
    outsider, _ = anonymous_page(node, page, OUTSIDER_PROBES)
    return GrowRow(
        stored=stored,
        ingest_rate=0.0,
        first=p50_p99_ms(results["first"]),
        cursor=p50_p99_ms(results["cursor"]),
        filtered=p50_p99_ms(results["filtered"]),
        rows_per_page=rows / (3 * PROBES),
        outsider=p50_p99_ms(outsider),
    )


def anonymous_page(node: Node, page: int, times: int) -> tuple[list[float], int]:
    """The first page without a token: nothing here is public, so the gate must scan every
    stored row to find that the page is empty. (latencies, items it was given)"""
    latencies: list[float] = []
    items = 0
    with reader_client(node, anonymous=True) as client:
        for _ in range(times):
            t0 = time.perf_counter()
            response = client.get("/api/v1/objects", params={"limit": page})
            latencies.append(time.perf_counter() - t0)
            if response.status_code != 200:
                raise SetupError(f"GET answered {response.status_code}: {response.text[:300]}")
            items += len(orjson.loads(response.content)["items"])
    return latencies, items


def ingest_to(
    ingester: Ingester,
    rng: random.Random,
    node: Node,
    target: int,
    bundle: int,
    checkpoints: list[int],
    on_checkpoint: Any,
) -> None:
    """Ingest until ``target`` objects are stored, stopping at each checkpoint on the way."""
    stops = sorted({c for c in checkpoints if ingester.objects < c < target} | {target})
    for stop in stops:
        step = 0.0
        stored_before = ingester.objects
        # Generate in slices so a million objects never sit in client memory at once.
        while ingester.objects < stop:
            n = min(stop - ingester.objects, 50 * bundle)
            bundles = make_bundles(rng, ingester.objects, n, bundle, node.sharer_identity)
            step += ingester.run(bundles)
        rate = (ingester.objects - stored_before) / step if step else 0.0
        on_checkpoint(stop, rate)


def run_backend(backend: str, args: argparse.Namespace, workdir: Path, db: Database) -> Result:
    result = Result(backend)
    node = setup_node(db.url, workdir)
    rss: RssSampler | None = None
    ingester: Ingester | None = None
    try:
        node.server.wait_healthy()
        rss = RssSampler(node.server.proc.pid)
        profiler = Profiler(args.profile / backend if args.profile else None, node.server.proc.pid)
        cpu = CpuMeter(node.server.proc.pid, postgres=backend == "postgresql")
        ingester = Ingester(node, args.concurrency, cpu)
        rng = random.Random(20261101)
        fractions = _fractions(PROBES)
        checkpoints = [c for c in args.grow_at if c <= args.grow_to] if args.grow else []

        def checkpoint(stored: int, rate: float) -> None:
            if stored in checkpoints or (args.grow and stored == args.grow_to):
                with profiler.paused():
                    db.analyze()
                    row = probe(node, args.page, stored, fractions)
                row.ingest_rate = rate
                result.grow.append(row)
                print(
                    f"  [{backend}] {stored:>9,} stored: ingest {rate:,.0f} obj/s, "
                    f"page p50 {row.first[0]:.1f} / {row.cursor[0]:.1f} / {row.filtered[0]:.1f} ms",
                    flush=True,
                )

        ingester.warm_up(node.sharer_identity)
        print(f"[{backend}] ingesting {args.objects:,} objects ...", flush=True)
        with profiler.phase("ingest"):
            ingest_to(ingester, rng, node, args.objects, args.bundle, checkpoints, checkpoint)
        result.objects = ingester.objects
        result.ingest_rate = ingester.objects / ingester.seconds
        result.post_ms = p50_p99_ms(ingester.latencies)
        result.expected_visible = ingester.visible

        db.analyze()
        print(f"[{backend}] reading back as B ...", flush=True)
        with profiler.phase("read"), cpu.phase("read"):
            count, seconds, wall, latencies = read_all(node, args.page, result)
        result.cpu = {phase: cpu.summary(phase) for phase in ("ingest", "read")}
        result.read_objects = count
        result.read_rate = count / seconds
        result.read_wall_rate = count / wall
        result.get_ms = p50_p99_ms(latencies)
        if count != ingester.visible:
            result.problems.append(
                f"B read {count:,} objects but {ingester.visible:,} were shared visibly"
            )
        latencies, leaked = anonymous_page(node, args.page, 3)
        result.outsider_ms = percentile(latencies, 50) * 1000
        if leaked:
            result.problems.append(f"an anonymous reader was given {leaked} objects")

        if args.grow and args.grow_to > args.objects:
            print(f"[{backend}] growing the store to {args.grow_to:,} objects ...", flush=True)
            ingest_to(ingester, rng, node, args.grow_to, args.bundle, checkpoints, checkpoint)
            count, seconds, _, _ = read_all(node, args.page, result)
            result.grow_read = (count, count / seconds)
            if count != ingester.visible:
                result.problems.append(
                    f"at {ingester.objects:,} stored B read {count:,} objects "
                    f"but {ingester.visible:,} were shared visibly"
                )
    finally:
        if ingester is not None:
            ingester.close()
        if rss is not None:
            rss.stop()
            result.peak_rss_mb = rss.peak / 2**20
        node.server.stop()
    return result


# Output ----------------------------------------------------------------------------------
def report(results: list[Result], args: argparse.Namespace) -> None:
    print()
    print(
        f"Accord ingest/read benchmark: {args.objects:,} indicators, bundles of {args.bundle:,}, "
        f"pages of {args.page:,}, {args.concurrency} posting client(s), "
        f"{os.cpu_count()} CPU(s), load average {args.load:.2f} at start"
    )
    if args.load > 0.5 * (os.cpu_count() or 1):
        print("note: the machine was busy before the bench started; other work skews the numbers")
    headers = [
        "backend",
        "objects",
        "ingest obj/s",
        "POST p50 ms",
        "POST p99 ms",
        "read objects",
        "read obj/s",
        "GET p50 ms",
        "GET p99 ms",
        "peak RSS MB",
    ]
    rows = [
        [
            r.backend,
            f"{r.objects:,}",
            f"{r.ingest_rate:,.0f}",
            f"{r.post_ms[0]:.1f}",
            f"{r.post_ms[1]:.1f}",
            f"{r.read_objects:,}",
            f"{r.read_rate:,.0f}",
            f"{r.get_ms[0]:.1f}",
            f"{r.get_ms[1]:.1f}",
            f"{r.peak_rss_mb:.0f}",
        ]
        for r in results
    ]
    rows.append(
        [
            "target",
            "",
            f">= {TARGET_INGEST:,.0f}",
            "",
            "",
            "",
            f">= {TARGET_READ:,.0f}",
            "",
            "",
            f"<= {TARGET_RSS_MB:.0f}",
        ]
    )
    print(table(headers, rows))
    for r in results:
        marks = (
            f"ingest {mark(r.ingest_rate >= TARGET_INGEST)}, "
            f"read {mark(r.read_rate >= TARGET_READ)}, "
            f"RSS {mark(r.peak_rss_mb <= TARGET_RSS_MB)}"
        )
        check = (
            f"B read {r.read_objects:,} of {r.expected_visible:,} shared visibly "
            f"({'exact' if r.read_objects == r.expected_visible else 'MISMATCH'})"
        )
        print(f"{r.backend}: {marks}; {check}")
        print(
            f"{r.backend}: read with client parsing {r.read_wall_rate:,.0f} obj/s; "
            f"anonymous (may read nothing) gets an empty first page in {r.outsider_ms:.1f} ms"
        )
        cores = "; ".join(f"{phase}: {text}" for phase, text in r.cpu.items())
        print(f"{r.backend}: cores busy on average - {cores}")
        for problem in r.problems:
            print(f"{r.backend}: CORRECTNESS PROBLEM: {problem}")
    for r in results:
        if not r.grow:
            continue
        print()
        print(
            f"Page latency as the {r.backend} store grows, ms p50 / p99 of {PROBES} GETs of "
            f"{args.page:,} as B ({OUTSIDER_PROBES} anonymous, who may read nothing)"
        )
        grow_rows = [
            [
                f"{g.stored:,}",
                f"{g.ingest_rate:,.0f}",
                f"{g.first[0]:.1f} / {g.first[1]:.1f}",
                f"{g.cursor[0]:.1f} / {g.cursor[1]:.1f}",
                f"{g.filtered[0]:.1f} / {g.filtered[1]:.1f}",
                f"{g.rows_per_page:,.0f}",
                f"{g.outsider[0]:.1f} / {g.outsider[1]:.1f}",
            ]
            for g in r.grow
        ]
        print(
            table(
                [
                    "stored",
                    "ingest obj/s",
                    "first page",
                    "random cursor",
                    "type+tlp filter",
                    "rows/page",
                    "anon: empty page",
                ],
                grow_rows,
            )
        )
        first, last = r.grow[0], r.grow[-1]
        verdicts = []
        for name, a, b in (
            ("first", first.first[0], last.first[0]),
            ("cursor", first.cursor[0], last.cursor[0]),
            ("filtered", first.filtered[0], last.filtered[0]),
            ("anon empty page", first.outsider[0], last.outsider[0]),
        ):
            ratio = b / a if a else 0.0
            verdicts.append(f"{name} x{ratio:.2f} {'flat' if ratio <= FLAT_FACTOR else 'GROWS'}")
        print(
            f"p50 from {first.stored:,} to {last.stored:,} stored: {', '.join(verdicts)} "
            f"(target: flat, within x{FLAT_FACTOR})"
        )
        if r.grow_read:
            n, rate = r.grow_read
            print(f"full read-back at {last.stored:,} stored: {n:,} objects at {rate:,.0f} obj/s")


# Entry point -----------------------------------------------------------------------------
def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0] if __doc__ else None,
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("--objects", type=int, default=100_000, help="indicators to ingest")
    p.add_argument("--bundle", type=int, default=1000, help="objects per POSTed bundle")
    p.add_argument("--page", type=int, default=1000, help="objects per GET page")
    p.add_argument("--backends", default="sqlite,postgresql", help="comma-separated")
    p.add_argument("--concurrency", type=int, default=2, help="posting client threads")
    p.add_argument("--grow", action="store_true", help="also measure page latency as it grows")
    p.add_argument("--grow-to", type=int, default=1_000_000, help="store size --grow ends at")
    p.add_argument(
        "--grow-at",
        type=int_list,
        default=[10_000, 100_000, 1_000_000],
        help="store sizes at which --grow measures page latency",
    )
    p.add_argument("--pg-url", default=DEFAULT_PG_URL, help="PostgreSQL server (admin) URL")
    p.add_argument(
        "--no-analyze",
        action="store_true",
        help="never ANALYZE PostgreSQL, even when its autovacuum is off",
    )
    p.add_argument("--profile", type=Path, default=None, help="py-spy the server into DIR")
    args = p.parse_args(argv)
    args.backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    for backend in args.backends:
        if backend not in ("sqlite", "postgresql"):
            p.error(f"unknown backend {backend!r} (sqlite, postgresql)")
    if min(args.objects, args.bundle, args.page, args.concurrency) < 1:
        p.error("--objects, --bundle, --page and --concurrency must be positive")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if importlib.util.find_spec("accord") is None:
        print(
            "error: the accord package is not importable; run `make bench` or use .venv/bin/python"
        )
        return 2
    args.load = os.getloadavg()[0]
    results: list[Result] = []
    for backend in args.backends:
        workdir = Path(tempfile.mkdtemp(prefix=f"accord-bench-{backend}-"))
        try:
            databases = (
                sqlite_database(workdir)
                if backend == "sqlite"
                else postgres_database(args.pg_url, analyze=not args.no_analyze)
            )
            with databases as db:
                results.append(run_backend(backend, args, workdir, db))
        except Skip as exc:
            print(f"note: skipping {backend}: {exc}", flush=True)
        except SetupError as exc:
            print(f"error: {backend}: {exc}", file=sys.stderr)
            return 1
        except KeyboardInterrupt:
            print("interrupted", file=sys.stderr)
            return 130
        finally:
            shutil.rmtree(workdir, ignore_errors=True)
    if not results:
        print("error: no backend could run", file=sys.stderr)
        return 1
    report(results, args)
    return 1 if any(r.problems for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
