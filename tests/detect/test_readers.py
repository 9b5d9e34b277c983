"""Log readers on real-format samples: Zeek, Suricata, CSV, JSON Lines, value lists, gzip."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from accord.detect.matcher import MatcherSet
from accord.detect.observables import objects_of
from accord.detect.readers import ReadStats, parse_mapping, read_log
from accord.errors import InvalidInput

ZEEK_CONN = """#separator \\x09
#set_separator\t,
#empty_field\t(empty)
#unset_field\t-
#path\tconn
#open\t2026-11-20-10-00-00
#fields\tts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tproto
#types\ttime\tstring\taddr\tport\taddr\tport\tenum
1763632800.123456\tCx1\t10.0.0.5\t51000\t198.51.100.7\t443\ttcp
1763632801.000000\tCx2\t10.0.0.6\t51001\t192.0.2.1\t80\ttcp
broken line
#close\t2026-11-20-11-00-00
"""

ZEEK_DNS = """#separator \\x09
#set_separator\t,
#path\tdns
#fields\tts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tquery\tanswers
#types\ttime\tstring\taddr\tport\taddr\tport\tstring\tvector[string]
1763632800.5\tCd1\t10.0.0.5\t53000\t10.0.0.53\t53\tevil.example\t203.0.113.9,203.0.113.10
"""

ZEEK_FILES = """#separator \\x09
#set_separator\t,
#path\tfiles
#fields\tts\tfuid\ttx_hosts\trx_hosts\tmd5\tsha1\tsha256
1763632802.0\tF1\t203.0.113.4\t10.0.0.5\td41d8cd98f00b204e9800998ecf8427e\t-\t-
"""

SURICATA = (
    '{"timestamp":"2026-11-20T10:00:00.000000+0000","event_type":"dns","src_ip":"10.0.0.5",'
    '"dest_ip":"10.0.0.53","dns":{"type":"query","rrname":"evil.example","rrtype":"A"}}\n'
    '{"timestamp":"2026-11-20T10:00:01.000000+0000","event_type":"tls","src_ip":"10.0.0.5",'
    '"dest_ip":"198.51.100.7","tls":{"sni":"ok.example","fingerprint":"11:11:11:11:11:11:11:'
    '11:11:11:11:11:11:11:11:11:11:11:11:11"}}\n'
    "{not json\n"
    '{"timestamp":"2026-11-20T10:00:02.000000+0000","event_type":"fileinfo",'
    '"fileinfo":{"md5":"d41d8cd98f00b204e9800998ecf8427e"}}\n'
)

INDICATORS = [
    ("indicator--ip", "[ipv4-addr:value = '198.51.100.7']"),
    ("indicator--dns", "[domain-name:value = 'evil.example']"),
    ("indicator--answer", "[ipv4-addr:value ISSUBSET '203.0.113.8/30']"),
    ("indicator--md5", "[file:hashes.MD5 = 'd41d8cd98f00b204e9800998ecf8427e']"),
    ("indicator--cert", "[x509-certificate:hashes.'SHA-1' = '" + "1" * 40 + "']"),
]


def _matches(path: Path | str, **kwargs) -> tuple[list[tuple[str, str]], ReadStats]:
    stats = ReadStats()
    matchers = MatcherSet(INDICATORS)
    found = []
    for record in read_log(str(path), stats, **kwargs):
        for hit in matchers.match(objects_of(record.fields, record.field_map)):
            found.append((record.ref.rsplit(":", 1)[1], hit.indicator_id))
    return found, stats


def test_zeek_logs(tmp_path: Path) -> None:
    for name, text in (("conn.log", ZEEK_CONN), ("dns.log", ZEEK_DNS), ("files.log", ZEEK_FILES)):
        (tmp_path / name).write_text(text)
    found, stats = _matches(tmp_path / "conn.log")
    assert found == [("9", "indicator--ip")]
    assert stats.records == 2 and stats.malformed == 1 and stats.examples[0][1] == 11
    found, _ = _matches(tmp_path / "dns.log")
    assert found == [("6", "indicator--dns"), ("6", "indicator--answer")]
    found, _ = _matches(tmp_path / "files.log")
    assert found == [("5", "indicator--md5")]


def test_suricata_eve_json_gzipped(tmp_path: Path) -> None:
    path = tmp_path / "eve.json.gz"
    path.write_bytes(gzip.compress(SURICATA.encode()))
    found, stats = _matches(path)
    assert found == [
        ("1", "indicator--dns"),
        ("2", "indicator--ip"),
        ("2", "indicator--cert"),
        ("4", "indicator--md5"),
    ]
    assert stats.malformed == 1 and stats.examples[0][1] == 3


def test_csv_with_a_column_mapping_and_jsonl(tmp_path: Path) -> None:
    (tmp_path / "fw.csv").write_text(
        "when,client,server,hash\n"
        "2026-11-20T10:00:00Z,10.0.0.5,198.51.100.7,x\n"
        "2026-11-20T10:00:01Z,10.0.0.5\n"
        '2026-11-20T10:00:02Z,10.0.0.6,192.0.2.1,"d41d8cd98f00b204e9800998ecf8427e"\n'
    )
    mapping = parse_mapping(["client=ip", "server=dst", "hash=md5"])
    found, stats = _matches(tmp_path / "fw.csv", mapping=mapping)
    assert found == [("2", "indicator--ip"), ("4", "indicator--md5")]
    assert stats.malformed == 1 and stats.examples[0][1] == 3
    (tmp_path / "a.jsonl").write_text('{"dst_ip": "198.51.100.7"}\n[1]\n{"query": "x.org"}\n')
    found, stats = _matches(tmp_path / "a.jsonl")
    assert found == [("1", "indicator--ip")] and stats.malformed == 1


def test_plain_values_from_stdin(monkeypatch: pytest.MonkeyPatch) -> None:
    import io
    import sys

    data = b"# a list\n198.51.100.7\nevil.example\n\nnothing-here\n203.0.113.9\n"
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data)))
    found, stats = _matches("-")
    assert found == [("2", "indicator--ip"), ("3", "indicator--dns"), ("6", "indicator--answer")]


def test_bad_input_is_reported_not_raised_as_a_crash(tmp_path: Path) -> None:
    (tmp_path / "garbage.bin").write_bytes(b"\x00\x01\xff\xfe" * 100 + b"\n\xff\xfe\n")
    _, stats = _matches(tmp_path / "garbage.bin")
    assert stats.malformed == 2
    (tmp_path / "cut.gz").write_bytes(gzip.compress(b"198.51.100.7\n" * 1000)[:60])
    with pytest.raises(InvalidInput, match="damaged or cut short"):
        _matches(tmp_path / "cut.gz")
    with pytest.raises(InvalidInput, match="unknown log format"):
        _matches(tmp_path / "cut.gz", fmt="syslog")
    with pytest.raises(InvalidInput, match="cannot read"):
        _matches(tmp_path / "absent.log")
    with pytest.raises(InvalidInput, match="COLUMN=KIND"):
        parse_mapping(["client"])
    (tmp_path / "weird.log").write_text("#separator \\x09\n#path\tweird\n#fields\ta\n1\n")
    with pytest.raises(InvalidInput, match="Zeek log 'weird'"):
        _matches(tmp_path / "weird.log")


def test_memory_does_not_grow_with_the_log(tmp_path: Path) -> None:
    import tracemalloc

    path = tmp_path / "big.csv"
    with path.open("w") as f:
        f.write("src,dst\n")
        for i in range(20_000):
            f.write(f"10.0.{i % 250}.{i % 200},192.0.2.{i % 250}\n")
    tracemalloc.start()
    _, stats = _matches(path)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert stats.records == 20_000 and peak < 5_000_000
