"""The vectorised CSV path reports exactly what the per-record path reports."""

from __future__ import annotations

import gzip
import io
import ipaddress
import random
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from accord.detect.bulk import match_log, read_log_screened
from accord.detect.columns import StringColumn, fingerprints, ipv4_integers
from accord.detect.matcher import MatcherSet
from accord.detect.observables import objects_of
from accord.detect.readers import ReadStats, read_log
from accord.detect.screen import _Ranges, build_screen, screen_for
from accord.errors import InvalidInput

FIELDS = {
    "src_ip": "auto",
    "dst_ip": "network-traffic:dst_ref.value",
    "domain": "domain-name:value",
    "client": "ipv4-addr:value",
    "url": "url:value",
    "sha256": "file:hashes.SHA-256",
}
HASH = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
INDICATORS = [
    ("indicator--ip", "[ipv4-addr:value = '10.0.0.1']"),
    ("indicator--cidr-value", "[ipv4-addr:value = '10.9.0.0/16']"),
    ("indicator--net24", "[ipv4-addr:value ISSUBSET '10.1.2.0/24']"),
    ("indicator--net25", "[ipv4-addr:value ISSUBSET '10.3.3.128/25']"),
    ("indicator--dst16", "[network-traffic:dst_ref.value ISSUBSET '10.4.0.0/16']"),
    ("indicator--net32", "[ipv4-addr:value ISSUBSET '10.5.5.5/32']"),
    ("indicator--top", "[ipv4-addr:value ISSUBSET '255.255.255.0/24']"),
    ("indicator--bottom", "[ipv4-addr:value ISSUBSET '0.0.0.0/30']"),
    ("indicator--v6", "[ipv6-addr:value ISSUBSET '2001:db8::/32']"),
    ("indicator--dom", "[domain-name:value = 'evil.example']"),
    ("indicator--idn", "[domain-name:value = 'bücher.example']"),
    ("indicator--dom-quad", "[domain-name:value = '10.0.0.3']"),
    ("indicator--url", "[url:value = 'http://evil.example/a']"),
    ("indicator--hash", f"[file:hashes.'SHA-256' = '{HASH}']"),
    ("indicator--and", "[ipv4-addr:value = '10.0.0.7' AND ipv4-addr:value ISSUBSET '10.0.0.0/8']"),
]
# An exact address written with a leading zero: dotted quads can no longer stand for
# every exact value in the IPv4 ranges, and the screen looks all values up.
ODD = [("indicator--ip-written-oddly", "[ipv4-addr:value = '010.0.0.2']")]

# Values every column draws from: hits, near misses, range edges, and odd text.
VALUES = [
    "10.0.0.1",
    "10.0.0.01",
    "010.0.0.2",
    "10.0.0.2",
    "10.0.0.3",
    "10.0.0.7",
    "10.9.0.0/16",
    "10.1.2.0",
    "10.1.2.255",
    "10.1.1.255",
    "10.1.3.0",
    "10.1.2.77/25",
    "10.1.2.77/23",
    "10.3.3.127",
    "10.3.3.128",
    "10.3.3.255",
    "10.4.255.255",
    "10.5.0.0",
    "10.5.5.5",
    "10.5.5.4",
    "10.5.5.6",
    "255.255.255.255",
    "255.255.254.255",
    "0.0.0.0",
    "0.0.0.3",
    "0.0.0.4",
    "256.1.2.3",
    "10.1.2.3.4",
    "10.1.2",
    "10.1.2.3 ",
    "2001:db8::1",
    "2001:db9::1",
    "::ffff:10.1.2.3",
    "evil.example",
    "EVIL.example",
    "a.evil.example",
    "bücher.example",
    "x.bücher.example",
    "http://evil.example/a",
    "http://evil.example/a/",
    HASH,
    HASH.upper(),
    HASH[:-1],
    "-",
    "",
    "x",
]


@pytest.fixture(autouse=True)
def here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # records are named by the path as given


def _per_record(path: Path, matchers: MatcherSet, **kwargs: Any) -> tuple[list[Any], ReadStats]:
    stats = ReadStats()
    found = []
    for record in read_log(str(path), stats, **kwargs):
        for hit in matchers.match(objects_of(record.fields, record.field_map)):
            found.append((record.ref, record.seen, hit))
    return found, stats


def _bulk(path: Path, matchers: MatcherSet, **kwargs: Any) -> tuple[list[Any], ReadStats]:
    stats = ReadStats()
    found = [(r.ref, r.seen, hit) for r, hit in match_log(str(path), stats, matchers, **kwargs)]
    return found, stats


def _same(path: Path, matchers: MatcherSet, **kwargs: Any) -> list[Any]:
    """Run both paths and check they agree, statistics included; the matches."""
    expected, expected_stats = _per_record(path, matchers, **kwargs)
    for chunk_size in (64, 700, 1 << 20):
        got, stats = _bulk(path, matchers, chunk_size=chunk_size, **kwargs)
        assert got == expected, chunk_size
        assert stats == expected_stats, chunk_size
    return expected


def _write_log(path: Path, rows: int, seed: int) -> None:
    rng = random.Random(seed)
    lines = ["ts," + ",".join(FIELDS)]
    for i in range(rows):
        values = [rng.choice(VALUES) for _ in FIELDS]
        lines.append(f"{1763632800 + i}," + ",".join(values))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


@pytest.mark.parametrize(("subdomains", "odd"), [(False, False), (True, False), (False, True)])
def test_bulk_equals_per_record(subdomains: bool, odd: bool) -> None:
    path = Path("log.csv")
    _write_log(path, 1500, seed=7)
    matchers = MatcherSet(INDICATORS + (ODD if odd else []), subdomains=subdomains)
    assert screen_for(matchers).quads_in_ranges is not odd
    found = _same(path, matchers, mapping=FIELDS)
    assert len({h.indicator_id for _, _, h in found}) >= 14 + odd


def test_bulk_with_fallback_patterns_and_guessed_columns() -> None:
    path = Path("log.csv")
    _write_log(path, 300, seed=8)
    fallback = [*INDICATORS, ("indicator--like", "[domain-name:value LIKE '%.example']")]
    found = _same(path, MatcherSet(fallback))  # columns guessed from the header
    assert any(h.indicator_id == "indicator--like" for _, _, h in found)


def test_only_candidate_rows_become_records() -> None:
    path = Path("log.csv")
    _write_log(path, 2000, seed=9)
    matchers = MatcherSet([("indicator--dom", "[domain-name:value = 'evil.example']")])
    stats = ReadStats()
    records = list(
        read_log_screened(str(path), stats, matchers, mapping={"domain": "domain-name:value"})
    )
    assert stats.records == 2000
    assert records and all(r.fields["domain"] == "evil.example" for r in records)


def test_malformed_lines_keep_their_numbers() -> None:
    path = Path("log.csv")
    path.write_bytes(
        b"src,dst\r\n"
        b"10.0.0.1,10.1.2.3\r\n"
        b"\r\n"
        b"10.0.0.9\r\n"
        b"\n"
        b'"10.0.0.1","evil.example"\r\n'
        b"10.0.0.1,10.1.2.3,extra\r\n"
        b"\xff\xfe,10.0.0.1\r\n"
        b"bad\x00line,10.0.0.1\r\n"
        b"lone\rreturn,10.0.0.1\r\n"
        b"10.1.2.4,x"
    )
    matchers = MatcherSet(INDICATORS)
    found = _same(path, matchers)
    refs = ["log.csv:2", "log.csv:2", "log.csv:6", "log.csv:6", "log.csv:11"]
    assert [ref for ref, _, _ in found] == refs


def test_quoted_line_breaks_are_read_as_the_csv_module_reads_them() -> None:
    path = Path("log.csv")
    rows = ["src,note"] + [f"10.0.0.{i % 3},plain" for i in range(40)]
    rows[20] = '10.0.0.1,"two\nlines, and a ""quote"""'
    rows[30] = '10.1.2.9,"open'
    path.write_text("\n".join(rows) + "\n")
    found = _same(path, MatcherSet(INDICATORS), mapping={"src": "ipv4-addr:value"})
    assert found


def test_empty_and_header_only_logs() -> None:
    matchers = MatcherSet(INDICATORS)
    for text in ("", "src,dst\n", "src,dst", "\n\n"):
        path = Path("log.csv")
        path.write_text(text)
        assert _same(path, matchers) == []


def test_gzip_stdin_and_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    text = "src,dst\n" + "".join(f"10.0.0.1,192.0.2.{i % 256}\n" for i in range(2000))
    path = Path("log.csv.gz")
    path.write_bytes(gzip.compress(text.encode()))
    matchers = MatcherSet(INDICATORS)
    assert len(_same(path, matchers)) == 2000
    cut = Path("cut.csv.gz")
    packed = gzip.compress(text.encode())
    cut.write_bytes(packed[: len(packed) // 2])
    with pytest.raises(InvalidInput) as expected:
        _per_record(cut, matchers)
    for chunk_size in (64, 1 << 20):
        with pytest.raises(InvalidInput, match="damaged or cut short after line") as raised:
            _bulk(cut, matchers, chunk_size=chunk_size)
        assert raised.value.detail == expected.value.detail
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(text.encode())))
    got, stats = _bulk(Path("-"), matchers, fmt="csv")
    assert len(got) == 2000 and got[0][0] == "stdin:2" and stats.records == 2000
    with pytest.raises(InvalidInput, match="unknown log format"):
        _bulk(path, matchers, fmt="syslog")
    with pytest.raises(InvalidInput, match="no column nope"):
        _bulk(path, matchers, mapping={"nope": "ipv4-addr:value"})


def test_other_formats_are_read_record_by_record() -> None:
    path = Path("a.jsonl")
    path.write_text('{"dst_ip": "10.0.0.1"}\n[1]\n{"query": "evil.example"}\n')
    found = _same(path, MatcherSet(INDICATORS))
    assert [ref for ref, _, _ in found] == ["a.jsonl:1", "a.jsonl:3"]


def test_the_screen_is_built_once_per_matcher_set() -> None:
    matchers = MatcherSet(INDICATORS[:3])
    first = screen_for(matchers)
    assert screen_for(matchers) is first
    matchers.add("indicator--new", "[domain-name:value = 'new.example']")
    assert screen_for(matchers) is not first


# The screen's building blocks, against Python's own reading of the same values.
ipv4_like = st.one_of(
    st.ip_addresses(v=4).map(str),
    st.tuples(st.ip_addresses(v=4), st.integers(0, 40)).map(lambda t: f"{t[0]}/{t[1]}"),
    st.text("0123456789./:", max_size=20),
    st.text(max_size=20),
)


@settings(max_examples=300, deadline=None)
@given(values=st.lists(ipv4_like, min_size=1, max_size=30))
def test_dotted_quads_parse_as_ipaddress_reads_them(values: list[str]) -> None:
    numbers, whole = ipv4_integers(StringColumn.of(pa.array(values)))
    for value, number, alone in zip(values, numbers.tolist(), whole.tolist(), strict=True):
        address, _, _ = value.partition("/")
        try:
            expected = int(ipaddress.IPv4Address(address))
            ipaddress.ip_network(value, strict=False)
        except ValueError:
            continue
        assert number == expected, value
        assert alone == ("/" not in value), value


@settings(max_examples=200, deadline=None)
@given(values=st.lists(st.text(max_size=70), min_size=1, max_size=20), cut=st.integers(0, 5))
def test_equal_values_have_equal_fingerprints_wherever_they_lie(
    values: list[str], cut: int
) -> None:
    alone = [fingerprints(pa.array([v]))[0] for v in values]
    together = fingerprints(pa.array(["padding", *values]).slice(1))
    assert together.tolist() == [int(h) for h in alone]
    sliced = fingerprints(pa.array(values).slice(min(cut, len(values))))
    assert sliced.tolist() == together.tolist()[min(cut, len(values)) :]


observable_values = st.one_of(
    st.sampled_from(VALUES),
    st.ip_addresses(v=4).map(str),
    st.from_regex(r"[a-z0-9]{1,5}(\.[a-z0-9ü]{1,5}){0,3}", fullmatch=True),
    st.text(max_size=12),
)


@settings(max_examples=200, deadline=None)
@given(
    values=st.lists(observable_values, min_size=1, max_size=20),
    kind=st.sampled_from(sorted({*FIELDS.values(), "ipv6-addr:value"})),
    subdomains=st.booleans(),
    odd=st.booleans(),
)
def test_the_screen_lets_through_every_value_that_matches(
    values: list[str], kind: str, subdomains: bool, odd: bool
) -> None:
    matchers = MatcherSet(INDICATORS + (ODD if odd else []), subdomains=subdomains)
    mask = build_screen(matchers).column(pa.array(values), kind)
    for value, passed in zip(values, mask.tolist(), strict=True):
        if matchers.match(objects_of({"f": value}, {"f": kind})):
            assert passed, (value, kind)


def test_header_names_are_read_as_the_csv_reader_reads_them() -> None:
    path = Path("log.csv")
    path.write_text("\ufeffts, src ,dst,src\n1,10.0.0.9,evil.example,10.0.0.1\n2,10.0.0.1,x,y\n")
    found = _same(path, MatcherSet(INDICATORS))
    assert [(ref, h.indicator_id) for ref, _, h in found] == [
        ("log.csv:2", "indicator--ip"),
        ("log.csv:2", "indicator--dom"),
    ]


@settings(max_examples=200, deadline=None)
@given(
    ranges=st.lists(
        st.tuples(st.integers(0, 2**32 - 1), st.integers(0, 3000)), min_size=1, max_size=12
    ),
    probes=st.lists(st.integers(-1, 2**32 - 1), max_size=30),
)
def test_ranges_contain_exactly_the_numbers_in_a_range(
    ranges: list[tuple[int, int]], probes: list[int]
) -> None:
    bounds = [(first, min(first + size, 2**32 - 1)) for first, size in ranges]
    edges = [n for first, last in bounds for n in (first - 1, first, last, last + 1)]
    numbers = [n for n in probes + edges if -1 <= n < 2**32]
    table = _Ranges.of(
        np.array([b[0] for b in bounds], dtype=np.int64),
        np.array([b[1] for b in bounds], dtype=np.int64),
    )
    found = table.contains(np.array(numbers, dtype=np.int64)).tolist()
    assert found == [any(f <= n <= last for f, last in bounds) for n in numbers]


def test_memory_does_not_grow_with_the_log() -> None:
    import tracemalloc

    matchers = MatcherSet(INDICATORS)
    screen_for(matchers)  # built once, before the log is read
    peaks = []
    for rows in (20_000, 200_000):
        path = Path(f"big{rows}.csv")
        with path.open("w") as f:
            f.write("src,dst\n")
            for i in range(rows):
                dst = "10.1.2.9" if i % 1000 == 0 else f"192.0.2.{i % 250}"
                f.write(f"10.0.{i % 250}.{i % 200},{dst}\n")
        stats = ReadStats()
        tracemalloc.start()
        found = sum(1 for _ in match_log(str(path), stats, matchers, chunk_size=64 << 10))
        peaks.append(tracemalloc.get_traced_memory()[1])
        tracemalloc.stop()
        assert stats.records == rows and found == rows // 1000
    assert max(peaks) < 3_000_000, peaks  # the larger log alone is 5 MB


TOKENS = [
    b"10.0.0.1",
    b"10.1.2.3",
    b"evil.example",
    b"x",
    b",",
    b",",
    b"\n",
    b"\n",
    b"\r\n",
    b"\r",
    b'"',
    b'""',
    b" ",
    b"\x00",
    b"\xff",
    "ü".encode(),
]


@settings(max_examples=150, deadline=None)
@given(
    body=st.lists(st.sampled_from(TOKENS), max_size=60).map(b"".join),
    chunk_size=st.sampled_from([1, 16, 1 << 20]),
)
def test_any_bytes_read_in_bulk_as_record_by_record(body: bytes, chunk_size: int) -> None:
    path = Path("fuzz.csv")
    path.write_bytes(b"src,dst,domain\n" + body)
    matchers = MatcherSet(INDICATORS)
    expected, expected_stats = _per_record(path, matchers)
    got, stats = _bulk(path, matchers, chunk_size=chunk_size)
    assert (got, stats) == (expected, expected_stats)
