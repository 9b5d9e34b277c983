"""The PDQ range-search kernel: a cache-blocked Hamming scan over micro-batches of queries.

The stored hashes are kept as four columns of 64-bit words. The scan walks them in
blocks small enough to stay in cache and runs every query of a micro-batch over a
block before moving on, so the database streams from memory once per batch instead
of once per query. Each comparison first counts the differing bits of the first 128
bits: a random hash differs there in about 64, so almost every candidate is dropped
after two popcounts, and the other two are counted only for the rare survivor
(the distance over 128 bits is a lower bound of the whole). Compiled by numba.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numba import njit

_M1 = np.uint64(0x5555555555555555)
_M2 = np.uint64(0x3333333333333333)
_M4 = np.uint64(0x0F0F0F0F0F0F0F0F)
_H01 = np.uint64(0x0101010101010101)
BLOCK = 4096  # hashes per block: 4 x 32 KiB of columns, kept in L2 across the batch
BATCH = 16  # queries per micro-batch


@njit(inline="always")
def _popcount(x: Any) -> Any:
    # The SWAR form, which LLVM turns into the popcnt instruction (or a vector form).
    x = x - ((x >> np.uint64(1)) & _M1)
    x = (x & _M2) + ((x >> np.uint64(2)) & _M2)
    x = (x + (x >> np.uint64(4))) & _M4
    return (x * _H01) >> np.uint64(56)


@njit(cache=True, nogil=True)
def scan(
    c0: Any, c1: Any, c2: Any, c3: Any, n: int, queries: Any, threshold: Any,
    out_query: Any, out_row: Any, out_distance: Any,
) -> int:  # fmt: skip
    """Write (query, row, distance) of every row of ``[:n]`` within ``threshold`` of a query.

    Returns how many there were; only the first ``len(out_query)`` are written (call
    again with larger outputs when the count is larger).
    """
    found = 0
    capacity = out_query.shape[0]
    for start in range(0, n, BLOCK):
        end = min(n, start + BLOCK)
        for j in range(queries.shape[0]):
            q0 = queries[j, 0]
            q1 = queries[j, 1]
            near = np.uint64(0)
            for t in range(start, end):
                d = _popcount(c0[t] ^ q0) + _popcount(c1[t] ^ q1)
                near += np.uint64(d <= threshold)
            if near:
                q2 = queries[j, 2]
                q3 = queries[j, 3]
                for t in range(start, end):
                    d = _popcount(c0[t] ^ q0) + _popcount(c1[t] ^ q1)
                    if d <= threshold:
                        d += _popcount(c2[t] ^ q2) + _popcount(c3[t] ^ q3)
                        if d <= threshold:
                            if found < capacity:
                                out_query[found] = j
                                out_row[found] = t
                                out_distance[found] = d
                            found += 1
    return found
