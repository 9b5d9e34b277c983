"""``accord hash`` and the hash-list API: files hashed here, hashes matched, bad input refused."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import orjson
import pytest
from PIL import Image

from accord.app import create_app
from accord.hashlists.signals import SignalError, hash_file
from accord.node import Node
from tests.asgi import Client
from tests.builders import org, principal
from tests.test_cli import run


def _image(path: Path, seed: int) -> Path:
    rng = np.random.default_rng(seed)
    pixels = (rng.random((64, 64, 3)) * 255).astype(np.uint8)
    big = Image.fromarray(pixels).resize((256, 256), Image.Resampling.BILINEAR)
    big.save(path)
    return path


@pytest.fixture
def files(tmp_path: Path) -> Path:
    folder = tmp_path / "content"
    folder.mkdir()
    _image(folder / "a.png", 1)
    (folder / "notes.txt").write_text("not an image")
    return folder


def test_cli_hashes_adds_matches_and_refuses_bad_files(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, files: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ACCORD_DATABASE_URL", f"sqlite:///{tmp_path}/cli.db")
    run(capsys, "org", "add", "SingCERT", "--kind", "national-cert", "--state", "SG")
    run(capsys, "org", "add", "MyCERT", "--kind", "national-cert", "--state", "MY")
    code, out, err = run(
        capsys, "hash", "create", "TVEC", "--org", "SingCERT", "--criterion", "tvec=UN listed",
        "--tlp", "green",
    )  # fmt: skip
    assert code == 0, err
    list_id = out.strip()
    code, out, err = run(
        capsys, "hash", "add", list_id, str(files / "a.png"), "--org", "SingCERT",
        "--criterion", "tvec", "--labels", '{"content_type": "image"}',
    )  # fmt: skip
    assert (code, out.strip()) == (0, "3 entries added"), err
    # the same picture re-encoded as JPEG: MD5/SHA-256 differ, PDQ is near
    Image.open(files / "a.png").convert("RGB").save(files / "b.jpg", quality=85)
    code, out, err = run(capsys, "hash", "match", str(files), "--org", "MyCERT")
    assert code == 0, err
    hits = [orjson.loads(line) for line in out.splitlines()]
    by_path = {(Path(h["path"]).name, h["signal"]) for h in hits}
    assert ("a.png", "md5") in by_path and ("a.png", "pdq") in by_path
    assert ("b.jpg", "pdq") in by_path and ("b.jpg", "md5") not in by_path
    assert all(h["labels"] == {"content_type": "image"} for h in hits)
    (files / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 64)
    code, out, err = run(capsys, "hash", "match", str(files / "broken.png"), "--org", "MyCERT")
    assert code != 0 and out == "" and len(err.strip().splitlines()) == 1
    code, _, err = run(capsys, "hash", "match", str(tmp_path / "absent"), "--org", "MyCERT")
    assert code != 0 and "no such file" in err
    code, _, err = run(
        capsys, "hash", "disable", "indicator--nope", "--org", "SingCERT", "--reason", "x"
    )
    assert code != 0 and len(err.strip().splitlines()) == 1


def test_hashing_streams_and_never_needs_the_file_whole(tmp_path: Path) -> None:
    big = tmp_path / "big.bin"
    with big.open("wb") as f:
        f.truncate(64 * 1024 * 1024)  # sparse: 64 MiB of zeros, read 1 MiB at a time
    md5, sha = hash_file(big)
    assert md5.signal == "md5" and len(md5.value) == 32
    assert sha.signal == "sha256" and len(sha.value) == 64
    with pytest.raises(SignalError):
        hash_file(tmp_path / "nothing")


def test_api_matches_hashes_and_refuses_malformed_ones(node: Node) -> None:
    org(node, "SingCERT")
    org(node, "MyCERT", state="MY")
    sg = node.accounts.create_token(None, "SingCERT", "analyst", "t", None).plaintext
    my = node.accounts.create_token(None, "MyCERT", "analyst", "t", None).plaintext
    md5 = "0cc175b9c0f1b6a831c399e269772661"
    with Client(create_app(node=node)) as client:
        owner = {"Authorization": f"Bearer {sg}"}
        other = {"Authorization": f"Bearer {my}"}
        made = client.post(
            "/api/v1/hashlists",
            json={"name": "L", "criteria": [{"id": "c1", "text": "t"}], "tlp": "green"},
            headers=owner,
        )
        assert made.status_code == 201, made.text
        list_id = made.json()["id"]
        added = client.post(
            f"/api/v1/hashlists/{list_id}/entries",
            json={"entries": [{"signal": "md5", "value": md5, "criterion": "c1"}]},
            headers=owner,
        )
        assert added.status_code == 201, added.text
        (entry,) = added.json()["ids"]
        got = client.post(
            "/api/v1/hashes/match",
            json={"hashes": [{"signal": "md5", "value": md5}], "sightings": True},
            headers=other,
        )
        assert got.status_code == 200, got.text
        (hit,) = got.json()["hits"]
        assert (hit["entry"], hit["list_id"], hit["state"]) == (entry, list_id, "positive")
        assert hit["sighting"].startswith("sighting--")
        assert node.exchange.sightings_of(principal(node, node.orgs.find("SingCERT")), entry)
        bad = client.post(
            "/api/v1/hashes/match",
            json={"hashes": [{"signal": "pdq", "value": "ab" * 31 + "zz"}]},
            headers=other,
        )
        assert bad.status_code == 400
        assert bad.headers["content-type"].startswith("application/problem+json")
        assert "hashes[0].value" in bad.text
        low = client.post(
            "/api/v1/hashes/match",
            json={"hashes": [{"signal": "pdq", "value": "ab" * 32, "quality": 10}]},
            headers=other,
        )
        assert low.status_code == 400 and "quality" in low.text
        unknown = client.post(
            "/api/v1/hashlists/x-accord-hash-list--00000000-0000-4000-8000-000000000000/entries",
            json={"entries": [{"signal": "md5", "value": md5, "criterion": "c1"}]},
            headers=owner,
        )
        assert unknown.status_code == 404
        report = client.get(f"/api/v1/hashlists/{list_id}/report", headers=owner)
        assert report.status_code == 200 and report.json()["matches"]["total"] == 1
        assert (
            client.get(f"/api/v1/hashlists/entries/{entry}", headers=other).json()["held"] is False
        )


def test_cli_grants_revokes_and_looks_up_without_export(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ACCORD_DATABASE_URL", f"sqlite:///{tmp_path}/cli.db")
    run(capsys, "org", "add", "SingCERT", "--kind", "national-cert", "--state", "SG")
    run(capsys, "org", "add", "ThaiCERT", "--kind", "national-cert", "--state", "TH")
    code, out, err = run(
        capsys, "hash", "create", "secret", "--org", "SingCERT", "--criterion", "c1=t",
        "--tlp", "red", "--scope", "organisation",
    )  # fmt: skip
    assert code == 0, err
    list_id = out.strip()
    md5 = "0cc175b9c0f1b6a831c399e269772661"
    (tmp_path / "a.txt").write_bytes(b"a")  # whose MD5 is md5
    code, _, err = run(
        capsys, "hash", "add", list_id, str(tmp_path / "a.txt"), "--org", "SingCERT",
        "--criterion", "c1", "--labels", '{"content_type": "text"}',
    )  # fmt: skip
    assert code == 0, err
    ask = ("hash", "lookup", list_id, f"md5:{md5}", f"md5:{'0' * 32}", "--org", "ThaiCERT")
    code, out, err = run(capsys, *ask)
    assert code == 5 and out == "" and len(err.strip().splitlines()) == 1, err
    code, out, err = run(capsys, "hash", "grant", list_id, "--org", "SingCERT", "--to", "ThaiCERT")
    assert code == 0, err
    code, out, err = run(capsys, *ask)
    assert code == 0, err
    lines = [orjson.loads(line) for line in out.splitlines()]
    assert [(x["hit"], x["labels"]) for x in lines] == [
        (True, [{"content_type": "text"}]),
        (False, []),
    ]
    # Bad input: one line, non-zero, nothing looked up.
    for argv, expected in [
        (("hash", "lookup", list_id, "md5", "--org", "ThaiCERT"), "SIGNAL:VALUE"),
        (("hash", "lookup", list_id, "pdq:ab:x", "--org", "ThaiCERT"), "quality"),
        (("hash", "lookup", list_id, "md5:zz", "--org", "ThaiCERT"), "hashes[0].value"),
        (("hash", "lookup", list_id, f"md5:{md5}", "--org", "ThaiCERT", "--node", "nope"), "node"),
        (("hash", "grant", list_id, "--org", "SingCERT"), "--to ORGANISATION or --node"),
        (("hash", "grant", list_id, "--org", "SingCERT", "--node", "f" * 32), "no peer node"),
    ]:
        code, out, err = run(capsys, *argv)
        assert code != 0 and out == "" and expected in err.splitlines()[0], (argv, err)
    code, _, err = run(capsys, "hash", "revoke", list_id, "--org", "SingCERT", "--to", "ThaiCERT")
    assert code == 0, err
    code, _, err = run(capsys, *ask)
    assert code == 5, err
