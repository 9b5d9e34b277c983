"""The coordination commands: a directory, a check and the notification log from the console."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest
import vobject

from tests.coordinate.conftest import Sink
from tests.test_cli import run


@pytest.fixture(autouse=True)
def database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, smtp: Sink) -> None:
    monkeypatch.setenv("ACCORD_DATABASE_URL", f"sqlite:///{tmp_path}/cli.db")
    monkeypatch.setenv("ACCORD_SMTP_PORT", str(smtp.port))
    monkeypatch.chdir(tmp_path)


def test_directory_check_and_log(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, smtp: Sink
) -> None:
    assert run(capsys, "org", "add", "MyCERT", "--kind", "national-cert", "--state", "MY")[0] == 0
    code, out, err = run(
        capsys,
        "contact",
        "add",
        "--org",
        "MyCERT",
        "--kind",
        "technical",
        "--name",
        "Desk",
        "--email",
        "desk@mycert.example.org",
        "--phone",
        "+60389928888",
        "--language",
        "ms",
    )
    assert code == 0 and "contact 1 added" in out, err
    code, _, err = run(
        capsys,
        "contact",
        "add",
        "--org",
        "MyCERT",
        "--kind",
        "technical",
        "--name",
        "X",
        "--phone",
        "555",
    )
    assert code == 2 and "invalid fields" in err and "phone" in err and "Traceback" not in err
    code, out, _ = run(capsys, "contact", "list", "--language", "ms")
    assert "+60389928888" in out
    assert run(capsys, "contact", "export", "--format", "vcard", "-o", "d.vcf")[0] == 0
    card = vobject.readOne((tmp_path / "d.vcf").read_text())
    assert card.fn.value == "Desk"
    (tmp_path / "bad.csv").write_text("kind,name,email\ntechnical,A,a@example.org\nspy,B,b@x.org\n")
    code, _, err = run(capsys, "contact", "import", "bad.csv", "--org", "MyCERT")
    assert code == 2 and "nothing was imported" in err and "2 kind" in err
    code, out, _ = run(capsys, "check", "start", "--org", "MyCERT", "--title", "Ping")
    assert code == 0 and "over 1 contacts" in out
    code, out, _ = run(capsys, "notify", "run")
    assert code == 0 and "delivered 1" in out
    assert smtp.to("desk@mycert.example.org")
    code, out, _ = run(capsys, "check", "results", "1")
    assert orjson.loads(out)["contacts"] == 1
    code, out, _ = run(capsys, "notify", "log")
    assert "check.start" in out and "sent" in out
    code, _, err = run(capsys, "request", "act", "7", "fly", "--org", "MyCERT")
    assert code == 2 and "unknown action" in err
    code, _, err = run(capsys, "request", "act", "7", "close", "--org", "MyCERT")
    assert code == 5 and "no request" in err
