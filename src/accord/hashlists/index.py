"""The in-memory match index of one node: PDQ range search and exact MD5/SHA-256 lookup.

Rows are (signal, value, ref) where ``ref`` is a 64-bit number naming the entry version
(the row id in ``hashlist_entries``). The index holds every entry of the node; it knows
nothing of who may read what, and its hits are shown only after the gate's check.

Lookups never wait for writers: adds fill spare capacity and then publish the new
length (a single attribute assignment); when capacity runs out the arrays are copied
into larger ones and swapped in whole. Removal marks refs dead (a set consulted on
the few hits), so nothing is rebuilt.
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


@dataclass(frozen=True, slots=True)
class Hit:
    query: int  # position of the query in the batch asked
    ref: int
    distance: int


def pdq_words(values: Sequence[str]) -> U64:
    """Hex PDQ hashes as an (n, 4) array of big-endian 64-bit words."""
    raw = np.frombuffer(bytes.fromhex("".join(values)), dtype=">u8").reshape(-1, 4)
    return raw.astype(np.uint64)


class PDQIndex:
    """Range search at a Hamming threshold over 256-bit hashes."""

    def __init__(self, capacity: int = 1024) -> None:
        self._lock = threading.Lock()
        self._cols: tuple[U64, U64, U64, U64, I64] = self._alloc(max(capacity, 16))
        self._n = 0

    @staticmethod
    def _alloc(capacity: int) -> tuple[U64, U64, U64, U64, I64]:
        words = tuple(np.zeros(capacity, dtype=np.uint64) for _ in range(4))
        return (*words, np.zeros(capacity, dtype=np.int64))  # type: ignore[return-value]

    def __len__(self) -> int:
        return self._n

    def reserve(self, capacity: int) -> None:
        with self._lock:
            self._grow(capacity)

    def _grow(self, capacity: int) -> None:
        old = self._cols
        if capacity <= old[0].shape[0]:
            return
        new = self._alloc(capacity)
        for a, b in zip(new, old, strict=True):
            a[: self._n] = b[: self._n]
        self._cols = new

    def add(self, words: U64, refs: Sequence[int] | I64) -> None:
        """Add (n, 4) hash words with their refs; visible to lookups once complete."""
        k = words.shape[0]
        if k == 0:
            return
        with self._lock:
            n = self._n
            if n + k > self._cols[0].shape[0]:
                self._grow(max(n + k, n + n // 2 + 1024))
            cols = self._cols
            for w in range(4):
                cols[w][n : n + k] = words[:, w]
            cols[4][n : n + k] = refs
            self._n = n + k  # publish

    def search(self, queries: U64, threshold: int = PDQ_THRESHOLD) -> list[Hit]:
        """Every stored row within ``threshold`` of each query (rows of ``queries``)."""
        from accord.hashlists._scan import BATCH, scan

        cols, n = self._cols, self._n
        if n > cols[0].shape[0]:  # a grow swapped arrays after n was read: read again
            cols, n = self._cols, self._n
        hits: list[Hit] = []
        refs = cols[4]
        limit = np.uint64(max(0, min(threshold, 256)))
        capacity = 4096
        for start in range(0, queries.shape[0], BATCH):
            batch = np.ascontiguousarray(queries[start : start + BATCH])
            while True:
                oq = np.empty(capacity, dtype=np.int64)
                orow = np.empty(capacity, dtype=np.int64)
                od = np.empty(capacity, dtype=np.uint64)
                count = scan(*cols[:4], n, batch, limit, oq, orow, od)
                if count <= capacity:
                    break
                capacity = count
            hits.extend(
                Hit(start + int(q), int(refs[r]), int(d))
                for q, r, d in zip(oq[:count], orow[:count], od[:count], strict=True)
            )
        return hits

    def nbytes(self) -> int:
        return sum(c.nbytes for c in self._cols)


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
