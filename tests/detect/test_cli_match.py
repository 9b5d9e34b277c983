"""``accord match``: JSON Lines on stdout, a summary on stderr, sightings on request."""

from __future__ import annotations

import gzip
from pathlib import Path

import orjson
import pytest

from accord.domain.tlp import TLP
from tests.builders import bundle, indicator
from tests.test_cli import run


@pytest.fixture(autouse=True)
def database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ACCORD_DATABASE_URL", f"sqlite:///{tmp_path}/cli.db")
    monkeypatch.chdir(tmp_path)


def test_match_prints_matches_and_reports_sightings(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    run(capsys, "org", "add", "SingCERT", "--kind", "national-cert", "--state", "SG")
    run(capsys, "org", "add", "MyCERT", "--kind", "national-cert", "--state", "MY")
    green = indicator("192.0.2.50", tlp=TLP.GREEN)
    (tmp_path / "feed.json").write_bytes(orjson.dumps(bundle(green)))
    assert run(capsys, "share", "feed.json", "--org", "SingCERT")[0] == 0
    (tmp_path / "fw.csv").write_text("src,dst\n10.0.0.1,192.0.2.50\n10.0.0.2,192.0.2.50,x\n")
    code, out, err = run(capsys, "match", "fw.csv", "--org", "MyCERT", "--sightings")
    assert code == 0, err
    lines = [orjson.loads(line) for line in out.splitlines()]
    assert lines == [
        {
            "record": "fw.csv:2",
            "indicator_id": green["id"],
            "value": "192.0.2.50",
            "field": "dst",
            "warnings": ["documentation"],  # 192.0.2.0/24 is for documentation
        }
    ]
    assert "malformed: fw.csv line 3" in err and "1 sightings reported" in err
    code, out, _ = run(capsys, "objects", "list", "--org", "SingCERT", "--type", "sighting")
    assert "sighting--" in out


def test_match_bad_input_is_one_line(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    run(capsys, "org", "add", "SingCERT", "--kind", "national-cert", "--state", "SG")
    code, _, err = run(capsys, "match", "absent.log", "--org", "SingCERT")
    assert code == 2 and "cannot read" in err and "Traceback" not in err
    code, _, err = run(capsys, "match", "-", "--org", "SingCERT", "--format", "syslog")
    assert code == 2 and "unknown log format" in err


def test_match_reads_csv_in_bulk_and_keeps_line_numbers(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    run(capsys, "org", "add", "SingCERT", "--kind", "national-cert", "--state", "SG")
    feed = [indicator("198.51.100.7"), indicator("evil.example")]
    feed[1]["pattern"] = "[domain-name:value = 'evil.example']"
    (tmp_path / "feed.json").write_bytes(orjson.dumps(bundle(*feed)))
    assert run(capsys, "share", "feed.json", "--org", "SingCERT")[0] == 0
    rows = [f"{1763632800 + i},10.0.{i % 200}.1,ok{i}.example" for i in range(5000)]
    rows[1234] = "1763632800,198.51.100.7,ok.example"
    rows[4321] = "1763632800,10.0.0.1"  # one column short
    rows[4998] = "1763632800,10.0.0.2,evil.example"
    text = "ts,src,domain\n" + "\n".join(rows) + "\n"
    (tmp_path / "fw.csv.gz").write_bytes(gzip.compress(text.encode()))
    code, out, err = run(capsys, "match", "fw.csv.gz", "--org", "SingCERT")
    assert code == 0, err
    found = [(m["record"], m["value"], m["field"]) for m in map(orjson.loads, out.splitlines())]
    assert found == [
        ("fw.csv.gz:1236", "198.51.100.7", "src"),
        ("fw.csv.gz:5000", "evil.example", "domain"),
    ]
    assert "malformed: fw.csv.gz line 4323: 2 columns where the header has 3" in err
    packed = gzip.compress(text.encode())
    (tmp_path / "cut.csv.gz").write_bytes(packed[: len(packed) // 2])
    code, out, err = run(capsys, "match", "cut.csv.gz", "--org", "SingCERT")
    assert code == 2 and "damaged or cut short after line" in err and "Traceback" not in err
    assert "cut.csv.gz:1236" in out and len(err.strip().splitlines()) == 1  # matched before
