"""The vectorised CSV path reports exactly what the per-record path reports."""

from __future__ import annotations

import random
from pathlib import Path

from accord.detect.bulk import ipv4_integers, match_csv
from accord.detect.matcher import MatcherSet
from accord.detect.observables import objects_of
from accord.detect.readers import ReadStats, read_log

FIELDS = {
    "src_ip": "auto",
    "dst_ip": "network-traffic:dst_ref.value",
    "domain": "domain-name:value",
}


def test_bulk_equals_per_record(tmp_path: Path) -> None:
    rng = random.Random(7)
    ips = [f"10.{rng.randrange(4)}.{rng.randrange(4)}.{rng.randrange(256)}" for _ in range(300)]
    domains = [f"d{i}.example.net" for i in range(50)]
    indicators = [
        (f"indicator--ip{i}", f"[ipv4-addr:value = '{ip}']") for i, ip in enumerate(ips[:40])
    ]
    indicators += [
        ("indicator--net1", "[ipv4-addr:value ISSUBSET '10.1.2.0/24']"),
        ("indicator--net2", "[network-traffic:dst_ref.value ISSUBSET '10.3.0.0/16']"),
        ("indicator--net3", "[ipv4-addr:value ISSUBSET '10.3.3.128/25']"),
    ]
    indicators += [
        (f"indicator--d{i}", f"[domain-name:value = '{d}']") for i, d in enumerate(domains[:10])
    ]
    matchers = MatcherSet(indicators)
    path = tmp_path / "log.csv"
    with path.open("w") as f:
        f.write("src_ip,dst_ip,domain\n")
        for _ in range(3000):
            dst = rng.choice([*ips, "-", "x.y", "999.1.1.1"])
            f.write(f"{rng.choice(ips)},{dst},{rng.choice(domains)}\n")
    bulk = sorted(
        (row, h.indicator_id) for row, h in match_csv(str(path), matchers, FIELDS, block_size=4096)
    )
    expected = []
    for record in read_log(str(path), ReadStats(), mapping=FIELDS):
        row = int(record.ref.rsplit(":", 1)[1]) - 2
        expected += [
            (row, h.indicator_id) for h in matchers.match(objects_of(record.fields, FIELDS))
        ]
    assert bulk == sorted(expected) and len(bulk) > 100


def test_ipv4_integers_marks_non_addresses() -> None:
    import pyarrow as pa

    got = ipv4_integers(pa.array(["1.2.3.4", "256.1.1.1", "x", None, "0.0.0.0"]))
    assert got.tolist() == [0x01020304, -1, -1, -1, 0]
