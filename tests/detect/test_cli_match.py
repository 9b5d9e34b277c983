"""``accord match``: JSON Lines on stdout, a summary on stderr, sightings on request."""

from __future__ import annotations

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
