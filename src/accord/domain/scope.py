"""Distribution scopes, and how far each TLP level lets an object travel.

A scope says who an object is for, on top of its TLP marking. The marking caps
the scope: the combinations it forbids are refused when an object is stamped,
and the policy gate checks them again when it reads.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from accord.domain.tlp import TLP


class Scope(StrEnum):
    """Who an object is for. Values are persisted: never rename them."""

    ORGANISATION = "organisation"
    RECIPIENTS = "recipients"
    GROUP = "group"
    COMMUNITY = "community"
    FEDERATION = "federation"
    PUBLIC = "public"

    @property
    def breadth(self) -> int:
        """How wide the audience is; recipients and group are equally narrow."""
        return _BREADTH[self]


_BREADTH = {
    Scope.ORGANISATION: 0,
    Scope.RECIPIENTS: 1,
    Scope.GROUP: 1,
    Scope.COMMUNITY: 2,
    Scope.FEDERATION: 3,
    Scope.PUBLIC: 4,
}

ALLOWED_SCOPES: dict[TLP, frozenset[Scope]] = {
    TLP.RED: frozenset({Scope.ORGANISATION, Scope.RECIPIENTS}),
    TLP.AMBER_STRICT: frozenset({Scope.ORGANISATION, Scope.RECIPIENTS, Scope.GROUP}),
    TLP.AMBER: frozenset({Scope.ORGANISATION, Scope.RECIPIENTS, Scope.GROUP}),
    TLP.GREEN: frozenset(
        {Scope.ORGANISATION, Scope.RECIPIENTS, Scope.GROUP, Scope.COMMUNITY, Scope.FEDERATION}
    ),
    TLP.CLEAR: frozenset(Scope),
}

# Scopes that admit every signed-in organisation of the node.
AUTHENTICATED_SCOPES = (Scope.COMMUNITY, Scope.FEDERATION)


@dataclass(frozen=True, slots=True)
class Distribution:
    """The TLP and scope of one stored object version, with its audience.

    ``recipients`` are organisation ids (scope ``recipients``); ``group`` is a
    sharing-group id (scope ``group``).
    """

    tlp: TLP
    scope: Scope
    recipients: frozenset[int] = field(default_factory=frozenset)
    group: int | None = None


def default_scope(tlp: TLP) -> Scope:
    """The scope used when none is asked for: the community where TLP allows, else the owner."""
    return Scope.COMMUNITY if Scope.COMMUNITY in ALLOWED_SCOPES[tlp] else Scope.ORGANISATION


def distribution_problem(d: Distribution) -> str | None:
    """Why ``d`` is not allowed, in one sentence; None when it is."""
    if d.scope not in ALLOWED_SCOPES[d.tlp]:
        allowed = ", ".join(sorted(s.value for s in ALLOWED_SCOPES[d.tlp]))
        return f"{d.tlp.value} does not allow scope '{d.scope.value}'; use one of: {allowed}"
    if d.scope is Scope.RECIPIENTS and not d.recipients:
        return "scope 'recipients' needs at least one recipient organisation"
    if d.scope is not Scope.RECIPIENTS and d.recipients:
        return f"recipients are only meaningful with scope 'recipients', not '{d.scope.value}'"
    if d.scope is Scope.GROUP and d.group is None:
        return "scope 'group' needs a sharing group"
    if d.scope is not Scope.GROUP and d.group is not None:
        return f"a sharing group is only meaningful with scope 'group', not '{d.scope.value}'"
    return None


def reshare_problem(original: Distribution, proposed: Distribution) -> str | None:
    """Why an organisation other than the owner may not pass an object on as ``proposed``.

    A recipient may raise the marking, never lower it; may share only as far as the
    marking allows (never onward under TLP:RED or TLP:AMBER+STRICT); and never
    wider than the source chose.
    """
    if original.tlp in (TLP.RED, TLP.AMBER_STRICT):
        return f"{original.tlp.value} forbids onward sharing by recipients"
    if not proposed.tlp.at_least(original.tlp):
        return f"a recipient may not lower the marking from {original.tlp.value}"
    if proposed.scope.breadth > original.scope.breadth:
        return (
            f"the source shared this with scope '{original.scope.value}'; "
            f"it may not be passed on more widely ('{proposed.scope.value}')"
        )
    return distribution_problem(proposed)
