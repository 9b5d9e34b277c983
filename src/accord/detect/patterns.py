"""Compile STIX 2.1 patterns into tests the fast matchers can index.

A pattern compiles to a disjunction of conjunctions: each conjunction is a set of
tests on one object type that the same object of one observation must all pass,
exactly the meaning ``stix2-matcher`` gives an ``AND`` inside ``[...]`` (it
intersects the matching objects). Observation ``OR`` and comparison ``OR`` become
more conjunctions. Everything else (observation ``AND``, ``FOLLOWEDBY``,
qualifiers, ``NOT``, ``!=``, ordering, ``LIKE``, ``MATCHES``, non-string literals,
properties outside ``observables.OBSERVABLE_KEYS``) raises ``Unsupported``, and the
caller hands the pattern to ``stix2-matcher`` instead.
"""

from __future__ import annotations

import functools
import ipaddress
import re
from dataclasses import dataclass
from itertools import product
from typing import Any

from accord.detect.observables import OBSERVABLE_KEYS

# The form most feed indicators take, read without the ANTLR parser (a thousand times
# faster); anything else, or anything unusual inside it, goes through the grammar.
_SIMPLE = re.compile(
    r"\[\s*([a-z0-9-]+):([A-Za-z0-9_]+(?:\.(?:[A-Za-z0-9_]+|'[A-Za-z0-9_-]+'))*)"
    r"\s+(=|ISSUBSET)\s+'([^'\\]*)'\s*\]"
)

# One shared string per type and path, whatever pattern they were read from.
_KEYS = {key: (key.split(":", 1)[0], key.split(":", 1)[1]) for key in OBSERVABLE_KEYS}

SUBSET_KEYS = frozenset({"ipv4-addr:value", "ipv6-addr:value", "network-traffic:dst_ref.value"})


class Unsupported(Exception):
    """The pattern is valid STIX but not one of the compiled forms."""


class PatternError(ValueError):
    """The pattern does not parse; the message is the parser's."""


@dataclass(frozen=True, slots=True)
class Subnet:
    """An address range, inclusive, as integers of one IP version."""

    version: int
    prefix: int
    network: int

    @property
    def last(self) -> int:
        bits = 32 if self.version == 4 else 128
        return self.network | ((1 << (bits - self.prefix)) - 1)


@dataclass(frozen=True, slots=True)
class Test:
    """One comparison: ``path`` of the object equals one of ``values``, or lies in ``subnet``.

    ``values`` is a sorted tuple, not a set: nearly always one value, and a million
    indicators' worth of one-element sets would cost hundreds of megabytes.
    """

    path: str
    values: tuple[str, ...] = ()
    subnet: Subnet | None = None


@dataclass(frozen=True, slots=True)
class Conjunction:
    """Tests one object of type ``type`` must all pass."""

    type: str
    tests: tuple[Test, ...]


def parse_subnet(literal: str) -> Subnet | None:
    """The range ``stix2-matcher`` reads from an ISSUBSET literal, or None if it rejects it.

    The address keeps no host bits; IPv4 prefixes run 1-32 as in ``stix2-matcher``,
    IPv6 (which it cannot match) 1-128.
    """
    address, slash, prefix = literal.partition("/")
    if not slash or not prefix.isdigit():
        return None
    try:
        net = ipaddress.ip_network(f"{address}/{int(prefix)}", strict=False)
    except ValueError:
        return None
    if net.prefixlen < 1:
        return None
    return Subnet(net.version, net.prefixlen, int(net.network_address))


def compile_pattern(pattern: str) -> tuple[Conjunction, ...]:
    """The conjunctions ``pattern`` matches; PatternError or Unsupported otherwise.

    Conjunctions over two object types can never be satisfied by one object; they are
    left out, which is what ``stix2-matcher`` makes of them too.
    """
    simple = _simple(pattern)
    if simple is not None:
        return simple
    # The ANTLR grammar costs a tenth of a second to import: only patterns off the
    # simple form need it.
    from stix2patterns.exceptions import ParseException
    from stix2patterns.v21.pattern import Pattern

    try:
        parsed = Pattern(pattern)
    except ParseException as exc:
        raise PatternError(str(exc)) from None
    tree = parsed._Pattern__parse_tree  # stix2-patterns keeps the tree private
    return tuple(_observations(tree.observationExpressions()))


def _simple(pattern: str) -> tuple[Conjunction, ...] | None:
    m = _SIMPLE.fullmatch(pattern)
    if m is None:
        return None
    sco_type, raw_path, op, literal = m.groups()
    path = ".".join(step.strip("'") for step in raw_path.split("."))
    key = f"{sco_type}:{path}"
    if key not in OBSERVABLE_KEYS:
        return None
    if op == "=":
        return (Conjunction(_KEYS[key][0], (Test(_KEYS[key][1], (literal,)),)),)
    subnet = parse_subnet(literal) if key in SUBSET_KEYS else None
    if subnet is None:
        return None
    return (Conjunction(_KEYS[key][0], (Test(_KEYS[key][1], subnet=subnet),)),)


@functools.cache
def _parser() -> Any:
    """The ANTLR parser class of STIX 2.1 patterns, whose context classes name the nodes."""
    from stix2patterns.v21.grammars.STIXPatternParser import STIXPatternParser

    return STIXPatternParser


def _observations(ctx: Any) -> list[Conjunction]:
    if ctx.FOLLOWEDBY():
        raise Unsupported("FOLLOWEDBY")
    return _observation_or(ctx.observationExpressionOr())


def _observation_or(ctx: Any) -> list[Conjunction]:
    parts = ctx.observationExpressionOr()
    if parts:
        return [c for part in parts for c in _observation_or(part)]
    inner = ctx.observationExpressionAnd()
    if inner.observationExpressionAnd():
        raise Unsupported("AND between observations")
    observation = inner.observationExpression()
    P = _parser()
    if isinstance(observation, P.ObservationExpressionSimpleContext):
        return _comparison(observation.comparisonExpression())
    if isinstance(observation, P.ObservationExpressionCompoundContext):
        return _observations(observation.observationExpressions())
    raise Unsupported("qualifiers")


def _comparison(ctx: Any) -> list[Conjunction]:
    parts = ctx.comparisonExpression()
    if parts:
        return [c for part in parts for c in _comparison(part)]
    return _conjunctions(ctx.comparisonExpressionAnd())


def _conjunctions(ctx: Any) -> list[Conjunction]:
    parts = ctx.comparisonExpressionAnd()
    if parts:
        found: list[Conjunction] = []
        for left, right in product(_conjunctions(parts[0]), _conjunctions(parts[1])):
            if left.type == right.type:
                found.append(Conjunction(left.type, left.tests + right.tests))
        return found
    return _prop_test(ctx.propTest())


def _prop_test(ctx: Any) -> list[Conjunction]:
    P = _parser()
    if isinstance(ctx, P.PropTestParenContext):
        return _comparison(ctx.comparisonExpression())
    if getattr(ctx, "NOT", lambda: None)():
        raise Unsupported("NOT")
    if isinstance(ctx, P.PropTestEqualContext):
        if ctx.NEQ():
            raise Unsupported("!=")
        sco_type, path = _path(ctx.objectPath())
        return [Conjunction(sco_type, (Test(path, (_string(ctx.primitiveLiteral()),)),))]
    if isinstance(ctx, P.PropTestSetContext):
        sco_type, path = _path(ctx.objectPath())
        values = tuple(sorted({_string(lit) for lit in ctx.setLiteral().primitiveLiteral()}))
        return [Conjunction(sco_type, (Test(path, values),))]
    if isinstance(ctx, P.PropTestIsSubsetContext):
        sco_type, path = _path(ctx.objectPath())
        if f"{sco_type}:{path}" not in SUBSET_KEYS:
            raise Unsupported("ISSUBSET on a property that is not an address")
        subnet = parse_subnet(_unquote(ctx.StringLiteral().getText()))
        if subnet is None:
            raise Unsupported("ISSUBSET with a range stix2-matcher does not read")
        return [Conjunction(sco_type, (Test(path, subnet=subnet),))]
    raise Unsupported(type(ctx).__name__)


def _path(ctx: Any) -> tuple[str, str]:
    sco_type = ctx.objectType().getText()
    first = ctx.firstPathComponent()
    steps = [_unquote(first.getText()) if first.StringLiteral() else first.getText()]
    component = ctx.objectPathComponent()
    stack = [component] if component is not None else []
    P = _parser()
    while stack:
        step = stack.pop(0)
        if isinstance(step, P.PathStepContext):
            stack[:0] = list(step.objectPathComponent())
        elif isinstance(step, P.KeyPathStepContext):
            name = step.IdentifierWithoutHyphen()
            steps.append(name.getText() if name else _unquote(step.StringLiteral().getText()))
        else:
            raise Unsupported("list index in a path")
    path = ".".join(steps)
    if f"{sco_type}:{path}" not in OBSERVABLE_KEYS:
        raise Unsupported(f"{sco_type}:{path}")
    return sco_type, path


def _string(ctx: Any) -> str:
    literal = ctx.orderableLiteral()
    token = literal.StringLiteral() if literal is not None else None
    if token is None:
        raise Unsupported("a literal that is not a string")
    return _unquote(token.getText())


def _unquote(text: str) -> str:
    return text[1:-1].replace("\\'", "'").replace("\\\\", "\\")
