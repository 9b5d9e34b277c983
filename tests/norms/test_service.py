"""Norms reports: drafting, publishing under each answer's marking, reading through the
gate, evidence from the node's records, and the refusals."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import orjson
import pytest
from stix2validator import ValidationOptions, validate_instance

from accord.coordinate.requests import RequestDraft
from accord.coordinate.workflow import Action
from accord.domain.model import ANONYMOUS, Principal
from accord.errors import Conflict, Forbidden, InvalidInput, NotFound
from accord.node import Node
from accord.norms.capability import NORMS
from accord.norms.framework import load
from accord.norms.service import AnswerInput, NormsService
from accord.norms.stix import TYPES
from accord.store.objects import ObjectQuery
from tests.builders import org, principal
from tests.conftest import Clock

MARKINGS = {
    "a": ("TLP:CLEAR", "public"),
    "h": ("TLP:GREEN", "community"),
    "c": ("TLP:AMBER", "group"),
    "k": ("TLP:RED", "organisation"),
}


def test_the_framework_ships_the_eleven_norms_with_their_sources() -> None:
    f = load()
    assert [n.code for n in f.norms] == list("abcdefghijk")
    assert all(n.source.startswith("http") and n.text.endswith(".") for n in f.norms)
    assert f.norm("a").text.startswith("Consistent with the purposes of the United Nations")
    assert [p.number for p in f.parts] == ["I", "II", "III", "IV"]
    assert f.stages[0] == "start-up" and len(f.dimensions) == 5 and len(f.pillars) == 5
    with pytest.raises(InvalidInput, match="unknown dimension"):
        f.check_dimension("D9")
    with pytest.raises(InvalidInput, match="stage is 1 to 5"):
        f.check_stage(6)


def _world(node: Node) -> tuple[NormsService, dict[str, Principal]]:
    sg, my = org(node, "SingCERT", state="SG"), org(node, "MyCERT", state="MY")
    th = org(node, "ThaiCERT", state="TH")
    node.accounts.add_group(None, "asean", "ASEAN CERTs")
    for member in ("SingCERT", "MyCERT"):
        node.accounts.set_member(None, "asean", member, True)
    people = {o.name: principal(node, o) for o in (sg, my, th)}
    return NORMS.service(node), people


def _publish(service: NormsService, sg: Principal) -> int:
    version = service.start_draft(sg)
    for item, (tlp, scope) in MARKINGS.items():
        service.answer(
            sg,
            version.id,
            AnswerInput(item, f"measures for <{item}>", "gaps & more", ("Act 2024",), tlp, scope),
        )
    service.publish(sg, version.id, "public", group="asean")
    return version.id


def test_a_published_report_reads_answer_by_answer_through_the_gate(node: Node) -> None:
    service, p = _world(node)
    _publish(service, p["SingCERT"])
    seen = {
        who: service.published(reader).get("SG")
        for who, reader in (*p.items(), ("public", ANONYMOUS))
    }
    answered = {who: (r.answered() if r else set()) for who, r in seen.items()}
    assert answered == {
        "SingCERT": {"a", "h", "c", "k"},
        "MyCERT": {"a", "h", "c"},  # in the group
        "ThaiCERT": {"a", "h"},
        "public": {"a"},
    }
    # Every stored object is valid STIX 2.1 by the OASIS validator.
    rows = node.exchange.page(p["SingCERT"], ObjectQuery(types=TYPES, limit=50)).rows
    assert len(rows) == 5
    for row in rows:
        assert validate_instance(orjson.loads(row.doc), ValidationOptions(version="2.1")).is_valid
    matrix = service.matrix(p["ThaiCERT"], ["SG", "TH"])
    assert matrix.cells[("SG", "a")] == "reported" and matrix.cells[("SG", "c")] == "none"
    assert matrix.cells[("TH", "a")] == "none"
    assert service.trend(p["MyCERT"], "SG") == [(1, 3)]


def test_versions_carry_answers_and_published_ones_never_change(node: Node) -> None:
    service, p = _world(node)
    sg = p["SingCERT"]
    first = _publish(service, sg)
    with pytest.raises(Conflict):
        service.answer(sg, first, AnswerInput("b", "late"))
    with pytest.raises(Conflict):
        service.publish(sg, first, "public", group="asean")
    second = service.start_draft(sg)
    assert second.number == 2
    with pytest.raises(Conflict, match="still a draft"):
        service.start_draft(sg)
    assert {a.item for a in service.draft(sg, second.id).answers} == set(MARKINGS)
    service.answer(sg, second.id, AnswerInput("b", "new", tlp="TLP:CLEAR", scope="public"))
    service.publish(sg, second.id, "federation", group="asean")
    assert service.trend(p["ThaiCERT"], "SG") == [(1, 2), (2, 3)]


def test_bad_input_is_refused_and_nothing_is_written(node: Node) -> None:
    service, p = _world(node)
    sg, my = p["SingCERT"], p["MyCERT"]
    with pytest.raises(Forbidden, match="own members"):
        service.start_draft(sg, "MyCERT")
    version = service.start_draft(sg)
    with pytest.raises(NotFound):
        service.answer(my, version.id, AnswerInput("a", "not mine"))
    with pytest.raises(InvalidInput, match="unknown item"):
        service.answer(sg, version.id, AnswerInput("z", "x"))
    with pytest.raises(InvalidInput, match="does not allow"):
        service.answer(sg, version.id, AnswerInput("a", "x", tlp="TLP:RED", scope="public"))
    with pytest.raises(InvalidInput):
        service.answer(sg, version.id, AnswerInput("a", "x\x00"))
    with pytest.raises(InvalidInput, match="at least one answer"):
        service.publish(sg, version.id, "public")
    service.answer(sg, version.id, AnswerInput("c", "x", tlp="TLP:AMBER", scope="group"))
    with pytest.raises(InvalidInput, match="group"):
        service.publish(sg, version.id, "public")  # a group answer needs a group
    with pytest.raises(InvalidInput, match="target"):
        service.publish(sg, version.id, "everyone")
    with pytest.raises(InvalidInput, match="one to 3"):
        service.compare(sg, ["SG", "MY", "TH", "ID"])
    assert service.draft(sg, version.id).version.status == "draft"
    assert node.exchange.page(sg, ObjectQuery(types=TYPES)).rows == []


def test_evidence_counts_only_what_the_reader_may_see(node: Node, clock: Clock) -> None:
    service, p = _world(node)
    my, sg = p["MyCERT"], p["SingCERT"]
    [request] = node.coordination.requests.create(
        my,
        RequestDraft(
            kind="assistance",
            title="Grid SCADA under attack",
            recipients=("SingCERT",),
            urgency="critical",
            incident_category="availability/ddos",
            sector="energy",
            asks=("mitigation",),
        ),
    )
    clock.advance(hours=2)
    node.coordination.requests.act(sg, request.id, Action.ACKNOWLEDGE)
    clock.advance(hours=1)
    for reader in (sg, my):
        e = service.evidence(reader, "SG")
        assert (e.requests_received, e.requests_acknowledged) == (1, 1)
        assert e.median_ack_seconds == pytest.approx(7200, abs=5)
    assert service.evidence(p["ThaiCERT"], "SG").requests_received == 0
    assert service.matrix(sg, ["SG"]).cells[("SG", "h")] == "evidence"
    assert service.matrix(p["ThaiCERT"], ["SG"]).cells[("SG", "h")] == "none"


def test_unsourced_structures_load_from_a_documented_file(tmp_path: Path) -> None:
    extra = tmp_path / "extra.json"
    point = {"norm": "h", "code": "h.1", "text": "Designate a point of contact"}
    doc: dict[str, Any] = {
        "cmm_factors": [{"dimension": "D1", "code": "D1.1", "title": "National strategy"}],
        "checklists": [{"code": "asean-2024", "title": "Checklist", "points": [point]}],
    }
    extra.write_text(json.dumps(doc))
    f = load(extra)
    assert f.checklists[0].points[0].norm == "h" and f.factors[0][0] == "D1"
    bad = tmp_path / "bad.json"
    bad.write_text(
        json.dumps({"checklists": [{**doc["checklists"][0], "points": [{**point, "norm": "z"}]}]})
    )
    with pytest.raises(InvalidInput, match="unknown norm"):
        load(bad)
