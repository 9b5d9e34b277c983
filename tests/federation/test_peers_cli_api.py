"""Peers through the CLI and the REST API: registration, tokens shown once, status."""

from __future__ import annotations

from pathlib import Path

import pytest

from accord.app import create_app
from accord.federation.service import fingerprint
from accord.node import Node
from accord.settings import Settings
from tests.asgi import Client
from tests.cli_runner import run
from tests.conftest import migrated_sqlite


def test_peer_registration_and_status(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    other = Node.open(Settings(database_url=migrated_sqlite(tmp_path, "b.db"), _env_file=None))  # type: ignore[call-arg]
    monkeypatch.setenv("ACCORD_DATABASE_URL", f"sqlite:///{tmp_path}/a.db")
    code, out, _ = run(capsys, "node", "info")
    assert code == 0 and "public key" in out and "node id" in out
    key = other.key.public_b64
    code, info, _ = run(capsys, "node", "info")
    shown = fingerprint(other.key.public_raw)
    assert "fingerprint SHA256:" in info and shown.startswith("SHA256:") and shown not in info
    # As SSH does, the key is trusted only once its fingerprint is confirmed out of band.
    code, out, err = run(capsys, "peer", "add", "bravo", "http://127.0.0.1:8471", "--key", key)
    assert code == 2 and shown in err and f"--fingerprint {shown}" in err and not out
    wrong = fingerprint(bytes(32))
    code, _, err = run(
        capsys,
        "peer",
        "add",
        "bravo",
        "http://127.0.0.1:8471",
        "--key",
        key,
        "--fingerprint",
        wrong,
    )
    assert code == 2 and "check the key" in err
    code, out, err = run(
        capsys,
        "peer",
        "add",
        "bravo",
        "http://127.0.0.1:8471",
        "--key",
        key,
        "--fingerprint",
        shown,
    )
    assert code == 0 and out.strip().startswith("accord_") and "Give its operator" in err
    code, _, err = run(
        capsys,
        "peer",
        "add",
        "again",
        "http://127.0.0.1:8472",
        "--key",
        key,
        "--fingerprint",
        shown,
    )
    assert code == 6 and "already registered" in err
    code, _, err = run(capsys, "peer", "add", "x", "ftp://nowhere", "--key", key)
    assert code == 2 and "http(s) URL" in err
    code, _, err = run(capsys, "peer", "add", "x", "http://127.0.0.1:1", "--key", "short")
    assert code == 2 and "public key" in err
    code, _, err = run(capsys, "sync", "bravo")
    assert code == 7 and "no token for bravo" in err
    assert run(capsys, "peer", "token", "bravo", "accord_abc")[0] == 0
    code, out, _ = run(capsys, "peer", "status")
    assert code == 0 and "bravo" in out and "never" in out and shown in out
    assert "audit log         not witnessed yet" in out  # heads are exchanged at each sync

    node = Node.open(Settings(_env_file=None))  # type: ignore[call-arg]
    node.accounts.add_org(None, "alpha-cert", "national-cert", "SG")
    admin = node.accounts.create_token(None, "alpha-cert", "admin", "t", None).plaintext
    analyst = node.accounts.create_token(None, "alpha-cert", "analyst", "t", None).plaintext
    with Client(create_app(node=node)) as client:
        peers = client.get("/api/v1/peers", headers={"Authorization": f"Bearer {admin}"}).json()
        assert [p["name"] for p in peers] == ["bravo"] and peers[0]["has_token"] is True
        assert peers[0]["witness"] == "not witnessed yet"
        assert "accord_abc" not in str(peers)
        denied = client.get("/api/v1/peers", headers={"Authorization": f"Bearer {analyst}"})
        assert denied.status_code == 403
