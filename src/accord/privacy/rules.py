"""Rules per destination: what happens to personal data bound for a state (and kind of
organisation), and on which legal basis. Pure values, no I/O.

A rule matches a destination by state (ISO 3166 alpha-2, or ``*`` for any) and kind of
organisation (an ``OrgKind`` value, or ``*``); the most specific match wins (state and
kind, then state, then kind, then ``*``/``*``). A destination that several organisations
stand for (a peer node hosting more than one) gets the strictest of their rules. With no
rule at all, personal data is redacted: nothing leaves as written unless a rule says so.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum

from accord.domain.model import OrgKind


class Action(StrEnum):
    """What happens to an object with personal data. Values are persisted."""

    ALLOW = "allow"
    PSEUDONYMISE = "pseudonymise"
    REDACT = "redact"
    REFUSE = "refuse"

    @property
    def rank(self) -> int:
        return _RANK[self]


_RANK = {Action.ALLOW: 0, Action.PSEUDONYMISE: 1, Action.REDACT: 2, Action.REFUSE: 3}


class Basis(StrEnum):
    """The legal basis a transfer rests on. Values are persisted."""

    ASEAN_MCC = "asean-mcc"  # ASEAN Model Contractual Clauses module
    APEC_CBPR = "apec-cbpr"  # APEC Cross-Border Privacy Rules certification
    LAW_ENFORCEMENT = "law-enforcement-cooperation"
    CONSENT = "consent"
    NONE = "none"  # no transfer of personal data (redact, refuse)


ANY = "*"
_STATE = re.compile(r"\A(?:[A-Z]{2}|\*)\Z")


@dataclass(frozen=True, slots=True)
class Decision:
    """The rule that applies to one destination (``rule_id`` None: the default)."""

    action: Action
    basis: Basis
    rule_id: int | None


DEFAULT = Decision(Action.REDACT, Basis.NONE, None)


@dataclass(frozen=True, slots=True)
class RuleSpec:
    id: int
    state: str
    kind: str
    action: Action
    basis: Basis


def rule_problem(state: str, kind: str, action: str, basis: str) -> tuple[str, str] | None:
    """(field, why) for the first thing wrong with a rule's input, or None."""
    if not _STATE.match(state):
        return "state", "a state is two capital letters (ISO 3166 alpha-2) or '*'"
    if kind != ANY and kind not in {k.value for k in OrgKind}:
        kinds = ", ".join(k.value for k in OrgKind)
        return "kind", f"a kind of organisation is '*' or one of {kinds}"
    if action not in {a.value for a in Action}:
        return "action", f"an action is one of {', '.join(a.value for a in Action)}"
    if basis not in {b.value for b in Basis}:
        return "basis", f"a legal basis is one of {', '.join(b.value for b in Basis)}"
    if action in (Action.ALLOW, Action.PSEUDONYMISE) and basis == Basis.NONE:
        return "basis", f"'{action}' transfers personal data: name its legal basis"
    return None


def decide(rules: Sequence[RuleSpec], state: str | None, kind: str | None) -> Decision:
    """The rule for one destination organisation (``state`` None: international)."""
    best: tuple[int, RuleSpec] | None = None
    for rule in rules:
        if rule.state not in (ANY, state) or rule.kind not in (ANY, kind):
            continue
        weight = (2 if rule.state != ANY else 0) + (1 if rule.kind != ANY else 0)
        if best is None or weight > best[0]:
            best = (weight, rule)
    if best is None:
        return DEFAULT
    return Decision(best[1].action, best[1].basis, best[1].id)


def strictest(decisions: Iterable[Decision]) -> Decision:
    """The strictest of several destinations' decisions (none: the default)."""
    return max(decisions, key=lambda d: d.action.rank, default=DEFAULT)
