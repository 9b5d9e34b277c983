"""Exact multi-index hashing (Norouzi, Punjani and Fleet) for PDQ range search.

The 256 bits of a hash are cut into disjoint chunks, one per table. Table ``t``'s chunk
is the 16-bit lane ``t`` (its bucket key) and, as a filter, the top ``rem_bits`` bits of
one byte of the lanes that no table uses as a key (its remainder). A table is a bucket
array in CSR form: ``offsets`` (65,537) and ``entries``, one uint32 per row holding the
row number above its remainder bits, ordered by key (a counting sort, so building one
costs two passes and no more memory than the table itself).

Pigeonhole: if a stored hash is within ``threshold`` of a query and each table ``t`` is
probed at radius ``r_t`` (every stored chunk within ``r_t`` bits of the query's chunk),
with ``sum(r_t + 1) > threshold``, then some table finds it, because the chunks are
disjoint and their distances add up to at most the whole distance. A probe of table
``t`` visits every bucket whose key is within ``e <= r_t`` bits of the query's key and
keeps the entries whose remainder is within ``r_t - e``; each survivor is verified on
all 256 bits. A row found by several tables is reported only by the first of them that
would find it (a check on the chunks of the tables before it), so no set is needed.

``plan`` chooses the radii by a cost model (buckets visited, entries read, rows
verified) and returns ``None`` when a scan is cheaper or no choice of radii is exact
(a threshold too large for the chunks), so recall is 1.0 at any threshold.
"""

from __future__ import annotations

from math import comb
from typing import Any

import numpy as np
from numba import njit

from accord.hashlists._scan import popcount

KEY_BITS = 16
BUCKETS = 1 << KEY_BITS
MAX_RADIUS = 4  # at most 2,517 buckets a table
# Cost model, in nanoseconds: a bucket visited, an entry read, a row verified, and a row
# scanned by one query of a batch.
_BUCKET_NS, _ENTRY_NS, _VERIFY_NS, _SCAN_NS = 40.0, 1.0, 40.0, 0.5

_pops = np.array([bin(m).count("1") for m in range(BUCKETS)], dtype=np.int64)
MASKS = np.argsort(_pops, kind="stable").astype(np.uint64)  # 16-bit masks by popcount
MASK_POPS = _pops[MASKS.astype(np.int64)]
LEVEL_END = np.searchsorted(MASK_POPS, np.arange(KEY_BITS + 1), side="right").astype(np.int64)


def geometry(tables: int) -> tuple[Any, Any, Any]:
    """Per table: key lane, remainder lane (-1 for none) and the byte's shift in it."""
    key = np.arange(tables, dtype=np.int64)
    tail = np.array(
        [tables + t // 2 if tables + t // 2 < 16 else -1 for t in range(tables)], dtype=np.int64
    )
    shift = np.array([8 if t % 2 == 0 else 0 for t in range(tables)], dtype=np.int64)
    return key, tail, shift


def remainder_bits(rows: int, tail_lane: int) -> int:
    """Filter bits a table over ``rows`` rows keeps beside the row number (at most 8)."""
    if tail_lane < 0:
        return 0
    id_bits = max(1, (rows - 1).bit_length())
    if id_bits > 32:
        raise ValueError("a table holds at most 2**32 rows")
    return min(8, 32 - id_bits)


@njit(inline="always")
def _lane(row: Any, lane: Any) -> Any:
    return (row[lane >> 2] >> np.uint64(48 - 16 * (lane & 3))) & np.uint64(0xFFFF)


@njit(inline="always")
def _rem(row: Any, tail_lane: Any, shift: Any, bits: Any) -> Any:
    if tail_lane < 0 or bits == 0:
        return np.uint64(0)
    byte = (_lane(row, tail_lane) >> np.uint64(shift)) & np.uint64(0xFF)
    return byte >> np.uint64(8 - bits)


@njit(cache=True, nogil=True)
def build(
    words: Any, rows: int, key_lane: int, tail_lane: int, shift: int, bits: int,
    offsets: Any, entries: Any,
) -> None:  # fmt: skip
    """Fill one table (``offsets`` zeroed, ``entries`` of ``rows``) over ``words[:rows]``."""
    for r in range(rows):
        offsets[np.int64(_lane(words[r], key_lane)) + 1] += 1
    for b in range(BUCKETS):
        offsets[b + 1] += offsets[b]
    fill = offsets[:BUCKETS].copy()
    for r in range(rows):
        row = words[r]
        key = np.int64(_lane(row, key_lane))
        entries[fill[key]] = np.uint32(
            (np.uint64(r) << np.uint64(bits)) | _rem(row, tail_lane, shift, bits)
        )
        fill[key] += 1
    # Order each bucket by remainder (a counting sort through a bucket-sized buffer), so
    # a probe that allows no remainder difference finds its entries by binary search.
    widest = 0
    for b in range(BUCKETS):
        widest = max(widest, offsets[b + 1] - offsets[b])
    spare = np.empty(widest, dtype=np.uint32)
    count = np.zeros((1 << bits) + 1, dtype=np.int64)
    mask = np.uint32((1 << bits) - 1)
    for b in range(BUCKETS):
        lo = offsets[b]
        hi = offsets[b + 1]
        if hi - lo < 2:
            continue
        count[:] = 0
        for k in range(lo, hi):
            count[np.int64(entries[k] & mask) + 1] += 1
        for v in range(1 << bits):
            count[v + 1] += count[v]
        for k in range(lo, hi):
            value = np.int64(entries[k] & mask)
            spare[count[value]] = entries[k]
            count[value] += 1
        entries[lo:hi] = spare[: hi - lo]


@njit(inline="always")
def _near(entries: Any, lo: Any, hi: Any, qrem: Any, rem_mask: Any, allow: Any, near: Any) -> Any:
    """Write to ``near`` the positions in ``[lo, hi)`` whose remainder is within ``allow``."""
    n = 0
    if allow == 0:  # the bucket is ordered by remainder: binary search for the first equal
        a = lo
        z = hi
        while a < z:
            m = (a + z) >> 1
            if (np.uint64(entries[m]) & rem_mask) < qrem:
                a = m + 1
            else:
                z = m
        while a < hi and (np.uint64(entries[a]) & rem_mask) == qrem:
            near[n] = a
            n += 1
            a += 1
        return n
    for k in range(lo, hi):  # branch-free
        near[n] = k
        n += np.int64(popcount((np.uint64(entries[k]) ^ qrem) & rem_mask)) <= allow
    return n


@njit(inline="always")
def _accepted(
    stored: Any, q: Any, threshold: Any, t: int, radius: Any,
    key_lane: Any, tail_lane: Any, shift: Any, bits: Any,
) -> Any:  # fmt: skip
    """The distance of a candidate table ``t`` found, or -1 to drop it: beyond the
    threshold, or within reach of an earlier table, which reported it already."""
    d = np.int64(
        popcount(stored[0] ^ q[0]) + popcount(stored[1] ^ q[1])
        + popcount(stored[2] ^ q[2]) + popcount(stored[3] ^ q[3])
    )  # fmt: skip
    if d > threshold:
        return np.int64(-1)
    for u in range(t):
        if radius[u] < 0:
            continue
        du = np.int64(
            popcount(_lane(stored, key_lane[u]) ^ _lane(q, key_lane[u]))
            + popcount(
                _rem(stored, tail_lane[u], shift[u], bits[u])
                ^ _rem(q, tail_lane[u], shift[u], bits[u])
            )
        )
        if du <= radius[u]:
            return np.int64(-1)
    return d


@njit(cache=True, nogil=True)
def probe(
    words: Any, covered: int, offsets: Any, entries: Any, t: int,
    key_lane: Any, tail_lane: Any, shift: Any, bits: Any, radius: Any,
    queries: Any, threshold: int, near: Any,
    out_query: Any, out_row: Any, out_distance: Any, found: int,
) -> int:  # fmt: skip
    """Probe table ``t`` for every query; write the verified rows below ``covered``.

    Like ``scan``: writes from ``found`` on and returns the new count, writing only what
    fits in the outputs.
    """
    capacity = out_query.shape[0]
    r = radius[t]
    my_bits = bits[t]
    rem_mask = np.uint64((1 << my_bits) - 1)
    end = LEVEL_END[r]
    for j in range(queries.shape[0]):
        q = queries[j]
        key = _lane(q, key_lane[t])
        qrem = _rem(q, tail_lane[t], shift[t], my_bits)
        for mi in range(end):
            allow = r - MASK_POPS[mi]
            bucket = np.int64(key ^ MASKS[mi])
            n = _near(entries, offsets[bucket], offsets[bucket + 1], qrem, rem_mask, allow, near)
            for i in range(n):
                entry = np.uint64(entries[near[i]])
                row = np.int64(entry >> np.uint64(my_bits))
                if row >= covered:
                    continue
                d = _accepted(words[row], q, threshold, t, radius, key_lane, tail_lane, shift, bits)
                if d < 0:
                    continue
                if found < capacity:
                    out_query[found] = j
                    out_row[found] = row
                    out_distance[found] = d
                found += 1
    return found


@njit(cache=True, nogil=True)
def probe_grouped(
    words: Any, covered: int, offsets: Any, entries: Any, t: int,
    key_lane: Any, tail_lane: Any, shift: Any, bits: Any, radius: Any,
    queries: Any, threshold: int, near: Any,
    out_query: Any, out_row: Any, out_distance: Any, found: int,
) -> int:  # fmt: skip
    """``probe`` for a large batch: the probes sorted by bucket, each bucket read once.

    The batch's bucket visits are grouped by bucket (a counting sort), so the table is
    read in order once per batch and each bucket's entries stay in cache while every
    query that visits it is checked. Same outputs as ``probe`` (in another order).
    """
    capacity = out_query.shape[0]
    r = radius[t]
    my_bits = bits[t]
    rem_mask = np.uint64((1 << my_bits) - 1)
    end = LEVEL_END[r]
    nq = queries.shape[0]
    keys = np.empty(nq, dtype=np.uint64)
    qrems = np.empty(nq, dtype=np.uint64)
    start = np.zeros(BUCKETS + 1, dtype=np.int64)
    for j in range(nq):
        q = queries[j]
        keys[j] = _lane(q, key_lane[t])
        qrems[j] = _rem(q, tail_lane[t], shift[t], my_bits)
        for mi in range(end):
            start[np.int64(keys[j] ^ MASKS[mi]) + 1] += 1
    for b in range(BUCKETS):
        start[b + 1] += start[b]
    fill = start[:BUCKETS].copy()
    visits = np.empty(nq * end, dtype=np.int32)  # query << 8 | allowed remainder distance
    for j in range(nq):
        for mi in range(end):
            target = np.int64(keys[j] ^ MASKS[mi])
            visits[fill[target]] = np.int32(j << 8 | (r - MASK_POPS[mi]))
            fill[target] += 1
    for b in range(BUCKETS):
        lo = offsets[b]
        hi = offsets[b + 1]
        if lo == hi:
            continue
        for v in range(start[b], start[b + 1]):
            query = np.int64(visits[v] >> 8)
            allow = np.int64(visits[v] & 255)
            qrem = qrems[query]
            n = _near(entries, lo, hi, qrem, rem_mask, allow, near)
            for i in range(n):
                entry = np.uint64(entries[near[i]])
                row = np.int64(entry >> np.uint64(my_bits))
                if row >= covered:
                    continue
                q = queries[query]
                d = _accepted(words[row], q, threshold, t, radius, key_lane, tail_lane, shift, bits)
                if d < 0:
                    continue
                if found < capacity:
                    out_query[found] = query
                    out_row[found] = row
                    out_distance[found] = d
                found += 1
    return found


def _volume(bits: int, radius: int) -> int:
    return sum(comb(bits, k) for k in range(radius + 1))


def _cost(rows: int, bits: int, radius: int) -> float:
    if radius < 0:
        return 0.0
    buckets = _volume(KEY_BITS, radius)
    scanned = _volume(KEY_BITS, radius - 1)  # the others allow no remainder difference
    width = KEY_BITS + bits
    return (
        buckets * _BUCKET_NS
        + scanned * rows / BUCKETS * _ENTRY_NS
        + _volume(width, radius) * rows / 2.0**width * _VERIFY_NS
    )


def plan(threshold: int, rows: int, bits: tuple[int, ...], force: bool = False) -> Any:
    """Radii per table for an exact search at ``threshold``, or None to scan instead."""
    if not bits:
        return None
    radius = [-1] * len(bits)
    need = threshold + 1
    total = 0.0
    while sum(r + 1 for r in radius) < need:
        best, best_t = float("inf"), -1
        for t, r in enumerate(radius):
            if r + 1 > MAX_RADIUS:
                continue
            step = _cost(rows, bits[t], r + 1) - _cost(rows, bits[t], r)
            if step < best:
                best, best_t = step, t
        if best_t < 0:
            return None  # the chunks cannot answer this threshold exactly
        radius[best_t] += 1
        total += best
    if not force and total > rows * _SCAN_NS:
        return None
    return np.array(radius, dtype=np.int64)
