"""Parquet logs: the per-record and screened readers report the same, rows numbered from 1."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from accord.detect.bulk import read_log_screened
from accord.detect.matcher import MatcherSet
from accord.detect.observables import objects_of
from accord.detect.readers import ReadStats, read_lines, read_log
from accord.errors import InvalidInput

INDICATORS = [
    ("indicator--ip", "[ipv4-addr:value = '10.0.0.1']"),
    ("indicator--net", "[ipv4-addr:value ISSUBSET '10.1.2.0/24']"),
    ("indicator--dom", "[domain-name:value = 'evil.example']"),
]


def _found(records: Any, matchers: MatcherSet) -> list[tuple[str, Any, Any]]:
    return [
        (r.ref, r.seen, hit)
        for r in records
        for hit in matchers.match(objects_of(r.fields, r.field_map))
    ]


@pytest.fixture
def log(tmp_path: Path) -> Path:
    n = 2000
    stamp = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
    table = pa.table(
        {
            "TS": pa.array([stamp] * n, pa.timestamp("ms", tz="UTC")),
            "src": [None if i == 7 else f"10.{i % 3}.{i % 5}.1" for i in range(n)],
            "dns": pa.array(
                [{"query": "evil.example" if i % 400 == 3 else f"ok{i}.example"} for i in range(n)]
            ),
            "port": [4444 if i == 1500 else 80 for i in range(n)],
            "answers": [["10.1.2.9"] if i == 1999 else [] for i in range(n)],
        }
    )
    path = tmp_path / "log.parquet"
    pq.write_table(table, path, row_group_size=300)
    return path


def test_parquet_screened_equals_per_record_with_row_numbers(log: Path) -> None:
    matchers = MatcherSet(INDICATORS)
    mapping = {
        "src": "ipv4-addr:value",
        "dns.query": "domain-name:value",
        "port": "auto",  # integers: screened as their decimal text
        "answers": "auto",
    }
    for fmt in ("auto", "parquet"):
        one, two = ReadStats(), ReadStats()
        per_record = _found(read_log(str(log), one, fmt=fmt, mapping=mapping), matchers)
        screened = _found(
            read_log_screened(str(log), two, matchers, fmt=fmt, mapping=mapping), matchers
        )
        assert screened == per_record and one == two and one.records == 2000
    refs = {ref for ref, _, _ in per_record}
    assert {f"{log}:1", f"{log}:4", f"{log}:2000"} <= refs
    assert f"{log}:8" not in refs  # a null value matches nothing
    assert per_record[0][1] == datetime(2026, 11, 20, 10, 0, tzinfo=UTC)


def test_parquet_bad_input(log: Path, tmp_path: Path) -> None:
    matchers = MatcherSet(INDICATORS)
    cut = tmp_path / "cut.parquet"
    cut.write_bytes(log.read_bytes()[:-100])
    with pytest.raises(InvalidInput, match="not a readable Parquet file"):
        list(read_log_screened(str(cut), ReadStats(), matchers))
    with pytest.raises(InvalidInput, match="no column dst in the Parquet schema"):
        list(read_log(str(log), ReadStats(), mapping={"dst": "ipv4-addr:value"}))
    with pytest.raises(InvalidInput, match="not read line by line"):
        list(read_lines([b"x"], "x", ReadStats(), fmt="parquet"))
