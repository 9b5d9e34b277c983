"""RFC 9162 (Certificate Transparency 2.0) Merkle tree hashing, proofs and their checks.

Pure functions over a ``Subtree`` lookup: ``get(level, index)`` is the hash of the
complete subtree of ``2**level`` leaves that starts at leaf ``index << level``. The audit
store keeps every such hash, so a root, an inclusion proof or a consistency proof at any
size reads O(log n) stored hashes (``needed`` lists them first, for one query).

- leaf hash: SHA-256(0x00 || data); interior node: SHA-256(0x01 || left || right)
- ``inclusion_proof``/``verify_inclusion``: RFC 9162 §2.1.3.1 and §2.1.3.2
- ``consistency_proof``/``verify_consistency``: RFC 9162 §2.1.4.1 and §2.1.4.2
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence

Subtree = Callable[[int, int], bytes]

EMPTY_ROOT = hashlib.sha256(b"").digest()


def leaf_hash(data: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def _split(n: int) -> int:
    """The largest power of two smaller than ``n`` (n > 1)."""
    return 1 << ((n - 1).bit_length() - 1)


def subtree_root(get: Subtree, start: int, end: int) -> bytes:
    """MTH(D[start:end]) for a range the RFC's recursion produces (start aligned)."""
    size = end - start
    if size == 0:
        return EMPTY_ROOT
    if size & (size - 1) == 0:
        level = size.bit_length() - 1
        return get(level, start >> level)
    k = _split(size)
    return node_hash(subtree_root(get, start, start + k), subtree_root(get, start + k, end))


def root(get: Subtree, size: int) -> bytes:
    """The Merkle Tree Hash of the first ``size`` leaves."""
    return subtree_root(get, 0, size)


def inclusion_proof(get: Subtree, index: int, size: int) -> list[bytes]:
    """PATH(index, D[size]): the audit path of leaf ``index`` in the tree of ``size`` leaves."""
    if not 0 <= index < size:
        raise ValueError(f"leaf {index} is not in a tree of {size}")

    def path(start: int, end: int) -> list[bytes]:
        if end - start == 1:
            return []
        k = _split(end - start)
        if index < start + k:
            return [*path(start, start + k), subtree_root(get, start + k, end)]
        return [*path(start + k, end), subtree_root(get, start, start + k)]

    return path(0, size)


def consistency_proof(get: Subtree, first: int, second: int) -> list[bytes]:
    """PROOF(first, D[second]): shows the tree of ``first`` leaves is a prefix of ``second``'s."""
    if not 0 <= first <= second:
        raise ValueError(f"no consistency proof from {first} to {second}")
    if first in (0, second):
        return []

    def subproof(m: int, start: int, end: int, whole: bool) -> list[bytes]:
        n = end - start
        if m == n:
            return [] if whole else [subtree_root(get, start, end)]
        k = _split(n)
        if m <= k:
            return [*subproof(m, start, start + k, whole), subtree_root(get, start + k, end)]
        return [*subproof(m - k, start + k, end, False), subtree_root(get, start, start + k)]

    return subproof(first, 0, second, True)


def needed(compute: Callable[[Subtree], object]) -> set[tuple[int, int]]:
    """Which stored subtrees ``compute`` reads (run once with placeholders), to fetch at once."""
    keys: set[tuple[int, int]] = set()

    def record(level: int, index: int) -> bytes:
        keys.add((level, index))
        return EMPTY_ROOT

    compute(record)
    return keys


def root_from_inclusion(index: int, size: int, leaf: bytes, proof: Sequence[bytes]) -> bytes | None:
    """RFC 9162 §2.1.3.2: the root ``proof`` leads to, or None when it cannot be a proof."""
    if not 0 <= index < size or any(len(p) != 32 for p in proof):
        return None
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            return None
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while not (fn & 1 or fn == 0):
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return r if sn == 0 else None


def verify_inclusion(
    index: int, size: int, leaf: bytes, proof: Sequence[bytes], expected_root: bytes
) -> bool:
    found = root_from_inclusion(index, size, leaf, proof)
    return found is not None and found == expected_root


def verify_consistency(
    first: int, second: int, first_root: bytes, second_root: bytes, proof: Sequence[bytes]
) -> bool:
    """RFC 9162 §2.1.4.2 (and the trivial cases: an empty tree is a prefix of any tree)."""
    if first < 0 or first > second or any(len(p) != 32 for p in proof):
        return False
    if first == second:
        return not proof and first_root == second_root
    if first == 0:
        return not proof
    if not proof:
        return False
    path = list(proof)
    if first & (first - 1) == 0:
        path.insert(0, first_root)
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            if not fn & 1:
                while not (fn & 1 or fn == 0):
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return sn == 0 and fr == first_root and sr == second_root


class Frontier:
    """The right edge of a growing tree: append leaves in O(log n), read the root any time.

    ``append`` returns the complete subtrees it finished, as (level, index, hash), which
    is what the store keeps.
    """

    __slots__ = ("_edge", "size")

    def __init__(self, size: int = 0, edge: Sequence[bytes] = ()) -> None:
        """``edge``: the hashes of the complete subtrees of a tree of ``size`` leaves,
        largest first (one per set bit of ``size``)."""
        if len(edge) != size.bit_count():
            raise ValueError("the edge must hold one hash per set bit of the size")
        self.size = size
        self._edge = list(edge)

    @staticmethod
    def edge_keys(size: int) -> list[tuple[int, int]]:
        """The (level, index) of the complete subtrees on the right edge, largest first."""
        keys: list[tuple[int, int]] = []
        start = 0
        for level in range(size.bit_length() - 1, -1, -1):
            if size >> level & 1:
                keys.append((level, start >> level))
                start += 1 << level
        return keys

    def append(self, leaf: bytes) -> list[tuple[int, int, bytes]]:
        index = self.size
        made = [(0, index, leaf)]
        h, level = leaf, 0
        while index >> level & 1:
            h = node_hash(self._edge.pop(), h)
            level += 1
            made.append((level, index >> level, h))
        self._edge.append(h)
        self.size += 1
        return made

    def root(self) -> bytes:
        if not self._edge:
            return EMPTY_ROOT
        r = self._edge[-1]
        for h in reversed(self._edge[:-1]):
            r = node_hash(h, r)
        return r
