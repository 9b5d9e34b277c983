"""The audit log on both stores: what is recorded, proofs, tampering, erasure, witnessing."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import delete, update

from accord.app import create_app
from accord.audit.capability import AUDIT
from accord.audit.merkle import leaf_hash, verify_consistency, verify_inclusion
from accord.audit.service import AuditLog
from accord.domain.audit import Event
from accord.domain.tlp import TLP
from accord.errors import NotAuthenticated, NotFound
from accord.exchange.service import ShareRequest
from accord.federation.keys import verify
from accord.node import Node
from accord.store.audit import audit_entries, audit_nodes
from accord.store.db import write
from tests.asgi import Client
from tests.audit.tamper import rebuild
from tests.builders import indicator, org, principal
from tests.cli_runner import run


def _bundle(objects: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "type": "bundle",
        "id": "bundle--5d6c8b4e-0e8b-4b8a-9d4f-9e2b1c3d4e5f",
        "objects": objects,
    }


def _activity(node: Node) -> list[dict[str, Any]]:
    cert = org(node, "SingCERT")
    node.accounts.add_user(None, "ana@cert.sg", "SingCERT", "analyst", "correct horse battery")
    analyst = principal(node, cert)
    objs = [indicator(f"10.0.0.{i}", tlp=TLP.AMBER) for i in range(5)]
    node.exchange.ingest(analyst, _bundle(objs))
    node.exchange.get(analyst, objs[0]["id"])
    with pytest.raises(NotFound):
        node.exchange.get(principal(node, org(node, "Other")), objs[1]["id"])
    node.exchange.reshare(analyst, objs[2]["id"], ShareRequest(tlp=TLP.RED))
    node.exchange.delete_versions(analyst, objs[3]["id"], ())
    with pytest.raises(NotAuthenticated):
        node.accounts.login("ana@cert.sg", "wrong password here", "127.0.0.1")
    node.accounts.login("ana@cert.sg", "correct horse battery", "127.0.0.1")
    return objs


def log_of(node: Node) -> AuditLog:
    return AUDIT.service(node)


def test_acts_are_recorded_proved_and_verified(node: Node) -> None:
    objs = _activity(node)
    log = log_of(node)
    entries = list(reversed(log.entries(None, 100)))
    acts = [(e.action, e.decision, e.object_ref) for e in entries]
    assert ("store", "allowed", objs[0]["id"]) in acts
    assert ("read", "allowed", objs[0]["id"]) in acts
    assert ("read", "not-found", objs[1]["id"]) in acts
    assert ("share", "allowed", objs[2]["id"]) in acts
    assert ("delete", "allowed", objs[3]["id"]) in acts
    assert [a[:2] for a in acts if a[0] == "sign-in"] == [
        ("sign-in", "refused"),
        ("sign-in", "allowed"),
    ]
    assert sum(a[0] == "admin" for a in acts) == 3  # two organisations and a user
    assert [e.seq for e in entries] == list(range(len(entries)))

    first = log.head()
    proof = log.prove(7)
    head = proof["head"]
    assert leaf_hash(bytes.fromhex(proof["leaf_data"])).hex() == proof["leaf_hash"]
    path = [bytes.fromhex(p) for p in proof["audit_path"]]
    root = bytes.fromhex(head["root"])
    assert verify_inclusion(7, head["size"], bytes.fromhex(proof["leaf_hash"]), path, root)
    key = base64.b64decode(head["public_key"])
    assert verify(key, head["signature"], proof["head_message"].encode())

    node.exchange.page(principal(node, org(node, "Third")), _query())
    second = log.head()
    assert second.size > first.size
    cproof = log.consistency(first.size, second.size)
    assert verify_consistency(first.size, second.size, first.root, second.root, cproof)
    report = log.verify()
    assert report.problem is None and report.entries == second.size and report.heads == 2


def _query() -> Any:
    from accord.store.objects import ObjectQuery

    return ObjectQuery(limit=50)


def test_a_tampered_entry_is_named(node: Node) -> None:
    _activity(node)
    log = log_of(node)
    log.head()
    with write(node.engine) as conn:  # someone edits the table behind the node's back
        conn.execute(update(audit_entries).where(audit_entries.c.seq == 4).values(actor="nobody"))
    problem = log.verify().problem
    assert problem is not None and problem.seq == 4 and "commitment" in problem.reason
    with write(node.engine) as conn:  # and rewrites its leaf to match, and the decision
        e = log.entries(5, 1)[0]
        conn.execute(
            update(audit_entries).where(audit_entries.c.seq == 4).values(actor=None, salt=None)
        )
        conn.execute(
            update(audit_entries).where(audit_entries.c.seq == 2).values(decision="refused")
        )
    problem = log.verify().problem
    assert problem is not None and problem.seq == 2 and "stored leaf" in problem.reason
    assert e.seq == 4


def test_a_rewritten_history_breaks_the_signed_head(node: Node) -> None:
    _activity(node)
    log = log_of(node)
    signed = log.head()
    with write(node.engine) as conn:  # the whole tail rewritten, leaves and all
        conn.execute(delete(audit_entries).where(audit_entries.c.seq >= 3))
        conn.execute(delete(audit_nodes))
    rebuild(log, node, signed.size)
    problem = log.verify().problem
    assert problem is not None and f"head signed at size {signed.size}" in problem.reason


def test_erasure_forgets_personal_fields_and_the_chain_still_verifies(node: Node) -> None:
    objs = _activity(node)
    log = log_of(node)
    before = log.head()
    assert log.forget(objs[0]["id"]) >= 2  # its store and its read
    erased = [e for e in log.entries(None, 100) if e.salt is None]
    assert erased and all(e.actor is None and e.object_ref is None for e in erased)
    report = log.verify()
    assert report.problem is None and report.erased == len(erased)
    assert log.head().root == before.root


def test_cli_verify_and_prove(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any) -> None:
    monkeypatch.setenv("ACCORD_DATABASE_URL", f"sqlite:///{tmp_path}/cli.db")
    code, _, _ = run(capsys, "org", "add", "SingCERT", "--kind", "national-cert", "--state", "SG")
    assert code == 0
    code, out, _ = run(capsys, "audit", "verify")
    assert code == 0 and "audit log intact: 1 entries" in out
    code, out, err = run(capsys, "audit", "prove", "0")
    assert code == 0 and '"audit_path"' in out and "RFC 9162" in err
    code, _, err = run(capsys, "audit", "prove", "99")
    assert code != 0 and "no audit entry 99" in err and len(err.strip().splitlines()) == 1
    node = Node.open(_settings(tmp_path))
    try:
        with write(node.engine) as conn:
            conn.execute(update(audit_entries).values(detail="tampered"))
    finally:
        node.close()
    code, out, err = run(capsys, "audit", "verify")
    assert code == 1, out + err
    assert err.strip() == (
        "audit log tampered: entry 0: its recorded fields do not match its commitment"
    )


def _settings(tmp_path: Path) -> Any:
    from accord.settings import Settings

    return Settings(database_url=f"sqlite:///{tmp_path}/cli.db", _env_file=None)  # type: ignore[call-arg]


@pytest.fixture
def api(node: Node) -> Iterator[tuple[Client, dict[str, str], dict[str, str]]]:
    org(node, "SingCERT")
    admin = node.accounts.create_token(None, "SingCERT", "admin", "a", None).plaintext
    other = node.accounts.create_token(None, "SingCERT", "analyst", "b", None).plaintext
    with Client(create_app(node=node)) as http:
        yield http, {"Authorization": f"Bearer {admin}"}, {"Authorization": f"Bearer {other}"}


def test_api_heads_proofs_and_refusals(api: tuple[Client, dict[str, str], dict[str, str]]) -> None:
    http, admin, analyst = api
    head = http.request("GET", "/api/v1/audit/head").json()
    assert head["size"] >= 2 and head["consistency"] == []
    later = http.request("GET", "/api/v1/audit/head", params={"from": 1}).json()
    proof = [bytes.fromhex(p) for p in later["consistency"]]
    first = log_of_root(http, admin)
    assert verify_consistency(1, later["size"], first, bytes.fromhex(later["root"]), proof)
    too_far = http.request("GET", "/api/v1/audit/head", params={"from": 10**9})
    assert too_far.status_code == 400 and "'from'" in too_far.json()["detail"]
    missing = http.request("GET", "/api/v1/audit/entries/424242/proof", headers=admin)
    assert missing.status_code == 404
    assert missing.headers["content-type"].startswith("application/problem+json")
    assert "no audit entry 424242" in missing.json()["detail"]
    assert http.request("GET", "/api/v1/audit/entries/0/proof", headers=analyst).status_code == 403
    ok = http.request("GET", "/api/v1/audit/entries/0/proof", headers=admin)
    assert ok.status_code == 200 and ok.json()["leaf_index"] == 0
    listed = http.request("GET", "/api/v1/audit/entries", headers=admin).json()
    assert listed[0]["seq"] > listed[-1]["seq"]


def log_of_root(http: Client, admin: dict[str, str]) -> bytes:
    """The root of the one-entry tree is that entry's leaf hash (RFC 9162)."""
    proof = http.request("GET", "/api/v1/audit/entries/0/proof", headers=admin).json()
    return bytes.fromhex(proof["leaf_hash"])


def test_a_witness_notices_a_fork(node: Node, sqlite_node: Node) -> None:
    watched, witness = log_of(node), log_of(sqlite_node)
    watched.record([Event("a", "read") for _ in range(5)])
    key = node.key.public_raw

    def fetch(since: int) -> dict[str, Any]:
        head = watched.head()
        return {**head.public(), "consistency": [p.hex() for p in watched.consistency(since)]}

    assert witness.witness("peer-a", key, fetch).state == "ok"
    watched.record([Event("b", "read") for _ in range(3)])
    seen = witness.witness("peer-a", key, fetch)
    assert seen.state == "ok" and seen.size == watched.size()
    with write(node.engine) as conn:  # the watched node rewrites entry 6 and re-signs
        conn.execute(delete(audit_entries).where(audit_entries.c.seq >= 6))
        conn.execute(delete(audit_nodes))
    rebuild(watched, node, 4)
    forked = witness.witness("peer-a", key, fetch)
    assert forked.state == "forked" and "forked" in (forked.problem or "")
    assert [e.decision for e in witness.entries(None, 1)] == ["fork"]
    forged = witness.witness("peer-b", key, lambda since: {**fetch(since), "root": "00" * 32})
    assert forged.state == "forked" and "signature" in (forged.problem or "")


def test_the_console_page_lists_entries_for_admins(node: Node) -> None:
    from tests.web.test_pages import PASSWORD, _sign_in

    org(node, "SingCERT")
    node.accounts.add_user(None, "admin", "SingCERT", "admin", PASSWORD)
    node.accounts.add_user(None, "ana", "SingCERT", "analyst", PASSWORD)
    with Client(create_app(node=node)) as admin:
        _sign_in(admin, "admin")
        shown = admin.get("/audit")
        assert shown.status_code == 200
        assert "Audit log" in shown.text and "sign-in" in shown.text
        assert 'href="/audit"' in admin.get("/").text
    with Client(create_app(node=node)) as analyst:
        _sign_in(analyst, "ana")
        assert analyst.get("/audit").status_code == 403


def test_an_erased_object_is_forgotten_by_the_audit_trail(node: Node) -> None:
    """Privacy's erasure and retention delete through ``Exchange.erase``: the log records
    the erasure, forgets what named the object, and still verifies."""
    objs = _activity(node)
    log = log_of(node)
    assert node.exchange.erase(objs[0]["id"])
    naming = [e for e in log.entries(None, 1000) if e.object_ref == objs[0]["id"]]
    assert naming == []
    assert [e for e in log.entries(None, 1000) if e.action == "erase" and e.salt is None]
    assert log.verify().problem is None


def test_reads_of_coordination_records_are_recorded(node: Node) -> None:
    from datetime import timedelta

    from accord.coordinate.contacts import ContactInput
    from accord.coordinate.requests import RequestDraft
    from accord.domain.model import Role

    sg, my = org(node, "SingCERT"), org(node, "MyCERT", state="MY")
    coordination = node.coordination
    desk = ContactInput(kind="technical", name="Desk", email="d@example.org", languages=("en",))
    contact = coordination.directory.add(None, "MyCERT", desk)
    reader = principal(node, sg, Role.READER)
    coordination.directory.get(reader, contact.id)
    coordination.directory.search(reader, states=["MY"])
    with pytest.raises(NotFound):
        coordination.directory.get(reader, 424242)
    check = coordination.checks.start(
        None, "ping", node.clock() + timedelta(hours=1), organiser=sg.id
    )
    coordination.checks.results(principal(node, sg, Role.ADMIN), check.id)
    coordination.checks.show(check.targets[0].token)
    draft = RequestDraft(
        kind="assistance",
        title="Grid under attack",
        recipients=("MyCERT",),
        urgency="critical",
        incident_category="availability/ddos",
        sector="energy",
        asks=("mitigation",),
    )
    (request,) = coordination.requests.create(principal(node, sg, Role.LIAISON), draft)
    recipient = principal(node, my, Role.LIAISON)
    coordination.requests.get(recipient, request.id)
    coordination.requests.box(recipient, "inbox", None, None, 10)
    coordination.requests.messages(recipient, request.id)
    with pytest.raises(NotFound):
        coordination.requests.get(principal(node, org(node, "ThaiCERT", state="TH")), request.id)

    acts = {(e.action, e.decision, e.object_ref) for e in log_of(node).entries(None, 200)}
    assert {
        ("read", "allowed", f"contact:{contact.id}"),
        ("read", "not-found", "contact:424242"),
        ("read", "allowed", f"check:{check.id}"),
        ("read", "allowed", f"request:{request.id}"),
        ("read-messages", "allowed", f"request:{request.id}"),
        ("read", "not-found", f"request:{request.id}"),
    } <= acts
    link = [e for e in log_of(node).entries(None, 200) if e.actor == "check-link"]
    assert [e.object_ref for e in link] == [f"check:{check.id}"]
    assert log_of(node).verify().problem is None
