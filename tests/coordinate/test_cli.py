"""The coordination commands: a directory, a check and the notification log from the console."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import orjson
import pytest
import vobject

from accord.cli.common import open_node
from tests.coordinate.conftest import FakeDNS, Sink
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


def test_request_new_files_both_kinds_and_contact_show(capsys: pytest.CaptureFixture[str]) -> None:
    for name, state in (("SingCERT", "SG"), ("MyCERT", "MY"), ("ThaiCERT", "TH")):
        assert run(capsys, "org", "add", name, "--kind", "national-cert", "--state", state)[0] == 0
    code, out, err = run(
        capsys,
        *("contact", "add", "--org", "MyCERT", "--kind", "technical", "--name", "Desk"),
        *("--email", "desk@mycert.example.org", "--language", "ms"),
    )
    assert code == 0, err
    code, out, _ = run(capsys, "contact", "show", "1")
    assert code == 0 and "desk@mycert.example.org" in out and "MyCERT" in out
    assert run(capsys, "contact", "show", "99")[0] == 5
    code, out, err = run(
        capsys,
        *("request", "new", "--kind", "assistance", "--org", "SingCERT"),
        *("--to", "MyCERT", "--to", "ThaiCERT", "--urgency", "high"),
        *("--category", "availability/ddos", "--sector", "energy", "--ask", "mitigation"),
        *("--title", "DDoS on the grid", "--tlp", "green"),
        *("--deadline", "2099-01-01T00:00:00+08:00"),
    )
    assert code == 0, err
    assert "request 1 to" in out and "request 2 to" in out and "submitted" in out
    code, out, _ = run(capsys, "request", "list", "--org", "MyCERT")
    assert "DDoS on the grid" in out and "submitted" in out
    code, out, err = run(
        capsys,
        *("request", "new", "--kind", "consultation", "--org", "MyCERT", "--to", "SingCERT"),
        *("--urgency", "low", "--title", "Attribution of the grid attack", "--draft"),
        *("--description", "Traffic from a shared host.", "--question", "Do you see it too?"),
    )
    assert code == 0 and "request 3" in out and "draft" in out, err
    code, _, err = run(
        capsys,
        *("request", "new", "--kind", "assistance", "--org", "SingCERT", "--to", "Nowhere"),
        *("--urgency", "soon", "--title", "X", "--evidence", "indicator--nope"),
    )
    assert code == 2 and "invalid fields" in err and "Traceback" not in err
    code, _, err = run(
        capsys,
        *("request", "new", "--kind", "consultation", "--org", "SingCERT", "--to", "MyCERT"),
        *("--urgency", "low", "--title", "X", "--question", "Q?", "--deadline", "tomorrow"),
    )
    assert code == 2 and "invalid deadline" in err


def test_webhooks_are_listed_and_deleted_by_the_operator(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert run(capsys, "org", "add", "MyCERT", "--kind", "national-cert", "--state", "MY")[0] == 0
    node = open_node()
    org_id = node.accounts.orgs.find("MyCERT").id
    dns = FakeDNS()
    dns.set("soc.example.org", ["93.184.216.34"])
    notifier = node.coordination.notifier
    notifier.egress = replace(notifier.egress, resolve=dns)  # no real DNS in tests
    hook_id = notifier.add_webhook(
        org_id, "https://soc.example.org/h", "s3cret-webhook-key-0123456789"
    )
    node.close()
    code, out, _ = run(capsys, "webhook", "list")
    assert code == 0 and "https://soc.example.org/h" in out and "s3cret" not in out
    code, out, _ = run(capsys, "webhook", "delete", str(hook_id))
    assert code == 0 and "deleted" in out
    code, _, err = run(capsys, "webhook", "delete", str(hook_id))
    assert code == 5 and "no webhook" in err
