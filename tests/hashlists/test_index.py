"""The match index agrees with a brute-force scan; signal types parse and compare as stated."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from accord.hashlists.index import MatchIndex
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
