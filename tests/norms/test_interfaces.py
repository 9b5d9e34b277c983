"""The norms API and CLI: problem+json naming the field, one-line CLI errors, exports."""

from __future__ import annotations

import re
from pathlib import Path

import orjson
import pytest

from accord.app import create_app
from accord.node import Node
from accord.norms.capability import NORMS
from tests.asgi import Client
from tests.builders import org, principal
from tests.cli_runner import run


def _auth(node: Node, name: str, role: str = "analyst") -> dict[str, str]:
    token = node.accounts.create_token(None, name, role, "test", None).plaintext
    return {"Authorization": f"Bearer {token}"}


def test_the_api_refuses_bad_input_with_problems_naming_the_field(sqlite_node: Node) -> None:
    node = sqlite_node
    org(node, "SingCERT", state="SG")
    org(node, "MyCERT", state="MY")
    sg, my = _auth(node, "SingCERT"), _auth(node, "MyCERT")
    with Client(create_app(node=node)) as client:
        assert (
            client.post("/api/v1/norms/versions", json={"org": "MyCERT"}, headers=sg).status_code
            == 403
        )
        v = client.post("/api/v1/norms/versions", json={}, headers=sg).json()
        base = f"/api/v1/norms/versions/{v['id']}"
        r = client.request("PUT", f"{base}/answers/z", json={"measures": "x"}, headers=sg)
        assert r.status_code == 400 and r.headers["content-type"] == "application/problem+json"
        assert r.json()["problems"][0]["field"] == "item"
        r = client.request(
            "PUT",
            f"{base}/answers/a",
            json={"measures": "x", "tlp": "TLP:RED", "scope": "public"},
            headers=sg,
        )
        assert r.status_code == 400
        assert client.request(
            "PUT", f"{base}/answers/a", json={"measures": "x\u0000"}, headers=sg
        ).status_code in (400, 422)
        assert (
            client.request(
                "PUT", f"{base}/answers/a", json={"measures": "x"}, headers=my
            ).status_code
            == 404
        )
        ok = client.request(
            "PUT",
            f"{base}/answers/a",
            json={"measures": "=cmd <script>", "tlp": "TLP:CLEAR", "scope": "public"},
            headers=sg,
        )
        assert ok.status_code == 200
        assert (
            client.post(f"{base}/publish", json={"target": "nowhere"}, headers=sg).status_code
            == 400
        )
        assert (
            client.post(f"{base}/publish", json={"target": "public"}, headers=sg).status_code == 200
        )
        assert (
            client.request(
                "PUT", f"{base}/answers/b", json={"measures": "x"}, headers=sg
            ).status_code
            == 409
        )
        assert client.get(f"{base}", headers=sg).json()["version"]["status"] == "published"
        assert (
            client.get("/api/v1/norms/compare?states=SG&states=MY&states=TH&states=ID").status_code
            == 400
        )
        assert client.get("/api/v1/norms/reports/S1").status_code == 400
        assert client.get("/api/v1/norms/matrix?group=nope", headers=sg).status_code == 404
        report = client.get("/api/v1/norms/reports/SG").json()
        assert [a["item"] for a in report["answers"]] == ["a"]
        html = client.get("/api/v1/norms/reports/SG/html").text
        assert "&lt;script&gt;" in html and "<script>" not in html
        pdf = client.get("/api/v1/norms/reports/SG/pdf")
        assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF-")
        csv = client.get("/api/v1/norms/matrix.csv").text
        assert csv.splitlines()[0].startswith("state,a,b") and "SG,reported" in csv
        assert client.get("/api/v1/norms/reports/SG/trend").json() == [{"version": 1, "answers": 1}]
        compared = client.get("/api/v1/norms/compare?states=SG&states=MY").json()
        assert [c["state"] for c in compared] == ["SG", "MY"]
        assert len(client.get("/api/v1/norms/framework").json()["norms"]) == 11


@pytest.fixture
def database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ACCORD_DATABASE_URL", f"sqlite:///{tmp_path}/cli.db")
    monkeypatch.chdir(tmp_path)


@pytest.mark.usefixtures("database")
def test_the_cli_drafts_publishes_and_exports(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    assert run(capsys, "org", "add", "SingCERT", "--kind", "national-cert", "--state", "SG")[0] == 0
    code, out, _ = run(capsys, "norms", "draft", "--org", "SingCERT")
    assert code == 0 and "id 1" in out
    code, _, err = run(capsys, "norms", "answer", "--org", "SingCERT", "1", "q")
    assert code != 0 and err.startswith("error:") and "unknown item" in err
    args = ["--measures", "A <national> strategy", "--tlp", "TLP:CLEAR", "--scope", "public"]
    assert run(capsys, "norms", "answer", "--org", "SingCERT", "1", "h", *args)[0] == 0
    assert run(capsys, "norms", "publish", "--org", "SingCERT", "1", "--target", "public")[0] == 0
    code, _, err = run(capsys, "norms", "answer", "--org", "SingCERT", "1", "a")
    assert code != 0 and "published" in err
    code, out, _ = run(capsys, "norms", "show", "SG")
    assert code == 0 and orjson.loads(out)["answers"]["h"]["measures"] == "A <national> strategy"
    assert run(capsys, "norms", "show", "SG", "--format", "pdf", "--out", "sg.pdf")[0] == 0
    assert (tmp_path / "sg.pdf").read_bytes().startswith(b"%PDF-")
    code, out, _ = run(capsys, "norms", "matrix", "--format", "csv")
    assert code == 0 and "SG,none" in out.replace("\n", "") or "SG," in out
    code, out, _ = run(capsys, "norms", "matrix", "--format", "svg")
    assert "<svg" in out and "SG, norm (h): Reported" in out
    code, out, _ = run(capsys, "norms", "compare", "SG", "MY", "TH", "ID")
    assert code != 0
    code, out, _ = run(capsys, "norms", "trend", "SG")
    assert code == 0 and orjson.loads(out) == [{"version": 1, "answers": 1}]
    code, out, _ = run(capsys, "norms", "evidence", "SG")
    assert code == 0 and orjson.loads(out)["requests_received"] == 0

    code, out, _ = run(
        capsys, "norms", "assess", "--org", "SingCERT", "cmm", "--score", "D1=2", "--target", "4"
    )
    assert code == 0 and "D1: 2" in out
    code, _, err = run(
        capsys, "norms", "assess", "--org", "SingCERT", "cmm", "--score", "D1=9", "--target", "4"
    )
    assert code != 0 and "stage is 1 to 5" in err
    code, out, _ = run(capsys, "norms", "assessments", "SG", "--org", "SingCERT", "--format", "svg")
    assert code == 0 and "<svg" in out
    code, out, _ = run(
        capsys,
        "norms",
        "post",
        "--org",
        "SingCERT",
        "offer",
        "--kind",
        "training",
        "--title",
        "Course",
        "--tag",
        "D1",
    )
    assert code == 0 and "x-accord-capacity-offer--" in out
    code, out, _ = run(capsys, "norms", "matches", "--org", "SingCERT")
    assert code == 0 and orjson.loads(out) == []


PASSWORD = "a long enough password"


def _console(client: Client, username: str) -> str:
    """Sign ``username`` in to the console; the session's CSRF token."""
    token = re.search(r'name="csrf" value="([^"]+)"', client.get("/signin").text)
    assert token
    signed = client.post(
        "/signin",
        data={
            "csrf": token.group(1),
            "method": "password",
            "username": username,
            "password": PASSWORD,
            "next": "/norms/training",
        },
    )
    assert signed.status_code == 303
    again = re.search(r'name="csrf" value="([^"]+)"', client.get("/norms/training").text)
    assert again
    return again.group(1)


def test_the_training_page_refuses_a_bad_participants_count_and_stores_nothing(
    node: Node,
) -> None:
    sg = org(node, "SingCERT", state="SG")
    node.accounts.add_user(None, "analyst", "SingCERT", "analyst", PASSWORD)
    training = NORMS.service(node).training
    assert training is not None
    reader = principal(node, sg)
    with Client(create_app(node=node)) as client:
        csrf = _console(client, "analyst")
        made = client.post(
            "/norms/training/courses",
            data={"csrf": csrf, "title": "Incident <handling>", "format": "course", "tags": "D3"},
        )
        assert made.status_code == 303, made.text
        listed = client.get("/norms/training").text
        assert "Incident &lt;handling&gt;" in listed
        course = re.search(r'<option value="(x-accord-training-course--[^"]+)"', listed)
        assert course
        for bad in ("many", "-3", "1e3", "9" * 5000, "\u0663", "", "0", "10001"):
            refused = client.post(
                "/norms/training/enrolments",
                data={"csrf": csrf, "course": course.group(1), "participants": bad},
            )
            assert refused.status_code == 400, (bad, refused.text)
            assert "<strong>participants</strong>" in refused.text
        assert training.enrolments(reader) == [] and training.figures(reader) == []
        enrolled = client.post(
            "/norms/training/enrolments",
            data={"csrf": csrf, "course": course.group(1), "participants": "12"},
        )
        assert enrolled.status_code == 303
        [record] = training.enrolments(reader)
        over = client.post(
            "/norms/training/completions",
            data={"csrf": csrf, "enrolment": record.stix_id, "completed": "13"},
        )
        assert over.status_code == 400 and "<strong>completed</strong>" in over.text
        done = client.post(
            "/norms/training/completions",
            data={"csrf": csrf, "enrolment": record.stix_id, "completed": "9"},
        )
        assert done.status_code == 303
        [figures] = training.figures(reader)
        assert (figures.state, figures.enrolments, figures.completions) == ("SG", 1, 1)
        assert (figures.participants, figures.completed_participants) == (12, 9)
