"""Bulk log matching: compiled indicators against a large CSV log, with baselines.

What it does:

- generates ``--indicators`` STIX patterns (1,000,000 by default): 40% IPv4 (of which
  5% ``ISSUBSET`` CIDR ranges, /16 to /28), 30% domains, 10% URLs, 20% file hashes
  (SHA-256, MD5, SHA-1), and a CSV log of ``--records`` rows (10,000,000 by default;
  columns ts, src_ip, dst_ip, domain, url, sha256) with ``--hit-rate`` (0.1%) rows
  planted to hit one known indicator each; every other value misses every indicator;
- times compiling the indicators into a ``MatcherSet`` and building its screen (both
  once per set of indicators), then the bulk path ``accord match`` takes for CSV
  (``accord.detect.bulk.read_log_screened``: chunks parsed by pyarrow in worker threads,
  the vectorised screen, exact confirmation of the rows it lets through) over the whole
  log, with its CPU time, and checks recall and precision against the planted hits
  (both must be 100%);
- for scale: the time to merely parse the same CSV with pyarrow (the floor: its
  multithreaded streaming reader, every column, as ``pyarrow.csv.open_csv`` reads it), a
  plain-Python baseline (``csv`` module, a set of values and ``bisect`` over ranges)
  on a ``--sample`` of rows, and the OASIS ``stix2-matcher`` on ``--oasis-records``
  records against ``--oasis-indicators`` patterns, extrapolated to the full indicator
  set (it evaluates one pattern at a time, so its rate falls with the indicator count);
- correlation: ``--corr-observables`` cyber-observables (1,000,000) in ``--corr-reports``
  reports (10,000; values drawn from a pool a third that size, so they recur across
  reports) indexed the way ingest indexes them (``Correlations.index_versions``, one
  transaction per report) into a node's SQLite database: the full build, then the
  incremental cost of one more ingested object, and a value lookup (the index queries
  ``Correlations.of`` makes per value, before the policy gate; 0 skips this part);
- prints one table, with peak RSS of this process.

With ``--engine dask``, the same log and indicators are matched by the single-process
bulk path and then on local Dask clusters of 1 and 2 worker processes (one thread
each, ``accord.detect.distributed``, ``--partition-mb`` of log per task): records/s
of each, cold (the first job: indicators scattered and compiled on every worker) and
warm (the next job, compiled indicators kept by the workers), the efficiency of 2
workers over 1, and a check that every engine found the same matches with the same
line numbers. The baselines and correlation are left out.

Run, for example::

    .venv/bin/python bench/match.py                      # the full size
    .venv/bin/python bench/match.py --indicators 100000 --records 1000000
    .venv/bin/python bench/match.py --engine dask --indicators 100000 --records 1000000
"""

from __future__ import annotations

import argparse
import bisect
import csv
import gc
import ipaddress
import os
import random
import resource
import tempfile
import time
from pathlib import Path

import numpy as np
import orjson
from pyarrow import csv as pacsv
from stix2matcher.matcher import Pattern as OasisPattern

from accord.detect.bulk import read_log_screened
from accord.detect.matcher import MatcherSet
from accord.detect.observables import objects_of, observed_data
from accord.detect.readers import ReadStats
from accord.detect.screen import screen_for
from accord.domain.scope import Distribution, Scope
from accord.domain.tlp import TLP
from accord.node import Node
from accord.settings import Settings
from accord.store.detect import ObservableIndexRepository, value_key
from accord.store.objects import NewVersion, SQLObjectStore
from support import int_list

STAMP = "2026-01-01T00:00:00.000Z"

FIELDS = {
    "src_ip": "ipv4-addr:value",
    "dst_ip": "network-traffic:dst_ref.value",
    "domain": "domain-name:value",
    "url": "url:value",
    "sha256": "file:hashes.SHA-256",
}


def _hex(rng: np.random.Generator, n: int, length: int) -> list[str]:
    raw = rng.integers(0, 16, size=(n, length), dtype=np.uint8)
    table = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)
    return [bytes(row).decode() for row in table[raw]]


def generate_indicators(n: int, seed: int) -> tuple[list[tuple[str, str]], dict[str, list]]:
    """Patterns and, per kind, the values a planted hit can use."""
    rng = np.random.default_rng(seed)
    n_ip = int(n * 0.4)
    n_cidr = int(n_ip * 0.05)
    n_dom = int(n * 0.3)
    n_url = int(n * 0.1)
    n_hash = n - n_ip - n_dom - n_url
    pairs: list[tuple[str, str]] = []
    # Indicator addresses live in 100.0.0.0/6 ... keep them away from the log's misses (1.x).
    # Drawn without listing the 67 million candidates (that alone would add 0.5 GB of RSS).
    ips = (100 << 24) + rng.choice(4 << 24, n_ip - n_cidr, replace=False)
    ip_texts = [str(ipaddress.IPv4Address(int(v))) for v in ips]
    pairs += [(f"indicator--ip-{i}", f"[ipv4-addr:value = '{v}']") for i, v in enumerate(ip_texts)]
    cidrs = []
    for i in range(n_cidr):
        prefix = int(rng.integers(16, 29))
        base = int(rng.integers(104 << 24, 108 << 24)) >> (32 - prefix) << (32 - prefix)
        net = f"{ipaddress.IPv4Address(base)}/{prefix}"
        cidrs.append((base, prefix))
        pairs.append((f"indicator--net-{i}", f"[ipv4-addr:value ISSUBSET '{net}']"))
    labels = _hex(rng, n_dom, 12)
    domains = [f"{label}.bad.example" for label in labels]
    pairs += [
        (f"indicator--dom-{i}", f"[domain-name:value = '{d}']") for i, d in enumerate(domains)
    ]
    urls = [f"http://{u}.bad.example/x" for u in _hex(rng, n_url, 10)]
    pairs += [(f"indicator--url-{i}", f"[url:value = '{u}']") for i, u in enumerate(urls)]
    hashes = _hex(rng, n_hash, 64)
    pairs += [
        (f"indicator--sha-{i}", f"[file:hashes.'SHA-256' = '{h}']") for i, h in enumerate(hashes)
    ]
    plantable = {"ip": ip_texts, "cidr": cidrs, "domain": domains, "url": urls, "sha256": hashes}
    return pairs, plantable


def generate_log(path: Path, records: int, hit_rate: float, plant: dict, seed: int) -> set[int]:
    """Write the CSV; return the row numbers (from 0) of the planted hits."""
    rng = np.random.default_rng(seed + 1)
    planted = set(rng.choice(records, int(records * hit_rate), replace=False).tolist())
    chunk = 200_000
    with path.open("w", newline="") as f:
        f.write("ts,src_ip,dst_ip,domain,url,sha256\n")
        for start in range(0, records, chunk):
            n = min(chunk, records - start)
            src = rng.integers(1 << 24, 2 << 24, n)  # 1.0.0.0/8: no indicator there
            dst = rng.integers(1 << 24, 2 << 24, n)
            dom = _hex(rng, n, 8)
            rows = []
            for i in range(n):
                row = start + i
                s = f"{src[i] >> 24}.{(src[i] >> 16) & 255}.{(src[i] >> 8) & 255}.{src[i] & 255}"
                d = f"{dst[i] >> 24}.{(dst[i] >> 16) & 255}.{(dst[i] >> 8) & 255}.{dst[i] & 255}"
                domain = f"{dom[i]}.ok.example"
                url = f"http://{dom[i]}.ok.example/"
                sha = ""
                if row in planted:
                    kind = ("ip", "cidr", "domain", "url", "sha256")[row % 5]
                    values = plant[kind]
                    pick = values[row % len(values)] if values else None
                    if kind == "ip" and pick:
                        d = pick
                    elif kind == "cidr" and pick:
                        base, prefix = pick
                        d = str(ipaddress.IPv4Address(base + (row % (1 << (32 - prefix)))))
                    elif kind == "domain":
                        domain = pick
                    elif kind == "url":
                        url = pick
                    else:
                        sha = pick
                rows.append(f"1763632800,{s},{d},{domain},{url},{sha}\n")
            f.write("".join(rows))
    return planted


def python_baseline(path: Path, pairs: list[tuple[str, str]], sample: int) -> float:
    """records/s of a plain csv + set + bisect matcher on the first ``sample`` rows."""
    values: set[str] = set()
    ranges: list[tuple[int, int]] = []
    for _, pattern in pairs:
        literal = pattern.rsplit("'", 2)[1]
        if "ISSUBSET" in pattern:
            net = ipaddress.ip_network(literal)
            ranges.append((int(net.network_address), int(net.broadcast_address)))
        else:
            values.add(literal)
    ranges.sort()
    starts = [r[0] for r in ranges]
    hits = 0
    began = time.perf_counter()
    with path.open(newline="") as f:
        reader = csv.DictReader(f)
        for n, row in enumerate(reader):
            if n >= sample:
                break
            for column in FIELDS:
                value = row[column]
                if value in values:
                    hits += 1
                elif column.endswith("_ip"):
                    try:
                        number = int(ipaddress.IPv4Address(value))
                    except ValueError:
                        continue
                    at = bisect.bisect_right(starts, number) - 1
                    if at >= 0 and number <= ranges[at][1]:
                        hits += 1
    return min(sample, n + 1) / (time.perf_counter() - began)


def oasis_rate(path: Path, pairs: list[tuple[str, str]], records: int, patterns: int) -> float:
    """records/s of stix2-matcher, extrapolated from ``patterns`` to every indicator."""
    rng = random.Random(3)
    chosen = [OasisPattern(p, "2.1") for _, p in rng.sample(pairs, patterns)]
    sdos = []
    with path.open(newline="") as f:
        for n, row in enumerate(csv.DictReader(f)):
            if n >= records:
                break
            sdos.append([observed_data(objects_of(row, FIELDS), "2026-01-01T00:00:00.000Z")])
    began = time.perf_counter()
    for sdo in sdos:
        for pattern in chosen:
            pattern.match(sdo)
    pairs_per_second = len(sdos) * len(chosen) / (time.perf_counter() - began)
    return pairs_per_second / len(pairs)


def correlation_figures(
    workdir: Path, observables: int, reports: int, seed: int
) -> list[tuple[str, str]]:
    """Rows for the table: the correlation index, built and used as ingest builds it."""
    database = workdir / "correlate.db"
    for stale in workdir.glob("correlate.db*"):
        stale.unlink()
    node = Node.open(Settings(database_url=f"sqlite:///{database}"))
    rng = np.random.default_rng(seed + 2)
    pool_size = max(1, observables // 3)
    octets = rng.integers(1, 255, size=(pool_size, 4))
    labels = _hex(rng, pool_size, 10)
    pool = []
    for i in range(pool_size):
        kind = i % 3
        if kind == 0:
            pool.append(("ipv4-addr", "value", ".".join(map(str, octets[i]))))
        elif kind == 1:
            pool.append(("domain-name", "value", f"{labels[i]}.corr.example"))
        else:
            pool.append(("file", "hashes", labels[i] * 6 + labels[i][:4]))
    picks = rng.integers(0, pool_size, size=observables)

    def version(number: int, value: tuple[str, str, str]) -> NewVersion:
        sco_type, path, text = value
        stix_id = f"{sco_type}--00000000-0000-4000-8000-{number:012d}"
        doc: dict[str, object] = {"type": sco_type, "id": stix_id, "spec_version": "2.1"}
        doc[path] = {"SHA-256": text} if path == "hashes" else text
        return NewVersion(
            stix_id=stix_id,
            type=sco_type,
            spec_version="2.1",
            created=None,
            modified=STAMP,
            owner=1 + number % 7,
            revoked=False,
            distribution=Distribution(TLP.GREEN, Scope.COMMUNITY),
            search_text="",
            provenance="",
            via="",
            doc=orjson.dumps(doc).decode(),
        )

    store = SQLObjectStore(node.engine)  # the index alone, without storing the objects
    per_report = max(1, observables // reports)
    began = time.perf_counter()
    for start in range(0, observables, per_report):
        batch_versions = [
            version(n, pool[picks[n]]) for n in range(start, min(start + per_report, observables))
        ]
        with store.batch() as batch:
            node.correlations.index_versions(batch, batch_versions)
    build_s = time.perf_counter() - began
    extra = 1000
    began = time.perf_counter()
    for n in range(observables, observables + extra):
        with store.batch() as batch:
            node.correlations.index_versions(batch, [version(n, pool[n % pool_size])])
    incremental_ms = (time.perf_counter() - began) / extra * 1000
    index = ObservableIndexRepository(node.engine)
    keys = [
        value_key(f"{t}:{'value' if p == 'value' else 'hashes.SHA-256'}", v) for t, p, v in pool
    ]
    probes = [keys[int(i)] for i in rng.integers(0, pool_size, size=1000)]
    began = time.perf_counter()
    carried = sum(len(index.carriers(k, 204)) for k in probes if index.object_count(k) <= 50)
    lookup_ms = (time.perf_counter() - began) / len(probes) * 1000
    size_mb = sum(f.stat().st_size for f in workdir.glob("correlate.db*")) / 1e6
    node.close()
    return [
        (
            "correlation: observables / reports / distinct values",
            f"{observables:,} / {reports:,} / {pool_size:,}",
        ),
        ("correlation: full index build (SQLite)", f"{build_s:,.1f} s ({size_mb:,.0f} MB)"),
        ("correlation: incremental, per ingested object", f"{incremental_ms:,.2f} ms"),
        (
            "correlation: lookup per value (index, before the gate)",
            f"{lookup_ms:,.2f} ms ({carried / len(probes):,.1f} carriers each)",
        ),
    ]


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _single(log: Path, matchers: MatcherSet, chunk: int) -> tuple[list[tuple[str, str]], float]:
    found = []
    stats = ReadStats()
    began = time.perf_counter()
    for record in read_log_screened(
        str(log), stats, matchers, fmt="csv", mapping=FIELDS, chunk_size=chunk
    ):
        for hit in matchers.match(objects_of(record.fields, record.field_map)):
            found.append((record.ref, hit.indicator_id))
    return found, time.perf_counter() - began


def _on_dask(
    pairs: list[tuple[str, str]], log: Path, scheduler: str, partition: int
) -> tuple[list[tuple[str, str]], float, ReadStats]:
    from accord.detect.distributed import match_on_dask

    stats = ReadStats()
    began = time.perf_counter()
    found = [
        (ref, hit.indicator_id)
        for ref, _, hits in match_on_dask(
            pairs,
            False,
            [str(log)],
            stats,
            fmt="csv",
            mapping=FIELDS,
            scheduler=scheduler,
            partition_size=partition,
        )
        for hit in hits
    ]
    return found, time.perf_counter() - began, stats


def dask_figures(args: argparse.Namespace) -> None:
    """The single-process bulk path against local Dask clusters of 1 and 2 workers."""
    from distributed import Client

    from accord.detect.distributed import local_cluster

    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="accord-bench-match-"))
    workdir.mkdir(parents=True, exist_ok=True)
    log = workdir / "log.csv"
    pairs, plant = generate_indicators(args.indicators, args.seed)
    planted = generate_log(log, args.records, args.hit_rate, plant, args.seed)
    size_mb = log.stat().st_size / 1e6
    began = time.perf_counter()
    matchers = MatcherSet(pairs)
    screen_for(matchers)
    compile_s = time.perf_counter() - began
    single_cpu = time.process_time()
    single, single_s = _single(log, matchers, args.block_mb << 20)
    single_cpu = time.process_time() - single_cpu
    del matchers
    gc.collect()
    found_rows = {int(ref.rsplit(":", 1)[1]) - 2 for ref, _ in single}
    rows = [
        ("cores / load average (1, 5, 15 min)", f"{os.cpu_count()} / {_load()}"),
        (
            "indicators / log records / size",
            f"{len(pairs):,} / {args.records:,} / {size_mb:,.0f} MB",
        ),
        ("planted hits / found (single process)", f"{len(planted):,} / {len(found_rows):,}"),
        ("single process: compile + screen", f"{compile_s:,.2f} s"),
        ("single process: match, records/s", f"{single_s:,.2f} s, {args.records / single_s:,.0f}"),
        ("single process: CPU s per 1M records", f"{single_cpu / args.records * 1e6:,.2f}"),
    ]
    rates: dict[int, float] = {}
    cpus: dict[int, float] = {}
    partition = args.partition_mb << 20
    for workers in args.workers:
        began = time.perf_counter()
        with local_cluster(workers) as cluster, Client(cluster) as probe:
            start_s = time.perf_counter() - began
            cold, cold_s, stats = _on_dask(pairs, log, cluster.scheduler_address, partition)
            cpu = sum(probe.run(_cpu_seconds).values())
            client_cpu = time.process_time()
            warm, warm_s, _ = _on_dask(pairs, log, cluster.scheduler_address, partition)
            client_cpu = time.process_time() - client_cpu
            cpu = sum(probe.run(_cpu_seconds).values()) - cpu
        if cold != single or warm != single or stats.records != args.records:
            raise SystemExit(f"{workers} Dask workers found other matches than one process")
        rates[workers] = args.records / warm_s
        rows += [
            (f"dask, {workers} worker(s): cluster start", f"{start_s:,.2f} s"),
            (
                f"dask, {workers} worker(s): cold job (scatter, compile, match), records/s",
                f"{cold_s:,.2f} s, {args.records / cold_s:,.0f}",
            ),
            (
                f"dask, {workers} worker(s): warm job, records/s",
                f"{warm_s:,.2f} s, {args.records / warm_s:,.0f}",
            ),
            (
                f"dask, {workers} worker(s) / single process",
                f"{rates[workers] * single_s / args.records:.2f}",
            ),
            (
                f"dask, {workers} worker(s): CPU s per 1M records, workers / client (warm)",
                f"{cpu / args.records * 1e6:,.2f} / {client_cpu / args.records * 1e6:,.2f}",
            ),
        ]
        cpus[workers] = cpu
    if 1 in rates and 2 in rates:
        rows.append(
            ("efficiency: 2 workers / (2 x 1 worker), warm", f"{rates[2] / (2 * rates[1]):.0%}")
        )
        rows.append(("speed-up: 2 workers / 1 worker, warm", f"{rates[2] / rates[1]:.2f}x"))
        rows.append(("CPU efficiency: worker CPU of 1 worker / of 2", f"{cpus[1] / cpus[2]:.0%}"))
    rows.append(("same matches and line numbers on every engine", "yes"))
    rows.append(("load average after", _load()))
    width = max(len(label) for label, _ in rows)
    for label, value in rows:
        print(f"{label:<{width}}  {value}")


def _cpu_seconds() -> float:
    """Run on a worker: the CPU seconds its process has used."""
    used = os.times()
    return used.user + used.system


def _load() -> str:
    return ", ".join(f"{x:.2f}" for x in os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--indicators", type=int, default=1_000_000)
    parser.add_argument("--records", type=int, default=10_000_000)
    parser.add_argument("--hit-rate", type=float, default=0.001)
    parser.add_argument("--sample", type=int, default=200_000, help="rows for the Python baseline")
    parser.add_argument("--oasis-records", type=int, default=10_000)
    parser.add_argument("--oasis-indicators", type=int, default=10)
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--corr-observables", type=int, default=1_000_000)
    parser.add_argument("--corr-reports", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--block-mb", type=int, default=16, help="CSV chunk size, MiB")
    parser.add_argument("--engine", choices=("local", "dask"), default="local")
    parser.add_argument("--partition-mb", type=int, default=32, help="log per Dask task, MiB")
    parser.add_argument("--workers", type=int_list, default=[1, 2])
    args = parser.parse_args()
    if args.engine == "dask":
        dask_figures(args)
        return

    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="accord-bench-match-"))
    workdir.mkdir(parents=True, exist_ok=True)
    log = workdir / "log.csv"
    began = time.perf_counter()
    pairs, plant = generate_indicators(args.indicators, args.seed)
    planted = generate_log(log, args.records, args.hit_rate, plant, args.seed)
    generated = time.perf_counter() - began
    size_mb = log.stat().st_size / 1e6

    began = time.perf_counter()
    matchers = MatcherSet(pairs)
    compile_s = time.perf_counter() - began
    del pairs, plant  # only the compiled set is needed to match; rebuilt for the baselines
    gc.collect()
    rss_compiled = peak_rss_mb()

    began = time.perf_counter()
    screen_for(matchers)
    screen_s = time.perf_counter() - began

    began = time.perf_counter()
    cpu = time.process_time()
    found_rows: set[int] = set()
    hits = candidates = 0
    stats = ReadStats()
    chunk = args.block_mb << 20
    for record in read_log_screened(
        str(log), stats, matchers, fmt="csv", mapping=FIELDS, chunk_size=chunk
    ):
        candidates += 1
        for _hit in matchers.match(objects_of(record.fields, record.field_map)):
            found_rows.add(int(record.ref.rsplit(":", 1)[1]) - 2)  # line 2 is row 0
            hits += 1
    match_s = time.perf_counter() - began
    match_cpu = time.process_time() - cpu
    rss_matched = peak_rss_mb()
    if stats.records != args.records or stats.malformed:
        raise SystemExit(f"read {stats.records:,} records, {stats.malformed:,} malformed")

    began = time.perf_counter()
    reader = pacsv.open_csv(
        str(log), read_options=pacsv.ReadOptions(block_size=args.block_mb << 20)
    )
    parsed = sum(batch.num_rows for batch in reader)
    parse_s = time.perf_counter() - began

    pairs, _ = generate_indicators(args.indicators, args.seed)
    py_rate = python_baseline(log, pairs, min(args.sample, args.records))
    oasis = oasis_rate(log, pairs, min(args.oasis_records, args.records), args.oasis_indicators)

    true_positive = len(found_rows & planted)
    recall = true_positive / len(planted) if planted else 1.0
    precision = true_positive / len(found_rows) if found_rows else 1.0
    rate = args.records / match_s
    rows = [
        ("cores", f"{os.cpu_count()}"),
        (
            "indicators (compiled / stix2-matcher fallback)",
            f"{matchers.stats.compiled:,} / {matchers.stats.fallback:,}",
        ),
        (
            "log records / size",
            f"{args.records:,} / {size_mb:,.0f} MB (generated in {generated:,.1f} s)",
        ),
        ("compile time / screen build time", f"{compile_s:,.2f} s / {screen_s:,.2f} s"),
        ("match time (bulk path) / its CPU time", f"{match_s:,.2f} s / {match_cpu:,.2f} s"),
        ("records/s (bulk path)", f"{rate:,.0f}"),
        ("pyarrow parse only: records/s (floor)", f"{parsed / parse_s:,.0f}"),
        ("bulk rate / parse-only rate", f"{rate / (parsed / parse_s):.2f}"),
        ("plain Python csv+set+bisect: records/s", f"{py_rate:,.0f}"),
        ("speed-up over plain Python", f"{rate / py_rate:,.1f}x"),
        ("stix2-matcher, all indicators: records/s (extrapolated)", f"{oasis:,.4f}"),
        ("speed-up over stix2-matcher", f"{rate / oasis:,.0f}x"),
        (
            "planted hits / rows screened in / matched rows / matches",
            f"{len(planted):,} / {candidates:,} / {len(found_rows):,} / {hits:,}",
        ),
        ("recall / precision", f"{recall:.2%} / {precision:.2%}"),
        ("peak RSS after compile / after match", f"{rss_compiled:,.0f} MB / {rss_matched:,.0f} MB"),
    ]
    if args.corr_observables > 0:
        rows += correlation_figures(
            workdir, args.corr_observables, max(1, args.corr_reports), args.seed
        )
    width = max(len(label) for label, _ in rows)
    for label, value in rows:
        print(f"{label:<{width}}  {value}")
    if recall < 1 or precision < 1:
        raise SystemExit("recall and precision must both be 100%")


if __name__ == "__main__":
    main()
