"""Rules per destination: the most specific rule decides, the strictest of several
destinations wins, and no rule means redaction (hypothesis against a plain reference)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from accord.privacy.rules import (
    ANY,
    DEFAULT,
    Action,
    Basis,
    Decision,
    RuleSpec,
    decide,
    rule_problem,
    strictest,
)

STATES = st.sampled_from(["SG", "MY", "TH", ANY])
KINDS = st.sampled_from(["national-cert", "law-enforcement", ANY])
RULES = st.lists(
    st.tuples(STATES, KINDS, st.sampled_from(list(Action)), st.sampled_from(list(Basis))),
    max_size=8,
    unique_by=lambda r: (r[0], r[1]),
).map(lambda rs: [RuleSpec(i + 1, s, k, a, b) for i, (s, k, a, b) in enumerate(rs)])


def _reference(rules: list[RuleSpec], state: str | None, kind: str | None) -> Decision:
    for wanted_state, wanted_kind in ((state, kind), (state, ANY), (ANY, kind), (ANY, ANY)):
        for r in rules:
            if r.state == wanted_state and r.kind == wanted_kind:
                return Decision(r.action, r.basis, r.id)
    return DEFAULT


@given(RULES, st.sampled_from(["SG", "MY", "TH", "ID", None]), KINDS)
def test_the_most_specific_rule_decides(
    rules: list[RuleSpec], state: str | None, kind: str
) -> None:
    wanted = None if kind == ANY else kind
    assert decide(rules, state, wanted) == _reference(rules, state, wanted)


@given(RULES, st.lists(st.tuples(STATES, KINDS), max_size=4))
def test_a_destination_of_several_gets_the_strictest(
    rules: list[RuleSpec], orgs: list[tuple[str, str]]
) -> None:
    decisions = [decide(rules, s, k) for s, k in orgs]
    got = strictest(decisions)
    assert got == (max(decisions, key=lambda d: d.action.rank) if decisions else DEFAULT)
    assert all(got.action.rank >= d.action.rank for d in decisions)


def test_transfers_of_personal_data_need_a_basis() -> None:
    assert rule_problem("SG", ANY, "allow", "none") == (
        "basis",
        "'allow' transfers personal data: name its legal basis",
    )
    assert rule_problem("SG", ANY, "redact", "none") is None
    assert rule_problem("*", "law-enforcement", "allow", "law-enforcement-cooperation") is None
