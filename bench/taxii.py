"""TAXII 2.1 throughput of an Accord node, beside the OASIS reference server, medallion.

What it measures, on each server in turn, on the same indicators:

- envelopes of ``--envelope`` TLP:GREEN indicators (1,000 by default) are POSTed to a
  writable collection (ours: "Community", as organisation A; medallion: one collection
  of its memory backend) by ``--concurrency`` client threads on keep-alive connections,
  until the store holds each of ``--sizes`` (10,000 and 100,000 by default);
- at each size, the whole collection is read back with paginated GETs (``limit`` =
  ``--page``, then the ``next`` token; ours as organisation B). The bench checks that
  every object came back once;
- reported per server and size: POST objects/s and p50/p99 latency of a POST, GET
  objects/s (time waiting on responses; the client's JSON parsing is left out) and
  p50/p99 latency of a page, peak RSS of the server, and the ratio ours/medallion.

medallion 3.0.0 is installed by this script into its own virtual environment under
``var/bench/medallion-venv`` (``python -m venv`` + ``pip install medallion``) and runs
on loopback with its memory backend. Its costs grow with what it stores (each POSTed
object is compared with every stored one, each request deep-copies the collection),
and its ``next`` tokens expire 30 s after the first page. So each medallion phase gets
``--medallion-budget`` seconds (60 by default): a POST phase stops after the envelope
that crosses it, a read stops at the first page after it (or when its token expires);
the rate over what was done is printed, marked "partial", and the larger sizes are
"skipped (too slow: ...)" rather than waited for.

``--million`` adds 1,000,000 objects, on our server only, to show that page reads stay
flat as the store grows. A full read of our server stops after ``--read-budget`` seconds
(120 by default) and is marked "partial", so a read that does not stay flat is reported
rather than waited for. Targets (2-core machine): paginated GET >= 50,000 objects/s
at 100,000 and 1,000,000 objects, POST >= 10,000 objects/s.

Run it as, for example::

    .venv/bin/python bench/taxii.py
    .venv/bin/python bench/taxii.py --sizes 10000 --no-medallion --million
"""

from __future__ import annotations

import argparse
import base64
import importlib.util
import json
import random
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import orjson

from support import (
    HOST,
    RssSampler,
    Server,
    SetupError,
    accord_env,
    add_org,
    add_token,
    free_port,
    indicator,
    int_list,
    load_note,
    mark,
    p50_p99_ms,
    table,
)

TARGET_POST = 10_000.0
TARGET_GET = 50_000.0
MEDIA_TYPE = "application/taxii+json;version=2.1"
# accord.domain.collections.Collection(CollectionKind.COMMUNITY, "", "").id
COMMUNITY = "38c47ab8-fea5-594d-83c1-35887f6da3bd"
MEDALLION_VERSION = "3.0.0"
MEDALLION_COLLECTION = "91a7b528-80eb-42ed-a74d-c6fbd5a26116"
MEDALLION_USER = ("bench", "bench-password")
ORGS = ("Bench TAXII Writer A", "Bench TAXII Reader B")
REPO = Path(__file__).resolve().parent.parent


# Results ---------------------------------------------------------------------------------
@dataclass
class Row:
    server: str
    stored: int
    post_rate: float = 0.0
    post_ms: tuple[float, float] = (0.0, 0.0)
    post_partial: bool = False
    read: int = 0
    get_rate: float = 0.0
    get_ms: tuple[float, float] = (0.0, 0.0)
    get_partial: bool = False
    peak_rss_mb: float = 0.0
    note: str = ""


@dataclass
class Target:
    """One TAXII server under test: where to POST and GET, and as whom."""

    name: str
    server: Server
    objects_url: str
    writer: dict[str, str]  # headers that authenticate the writer
    reader: dict[str, str]
    post_budget: float | None  # seconds a POST phase may take before it stops (None: no limit)
    read_budget: float  # seconds a full read may take before it stops
    rows: list[Row] = field(default_factory=list)

    def client(
        self, auth: dict[str, str], content_type: bool = False, timeout: float | None = None
    ) -> httpx.Client:
        headers = {"Accept": MEDIA_TYPE, **auth}
        if content_type:
            headers["Content-Type"] = MEDIA_TYPE
        return httpx.Client(headers=headers, timeout=timeout or 600)


# Workload --------------------------------------------------------------------------------
def envelopes(first: int, count: int, size: int) -> Iterator[tuple[bytes, int]]:
    """Serialised envelopes of indicators ``first`` .. ``first + count``; the same objects
    for every server (the generator is seeded by the object number)."""
    for start in range(first, first + count, size):
        n = min(size, first + count - start)
        rng = random.Random(start)
        objects = [indicator(rng, start + i, green=True) for i in range(n)]
        yield orjson.dumps({"objects": objects}), n


# Phases ----------------------------------------------------------------------------------
def post_until(
    target: Target, stored: int, size: int, envelope: int, concurrency: int, row: Row
) -> int:
    """POST envelopes until ``size`` objects are stored (or the budget runs out); the
    number stored afterwards. Fills the POST fields of ``row``."""
    latencies: list[float] = []
    local = threading.local()
    clients: list[httpx.Client] = []
    lock = threading.Lock()
    deadline = time.perf_counter() + target.post_budget if target.post_budget else None
    over = threading.Event()

    def post(item: tuple[bytes, int]) -> int:
        body, n = item
        if over.is_set():
            return 0
        client: httpx.Client | None = getattr(local, "client", None)
        if client is None:
            client = target.client(target.writer, content_type=True)
            local.client = client
            with lock:
                clients.append(client)
        t0 = time.perf_counter()
        response = client.post(target.objects_url, content=body)
        elapsed = time.perf_counter() - t0
        if response.status_code != 202:
            raise SetupError(
                f"{target.name}: POST answered {response.status_code}: {response.text[:300]}"
            )
        status = orjson.loads(response.content)
        if status.get("success_count") != n:
            raise SetupError(
                f"{target.name}: POST stored {status.get('success_count')} of {n}: "
                f"{str(status.get('failures'))[:300]}"
            )
        with lock:
            latencies.append(elapsed)
        if deadline is not None and time.perf_counter() > deadline:
            over.set()
        return n

    start = time.perf_counter()
    added = 0
    try:
        with ThreadPoolExecutor(concurrency, thread_name_prefix="poster") as pool:
            # Bounded look-ahead: a million objects never sit in client memory at once.
            batch: list[tuple[bytes, int]] = []
            for item in envelopes(stored, size - stored, envelope):
                batch.append(item)
                if len(batch) == 4 * concurrency:
                    added += sum(pool.map(post, batch))
                    batch = []
                if over.is_set():
                    break
            added += sum(pool.map(post, batch))
    finally:
        for c in clients:
            c.close()
    seconds = time.perf_counter() - start
    row.post_rate = added / seconds if seconds else 0.0
    row.post_ms = p50_p99_ms(latencies)
    row.post_partial = stored + added < size
    return stored + added


def read_all(target: Target, page: int, expected: int, row: Row) -> None:
    """Every object in the collection, page by page (or until the budget runs out).
    Fills the GET fields of ``row``; checks nothing is missing or repeated."""
    seen: set[str] = set()
    latencies: list[float] = []
    count = 0
    params: dict[str, str | int] = {"limit": page}
    started = time.perf_counter()
    with target.client(target.reader, timeout=target.read_budget) as client:
        while True:
            t0 = time.perf_counter()
            try:
                response = client.get(target.objects_url, params=params)
            except httpx.TimeoutException:
                row.note = (
                    f"no page came back within the {target.read_budget:g} s budget "
                    f"({count:,} objects read)"
                )
                row.get_partial = True
                break
            latencies.append(time.perf_counter() - t0)
            if response.status_code == 400 and "next" in params:
                row.note = (
                    f"its next token expired after {time.perf_counter() - started:.0f} s "
                    f"({count:,} objects read)"
                )
                row.get_partial = True
                break
            if response.status_code != 200:
                raise SetupError(
                    f"{target.name}: GET answered {response.status_code}: {response.text[:300]}"
                )
            body = orjson.loads(response.content)
            objects = body.get("objects", [])
            count += len(objects)
            seen.update(o["id"] for o in objects)
            if not body.get("more"):
                break
            params = {"limit": page, "next": body["next"]}
            if time.perf_counter() - started > target.read_budget:
                row.get_partial = True
                row.note = (
                    f"the read passed its {target.read_budget:g} s budget after {count:,} "
                    f"objects (last page {latencies[-1] * 1000:,.0f} ms)"
                )
                break
    seconds = sum(latencies)
    row.read = count
    row.get_rate = count / seconds if seconds else 0.0
    row.get_ms = p50_p99_ms(latencies)
    if len(seen) != count:
        row.note = f"pagination repeated objects: {count:,} read, {len(seen):,} distinct"
    elif not row.get_partial and count != expected:
        row.note = f"MISMATCH: read {count:,} of {expected:,} stored"


def run_target(
    target: Target, sizes: list[int], args: argparse.Namespace, only: int | None = None
) -> None:
    """Grow the collection through ``sizes`` (up to ``only`` for this server), measuring
    POSTs on the way and a full read at each size."""
    rss = RssSampler(target.server.proc.pid)
    stored = 0
    try:
        for size in sizes:
            if only is not None and size > only:
                continue  # --million is for our server only
            row = Row(target.name, size)
            target.rows.append(row)
            if stored < size and any(r.post_partial or r.get_partial for r in target.rows[:-1]):
                done = next(r for r in target.rows if r.post_partial or r.get_partial)
                row.note = f"skipped (too slow: {_slowness(done)})"
                continue
            print(f"[{target.name}] POSTing up to {size:,} objects ...", flush=True)
            stored = post_until(target, stored, size, args.envelope, args.concurrency, row)
            if row.post_partial:
                row.stored = stored
                row.note = (
                    f"skipped reads: POSTs passed the {target.post_budget:.0f} s budget "
                    f"at {stored:,} stored"
                )
                continue
            print(f"[{target.name}] reading {size:,} objects back ...", flush=True)
            read_all(target, args.page, stored, row)
            row.peak_rss_mb = rss.peak_mb
    finally:
        rss.stop()


def _slowness(row: Row) -> str:
    if row.post_partial:
        return f"POST {row.post_rate:,.0f} obj/s at {row.stored:,} stored"
    if not row.read:
        return f"no GET page within the budget at {row.stored:,} stored"
    return f"GET {row.get_rate:,.0f} obj/s at {row.stored:,} stored"


# Our server ------------------------------------------------------------------------------
def start_ours(workdir: Path, args: argparse.Namespace) -> Target:
    port = free_port()
    env = accord_env(f"sqlite:///{workdir / 'accord.db'}", port, sync_interval="3600")
    for name in ORGS:
        add_org(name, env, workdir)
    writer, reader = (add_token(name, env, workdir) for name in ORGS)
    server = Server(env, workdir, port)
    server.wait_healthy()
    return Target(
        "accord",
        server,
        f"{server.base}/taxii2/api/collections/{COMMUNITY}/objects/",
        {"Authorization": f"Bearer {writer}"},
        {"Authorization": f"Bearer {reader}"},
        post_budget=None,
        read_budget=args.read_budget,
    )


# medallion -------------------------------------------------------------------------------
def medallion_venv(venv: Path) -> Path:
    """The medallion executable, installing it into ``venv`` first if it is not there."""
    exe = venv / "bin" / "medallion"
    if exe.exists():
        return exe
    print(f"installing medallion {MEDALLION_VERSION} into {venv} ...", flush=True)
    venv.parent.mkdir(parents=True, exist_ok=True)
    steps = [
        [sys.executable, "-m", "venv", str(venv)],
        [str(venv / "bin" / "pip"), "install", "-q", f"medallion=={MEDALLION_VERSION}"],
    ]
    for step in steps:
        proc = subprocess.run(step, capture_output=True, text=True, timeout=600)
        if proc.returncode != 0:
            lines = (proc.stderr or proc.stdout).strip().splitlines()
            raise SetupError(f"`{' '.join(step[:3])}` failed: {lines[-1] if lines else '?'}")
    if not exe.exists():
        raise SetupError(f"pip installed medallion but {exe} is missing")
    return exe


def medallion_data(base: str) -> dict[str, Any]:
    """The memory backend's data: discovery, one API root, one empty writable collection."""
    return {
        "/discovery": {
            "title": "medallion (bench)",
            "description": "OASIS TAXII 2.1 reference server, memory backend",
            "default": f"{base}/api1/",
            "api_roots": [f"{base}/api1/"],
        },
        "api1": {
            "information": {
                "title": "bench",
                "description": "bench API root",
                "versions": [MEDIA_TYPE],
                "max_content_length": 1 << 30,
            },
            "status": [],
            "collections": [
                {
                    "id": MEDALLION_COLLECTION,
                    "title": "bench",
                    "description": "writable collection for the bench",
                    "can_read": True,
                    "can_write": True,
                    "media_types": ["application/stix+json;version=2.1"],
                    "objects": [],
                    "manifest": [],
                }
            ],
        },
    }


def start_medallion(exe: Path, workdir: Path, args: argparse.Namespace) -> Target:
    port = free_port()
    server_base = f"http://{HOST}:{port}"
    data = workdir / "medallion-data.json"
    data.write_text(json.dumps(medallion_data(server_base)))
    config = workdir / "medallion.json"
    config.write_text(
        json.dumps(
            {
                "backend": {
                    "module": "medallion.backends.memory_backend",
                    "module_class": "MemoryBackend",
                    "filename": str(data),
                },
                "users": {MEDALLION_USER[0]: MEDALLION_USER[1]},
                "taxii": {"max_page_size": args.page},
            }
        )
    )
    command = [str(exe), "--host", HOST, "--port", str(port), str(config)]
    server = Server({}, workdir, port, command=command, health="/taxii2/")
    basic = "Basic " + base64.b64encode(":".join(MEDALLION_USER).encode()).decode()
    auth = {"Authorization": basic}
    server.wait_healthy(headers={**auth, "Accept": MEDIA_TYPE})
    return Target(
        "medallion",
        server,
        f"{server_base}/api1/collections/{MEDALLION_COLLECTION}/objects/",
        auth,
        auth,
        post_budget=args.medallion_budget,
        read_budget=args.medallion_budget,
    )


# Output ----------------------------------------------------------------------------------
def _rate(rate: float, partial: bool) -> str:
    return f"{rate:,.0f}{' (partial)' if partial else ''}" if rate else "-"


def report(targets: list[Target], args: argparse.Namespace, load: str) -> bool:
    """Print the tables; whether our server met its targets."""
    print()
    print(
        f"TAXII 2.1 benchmark: envelopes of {args.envelope:,} indicators, pages of {args.page:,}, "
        f"{args.concurrency} posting client(s), {load}"
    )
    headers = [
        "server",
        "stored",
        "POST obj/s",
        "POST p50 ms",
        "POST p99 ms",
        "read",
        "GET obj/s",
        "GET p50 ms",
        "GET p99 ms",
        "peak RSS MB",
    ]
    rows = []
    notes = []
    for t in targets:
        for r in t.rows:
            ran = r.post_rate > 0
            rows.append(
                [
                    r.server,
                    f"{r.stored:,}",
                    _rate(r.post_rate, r.post_partial),
                    f"{r.post_ms[0]:.1f}" if ran else "-",
                    f"{r.post_ms[1]:.1f}" if ran else "-",
                    f"{r.read:,}" if r.read else "-",
                    _rate(r.get_rate, r.get_partial),
                    f"{r.get_ms[0]:.1f}" if r.read else "-",
                    f"{r.get_ms[1]:.1f}" if r.read else "-",
                    f"{r.peak_rss_mb:.0f}" if r.peak_rss_mb else "-",
                ]
            )
            if r.note:
                notes.append(f"{r.server} at {r.stored:,}: {r.note}")
            guess = extrapolated(t, r)
            if guess:
                rate, base = guess
                notes.append(
                    f"{r.server} at {r.stored:,}: its full read extrapolates (read cost "
                    f"quadratic in what it stores, from {base.get_rate:,.1f} obj/s at "
                    f"{base.stored:,}) to ~{rate:,.1f} obj/s, "
                    f"~{r.stored / rate:,.0f} s for one read"
                )
    rows.append(
        ["target (accord)", "", f">= {TARGET_POST:,.0f}", "", "", "", f">= {TARGET_GET:,.0f}"]
        + ["", "", ""]
    )
    print(table(headers, rows))
    for note in notes:
        print(f"note: {note}")

    ours = next((t for t in targets if t.name == "accord"), None)
    theirs = next((t for t in targets if t.name == "medallion"), None)
    if ours and theirs:
        print()
        print(
            "Ratio accord / medallion (a partial medallion rate is over what it did within "
            "its budget)"
        )
        ratio_rows = []
        for mine in ours.rows:
            other = next((r for r in theirs.rows if r.stored == mine.stored), None)
            if other is None:
                continue
            guess = extrapolated(theirs, other)
            get_ratio = (
                f"~x{mine.get_rate / guess[0]:,.0f} (vs extrapolated)"
                if guess and mine.get_rate
                else _ratio(mine.get_rate, other.get_rate, other.get_partial)
            )
            ratio_rows.append(
                [
                    f"{mine.stored:,}",
                    _ratio(mine.post_rate, other.post_rate, other.post_partial),
                    get_ratio,
                ]
            )
        if ratio_rows:
            print(table(["stored", "POST", "GET"], ratio_rows))

    if ours is None:
        return True
    met = True
    for r in ours.rows:
        if not r.read:
            continue
        checks = [f"POST {mark(r.post_rate >= TARGET_POST)}"]
        met &= r.post_rate >= TARGET_POST
        if r.stored >= 100_000:
            checks.append(f"GET {mark(r.get_rate >= TARGET_GET)}")
            met &= r.get_rate >= TARGET_GET
        exact = r.read == r.stored and not r.note
        met &= exact
        verdict = "exact" if exact else "partial: stopped" if r.get_partial else "MISMATCH"
        print(
            f"accord at {r.stored:,}: {', '.join(checks)}; read {r.read:,} of {r.stored:,} "
            f"({verdict})"
        )
    done = [r for r in ours.rows if r.read]
    if len(done) > 1:
        first, last = done[0], done[-1]
        print(
            f"accord from {first.stored:,} to {last.stored:,} stored: page p50 "
            f"x{last.get_ms[0] / first.get_ms[0]:.2f}, "
            f"GET obj/s x{last.get_rate / first.get_rate:.2f} (flat: close to x1)"
        )
    return met


def extrapolated(target: Target, row: Row) -> tuple[float, Row] | None:
    """For a medallion size whose full read was not done (too slow): the read rate,
    extrapolated from the largest smaller size read in full with read time growing as the
    square of the size (rate falls as 1/size); and that row. None otherwise."""
    if target.name != "medallion" or (row.read and not row.get_partial):
        return None
    done = [r for r in target.rows if r.stored < row.stored and r.read and not r.get_partial]
    if not done:
        return None
    base = done[-1]
    return base.get_rate * base.stored / row.stored, base


def _ratio(mine: float, other: float, partial: bool) -> str:
    if not mine or not other:
        return "-"
    return f"x{mine / other:,.1f}{' (vs partial)' if partial else ''}"


# Entry point -----------------------------------------------------------------------------
def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0] if __doc__ else None,
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument(
        "--sizes", type=int_list, default=[10_000, 100_000], help="store sizes to read at"
    )
    p.add_argument("--million", action="store_true", help="add 1,000,000 (our server only)")
    p.add_argument("--envelope", type=int, default=1000, help="objects per POSTed envelope")
    p.add_argument("--page", type=int, default=1000, help="objects per GET page")
    p.add_argument("--concurrency", type=int, default=2, help="posting client threads")
    p.add_argument("--no-medallion", action="store_true", help="measure our server only")
    p.add_argument(
        "--medallion-budget", type=float, default=60.0, help="seconds per medallion phase"
    )
    p.add_argument(
        "--read-budget",
        type=float,
        default=120.0,
        help="seconds a full read of our server may take before it stops (marked partial)",
    )
    p.add_argument(
        "--medallion-sizes",
        type=int_list,
        default=[1000, 2000, 4000],
        help="smaller sizes medallion also reads at, to show how its read cost grows",
    )
    p.add_argument(
        "--medallion-venv",
        type=Path,
        default=REPO / "var" / "bench" / "medallion-venv",
        help="where medallion is (or gets) installed",
    )
    args = p.parse_args(argv)
    if (
        min(args.envelope, args.page, args.concurrency) < 1
        or min(args.medallion_budget, args.read_budget) <= 0
    ):
        p.error("--envelope, --page, --concurrency and the budgets must be positive")
    return args


def _with_server(
    make: Callable[[Path], Target], prefix: str, run: Callable[[Target], None]
) -> Target:
    workdir = Path(tempfile.mkdtemp(prefix=prefix))
    target: Target | None = None
    try:
        target = make(workdir)
        run(target)
        return target
    finally:
        if target is not None:
            target.server.stop()
        shutil.rmtree(workdir, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if importlib.util.find_spec("accord") is None:
        print("error: the accord package is not importable; use .venv/bin/python")
        return 2
    load = load_note()
    ours_sizes = sorted({*args.sizes, *([1_000_000] if args.million else [])})
    medallion_sizes = sorted({*args.medallion_sizes, *ours_sizes})
    targets: list[Target] = []
    try:
        targets.append(
            _with_server(
                lambda w: start_ours(w, args),
                "accord-bench-taxii-",
                lambda t: run_target(t, ours_sizes, args),
            )
        )
        if not args.no_medallion:
            try:
                exe = medallion_venv(args.medallion_venv)
            except SetupError as exc:
                print(f"note: medallion skipped (could not install it: {exc})", flush=True)
            else:
                targets.append(
                    _with_server(
                        lambda w: start_medallion(exe, w, args),
                        "medallion-bench-",
                        lambda t: run_target(t, medallion_sizes, args, only=max(args.sizes)),
                    )
                )
    except SetupError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    return 0 if report(targets, args, load) else 1


if __name__ == "__main__":
    sys.exit(main())
