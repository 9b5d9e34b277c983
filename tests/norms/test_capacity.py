"""Capacity self-assessment, needs and offers: versions, gaps, matching, steps, refusals."""

from __future__ import annotations

import pytest

from accord.errors import Conflict, InvalidInput, NotFound
from accord.node import Node
from accord.norms.capability import NORMS
from accord.norms.capacity import Capacity, match
from accord.norms.export import assessment_svg
from tests.builders import org, principal
from tests.conftest import Clock


def _capacity(node: Node) -> Capacity:
    capacity = NORMS.service(node).capacity
    assert capacity is not None
    return capacity


def test_assessments_are_versioned_marked_and_charted(node: Node, clock: Clock) -> None:
    sg, my = org(node, "SingCERT", state="SG"), org(node, "MyCERT", state="MY")
    cap, p_sg, p_my = _capacity(node), principal(node, sg), principal(node, my)
    with pytest.raises(InvalidInput, match="unknown dimension"):
        cap.assess(p_sg, "cmm", {"D9": 2}, 4)
    with pytest.raises(InvalidInput, match="stage is 1 to 5"):
        cap.assess(p_sg, "cmm", {"D1": 6}, 4)
    with pytest.raises(InvalidInput, match="stage is 1 to 5"):
        cap.assess(p_sg, "cmm", {"D1": 2}, 0)
    first = cap.assess(p_sg, "cmm", {"D1": 2, "D3": 1}, 4, "TLP:AMBER", "organisation")
    clock.advance(days=30)
    cap.assess(p_sg, "cmm", {"D1": 3, "D3": 2}, 4, "TLP:GREEN", "community")
    own = cap.assessments(p_sg, "SG")
    assert [a.scores["D1"] for a in own] == [2, 3] and own[0].stix_id == first.stix_id
    assert own[-1].gaps() == {"D1": 1, "D3": 2}
    assert [a.scores["D1"] for a in cap.assessments(p_my, "SG")] == [3]  # the AMBER one is SG's
    svg = assessment_svg(
        own[-1], {d.code: d.title for d in cap.framework.dimensions}, cap.framework.stages
    )
    assert "Cybersecurity Policy and Strategy: stage 3 (established), gap 1" in svg


def test_needs_meet_offers_by_tag_and_move_step_by_step(node: Node) -> None:
    sg, my = org(node, "SingCERT", state="SG"), org(node, "MyCERT", state="MY")
    cap, p_sg, p_my = _capacity(node), principal(node, sg), principal(node, my)
    with pytest.raises(InvalidInput, match="unknown"):
        cap.post(p_my, "need", "training", "x", ["D7"])
    need = cap.post(p_my, "need", "training", "CSIRT training", ["D3", "h"])
    offer = cap.post(p_sg, "offer", "training", "Incident response course", ["h", "D3", "D1"])
    cap.post(p_sg, "offer", "funding", "Grants", ["legal"])
    [m] = cap.matches(p_sg)
    assert (m.need.stix_id, m.offer.stix_id, m.shared) == (need.stix_id, offer.stix_id, ("D3", "h"))
    with pytest.raises(NotFound):
        cap.advance(p_sg, need.stix_id, "matched", offer.stix_id)  # not SG's need
    with pytest.raises(Conflict):
        cap.advance(p_my, need.stix_id, "agreed")
    for step in ("matched", "agreed", "delivered", "evaluated"):
        moved = cap.advance(p_my, need.stix_id, step, offer.stix_id)
    assert moved.step == "evaluated" and moved.offer_ref == offer.stix_id
    assert cap.matches(p_sg) == []
    assert match(cap.postings(p_sg)) == []


def test_training_catalogue_enrolments_and_figures_per_state(sqlite_node: Node) -> None:
    node = sqlite_node
    sg, my = org(node, "SingCERT", state="SG"), org(node, "MyCERT", state="MY")
    training = NORMS.service(node).training
    assert training is not None
    p_sg, p_my = principal(node, sg), principal(node, my)
    course = training.add_course(p_sg, "Incident handling", "e-learning", ["D3", "h"])
    with pytest.raises(InvalidInput):
        training.add_course(p_sg, "x", "webinar", [])
    record = training.enrol(p_my, course.stix_id, 12)
    with pytest.raises(InvalidInput):
        training.enrol(p_my, course.stix_id, 0)
    with pytest.raises(NotFound):
        training.complete(p_sg, record, 3)  # not SG's enrolment
    training.complete(p_my, record, 10)
    with pytest.raises(Conflict):
        training.complete(p_my, record, 10)
    [figures] = training.figures(p_sg)
    assert (figures.state, figures.enrolments, figures.completions) == ("MY", 1, 1)
    assert (figures.participants, figures.completed_participants) == (12, 10)


def test_indexed_matching_agrees_with_comparing_every_pair() -> None:
    import random

    from accord.norms.capacity import NEED, OFFER, Posting

    rng = random.Random(7)
    codes = ["D1", "D2", "D3", "a", "h", "legal"]

    def post(kind: str, i: int) -> Posting:
        tags = tuple(rng.sample(codes, rng.randint(1, 3)))
        step = "open" if kind == NEED else ""
        state = rng.choice(["SG", "MY", "TH"])
        return Posting(
            f"{kind}--{i:04d}",
            kind,
            state,
            "training",
            "t",
            tags,
            step,
            None,
            None,
            "",
            "TLP:GREEN",
            "federation",
        )

    posts = [post(NEED if i % 3 == 0 else OFFER, i) for i in range(300)]
    matched = match(posts)
    for need in (p for p in posts if p.type == NEED):
        brute = sorted(
            (-len(set(need.tags) & set(o.tags)), o.stix_id)
            for o in posts
            if o.type == OFFER and o.state != need.state and set(need.tags) & set(o.tags)
        )[:5]
        fast = [(-len(m.shared), m.offer.stix_id) for m in matched if m.need == need]
        assert fast == brute
