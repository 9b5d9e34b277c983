"""A set of indicators compiled for matching, and matching one observation at a time.

``MatcherSet`` indexes every compiled conjunction by one of its tests: exact values in
a dictionary, address ranges by prefix length (one dictionary look-up per prefix
length in use), and, when asked, domains by every parent domain. Candidates found
through the index are checked against the rest of their conjunction on the same
object. Patterns the compiler does not handle run through the OASIS
``stix2-matcher``; they are counted (``fallback``), never dropped. The bulk,
vectorised screen (``accord.detect.screen``) is built from the same compiled model.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from accord.detect.observables import ObservedObject, observed_data
from accord.detect.patterns import (
    Conjunction,
    PatternError,
    Subnet,
    Test,
    Unsupported,
    compile_pattern,
)

if TYPE_CHECKING:
    from stix2matcher.matcher import Pattern as OasisPattern

_STAMP = "2026-01-01T00:00:00.000Z"


@dataclass(frozen=True, slots=True)
class Hit:
    """An indicator matched: by which value, found in which record field (None: fallback)."""

    indicator_id: str
    value: str | None
    field: str | None


@dataclass(slots=True)
class CompileStats:
    compiled: int = 0
    fallback: int = 0
    rejected: list[tuple[str, str]] = field(default_factory=list)


def _address(value: str) -> tuple[int, int, int] | None:
    """(version, prefix, integer) of an address or CIDR value, as stix2-matcher reads it."""
    try:
        if "/" in value:
            net = ipaddress.ip_network(value, strict=False)
            return net.version, net.prefixlen, int(net.network_address)
        ip = ipaddress.ip_address(value)
    except ValueError:
        return None
    return ip.version, ip.max_prefixlen, int(ip)


def _in_subnet(value: str, subnet: Subnet) -> bool:
    found = _address(value)
    if found is None:
        return False
    version, prefix, number = found
    bits = 32 if version == 4 else 128
    shift = bits - subnet.prefix
    return (
        version == subnet.version
        and prefix >= subnet.prefix
        and (number >> shift) == (subnet.network >> shift)
    )


def parent_domains(value: str) -> Iterable[str]:
    """``a.b.example.org`` -> ``b.example.org``, ``example.org``, ``org``."""
    start = value.find(".")
    while start != -1:
        yield value[start + 1 :]
        start = value.find(".", start + 1)


class MatcherSet:
    """Compiled indicators; ``match`` answers which of them one observation matches.

    ``subdomains``: an exact ``domain-name:value`` indicator also matches every
    subdomain of its value (an Accord extension; ``stix2-matcher`` matches exactly).
    """

    def __init__(self, indicators: Iterable[tuple[str, str]], *, subdomains: bool = False) -> None:
        self.subdomains = subdomains
        self.stats = CompileStats()
        self.ids: list[str] = []
        self.conjunctions: list[tuple[int, Conjunction]] = []
        self.exact: dict[tuple[str, str, str], list[int]] = {}
        # (type, path, version) -> prefix length -> network >> (bits - prefix) -> conjunctions
        self.subnets: dict[tuple[str, str, int], dict[int, dict[int, list[int]]]] = {}
        self.fallback: list[tuple[int, OasisPattern]] = []
        for stix_id, pattern in indicators:
            self.add(stix_id, pattern)

    def __len__(self) -> int:
        return len(self.ids)

    def add(self, stix_id: str, pattern: str) -> None:
        """Compile one indicator; unparseable patterns are recorded in ``stats.rejected``."""
        try:
            conjunctions = compile_pattern(pattern)
        except PatternError as exc:
            self.stats.rejected.append((stix_id, str(exc)))
            return
        except Unsupported:
            # stix2-matcher (and its ANTLR grammar) is loaded by the first pattern it runs.
            from stix2matcher.matcher import Pattern as OasisPattern

            index = len(self.ids)
            self.ids.append(stix_id)
            self.fallback.append((index, OasisPattern(pattern, "2.1")))
            self.stats.fallback += 1
            return
        index = len(self.ids)
        self.ids.append(stix_id)
        self.stats.compiled += 1
        for conjunction in conjunctions:
            position = len(self.conjunctions)
            self.conjunctions.append((index, conjunction))
            self._index(position, conjunction)

    def _index(self, position: int, conjunction: Conjunction) -> None:
        # Anchor on an exact test when there is one: dictionary hits are the cheapest.
        anchor = min(conjunction.tests, key=lambda t: t.subnet is not None)
        if anchor.subnet is None:
            for value in anchor.values:
                self.exact.setdefault((conjunction.type, anchor.path, value), []).append(position)
            return
        s = anchor.subnet
        bits = 32 if s.version == 4 else 128
        by_prefix = self.subnets.setdefault((conjunction.type, anchor.path, s.version), {})
        by_prefix.setdefault(s.prefix, {}).setdefault(s.network >> (bits - s.prefix), []).append(
            position
        )

    def _candidates(self, obj: ObservedObject, path: str, value: str) -> Iterable[int]:
        found = self.exact.get((obj.type, path, value))
        if found:
            yield from found
        if self.subdomains and obj.type == "domain-name" and path == "value":
            for parent in parent_domains(value):
                yield from self.exact.get((obj.type, path, parent), ())
        if self.subnets:
            address = _address(value)
            if address is None:
                return
            version, prefix, number = address
            by_prefix = self.subnets.get((obj.type, path, version))
            if by_prefix:
                bits = 32 if version == 4 else 128
                for length, networks in by_prefix.items():
                    if length <= prefix:
                        yield from networks.get(number >> (bits - length), ())

    def _passes(self, obj: ObservedObject, test: Test) -> bool:
        held = obj.props.get(test.path)
        if held is None:
            return False
        value = held[0]
        if test.subnet is not None:
            return _in_subnet(value, test.subnet)
        if value in test.values:
            return True
        return (
            self.subdomains
            and obj.type == "domain-name"
            and any(p in test.values for p in parent_domains(value))
        )

    def match(self, objects: Sequence[ObservedObject]) -> list[Hit]:
        """Every indicator the observation matches, once each, in indicator order."""
        hits: dict[int, Hit] = {}
        for obj in objects:
            for path, (value, name) in obj.props.items():
                for position in self._candidates(obj, path, value):
                    index, conjunction = self.conjunctions[position]
                    if index in hits or conjunction.type != obj.type:
                        continue
                    if all(self._passes(obj, t) for t in conjunction.tests):
                        hits[index] = Hit(self.ids[index], value, name)
        if self.fallback and objects:
            from stix2matcher.matcher import MatcherException

            sdo = [observed_data(objects, _STAMP)]
            for index, pattern in self.fallback:
                if index in hits:
                    continue
                try:
                    matched = pattern.match(sdo)
                except MatcherException:
                    matched = []
                if matched:
                    hits[index] = Hit(self.ids[index], None, None)
        return [hits[i] for i in sorted(hits)]
