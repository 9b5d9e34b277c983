"""The CLI: every command has help, errors are one line with an exit code, flows work."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
import typer.main

from accord.cli import app
from accord.domain.tlp import TLP
from tests.builders import bundle, indicator
from tests.cli_runner import run


def _commands(group: Any, prefix: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    # Typer vendors its own click, so groups are recognised by what they have.
    yield prefix
    for name, command in getattr(group, "commands", {}).items():
        yield from _commands(command, (*prefix, name))


ALL_COMMANDS = list(_commands(typer.main.get_command(app)))


@pytest.fixture(autouse=True)
def database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ACCORD_DATABASE_URL", f"sqlite:///{tmp_path}/cli.db")
    monkeypatch.chdir(tmp_path)


@pytest.mark.parametrize("command", ALL_COMMANDS, ids=lambda c: " ".join(c) or "accord")
def test_every_command_has_help(
    capsys: pytest.CaptureFixture[str], command: tuple[str, ...]
) -> None:
    code, out, _ = run(capsys, *command, "--help")
    assert code == 0 and "Usage" in out
    assert len(out.split("Usage", 1)[1].strip().splitlines()) > 1


def test_share_list_show_export(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert run(capsys, "org", "add", "SingCERT", "--kind", "national-cert", "--state", "SG")[0] == 0
    assert run(capsys, "org", "add", "MyCERT", "--kind", "national-cert", "--state", "MY")[0] == 0
    folder = tmp_path / "feeds"
    folder.mkdir()
    green = indicator("192.0.2.50", tlp=TLP.GREEN)
    (folder / "a.json").write_bytes(orjson.dumps(bundle(green)))
    (folder / "b.json").write_bytes(orjson.dumps(bundle(indicator("192.0.2.51", tlp=TLP.AMBER))))
    code, out, err = run(capsys, "share", str(folder), "--org", "SingCERT")
    assert code == 0 and "stored 2 object versions from 2 files" in out
    code, out, _ = run(capsys, "objects", "list", "--org", "MyCERT")
    assert green["id"] in out and "192.0.2.51" not in out
    code, out, _ = run(capsys, "objects", "show", green["id"], "--org", "MyCERT")
    assert orjson.loads(out)["id"] == green["id"]
    code, out, err = run(capsys, "objects", "show", green["id"])  # the public
    assert code == 5 and err.count("\n") == 1
    assert run(capsys, "export", "--org", "MyCERT", "-o", "out.json")[0] == 0
    exported = orjson.loads((tmp_path / "out.json").read_bytes())
    assert [o["id"] for o in exported["objects"] if o["type"] == "indicator"] == [green["id"]]


def test_token_lifecycle(capsys: pytest.CaptureFixture[str]) -> None:
    run(capsys, "org", "add", "SingCERT", "--kind", "national-cert", "--state", "SG")
    code, out, _ = run(capsys, "token", "create", "SingCERT", "--role", "reader", "--name", "desk")
    token = out.strip()
    assert code == 0 and token.startswith("accord_")
    code, out, _ = run(capsys, "token", "list")
    assert "desk" in out and token not in out
    assert run(capsys, "token", "revoke", "1")[0] == 0
    code, _, err = run(capsys, "token", "revoke", "99")
    assert code == 5 and "no token" in err


@pytest.mark.parametrize(
    ("argv", "code", "says"),
    [
        (("org", "add", "X", "--kind", "spies"), 2, "unknown organisation kind"),
        (("org", "add", "X", "--kind", "academia", "--state", "ZZ"), 2, "unknown state"),
        (("share", "/nonexistent.json", "--org", "SingCERT"), 2, "no such file"),
        (("share", "bad.json", "--org", "SingCERT"), 2, "not JSON"),
        (("share", "bad.json", "--org", "Nobody"), 5, "no organisation"),
        (("objects", "list", "--org", "Nobody"), 5, "no organisation"),
        (("group", "add", "X"), 2, "lower-case"),
        (("token", "create", "SingCERT", "--role", "king"), 2, "unknown role"),
        (("token", "revoke", "abc"), 2, "valid integer"),
        (("no-such-command",), 2, "No such command"),
    ],
)
def test_bad_input_is_one_line_and_an_exit_code(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, argv: tuple[str, ...], code: int, says: str
) -> None:
    run(capsys, "org", "add", "SingCERT", "--kind", "national-cert", "--state", "SG")
    (tmp_path / "bad.json").write_text("{not json")
    got, _, err = run(capsys, *argv)
    assert got == code
    assert says in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1


def test_invalid_bundle_lists_problems_and_stores_nothing(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    run(capsys, "org", "add", "SingCERT", "--kind", "national-cert", "--state", "SG")
    broken = indicator("192.0.2.60", pattern="[ipv4-addr:value = '192.0.2.60'")
    (tmp_path / "mixed.json").write_bytes(orjson.dumps(bundle(indicator(), broken)))
    code, _, err = run(capsys, "share", "mixed.json", "--org", "SingCERT")
    assert code == 2 and "mixed.json" in err and broken["id"] in err
    assert "nothing was stored" in err
    code, out, _ = run(capsys, "objects", "list", "--org", "SingCERT")
    assert "indicator--" not in out


def test_unreachable_database_is_one_line(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ACCORD_DATABASE_URL", "postgresql+psycopg://nobody@127.0.0.1:1/none")
    code, _, err = run(capsys, "org", "list")
    assert code == 1 and "cannot use the database" in err and "Traceback" not in err


def test_demo_seeds_every_marking_and_scope(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "demo", "--objects", "400")
    assert code == 0 and out.strip().startswith("accord_")
    code, out, err = run(capsys, "demo", "--if-empty")
    assert code == 0 and "Demo region ready" in err
    from accord.node import Node
    from accord.settings import Settings

    node = Node.open(Settings())
    with node.engine.connect() as conn:
        rows = conn.exec_driver_sql("SELECT DISTINCT tlp, scope FROM stix_objects").all()
        count = conn.exec_driver_sql("SELECT count(*) FROM stix_objects").scalar()
    node.close()
    assert count == 400
    assert {r[0] for r in rows} == {t.value for t in TLP}
    assert len(rows) >= 10


def test_user_add_reads_password_from_stdin(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import io

    run(capsys, "org", "add", "SingCERT", "--kind", "national-cert", "--state", "SG")
    monkeypatch.setattr("sys.stdin", io.StringIO("a long enough password\n"))
    code, out, _ = run(capsys, "user", "add", "lee", "--org", "SingCERT", "--password-stdin")
    assert code == 0 and "user lee added" in out
    code, out, _ = run(capsys, "user", "list")
    assert "lee" in out and "argon2" not in out
    monkeypatch.setattr("sys.stdin", io.StringIO("short\n"))
    code, _, err = run(capsys, "user", "add", "kim", "--org", "SingCERT", "--password-stdin")
    assert code == 2 and "at least 12 characters" in err


def test_the_command_tree_loads_no_service_store_or_web_stack() -> None:
    """``accord --help`` builds the tree only: services load inside the command that runs."""
    unwanted = ("accord.node", "accord.store", "accord.settings", "sqlalchemy", "fastapi")
    probe = (
        "import sys, accord.cli\n"
        f"print(' '.join(sorted(m for m in sys.modules if m.startswith({unwanted!r}))))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    ).stdout.split()
    assert loaded == []
