"""How MISP's markings and distributions map onto Accord's, and back: plain rules, no I/O.

misp-stix carries a MISP event's content into STIX but drops what MISP users care most
about: ``tlp:`` tags become marking objects of TLP 1.0 at best, and distribution levels
and sharing groups are not exported at all. These rules carry them:

- ``tlp:`` tags, TLP 1.0 and 2.0 (``white``/``clear``, ``green``, ``amber``,
  ``amber+strict``, ``red``), become Accord's TLP 2.0 markings; the strictest wins.
- distribution ``0`` your organisation -> ``organisation``; ``1`` this community ->
  ``community``; ``2`` connected communities -> ``federation``; ``3`` all communities ->
  ``federation`` (stricter: Accord's ``public`` admits anonymous readers, MISP's "all
  communities" still means MISP users), or ``public`` when the event came from Accord
  (tag ``accord:scope="public"``); ``4`` sharing group -> ``group`` (the Accord group linked
  to the MISP sharing group's UUID); ``5`` inherit -> the object's or the event's.
- an attribute is never wider than its event (MISP's own rule), and never wider than its
  TLP allows in Accord; where either narrows it, the report says so.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

from accord.domain.scope import ALLOWED_SCOPES, Scope
from accord.domain.tlp import TLP


class MispDistribution(IntEnum):
    """MISP's distribution levels (values are MISP's own)."""

    ORGANISATION = 0
    COMMUNITY = 1
    CONNECTED = 2
    ALL = 3
    SHARING_GROUP = 4
    INHERIT = 5


TLP_TAGS: dict[str, TLP] = {
    "tlp:white": TLP.CLEAR,
    "tlp:clear": TLP.CLEAR,
    "tlp:green": TLP.GREEN,
    "tlp:amber": TLP.AMBER,
    "tlp:amber+strict": TLP.AMBER_STRICT,
    "tlp:red": TLP.RED,
}

# The tag Accord writes for each of its markings (TLP 2.0 spelling).
TAG_OF_TLP: dict[TLP, str] = {tlp: "tlp:" + tlp.value.removeprefix("TLP:").lower() for tlp in TLP}

SCOPE_TAG = "accord:scope"
RECIPIENT_TAG = "accord:recipient"

_DIRECT: dict[int, Scope] = {
    MispDistribution.ORGANISATION: Scope.ORGANISATION,
    MispDistribution.COMMUNITY: Scope.COMMUNITY,
    MispDistribution.CONNECTED: Scope.FEDERATION,
    MispDistribution.ALL: Scope.FEDERATION,
    MispDistribution.SHARING_GROUP: Scope.GROUP,
}

DISTRIBUTION_OF_SCOPE: dict[Scope, MispDistribution] = {
    Scope.ORGANISATION: MispDistribution.ORGANISATION,
    Scope.RECIPIENTS: MispDistribution.ORGANISATION,
    Scope.GROUP: MispDistribution.SHARING_GROUP,
    Scope.COMMUNITY: MispDistribution.COMMUNITY,
    Scope.FEDERATION: MispDistribution.CONNECTED,
    Scope.PUBLIC: MispDistribution.ALL,
}

DISTRIBUTION_NAMES = {
    0: "your organisation only",
    1: "this community only",
    2: "connected communities",
    3: "all communities",
    4: "sharing group",
    5: "inherit",
}


@dataclass(frozen=True, slots=True)
class TlpReading:
    """The marking a set of tags gives, and what was not exact about it."""

    tlp: TLP | None
    notes: tuple[str, ...] = ()


def tlp_of_tags(names: list[str]) -> TlpReading:
    """The strictest TLP among ``names`` (tag names); unknown ``tlp:`` values read as RED."""
    found: list[TLP] = []
    notes: list[str] = []
    for name in names:
        key = name.strip().lower()
        if not key.startswith("tlp:"):
            continue
        tlp = TLP_TAGS.get(key.replace(" ", "").replace('"', ""))
        if tlp is None:
            notes.append(f"tag {name!r} is no TLP 1.0 or 2.0 level: read as TLP:RED (stricter)")
            tlp = TLP.RED
        found.append(tlp)
    if len(set(found)) > 1:
        notes.append(
            "several TLP tags: the strictest, "
            + max(found, key=lambda t: t.rank).value
            + ", applies"
        )
    return TlpReading(max(found, key=lambda t: t.rank) if found else None, tuple(notes))


def parse_distribution(value: object, *, inherit: bool) -> MispDistribution | None:
    """The distribution ``value`` names, or None when it is no MISP distribution here."""
    number = whole_number(value.strip() if isinstance(value, str) else value)
    if number is None or not 0 <= number <= (5 if inherit else 4):
        return None
    return MispDistribution(number)


def whole_number(value: object) -> int | None:
    """``value`` as MISP writes a whole number (an int of 0 or more, or a text of ASCII
    digits), else None. ASCII: "²" is a digit to ``str.isdigit`` but not to ``int``."""
    if isinstance(value, str) and value.isascii() and value.isdigit():
        return int(value)
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    return None


def scope_of(distribution: MispDistribution, public: bool = False) -> Scope:
    """The Accord scope of a (resolved, not inherit) distribution."""
    if distribution is MispDistribution.ALL and public:
        return Scope.PUBLIC
    return _DIRECT[distribution]


def narrower(a: Scope, b: Scope) -> Scope:
    """The narrower of two scopes (the first when they are as wide)."""
    return b if b.breadth < a.breadth else a


def fit_to_tlp(scope: Scope, tlp: TLP) -> Scope:
    """``scope`` narrowed until ``tlp`` allows it (recipients and group need an audience,
    so a scope the marking forbids falls back to the organisation)."""
    if scope in ALLOWED_SCOPES[tlp]:
        return scope
    wider = [s for s in ALLOWED_SCOPES[tlp] if s.breadth < scope.breadth and s.breadth != 1]
    return max(wider, key=lambda s: s.breadth) if wider else Scope.ORGANISATION
