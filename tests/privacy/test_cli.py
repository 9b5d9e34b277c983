"""The privacy commands: rules and retention, bad input as one line and an exit code."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli_runner import run


@pytest.fixture(autouse=True)
def database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ACCORD_DATABASE_URL", f"sqlite:///{tmp_path}/node.db")


def test_rules_retention_and_bad_input(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "privacy", "rule-add", "SG", "pseudonymise", "--basis", "asean-mcc")
    assert code == 0 and "rule #1: SG/* pseudonymise (asean-mcc)" in out
    code, out, _ = run(capsys, "privacy", "rule-list")
    assert code == 0 and "asean-mcc" in out
    for argv in (
        ("rule-add", "SGP", "redact"),
        ("rule-add", "SG", "publish"),
        ("rule-add", "TH", "allow"),  # no legal basis
        ("rule-add", "SG", "redact"),  # SG/* exists
        ("rule-delete", "99"),
        ("retention-add", "0"),
        ("retention-add", "30", "--tlp", "purple"),
    ):
        code, out, err = run(capsys, "privacy", *argv)
        assert code != 0, argv
        assert err.startswith("error: "), (argv, err)
    code, out, _ = run(capsys, "privacy", "retention-add", "30", "--type", "indicator")
    assert code == 0 and "indicator/* kept 30 days" in out
    code, out, _ = run(capsys, "privacy", "purge")
    assert code == 0 and "0 objects purged" in out
