"""The match index agrees with a brute-force scan; signal types parse and compare as stated."""

from __future__ import annotations

import random
import threading

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from accord.hashlists._mih import plan
from accord.hashlists.index import MatchIndex, PDQIndex
from accord.hashlists.signals import MD5, PDQ, SHA256, SignalError
from accord.hashlists.stix import parse_pattern, pattern
from tests.hashlists.conftest import flip


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 2**32),
    stored=st.integers(1, 300),
    flips=st.lists(st.integers(0, 64), min_size=1, max_size=20),
    threshold=st.integers(0, 64),
)
def test_pdq_search_equals_brute_force(
    seed: int, stored: int, flips: list[int], threshold: int
) -> None:
    rng = random.Random(seed)
    values = [f"{rng.getrandbits(256):064x}" for _ in range(stored)]
    index = MatchIndex()
    index.add([("pdq", v, i) for i, v in enumerate(values)])
    queries = [flip(values[rng.randrange(stored)], bits, seed + k) for k, bits in enumerate(flips)]
    got = {(h.query, h.ref, h.distance) for h in index.search("pdq", queries, threshold)}
    want = {
        (q, i, PDQ.distance(query, v))
        for q, query in enumerate(queries)
        for i, v in enumerate(values)
        if PDQ.distance(query, v) <= threshold
    }
    assert got == want


def test_adds_after_growth_dead_refs_and_exact_signals() -> None:
    index = MatchIndex()
    values = [f"{random.Random(i).getrandbits(256):064x}" for i in range(5000)]
    for start in range(0, 5000, 700):  # grows past its first capacity several times
        index.add([("pdq", v, start + i) for i, v in enumerate(values[start : start + 700])])
    assert [h.ref for h in index.search("pdq", [values[4999]])] == [4999]
    index.kill([4999])
    assert index.search("pdq", [values[4999]]) == []
    index.add([("md5", "a" * 32, 1), ("md5", "a" * 32, 2), ("sha256", "b" * 64, 3)])
    assert [h.ref for h in index.search("md5", ["a" * 32, "c" * 32])] == [1, 2]
    assert [h.ref for h in index.search("sha256", ["b" * 64])] == [3]


def _brute(words: np.ndarray, queries: np.ndarray, threshold: int) -> set[tuple[int, int, int]]:
    """(query, row, distance) of every stored row within ``threshold``: numpy, no index."""
    out: set[tuple[int, int, int]] = set()
    for q, query in enumerate(queries):
        d = np.bitwise_count(words ^ query).sum(axis=1)
        out |= {(q, int(r), int(d[r])) for r in np.flatnonzero(d <= threshold)}
    return out


def _planted(rng: np.random.Generator, words: np.ndarray, distances: list[int]) -> np.ndarray:
    """A query per distance: a stored row with exactly that many bits flipped."""
    queries = rng.integers(0, 2**64, size=(len(distances), 4), dtype=np.uint64)
    for i, d in enumerate(distances):
        bits = np.unpackbits(words[rng.integers(len(words))].view(np.uint8))
        bits[rng.choice(256, size=d, replace=False)] ^= 1
        queries[i] = np.packbits(bits).view(np.uint64)
    return queries


@settings(max_examples=30, deadline=None)
@given(
    seed=st.integers(0, 2**32),
    stored=st.integers(1, 4000),
    waiting=st.integers(0, 300),
    threshold=st.one_of(st.sampled_from([31, 15, 33, 47, 63]), st.integers(0, 70)),
    tables=st.integers(1, 16),
)
def test_multi_index_equals_brute_force(
    seed: int, stored: int, waiting: int, threshold: int, tables: int
) -> None:
    """Planted twins at every distance 0..threshold+2, some rows still outside the tables."""
    rng = np.random.default_rng(seed)
    words = rng.integers(0, 2**64, size=(stored + waiting, 4), dtype=np.uint64)
    index = PDQIndex(tables=tables, rebuild_rows=1 << 30, always_index=True)
    index.add(words[:stored], np.arange(stored) * 7)
    index.rebuild()
    index.add(words[stored:], np.arange(stored, stored + waiting) * 7)
    queries = _planted(rng, words, list(range(threshold + 3)) * 2)
    for batch in (queries[:1], queries):  # one at a time and grouped by bucket
        got = sorted((h.query, h.ref // 7, h.distance) for h in index.search(batch, threshold))
        assert got == sorted(_brute(words, batch, threshold))  # each once


def test_plan_is_exact_or_declines() -> None:
    """The radii always satisfy the pigeonhole; thresholds beyond the chunks get a scan."""
    bits = (8,) * 10
    for threshold in range(60):
        radius = plan(threshold, 10_000_000, bits, force=True)
        if radius is None:
            assert threshold + 1 > 10 * 5  # every table at its largest radius
        else:
            assert int((radius + 1).sum()) >= threshold + 1
    assert plan(31, 1000, bits) is None  # a scan of 1,000 rows is cheaper than probing


def test_adds_and_kills_while_searching() -> None:
    """Writers add (starting background rebuilds) and kill while readers search."""
    rng = np.random.default_rng(5)
    words = rng.integers(0, 2**64, size=(20_000, 4), dtype=np.uint64)
    index = MatchIndex()
    index.pdq = PDQIndex(rebuild_rows=2000, always_index=True)
    hexes = [bytes(w.astype(">u8").tobytes()).hex() for w in words]
    queries = _planted(rng, words[:1000], list(range(32)) * 4)
    qhex = [bytes(q.astype(">u8").tobytes()).hex() for q in queries]
    done = threading.Event()
    errors: list[str] = []

    def reader() -> None:
        while not done.is_set():
            seen = len(index.pdq)  # every row added before the search must be found
            got = {(h.query, h.ref) for h in index.search("pdq", qhex)}
            want = {(q, r) for q, r, _ in _brute(words[:seen], queries, 31)}
            killed = set(range(0, 1000, 3))
            if {(q, r) for q, r in want if r not in killed} - got:
                errors.append("a stored twin was missed")
            if any(r >= len(index.pdq) or r in killed and done.is_set() for _, r in got):
                errors.append("a hit that was not stored, or killed")

    thread = threading.Thread(target=reader)
    thread.start()
    for start in range(0, 20_000, 500):
        index.add([("pdq", hexes[i], i) for i in range(start, start + 500)])
        if start == 1000:
            index.kill(range(0, 1000, 3))
    index.pdq.wait()
    done.set()
    thread.join()
    assert not errors
    index.pdq.rebuild()
    assert index.pdq._tables.covered == 20_000  # noqa: SLF001 - the tables hold every row
    got = sorted((h.query, h.ref, h.distance) for h in index.search("pdq", qhex))
    want = sorted((q, r, d) for q, r, d in _brute(words, queries, 31) if r % 3 or r >= 1000)
    assert got == want


def test_refs_widen_past_32_bits_and_rows_past_capacity() -> None:
    rng = np.random.default_rng(9)
    words = rng.integers(0, 2**64, size=(300, 4), dtype=np.uint64)
    index = PDQIndex(capacity=16, rebuild_rows=100, always_index=True)
    index.add(words[:100], np.arange(100))  # uint32 refs, then a rebuild in the background
    index.add(words[100:200], np.arange(100) + 2**40)  # refs widen to int64
    index.add(words[200:], -np.arange(1, 101))
    index.wait()
    index.rebuild()
    refs = [h.ref for h in sorted(index.search(words[[5, 150, 250]]), key=lambda h: h.query)]
    assert refs == [5, 50 + 2**40, -51]


@pytest.mark.parametrize(
    ("kind", "value", "why"),
    [
        (MD5, "abc", "32 hex digits"),
        (SHA256, "g" * 64, "only hex digits"),
        (PDQ, 5, "string of 64"),
    ],
)
def test_signal_values_are_checked(kind: type[MD5], value: object, why: str) -> None:
    with pytest.raises(SignalError, match=why):
        kind.parse(value)


def test_patterns_round_trip_for_every_signal() -> None:
    for kind, value in ((MD5, "a" * 32), (SHA256, "b" * 64), (PDQ, "c" * 64)):
        assert parse_pattern(pattern(kind, kind.parse(value.upper()))) == (kind.name, value)
    assert PDQ.check_quality(None) is None
    with pytest.raises(SignalError):
        PDQ.check_quality(49)
