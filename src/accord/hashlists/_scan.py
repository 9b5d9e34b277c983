"""The PDQ range-search scan: a cache-blocked Hamming scan over micro-batches of queries.

The stored hashes are rows of four big-endian 64-bit words (an ``(n, 4)`` array). The
scan walks a range of rows in blocks small enough to stay in cache and runs every query
of a micro-batch over a block before moving on, so the rows stream from memory once per
batch instead of once per query. Each comparison first counts the differing bits of the
first 128 bits: a random hash differs there in about 64, so almost every row is dropped
after two popcounts, and the other two are counted only for the rare survivor (the
distance over 128 bits is a lower bound of the whole). Compiled by numba.

The multi-index (``_mih``) answers most searches; this scan covers the rows added since
its tables were last built, and whole searches at thresholds the tables cannot answer
exactly.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numba import njit

_M1 = np.uint64(0x5555555555555555)
_M2 = np.uint64(0x3333333333333333)
_M4 = np.uint64(0x0F0F0F0F0F0F0F0F)
_H01 = np.uint64(0x0101010101010101)
BLOCK = 2048  # rows per block: 64 KiB, kept in L2 across the batch
BATCH = 16  # queries per micro-batch


@njit(inline="always")
def popcount(x: Any) -> Any:
    # The SWAR form, which LLVM turns into the popcnt instruction (or a vector form).
    x = x - ((x >> np.uint64(1)) & _M1)
    x = (x & _M2) + ((x >> np.uint64(2)) & _M2)
    x = (x + (x >> np.uint64(4))) & _M4
    return (x * _H01) >> np.uint64(56)


@njit(cache=True, nogil=True)
def scan(
    words: Any, start: int, end: int, queries: Any, threshold: Any,
    out_query: Any, out_row: Any, out_distance: Any, found: int, first: int,
) -> int:  # fmt: skip
    """Write (query, row, distance) of every row of ``[start:end]`` within ``threshold``.

    Queries are numbered from ``first``. Writes from position ``found`` on and returns
    the new count; only the first ``len(out_query)`` are written (call again with
    larger outputs when it is larger).
    """
    capacity = out_query.shape[0]
    for block in range(start, end, BLOCK):
        stop = min(end, block + BLOCK)
        for j in range(queries.shape[0]):
            q0 = queries[j, 0]
            q1 = queries[j, 1]
            near = np.uint64(0)
            for t in range(block, stop):
                d = popcount(words[t, 0] ^ q0) + popcount(words[t, 1] ^ q1)
                near += np.uint64(d <= threshold)
            if near:
                q2 = queries[j, 2]
                q3 = queries[j, 3]
                for t in range(block, stop):
                    d = popcount(words[t, 0] ^ q0) + popcount(words[t, 1] ^ q1)
                    if d <= threshold:
                        d += popcount(words[t, 2] ^ q2) + popcount(words[t, 3] ^ q3)
                        if d <= threshold:
                            if found < capacity:
                                out_query[found] = first + j
                                out_row[found] = t
                                out_distance[found] = d
                            found += 1
    return found
