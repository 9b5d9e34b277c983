"""PDQ range search at scale: Accord's index against python-threatexchange and faiss.

What it does, for each of ``--sizes`` (1,000,000 and 10,000,000 by default):

- writes ``N`` random 256-bit PDQ hashes to a scratch file, and ``--queries`` (10,000)
  queries of which ``--twins`` (10%) are copies of a stored hash with 1 to 20 bits
  flipped (a planted near-duplicate); the others are random (a random hash is within 31
  bits of another with probability ~1e-40, so the planted pairs are the whole truth);
- runs each method in its own process (so each has its own peak RSS), which reads the
  hashes from the file in chunks, builds its index, answers every query at Hamming
  distance <= 31 and reports build time, queries/s, recall of the planted pairs and
  peak RSS:
  ``accord`` (``accord.hashlists.index.PDQIndex``: exact multi-index hashing, 10 tables
  of 16-bit keys with remainder filters, probes of a batch grouped by bucket; the whole
  query set in one call, as faiss gets it), ``threatexchange`` (python-threatexchange's
  ``PDQIndex``, the index HMA uses, one query at a time as HMA asks it),
  ``faiss-flat`` (``IndexBinaryFlat.range_search``, all queries in one call) and
  ``faiss-mih`` (``IndexBinaryMultiHash``, 16 tables of 16 bits, one flip: exact at 31);
- for Accord also: the time to add 100,000 hashes to the live index while another
  thread looks up one hash at a time (its p99 meanwhile), then the time to fold them
  into the tables by a background rebuild (and the p99 meanwhile), exact MD5 and SHA-256
  lookups/s at the size, and PDQ hashing of in-memory JPEG images (images/s);
- prints one table. Every method runs on one thread (faiss's OpenMP set to 1).
  "queries/s" is by the wall clock; "q/CPU-s" divides by the CPU time of the method's
  process over the same queries, which other work on a busy machine skews less.

Run, for example::

    .venv/bin/python bench/hashlists.py                          # 1M and 10M
    .venv/bin/python bench/hashlists.py --sizes 100000 --methods accord,faiss-flat

The peers are in the ``bench`` extra (``pip install -e '.[bench]'``); a missing one, or
one killed for memory, is reported as skipped with the reason. When threatexchange is not
run, the "vs TE" column divides by its earlier figures (``--te-reference``), marked "ref".
"""

from __future__ import annotations

import argparse
import io
import json
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

METHODS = ("accord", "threatexchange", "faiss-flat", "faiss-mih")
THRESHOLD = 31
CHUNK = 1_000_000  # hashes read from the scratch file at a time


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def make_data(path: Path, n: int, queries: int, twins: float, seed: int) -> None:
    """Hashes (n x 32 bytes), queries and the planted truth, written under ``path``."""
    rng = np.random.default_rng(seed)
    with (path / "hashes.bin").open("wb") as f:
        for start in range(0, n, CHUNK):
            f.write(rng.integers(0, 256, size=(min(CHUNK, n - start), 32), dtype=np.uint8))
    q = rng.integers(0, 256, size=(queries, 32), dtype=np.uint8)
    planted = rng.choice(queries, size=int(queries * twins), replace=False)
    targets = rng.choice(n, size=len(planted), replace=False)
    raw = np.memmap(path / "hashes.bin", dtype=np.uint8, mode="r", shape=(n, 32))
    for qi, ti in zip(planted, targets, strict=True):
        bits = np.unpackbits(np.array(raw[ti]))
        flips = rng.choice(256, size=int(rng.integers(1, 21)), replace=False)
        bits[flips] ^= 1
        q[qi] = np.packbits(bits)
    del raw
    np.save(path / "queries.npy", q)
    np.save(path / "truth.npy", np.stack([planted, targets], axis=1))


def _chunks(path: Path, n: int) -> Any:
    with (path / "hashes.bin").open("rb") as f:
        for start in range(0, n, CHUNK):
            k = min(CHUNK, n - start)
            yield start, np.frombuffer(f.read(k * 32), dtype=np.uint8).reshape(k, 32)


def _recall(found: set[tuple[int, int]], truth: np.ndarray) -> float:
    pairs = {(int(q), int(t)) for q, t in truth}
    return len(pairs & found) / len(pairs) if pairs else 1.0


def _lookups_while(index: Any, qwords: np.ndarray, busy: threading.Event) -> list[float]:
    """Single-hash lookup latencies (s) taken until ``busy`` clears (at least 20)."""
    latencies: list[float] = []
    i = 0
    while busy.is_set() or len(latencies) < 20:
        t = time.perf_counter()
        index.search(qwords[i % len(qwords) : i % len(qwords) + 1])
        latencies.append(time.perf_counter() - t)
        i += 1
    return latencies


def _load(index: Any, path: Path, n: int) -> None:
    """Add the scratch file's hashes (its buffers go when this returns)."""
    for start, chunk in _chunks(path, n):
        words = chunk.view(">u8").astype(np.uint64)
        index.add(words, np.arange(start, start + len(chunk), dtype=np.int64))


def run_accord(path: Path, n: int) -> dict[str, Any]:
    from accord.hashlists.index import PDQIndex

    queries, truth = np.load(path / "queries.npy"), np.load(path / "truth.npy")
    t0 = time.perf_counter()
    index = PDQIndex(capacity=n + 100_000 + 1024, rebuild_rows=2**62)  # one build at the end
    _load(index, path, n)
    index.rebuild()
    index.rebuild_rows = 65_536  # from now on as in service: rebuilt in the background
    build = time.perf_counter() - t0
    qwords = queries.view(">u8").astype(np.uint64)
    index.search(qwords[:16])  # compile (numba caches it on disk after the first run)
    index.search(qwords[:64])
    t0, c0 = time.perf_counter(), time.process_time()
    hits = index.search(qwords)
    elapsed, cpu = time.perf_counter() - t0, time.process_time() - c0
    found = {(h.query, h.ref) for h in hits}
    result: dict[str, Any] = {
        "build_s": build,
        "qps": len(queries) / elapsed,
        "cpu_qps": len(queries) / cpu,
        "recall": _recall(found, truth),
        "rss_mb": _peak_mb(),
    }
    # 100,000 more hashes into the live index, while single lookups go on.
    rng = np.random.default_rng(7)
    extra = rng.integers(0, 2**63, size=(100_000, 4), dtype=np.uint64)
    busy = threading.Event()
    busy.set()
    add_time: list[float] = []

    def adder() -> None:
        t = time.perf_counter()
        for s in range(0, len(extra), 1000):
            index.add(extra[s : s + 1000], np.arange(n + s, n + s + 1000, dtype=np.int64))
        add_time.append(time.perf_counter() - t)
        busy.clear()

    thread = threading.Thread(target=adder)
    thread.start()
    latencies = _lookups_while(index, qwords, busy)
    thread.join()
    # The added rows are found at once (from the scanned delta); then fold them into the
    # tables in the background, as service does, and time that too.
    assert index.search(extra[-1:])[0].ref == n + 99_999
    index.wait()
    busy.set()
    fold_time: list[float] = []

    def folder() -> None:
        t = time.perf_counter()
        index.rebuild()
        fold_time.append(time.perf_counter() - t)
        busy.clear()

    thread = threading.Thread(target=folder)
    thread.start()
    during_fold = _lookups_while(index, qwords, busy)
    thread.join()
    result["add_100k_s"] = add_time[0]
    result["during_add_s"] = latencies  # percentiles in the parent (support stays out of here)
    result["rebuild_s"] = fold_time[0]
    result["during_rebuild_s"] = during_fold
    result["rss_mb"] = _peak_mb()
    return result


def run_exact(n: int) -> dict[str, Any]:
    """Exact MD5 and SHA-256 lookups/s over ``n`` stored digests of each."""
    from accord.hashlists.index import ExactIndex

    rng = np.random.default_rng(11)
    out: dict[str, Any] = {}
    for name, width in (("md5", 16), ("sha256", 32)):
        index = ExactIndex()
        for start in range(0, n, CHUNK):
            raw = rng.integers(0, 256, size=(min(CHUNK, n - start), width), dtype=np.uint8)
            index.add((bytes(r).hex() for r in raw), range(start, start + len(raw)))
        probe = [
            bytes(r).hex() for r in rng.integers(0, 256, size=(100_000, width), dtype=np.uint8)
        ]
        t0 = time.perf_counter()
        index.search(probe)
        out[f"{name}_lps"] = len(probe) / (time.perf_counter() - t0)
        del index
    out["rss_mb"] = _peak_mb()
    return out


def run_hashing(images: int) -> dict[str, Any]:
    from PIL import Image

    from accord.hashlists.signals import pdq_of_stream

    rng = np.random.default_rng(3)
    blobs = []
    for _ in range(images):
        small = (rng.random((48, 64, 3)) * 255).astype(np.uint8)
        picture = Image.fromarray(small).resize((1024, 768), Image.Resampling.BILINEAR)
        buf = io.BytesIO()
        picture.save(buf, format="JPEG", quality=85)
        blobs.append(buf.getvalue())
    t0 = time.perf_counter()
    for blob in blobs:
        pdq_of_stream(io.BytesIO(blob))
    return {"images_per_s": images / (time.perf_counter() - t0), "rss_mb": _peak_mb()}


def run_threatexchange(path: Path, n: int) -> dict[str, Any]:
    from threatexchange.signal_type.pdq.pdq_index import PDQIndex

    queries, truth = np.load(path / "queries.npy"), np.load(path / "truth.npy")
    t0 = time.perf_counter()
    index: Any = PDQIndex()
    for start, chunk in _chunks(path, n):
        index.add_all((bytes(r).hex(), start + i) for i, r in enumerate(chunk))
    build = time.perf_counter() - t0
    hexes = [bytes(r).hex() for r in queries]
    t0, c0 = time.perf_counter(), time.process_time()
    found = set()
    for qi, h in enumerate(hexes):
        for match in index.query(h):
            found.add((qi, match.metadata))
    elapsed, cpu = time.perf_counter() - t0, time.process_time() - c0
    return {
        "build_s": build,
        "qps": len(hexes) / elapsed,
        "cpu_qps": len(hexes) / cpu,
        "recall": _recall(found, truth),
        "rss_mb": _peak_mb(),
    }


def run_faiss(path: Path, n: int, multi: bool) -> dict[str, Any]:
    import faiss

    faiss.omp_set_num_threads(1)
    queries, truth = np.load(path / "queries.npy"), np.load(path / "truth.npy")
    t0 = time.perf_counter()
    index = faiss.IndexBinaryMultiHash(256, 16, 16) if multi else faiss.IndexBinaryFlat(256)
    if multi:
        index.nflip = 1
    for _, chunk in _chunks(path, n):
        index.add(np.ascontiguousarray(chunk))
    build = time.perf_counter() - t0
    t0, c0 = time.perf_counter(), time.process_time()
    lims, _, ids = index.range_search(queries, THRESHOLD + 1)  # faiss: distance < radius
    elapsed, cpu = time.perf_counter() - t0, time.process_time() - c0
    found = {(qi, int(ids[j])) for qi in range(len(queries)) for j in range(lims[qi], lims[qi + 1])}
    return {
        "build_s": build,
        "qps": len(queries) / elapsed,
        "cpu_qps": len(queries) / cpu,
        "recall": _recall(found, truth),
        "rss_mb": _peak_mb(),
    }


def worker(method: str, path: Path, n: int, images: int) -> dict[str, Any]:
    if method == "accord":
        return run_accord(path, n)
    if method == "exact":
        return run_exact(n)
    if method == "hashing":
        return run_hashing(images)
    if method == "threatexchange":
        return run_threatexchange(path, n)
    return run_faiss(path, n, multi=method == "faiss-mih")


def _spawn(method: str, path: Path, n: int, images: int, timeout: float) -> dict[str, Any]:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "NUMBA_NUM_THREADS": "1"}
    args = [sys.executable, __file__, "--worker", method, "--data", str(path)]
    args += ["--sizes", str(n), "--images", str(images)]
    try:
        done = subprocess.run(args, capture_output=True, text=True, timeout=timeout, env=env)
    except subprocess.TimeoutExpired:
        return {"skipped": f"over {timeout:.0f} s"}
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["failed"])[-1]
        if done.returncode < 0:  # killed by a signal: the kernel's OOM killer, say
            last = f"killed by signal {-done.returncode} (out of memory?)"
        elif "ModuleNotFoundError" in last:
            last = f"not installed here ({last.split()[-1]})"
        return {"skipped": last[:80]}
    parsed: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return parsed


def _reference(text: str) -> dict[int, float]:
    try:
        return {int(k): float(v) for k, v in (p.split(":") for p in text.split(",") if p)}
    except ValueError:
        raise argparse.ArgumentTypeError("expected SIZE:QPS,SIZE:QPS") from None


def _worker_main() -> None:
    """``--worker METHOD --data DIR --sizes N --images K``: one method, JSON on stdout."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--worker", required=True)
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--sizes", type=int, required=True)
    parser.add_argument("--images", type=int, required=True)
    args = parser.parse_args()
    print(json.dumps(worker(args.worker, args.data, args.sizes, args.images)))


def main() -> None:
    if sys.argv[1:2] == ["--worker"]:  # a method's own process: imports only what it runs
        _worker_main()
        return
    from support import int_list, load_note, name_list, p50_p99_ms, table

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int_list, default=[1_000_000, 10_000_000])
    parser.add_argument("--queries", type=int, default=10_000)
    parser.add_argument("--twins", type=float, default=0.1)
    parser.add_argument("--methods", type=name_list, default=list(METHODS))
    parser.add_argument("--images", type=int, default=200, help="images for PDQ hashing/s")
    parser.add_argument(
        "--no-exact", action="store_true", help="skip the exact MD5/SHA-256 lookups"
    )
    parser.add_argument("--timeout", type=float, default=3600, help="seconds per method run")
    parser.add_argument(
        "--te-reference",
        type=_reference,
        default=_reference("1000000:1330,10000000:248"),
        help="SIZE:QPS,... threatexchange's earlier queries/s, for the ratio when it is not run",
    )
    args = parser.parse_args()
    print(load_note())
    rows: list[list[str]] = []
    extras: list[str] = []
    for n in args.sizes:
        with tempfile.TemporaryDirectory(prefix="accord-hashbench-") as scratch:
            path = Path(scratch)
            make_data(path, n, args.queries, args.twins, seed=n)
            results = {m: _spawn(m, path, n, args.images, args.timeout) for m in args.methods}
            exact = (
                {"skipped": "--no-exact"}
                if args.no_exact
                else _spawn("exact", path, n, args.images, args.timeout)
            )
        base = results.get("threatexchange", {}).get("qps")
        cpu_base = results.get("threatexchange", {}).get("cpu_qps")
        reference = args.te_reference.get(n) if base is None else None
        for method, r in results.items():
            if "skipped" in r:
                rows.append([f"{method} @ {n:,}", *["-"] * 7, r["skipped"]])
                continue
            if base:
                speedup = f"{r['qps'] / base:.1f}x"
                cpu_speedup = f"{r['cpu_qps'] / cpu_base:.1f}x"
            elif reference:  # threatexchange not run here: against its earlier figure
                speedup = f"{r['qps'] / reference:.1f}x ref"
                cpu_speedup = f"{r['cpu_qps'] / reference:.1f}x ref"
            else:
                speedup = cpu_speedup = "-"
            rows.append(
                [
                    f"{method} @ {n:,}",
                    f"{r['qps']:,.0f}",
                    f"{r['cpu_qps']:,.0f}",
                    speedup,
                    cpu_speedup,
                    f"{r['recall']:.3f}",
                    f"{r['rss_mb']:,.0f}",
                    f"{r['build_s']:.1f}",
                    "",
                ]
            )
            if method == "accord":
                add, fold = r["during_add_s"], r["during_rebuild_s"]
                extras.append(
                    f"accord @ {n:,}: added 100,000 to the live index in {r['add_100k_s']:.2f} s; "
                    f"single-lookup p99 meanwhile {p50_p99_ms(add)[1]:.1f} ms "
                    f"({len(add)} lookups); folding them into the tables took "
                    f"{r['rebuild_s']:.1f} s in the background, single-lookup p99 meanwhile "
                    f"{p50_p99_ms(fold)[1]:.1f} ms ({len(fold)} lookups)"
                )
        if "skipped" in exact:
            extras.append(f"exact @ {n:,}: skipped ({exact['skipped']})")
        else:
            extras.append(
                f"exact @ {n:,}: MD5 {exact['md5_lps']:,.0f} lookups/s, "
                f"SHA-256 {exact['sha256_lps']:,.0f} lookups/s (peak {exact['rss_mb']:,.0f} MB)"
            )
    hashing = _spawn("hashing", Path("."), 1, args.images, args.timeout)
    if "skipped" not in hashing:
        extras.append(
            f"PDQ hashing (1024x768 JPEG, decoded): {hashing['images_per_s']:,.0f} images/s"
        )
    headers = ["method", "queries/s", "q/CPU-s", "vs TE", "vs TE CPU"]
    headers += ["recall", "peak RSS MB", "build s", "note"]
    print(table(headers, rows))
    for line in extras:
        print(line)


if __name__ == "__main__":
    main()
