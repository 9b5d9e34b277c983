"""The in-memory match index of one node: PDQ range search and exact MD5/SHA-256 lookup.

Rows are (signal, value, ref) where ``ref`` is a 64-bit number naming the entry version
(the row id in ``hashlist_entries``). The index holds every entry of the node; it knows
nothing of who may read what, and its hits are shown only after the gate's check.

Lookups never wait for writers: adds fill spare capacity and then publish the new
length in one immutable snapshot (a single attribute assignment); when capacity runs
out the arrays are copied into larger ones and swapped in whole. PDQ searches probe a
multi-index (``_mih``) over the rows it holds and scan (``_scan``) the rows added since;
a background thread rebuilds the multi-index table by table, swapping each in whole.
Removal marks refs dead (a set consulted on the few hits), so nothing is rebuilt.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from accord.hashlists.signals import PDQ_THRESHOLD

U64 = npt.NDArray[np.uint64]
I64 = npt.NDArray[np.int64]
Refs = npt.NDArray[np.uint32] | npt.NDArray[np.int64]
_U32_MAX = 2**32 - 1


@dataclass(frozen=True, slots=True)
class Hit:
    query: int  # position of the query in the batch asked
    ref: int
    distance: int


def pdq_words(values: Sequence[str]) -> U64:
    """Hex PDQ hashes as an (n, 4) array of big-endian 64-bit words."""
    raw = np.frombuffer(bytes.fromhex("".join(values)), dtype=">u8").reshape(-1, 4)
    return raw.astype(np.uint64)


@dataclass(frozen=True, slots=True)
class _Table:
    offsets: I64  # bucket b's entries are entries[offsets[b]:offsets[b + 1]]
    entries: npt.NDArray[np.uint32]  # row number << bits | remainder, by bucket
    rows: int  # the rows [0, rows) it holds
    bits: int  # remainder bits of its entries
    widest: int  # entries of its largest bucket


@dataclass(frozen=True, slots=True)
class _Tables:
    tables: tuple[_Table, ...]
    covered: int  # the rows every table holds; the rows after them are scanned


@dataclass(frozen=True, slots=True)
class _Rows:
    words: U64  # (capacity, 4); rows [0, n) are set and never change
    refs: Refs  # uint32 while every ref fits, then int64
    n: int


_GROUPED_BATCH = 2048  # queries whose table probes are grouped by bucket
_GROUPED_FROM = 64  # fewer queries than this probe one by one
_SCAN_BATCH = 64  # queries a scan of the rows outside the tables runs together


class PDQIndex:
    """Range search at a Hamming threshold over 256-bit hashes.

    Rows are appended to one ``(capacity, 4)`` array of words (copied into a larger one
    when full) and published with their count as one immutable snapshot. A multi-index
    (``_mih``: ``tables`` tables of 16-bit keys) covers the rows ``[0, covered)``; the
    rows added since are scanned (``_scan``), so an add is visible at once. When more
    than ``rebuild_rows`` (or a 32nd of the covered rows) wait outside the tables, a
    background thread rebuilds the tables one at a time over every row and swaps each
    in as it is done: lookups never wait, and a rebuild holds at most one table more
    than the index. Thresholds the tables cannot answer exactly, or more cheaply than
    a scan, are answered by the scan alone, so recall is 1.0 at any threshold.
    """

    def __init__(
        self,
        capacity: int = 1024,
        *,
        tables: int = 10,
        rebuild_rows: int = 65_536,
        always_index: bool = False,
    ) -> None:
        from accord.hashlists._mih import geometry

        if not 1 <= tables <= 16:
            raise ValueError("tables must be 1 to 16")
        self._lock = threading.Lock()
        self._rebuild_lock = threading.Lock()
        self._rebuilder: threading.Thread | None = None
        size = max(capacity, 16)
        self._rows = _Rows(np.zeros((size, 4), np.uint64), np.zeros(size, np.uint32), 0)
        self._geometry = geometry(tables)
        empty = _Table(np.zeros(1 << 16 | 1, dtype=np.int64), np.zeros(0, np.uint32), 0, 0, 0)
        self._tables = _Tables((empty,) * tables, 0)
        self._plans: dict[tuple[int, int, tuple[int, ...]], I64 | None] = {}
        self.rebuild_rows = rebuild_rows
        self.always_index = always_index  # probe the tables whenever exact (for tests)

    def __len__(self) -> int:
        return self._rows.n

    def reserve(self, capacity: int) -> None:
        with self._lock:
            self._grow(capacity)

    def _grow(self, capacity: int, wide: bool = False) -> None:
        """Copy the rows into arrays of ``capacity`` rows, or refs widened to int64."""
        old = self._rows
        wide = wide or old.refs.dtype == np.int64
        size = max(capacity, old.words.shape[0])
        if size == old.words.shape[0] and wide == (old.refs.dtype == np.int64):
            return
        words = old.words
        if size > old.words.shape[0]:
            words = np.zeros((size, 4), dtype=np.uint64)
            words[: old.n] = old.words[: old.n]
        refs: Refs = np.zeros(size, dtype=np.int64 if wide else np.uint32)
        refs[: old.n] = old.refs[: old.n]
        self._rows = _Rows(words, refs, old.n)

    def add(self, words: U64, refs: Sequence[int] | I64) -> None:
        """Add (n, 4) hash words with their refs; visible to lookups once complete."""
        k = words.shape[0]
        if k == 0:
            return
        ids = np.asarray(refs, dtype=np.int64)
        # refs are kept as uint32 while they fit (most are row ids), then as int64
        wide = bool(ids.min() < 0 or ids.max() > _U32_MAX)
        with self._lock:
            n = self._rows.n
            if n + k > self._rows.words.shape[0]:
                self._grow(max(n + k, n + n // 2 + 1024), wide)
            elif wide:
                self._grow(0, wide)
            rows = self._rows
            rows.words[n : n + k] = words
            rows.refs[n : n + k] = ids
            self._rows = _Rows(rows.words, rows.refs, n + k)  # publish
        waiting = n + k - self._tables.covered
        if waiting >= max(self.rebuild_rows, self._tables.covered // 32):
            self._rebuild_soon()

    def _rebuild_soon(self) -> None:
        with self._lock:
            if self._rebuilder is not None and self._rebuilder.is_alive():
                return
            self._rebuilder = threading.Thread(
                target=self.rebuild, name="pdq-index-rebuild", daemon=True
            )
            self._rebuilder.start()

    def rebuild(self) -> None:
        """Bring every table up to the rows stored now, one table at a time."""
        from accord.hashlists._mih import BUCKETS, build, remainder_bits

        key, tail, shift = self._geometry
        with self._rebuild_lock:
            rows = self._rows
            target = min(rows.n, 1 << 32)
            if target == self._tables.covered:
                return
            for t in range(len(key)):
                bits = remainder_bits(target, int(tail[t]))
                offsets = np.zeros(BUCKETS + 1, dtype=np.int64)
                entries = np.empty(target, dtype=np.uint32)
                build(rows.words, target, int(key[t]), int(tail[t]), int(shift[t]), bits,
                      offsets, entries)  # fmt: skip
                tables = list(self._tables.tables)
                widest = int(np.diff(offsets).max())
                tables[t] = _Table(offsets, entries, target, bits, widest)
                del offsets, entries
                self._tables = _Tables(tuple(tables), min(x.rows for x in tables))

    def wait(self) -> None:
        """Wait for a background rebuild in progress (tests and benchmarks)."""
        thread = self._rebuilder
        if thread is not None:
            thread.join()

    def _plan(self, threshold: int, state: _Tables) -> I64 | None:
        from accord.hashlists._mih import plan

        if state.covered == 0:
            return None
        bits = tuple(x.bits for x in state.tables)
        key = (threshold, state.covered, bits)
        if key not in self._plans:
            if len(self._plans) > 256:
                self._plans.clear()
            self._plans[key] = plan(threshold, state.covered, bits, self.always_index)
        return self._plans[key]

    def search(self, queries: U64, threshold: int = PDQ_THRESHOLD) -> list[Hit]:
        """Every stored row within ``threshold`` of each query (rows of ``queries``)."""
        from accord.hashlists._mih import probe, probe_grouped
        from accord.hashlists._scan import scan

        state = self._tables  # read before the rows: the rows it holds are among them
        rows = self._rows
        limit = max(0, min(threshold, 256))
        radius = self._plan(limit, state)
        start = state.covered if radius is not None else 0
        key, tail, shift = self._geometry
        bits = np.array([x.bits for x in state.tables], dtype=np.int64)
        near = np.empty(max(x.widest for x in state.tables), dtype=np.int64)
        hits: list[Hit] = []
        step = _GROUPED_BATCH
        for first in range(0, queries.shape[0], step):
            batch = np.ascontiguousarray(queries[first : first + step], dtype=np.uint64)
            kernel = probe_grouped if len(batch) >= _GROUPED_FROM else probe
            capacity = 4 * len(batch) + 1024
            while True:
                oq = np.empty(capacity, dtype=np.int64)
                orow = np.empty(capacity, dtype=np.int64)
                od = np.empty(capacity, dtype=np.int64)
                found = 0
                if radius is not None:
                    for t, table in enumerate(state.tables):
                        if radius[t] >= 0:
                            found = kernel(rows.words, state.covered, table.offsets,
                                           table.entries, t, key, tail, shift, bits, radius,
                                           batch, limit, near, oq, orow, od, found)  # fmt: skip
                for part in range(0, len(batch), _SCAN_BATCH):
                    found = scan(rows.words, start, rows.n, batch[part : part + _SCAN_BATCH],
                                 np.uint64(limit), oq, orow, od, found, part)  # fmt: skip
                if found <= capacity:
                    break
                capacity = found
            refs = rows.refs
            hits.extend(
                Hit(first + int(q), int(refs[r]), int(d))
                for q, r, d in zip(oq[:found], orow[:found], od[:found], strict=True)
            )
        return hits

    def nbytes(self) -> int:
        rows = self._rows
        tables = self._tables.tables
        return (
            rows.words.nbytes
            + rows.refs.nbytes
            + sum(x.offsets.nbytes + x.entries.nbytes for x in tables)
        )


class ExactIndex:
    """Exact lookup of fixed-length hashes: a dict from the digest's bytes to refs."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._map: dict[bytes, tuple[int, ...]] = {}

    def __len__(self) -> int:
        return len(self._map)

    def add(self, values: Iterable[str], refs: Iterable[int]) -> None:
        with self._lock:
            for value, ref in zip(values, refs, strict=True):
                key = bytes.fromhex(value)
                self._map[key] = (*self._map.get(key, ()), ref)

    def search(self, queries: Sequence[str]) -> list[Hit]:
        hits: list[Hit] = []
        get = self._map.get
        for i, value in enumerate(queries):
            for ref in get(bytes.fromhex(value), ()):
                hits.append(Hit(i, ref, 0))
        return hits


class MatchIndex:
    """One node's index: PDQ, MD5, SHA-256, and the refs no longer current."""

    def __init__(self) -> None:
        self.pdq = PDQIndex()
        self.exact = {"md5": ExactIndex(), "sha256": ExactIndex()}
        self._dead: set[int] = set()

    def add(self, rows: Sequence[tuple[str, str, int]]) -> None:
        """Add (signal, value, ref) rows."""
        pdq = [(v, r) for s, v, r in rows if s == "pdq"]
        if pdq:
            self.pdq.add(pdq_words([v for v, _ in pdq]), [r for _, r in pdq])
        for signal, exact in self.exact.items():
            mine = [(v, r) for s, v, r in rows if s == signal]
            if mine:
                exact.add([v for v, _ in mine], [r for _, r in mine])

    def kill(self, refs: Iterable[int]) -> None:
        """Refs that must no longer match (superseded, disabled or deleted versions)."""
        self._dead = self._dead | set(refs)  # copy on write: readers keep their set

    def search(
        self, signal: str, values: Sequence[str], threshold: int = PDQ_THRESHOLD
    ) -> list[Hit]:
        if not values:
            return []
        if signal == "pdq":
            hits = self.pdq.search(pdq_words(values), threshold)
        else:
            hits = self.exact[signal].search(values)
        dead = self._dead
        return [h for h in hits if h.ref not in dead] if dead else hits

    def __len__(self) -> int:
        return len(self.pdq) + sum(len(e) for e in self.exact.values())
