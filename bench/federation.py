"""Federation: how soon a share reaches the peers, and how fast objects replicate.

What it measures, with real node processes (``python -m accord serve``, SQLite each,
in temporary directories, on loopback ports):

Push on publish (``--push-nodes`` nodes, 4 by default, every pair peered both ways, or
with ``--star`` only ``p1`` with each other node; each node on the default settings:
push on, 60 s scheduled sync). In the full mesh every node also relays each share to
its other peers (federation scope travels on), where it arrives again as a duplicate:
the cost of the mesh, measured with it:

- latency: ``--shares`` times (100), one TLP:GREEN indicator shared with the federation
  is POSTed to ``/api/v1/objects`` at node ``p1``; timed from just before the POST until
  ``GET /api/v1/objects/{id}`` answers 200 at every other node (each polled every 25 ms
  by an analyst of an organisation there). p50 and p99 over the shares; targets p50 under
  1 s, p99 under 5 s. The shares go one after another, each once the last has arrived;
- burst: ``--backlog`` (10,000) indicators POSTed to ``p1`` in bundles of 1,000, timed
  from the first POST until every peer holds them all (pushed while still arriving);
- backlog: a node started at the outset but peered with no one is peered with ``p1``;
  timed from the peering (both registrations and tokens) until it holds everything
  ``p1`` shared (the burst and the latency shares), pushed by ``p1`` on first sight.
  Sharing groups do not yet span nodes (no backfill to a new group member), so this
  is a new peer's initial push of the backlog, labelled so.

Throughput (push on publish off, so that the CLI's sync carries everything):

- node ``a`` is peered with ``b`` and with ``c`` (tokens exchanged both ways), then
  loaded, untimed, with ``--objects`` TLP:GREEN indicators shared with the federation
  (100,000 by default; POSTed to ``/api/v1/objects`` in bundles of 1,000);
- pull: ``b`` runs ``accord sync a`` (the CLI, as an operator would) and pulls them all;
- push: ``a`` runs ``accord sync c`` and pushes them all;
- ring: four more nodes join ``a`` in a five-node ring n1 (= a) .. n5 with edges
  n_i - n_(i+1) and n5 - n1, each peered both ways. Rounds of syncs go around the ring
  (n2 syncs with n1, n3 with n2, ..., n1 with n5) until every node holds every object.

Every message is signed by its sender and verified on receipt (always, in Accord).
Each sync is timed from the CLI's start to its exit (its ~1-2 s start-up included);
the receiver's stored count is checked after each. Reported: seconds and objects/s per
sync, the ring's total time and rate per hop. Target (2-core machine): >= 5,000
objects/s node to node.

``--page`` sets objects per signed message (``ACCORD_FEDERATION_PAGE``; 1,000 by default).
Run it as, for example::

    .venv/bin/python bench/federation.py
    .venv/bin/python bench/federation.py --objects 10000 --no-ring
    .venv/bin/python bench/federation.py --no-throughput   # push on publish only
"""

from __future__ import annotations

import argparse
import importlib.util
import random
import re
import resource
import shutil
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import orjson
import psutil

from support import (
    RssSampler,
    Server,
    SetupError,
    accord_cli,
    accord_env,
    add_org,
    add_token,
    free_port,
    indicator,
    load_note,
    mark,
    p50_p99_ms,
    table,
)

if TYPE_CHECKING:
    from accord.node import Node

TARGET_RATE = 5_000.0
TARGET_P50 = 1.0  # seconds from POST until readable at every peer
TARGET_P99 = 5.0
ARRIVAL_TIMEOUT = 120.0
# How often each peer is asked for a share: finer costs the nodes more requests than
# the share itself (on a small machine), coarser blurs the figure.
POLL = 0.025
BUNDLE = 1000
SYNC_TIMEOUT = 3600.0
_REPORT = re.compile(r"^(\S+): pulled (\d+), pushed (\d+)", re.MULTILINE)


@dataclass
class Member:
    """One node: its server process, the CLI's environment, and a handle on its database."""

    name: str
    workdir: Path
    env: dict[str, str]
    server: Server
    node: Node  # imported late: main() first checks that accord is importable
    rss: RssSampler

    def stored(self) -> int:
        """STIX object versions stored on this node (every version, whatever its sharing)."""
        from accord.store.objects import SQLObjectStore

        return SQLObjectStore(self.node.engine).count_versions()


@dataclass
class Sync:
    """One ``accord sync PEER`` run by ``member``."""

    label: str
    member: str
    peer: str
    seconds: float
    pulled: int
    pushed: int
    moved: int  # objects the receiver stored that it did not have before
    expected: int  # objects the receiver should hold afterwards
    held: int  # objects the receiver holds afterwards
    cli_cpu: float = 0.0  # CPU seconds of the ``accord sync`` process
    server_cpu: float = 0.0  # CPU seconds of the peer's server meanwhile

    @property
    def rate(self) -> float:
        return self.moved / self.seconds if self.seconds else 0.0

    @property
    def cpu_rate(self) -> float:
        """Objects per CPU-second of the busier side: what the pair would reach with a
        core each and nothing else running (the two sides work in parallel, each page
        composed while the last is stored), whatever the machine's load."""
        busier = max(self.cli_cpu, self.server_cpu)
        return self.moved / busier if busier else 0.0


# Nodes -----------------------------------------------------------------------------------
def start_member(root: Path, name: str, page: int, stack: ExitStack, push: bool = False) -> Member:
    """A node; ``push``: on the default settings (push on publish, the 60 s schedule),
    otherwise with push off and the schedule an hour away, so only the CLI's sync moves
    objects (the throughput runs)."""
    from accord.node import Node
    from accord.settings import Settings

    workdir = root / name
    workdir.mkdir()
    url = f"sqlite:///{workdir / 'node.db'}"
    port = free_port()
    if push:
        env = accord_env(url, port, name)
    else:
        env = accord_env(
            url,
            port,
            name,
            sync_interval="3600",
            federation_page=str(page),
            federation_push="false",
        )
    settings = Settings(database_url=url, node_name=name, _env_file=None)
    node = Node.open(settings)
    stack.callback(node.close)
    server = Server(env, workdir, port)
    stack.callback(server.stop)
    server.wait_healthy(timeout=180)  # other nodes may be busy on a small machine
    rss = RssSampler(server.proc.pid)
    stack.callback(rss.stop)
    return Member(name, workdir, env, server, node, rss)


def peer(a: Member, b: Member) -> None:
    """Peer ``a`` and ``b`` both ways, each holding a token for the other."""
    na, nb = a.node, b.node
    _, token_for_b = na.federation.add_peer(b.name, b.server.base, nb.key.public_b64, None)
    _, token_for_a = nb.federation.add_peer(a.name, a.server.base, na.key.public_b64, token_for_b)
    na.federation.set_peer_token(b.name, token_for_a)


def account(member: Member, org: str) -> tuple[str, str]:
    """A national CERT on ``member`` and an analyst token for it: (identity id, token)."""
    created = member.node.accounts.add_org(None, org, "national-cert", "SG")
    issued = member.node.accounts.create_token(None, org, "analyst", "bench", None)
    return created.identity_id, issued.plaintext


def load(member: Member, objects: int, sharer: tuple[str, str] | None = None) -> float:
    """Share ``objects`` TLP:GREEN indicators with the federation on ``member`` through its
    API, from two client threads; the seconds it took. ``sharer``: (identity, token) to
    share as; by default a new organisation, made with the CLI."""
    if sharer is None:
        org = f"Bench Federation Sharer {member.name}"
        identity = add_org(org, member.env, member.workdir)
        token = add_token(org, member.env, member.workdir)
    else:
        identity, token = sharer
    params = {"tlp": "TLP:GREEN", "scope": "federation"}

    def post(start: int) -> int:
        n = min(BUNDLE, objects - start)
        rng = random.Random(start)
        body = orjson.dumps(
            {
                "type": "bundle",
                "id": f"bundle--{uuid.UUID(int=rng.getrandbits(128), version=4)}",
                "objects": [indicator(rng, start + i, identity, green=True) for i in range(n)],
            }
        )
        response = clients[start // BUNDLE % 2].post("/api/v1/objects", params=params, content=body)
        if response.status_code != 201:
            raise SetupError(f"loading {member.name}: POST answered {response.status_code}")
        stored: int = orjson.loads(response.content)["stored"]
        return stored

    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    clients = [
        httpx.Client(base_url=member.server.base, headers=headers, timeout=600) for _ in range(2)
    ]
    start = time.perf_counter()
    try:
        # Two threads, each bundle on the client of its parity: keep-alive, no sharing.
        with ThreadPoolExecutor(2) as pool:
            stored = sum(pool.map(post, range(0, objects, BUNDLE)))
    finally:
        for c in clients:
            c.close()
    if stored != objects:
        raise SetupError(f"loading {member.name}: stored {stored:,} of {objects:,}")
    return time.perf_counter() - start


def _cpu(pid: int) -> float:
    times = psutil.Process(pid).cpu_times()
    return float(times.user + times.system)


def _children_cpu() -> float:
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    return used.ru_utime + used.ru_stime


def sync(label: str, member: Member, peer: Member, receiver: Member, expected: int) -> Sync:
    """Time ``accord sync PEER`` run as ``member``; check what ``receiver`` holds after."""
    before = receiver.stored()
    server_before, cli_before = _cpu(peer.server.proc.pid), _children_cpu()
    start = time.perf_counter()
    out = accord_cli(["sync", peer.name], member.env, member.workdir, timeout=SYNC_TIMEOUT)
    seconds = time.perf_counter() - start
    server_cpu, cli_cpu = _cpu(peer.server.proc.pid) - server_before, _children_cpu() - cli_before
    peer_name = peer.name
    found = _REPORT.search(out)
    if not found:
        raise SetupError(f"`accord sync {peer_name}` printed no report: {out.strip()[-200:]!r}")
    held = receiver.stored()
    return Sync(
        label,
        member.name,
        peer_name,
        seconds,
        int(found.group(2)),
        int(found.group(3)),
        held - before,
        expected,
        held,
        cli_cpu,
        server_cpu,
    )


# Push on publish ------------------------------------------------------------------------
@dataclass
class PushOutcome:
    nodes: int
    topology: str
    latencies: list[float]  # per share: POST until readable at every peer, seconds
    arrivals: list[float]  # per share and peer: POST until readable there
    burst_objects: int
    burst_post_seconds: float  # the POSTs alone
    burst_seconds: float  # first POST until every peer holds them all
    backlog_objects: int
    backlog_seconds: float  # the new peer's token set until it holds the backlog
    exact: bool  # every node holds exactly what p1 shared: nothing lost, nothing extra
    peak_rss_mb: float


def _wait_until(check: Callable[[], bool], what: str) -> None:
    deadline = time.perf_counter() + ARRIVAL_TIMEOUT
    while not check():
        if time.perf_counter() > deadline:
            raise SetupError(f"{what} did not happen within {ARRIVAL_TIMEOUT:.0f} s")
        time.sleep(0.05)


def run_push(args: argparse.Namespace, root: Path) -> PushOutcome:
    """Nodes p1..pN on the default settings, every pair peered; time shares from p1."""
    with ExitStack() as stack:
        names = [f"p{i}" for i in range(1, args.push_nodes + 1)]
        print(f"starting {len(names)} nodes (and a late one) on the default settings ...")
        members = {name: start_member(root, name, args.page, stack, push=True) for name in names}
        late = start_member(root, "late", args.page, stack, push=True)  # peered at the end
        for i, a in enumerate(names):
            for b in names[i + 1 :] if not args.star or a == "p1" else []:
                peer(members[a], members[b])
        p1, others = members["p1"], [members[n] for n in names[1:]]
        identity, token = account(p1, "Bench Push Sharer")
        readers = {m.name: account(m, f"Bench Push Reader {m.name}")[1] for m in others}
        publish = stack.enter_context(
            httpx.Client(
                base_url=p1.server.base,
                headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
                timeout=60,
            )
        )
        readers_http = {
            m.name: stack.enter_context(
                httpx.Client(
                    base_url=m.server.base,
                    headers={"Authorization": f"Bearer {readers[m.name]}"},
                    timeout=60,
                )
            )
            for m in others
        }
        pool = stack.enter_context(ThreadPoolExecutor(len(others)))
        params = {"tlp": "TLP:GREEN", "scope": "federation"}
        rng = random.Random(11)
        latencies: list[float] = []
        arrivals: list[float] = []
        print(f"{args.shares} shares at p1, each until readable at every peer ...", flush=True)
        for n in range(args.shares):
            obj = indicator(rng, 10_000_000 + n, identity, green=True)
            path = f"/api/v1/objects/{obj['id']}"
            start = time.perf_counter()
            response = publish.post("/api/v1/objects", params=params, content=orjson.dumps(obj))
            if response.status_code != 201:
                raise SetupError(f"POST at p1 answered {response.status_code}")

            def readable(name: str, path: str = path, start: float = start) -> float:
                http = readers_http[name]
                while http.get(path).status_code != 200:
                    if time.perf_counter() - start > ARRIVAL_TIMEOUT:
                        raise SetupError(f"share {path} never became readable at {name}")
                    time.sleep(POLL)
                return time.perf_counter() - start

            seen = list(pool.map(readable, readers_http))
            arrivals.extend(seen)
            latencies.append(max(seen))
        p50, p99 = p50_p99_ms(latencies)
        print(f"  p50 {p50:,.0f} ms, p99 {p99:,.0f} ms", flush=True)

        print(f"burst: {args.backlog:,} indicators POSTed to p1, pushed as they land ...")
        start = time.perf_counter()
        post_seconds = load(p1, args.backlog, (identity, token))
        expected = p1.stored()
        _wait_until(
            lambda: all(m.stored() >= expected for m in others), "every peer holding the burst"
        )
        burst_seconds = time.perf_counter() - start
        print(f"  every peer holds them {burst_seconds:.1f} s after the first POST", flush=True)

        print("backlog: a new node peers with p1 ...", flush=True)
        start = time.perf_counter()
        peer(p1, late)
        _wait_until(lambda: late.stored() >= expected, "the new peer holding the backlog")
        backlog_seconds = time.perf_counter() - start
        print(f"  it holds {expected:,} objects after {backlog_seconds:.1f} s", flush=True)
        time.sleep(1)  # anything extra (an echo, a duplicate) would land by now
        everyone = [p1, *others, late]
        exact = expected == args.shares + args.backlog and all(
            m.stored() == expected for m in everyone
        )
        peak = max(m.rss.peak_mb for m in everyone)
    return PushOutcome(
        len(names),
        "p1 peered with each other node" if args.star else "every pair peered",
        latencies,
        arrivals,
        args.backlog,
        post_seconds,
        burst_seconds,
        expected,
        backlog_seconds,
        exact,
        peak,
    )


def report_push(args: argparse.Namespace, load: str, o: PushOutcome) -> bool:
    """Print the push figures; whether they meet the targets and every count is exact."""
    p50, p99 = p50_p99_ms(o.latencies)
    each50, each99 = p50_p99_ms(o.arrivals)
    worst = max(o.latencies) * 1000
    print()
    print(
        f"Push on publish: {o.nodes} nodes, {o.topology}, default settings, "
        f"signatures verified on every hop, SQLite nodes, {load}"
    )
    rows = [
        [
            "POST at p1 until readable at every peer",
            f"{len(o.latencies)}",
            f"{p50:,.0f}",
            f"{p99:,.0f}",
            f"{worst:,.0f}",
        ],
        [
            "POST at p1 until readable at one peer",
            f"{len(o.arrivals)}",
            f"{each50:,.0f}",
            f"{each99:,.0f}",
            f"{max(o.arrivals) * 1000:,.0f}",
        ],
    ]
    print(table(["share", "samples", "p50 ms", "p99 ms", "max ms"], rows))
    ok_latency = p50 < TARGET_P50 * 1000 and p99 < TARGET_P99 * 1000
    print(
        f"target p50 < {TARGET_P50 * 1000:,.0f} ms and p99 < {TARGET_P99 * 1000:,.0f} ms: "
        f"{mark(ok_latency)}"
    )
    rate = o.burst_objects / o.burst_seconds
    print(
        f"burst: {o.burst_objects:,} objects POSTed to p1 in {o.burst_post_seconds:.1f} s "
        f"(bundles of {BUNDLE:,}); every peer held them {o.burst_seconds:.1f} s after the first "
        f"POST ({rate:,.0f} obj/s end to end)"
    )
    print(
        f"backlog (a new peer's first push; a new group member's node gets the same push "
        f"from the start): {o.backlog_objects:,} objects in {o.backlog_seconds:.1f} s "
        f"({o.backlog_objects / o.backlog_seconds:,.0f} obj/s, target >= {TARGET_RATE:,.0f}: "
        f"{mark(o.backlog_objects / o.backlog_seconds >= TARGET_RATE)})"
    )
    print(
        f"every node holds exactly the {o.backlog_objects:,} objects p1 shared: "
        f"{'yes' if o.exact else 'NO (MISMATCH)'}; peak RSS of one node: {o.peak_rss_mb:.0f} MB"
    )
    return ok_latency and o.exact


# Throughput ------------------------------------------------------------------------------
@dataclass
class Outcome:
    pairs: list[Sync]  # node to node
    hops: list[Sync]  # around the ring
    ring_seconds: float
    ring_complete: bool  # every ring node holds every object
    peak_rss_mb: float  # of the largest node server


def run(args: argparse.Namespace, root: Path) -> Outcome:
    """Start, peer and load the nodes, then time the syncs."""
    n = args.objects
    with ExitStack() as stack:
        names = ["a", "b", "c"] + ([f"n{i}" for i in range(2, 6)] if args.ring else [])
        print(f"starting {len(names)} nodes ...", flush=True)
        members = {name: start_member(root, name, args.page, stack) for name in names}
        a, b, c = members["a"], members["b"], members["c"]
        peer(a, b)
        peer(a, c)
        ring = [a, *(members[f"n{i}"] for i in range(2, 6))] if args.ring else []
        for i, m in enumerate(ring):
            peer(m, ring[(i + 1) % len(ring)])

        print(f"loading a with {n:,} federation-scoped TLP:GREEN indicators ...", flush=True)
        seconds = load(a, n)
        print(f"  loaded in {seconds:.1f} s ({n / seconds:,.0f} obj/s)", flush=True)

        pairs = []
        print("b pulls from a (accord sync a, run as b) ...", flush=True)
        pairs.append(sync("pull a -> b", b, a, b, n))
        print("a pushes to c (accord sync c, run as a) ...", flush=True)
        pairs.append(sync("push a -> c", a, c, c, n))

        hops: list[Sync] = []
        ring_seconds = 0.0
        complete = False
        if ring:
            names_ring = [m.name for m in ring]
            print(f"ring {' - '.join(names_ring)} - {names_ring[0]} ...", flush=True)
            start = time.perf_counter()
            for round_no in range(1, len(ring) + 1):
                for i in range(1, len(ring) + 1):
                    me, prev = ring[i % len(ring)], ring[i - 1]
                    hop = sync(f"round {round_no}: {me.name} <-> {prev.name}", me, prev, me, n)
                    hops.append(hop)
                    print(
                        f"  {hop.label}: pulled {hop.pulled:,}, pushed {hop.pushed:,} "
                        f"in {hop.seconds:.1f} s",
                        flush=True,
                    )
                complete = all(m.stored() == n for m in ring)
                if complete:
                    break
            ring_seconds = time.perf_counter() - start
        peak = max(m.rss.peak_mb for m in members.values())
    return Outcome(pairs, hops, ring_seconds, complete, peak)


# Output ----------------------------------------------------------------------------------
def _rows(syncs: list[Sync]) -> list[list[str]]:
    return [
        [
            s.label,
            f"{s.pulled:,}",
            f"{s.pushed:,}",
            f"{s.moved:,}",
            f"{s.seconds:.1f}",
            f"{s.rate:,.0f}" if s.moved else "-",
            f"{s.cli_cpu:.1f} / {s.server_cpu:.1f}",
            f"{s.cpu_rate:,.0f}" if s.moved else "-",
            f"{s.held:,} / {s.expected:,}",
        ]
        for s in syncs
    ]


HEADERS = [
    "sync",
    "pulled",
    "pushed",
    "new on receiver",
    "seconds",
    "obj/s",
    "CPU s (CLI / server)",
    "obj per CPU-s (busier side)",
    "receiver holds",
]


def report(args: argparse.Namespace, load: str, outcome: Outcome) -> bool:
    """Print the tables; whether every check and target passed."""
    print()
    print(
        f"Federation benchmark: {args.objects:,} indicators, {args.page:,} objects a signed "
        f"message, signatures verified on receipt, SQLite nodes, {load}"
    )
    print(table(HEADERS, _rows(outcome.pairs)))
    ok = True
    for s in outcome.pairs:
        exact = s.held == s.expected
        ok &= exact and s.rate >= TARGET_RATE
        print(
            f"{s.label}: {s.rate:,.0f} obj/s, target >= {TARGET_RATE:,.0f}: "
            f"{mark(s.rate >= TARGET_RATE)}; receiver holds {s.held:,} of {s.expected:,} "
            f"({'exact' if exact else 'MISMATCH'})"
        )
    hops = outcome.hops
    if hops:
        print()
        print("Five-node ring n1 (= a) .. n5, each node syncing with its predecessor in turn")
        print(table(HEADERS, _rows(hops)))
        carrying = [h for h in hops if h.moved]
        complete = outcome.ring_complete
        hop_rate = (
            sum(h.moved for h in carrying) / sum(h.seconds for h in carrying) if carrying else 0
        )
        ok &= complete
        print(
            f"ring: {args.objects:,} objects reached all 5 nodes in {outcome.ring_seconds:.1f} s "
            f"({len(hops)} syncs, {len(carrying)} carrying new objects); "
            f"per hop {hop_rate:,.0f} obj/s (target >= {TARGET_RATE:,.0f}: "
            f"{mark(hop_rate >= TARGET_RATE)}); {'complete' if complete else 'INCOMPLETE'}"
        )
    print(f"peak RSS of one node's server: {outcome.peak_rss_mb:.0f} MB")
    return ok


# Entry point -----------------------------------------------------------------------------
def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0] if __doc__ else None,
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("--objects", type=int, default=100_000, help="indicators to replicate")
    p.add_argument("--page", type=int, default=1000, help="objects per signed message")
    p.add_argument("--no-ring", dest="ring", action="store_false", help="skip the ring")
    p.add_argument(
        "--no-throughput", dest="throughput", action="store_false", help="skip pull/push/ring"
    )
    p.add_argument("--no-push", dest="push", action="store_false", help="skip push on publish")
    p.add_argument("--push-nodes", type=int, default=4, help="nodes for push on publish (3-5)")
    p.add_argument(
        "--star", action="store_true", help="peer p1 with each other node only (no relays)"
    )
    p.add_argument("--shares", type=int, default=100, help="shares timed for push latency")
    p.add_argument("--backlog", type=int, default=10_000, help="objects a new peer receives")
    args = p.parse_args(argv)
    if args.objects < 1 or not 1 <= args.page <= 10_000:
        p.error("--objects must be positive and --page within 1..10000")
    if not 3 <= args.push_nodes <= 5 or args.shares < 1 or args.backlog < 1:
        p.error("--push-nodes must be within 3..5, --shares and --backlog positive")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if importlib.util.find_spec("accord") is None:
        print("error: the accord package is not importable; use .venv/bin/python")
        return 2
    ok = True
    for wanted, scenario in ((args.push, "push"), (args.throughput, "throughput")):
        if not wanted:
            continue
        note = load_note()
        root = Path(tempfile.mkdtemp(prefix=f"accord-bench-federation-{scenario}-"))
        try:
            if scenario == "push":
                pushed = run_push(args, root)
            else:
                outcome = run(args, root)
        except SetupError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
        except KeyboardInterrupt:
            print("interrupted", file=sys.stderr)
            return 130
        finally:
            shutil.rmtree(root, ignore_errors=True)
        if scenario == "push":
            ok &= report_push(args, note, pushed)
        else:
            ok &= report(args, note, outcome)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
