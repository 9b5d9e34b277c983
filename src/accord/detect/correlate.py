"""Correlation: the same observable value in objects of different organisations.

Every stored version's values (an indicator's compiled pattern values, a
cyber-observable's value or hashes) go into the observable index inside the
ingest transaction, and leave it inside the delete's (``Correlations`` is an
``exchange.Index``), so correlation costs ingest one insert and a lookup costs a
few indexed queries. A lookup shows
only objects the gate lets the reader see, and a value carried by more than
``common_threshold`` objects is "common" and skipped without a word, because even
saying so would reveal that objects the reader may not see exist.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from accord.detect.observables import (
    DOMAIN,
    DST,
    EMAIL,
    HASH_ALGORITHMS,
    OBSERVABLE_KEYS,
    address_key,
)
from accord.detect.patterns import (
    Conjunction,
    PatternError,
    Test,
    Unsupported,
    compile_pattern,
)
from accord.detect.warninglists import Warninglists
from accord.domain.model import Principal
from accord.exchange.service import Exchange
from accord.store.accounts import OrganisationRepository
from accord.store.detect import ObservableIndexRepository
from accord.store.objects import NewVersion, ObjectBatch, VersionKey, VersionQuery

_VALUE_TYPES = ("ipv4-addr", "ipv6-addr", "domain-name", "url", "email-addr")
_CASELESS = (DOMAIN, EMAIL)


@dataclass(frozen=True, slots=True, order=True)
class Correlation:
    """Another readable object carrying one of the same values."""

    kind: str
    value: str
    stix_id: str
    type: str
    owner: str


def _normal(kind: str, value: str) -> tuple[str, str]:
    if kind == DST:
        kind = address_key(value) or DOMAIN
    if kind in _CASELESS or ":hashes." in kind:
        value = value.lower()
    return kind, value


# The patterns ingest sees most (what misp-stix and Accord write: ``[type:path = 'v']``,
# ANDs and ORs of such comparisons, ORs of such observations) read without the ANTLR
# grammar, which costs about 2 ms a pattern. Anything else goes through the grammar;
# ``tests/detect/test_correlate.py`` holds this reader equal to it.
_WS = "[ \t\r\n]"
_STRING = r"'[^'\\]*(?:\\['\\][^'\\]*)*'"
_STEP = rf"(?:[A-Za-z_][A-Za-z0-9_]*|{_STRING})"
_COMPARISON = re.compile(
    rf"{_WS}*([A-Za-z_][A-Za-z0-9_-]*):({_STEP}(?:\.{_STEP})*){_WS}*={_WS}*({_STRING}){_WS}*"
)
_CONNECTOR = re.compile(rf"(AND|OR){_WS}+")
_OBSERVATION_OR = re.compile(rf"{_WS}*OR{_WS}*")
_STEPS = re.compile(rf"[A-Za-z_][A-Za-z0-9_]*|{_STRING}")
# Words the grammar's lexer reads as keywords, never as identifiers.
_KEYWORDS = frozenset(
    (
        "AND OR NOT FOLLOWEDBY LIKE MATCHES ISSUPERSET ISSUBSET EXISTS LAST IN START STOP "
        "SECONDS true false WITHIN REPEATS TIMES"
    ).split()
)


def _unquote(text: str) -> str:
    return text[1:-1].replace("\\'", "'").replace("\\\\", "\\")


def _steps(raw: str) -> list[str] | None:
    steps = raw.split(".") if "'" not in raw else _STEPS.findall(raw)
    out = []
    for step in steps:
        if step[0] == "'":
            out.append(_unquote(step))
        elif step in _KEYWORDS:
            return None
        else:
            out.append(step)
    return out


def simple_conjunctions(pattern: str) -> tuple[Conjunction, ...] | None:
    """``compile_pattern(pattern)`` for the simple forms (equality comparisons joined by
    AND and OR, observations joined by OR), Unsupported where it raises that; None for
    any other pattern (the caller asks the grammar)."""
    groups: list[list[tuple[str, str, str]]] = []
    pos, end = 0, len(pattern)
    while True:
        if not pattern.startswith("[", pos):
            return None
        pos += 1
        group: list[tuple[str, str, str]] = []
        groups.append(group)
        while True:
            m = _COMPARISON.match(pattern, pos)
            if m is None:
                return None
            sco_type, raw_path, literal = m.groups()
            steps = _steps(raw_path)
            if steps is None or sco_type in _KEYWORDS:
                return None
            group.append((sco_type, ".".join(steps), _unquote(literal)))
            pos = m.end()
            if pattern.startswith("]", pos):
                pos += 1
                break
            c = _CONNECTOR.match(pattern, pos)
            if c is None:
                return None
            if c.group(1) == "OR":
                group = []
                groups.append(group)
            pos = c.end()
        if pos == end:
            break
        c = _OBSERVATION_OR.match(pattern, pos)
        if c is None:
            return None
        pos = c.end()
    found: list[Conjunction] = []
    for group in groups:
        for sco_type, path, _ in group:
            if f"{sco_type}:{path}" not in OBSERVABLE_KEYS:
                raise Unsupported(f"{sco_type}:{path}")
    for group in groups:
        sco_type = group[0][0]
        if all(t == sco_type for t, _, _ in group):
            found.append(Conjunction(sco_type, tuple(Test(p, (v,)) for _, p, v in group)))
    return tuple(found)


def values_of(obj: dict[str, Any]) -> set[tuple[str, str]]:
    """The (observable key, value) pairs an object carries, normalised for comparison."""
    found: set[tuple[str, str]] = set()
    sco_type = obj.get("type")
    if sco_type == "indicator" and obj.get("pattern_type", "stix") == "stix":
        pattern = obj.get("pattern")
        if isinstance(pattern, str):
            try:
                simple = simple_conjunctions(pattern)
                conjunctions = compile_pattern(pattern) if simple is None else simple
            except (PatternError, Unsupported):
                conjunctions = ()
            for conjunction in conjunctions:
                for test in conjunction.tests:
                    for value in test.values:
                        found.add(_normal(f"{conjunction.type}:{test.path}", value))
    elif sco_type in _VALUE_TYPES and isinstance(obj.get("value"), str):
        found.add(_normal(f"{sco_type}:value", obj["value"]))
    elif sco_type in ("file", "x509-certificate") and isinstance(obj.get("hashes"), dict):
        for algorithm in HASH_ALGORITHMS:
            value = obj["hashes"].get(algorithm)
            if isinstance(value, str):
                found.add(_normal(f"{sco_type}:hashes.{algorithm}", value))
    return found


_INDEXED_TYPES = frozenset({"indicator", "file", "x509-certificate", *_VALUE_TYPES})


class Correlations:
    """Index values on ingest; answer which readable objects share an object's values."""

    def __init__(
        self,
        exchange: Exchange,
        index: ObservableIndexRepository,
        orgs: OrganisationRepository,
        *,
        common_threshold: int = 50,
        excluded: Sequence[str] = (),
        warninglists: Warninglists | None = None,
    ) -> None:
        self._exchange = exchange
        self._index = index
        self._orgs = orgs
        self.common_threshold = common_threshold
        self._excluded = frozenset(v.lower() for v in excluded)
        self._warninglists = warninglists

    def _wanted(self, value: str) -> bool:
        if value.lower() in self._excluded:
            return False
        return not (self._warninglists and self._warninglists.check(value))

    def index_versions(self, batch: ObjectBatch, versions: Sequence[NewVersion]) -> None:
        """Record the values of newly stored versions, in their transaction."""
        entries = []
        wanted: dict[str, bool] = {}  # an indicator and its observable share their values
        for version in versions:
            if version.type not in _INDEXED_TYPES:
                continue
            values = []
            for kv in values_of(orjson.loads(version.doc)):
                keep = wanted.get(kv[1])
                if keep is None:
                    keep = wanted[kv[1]] = self._wanted(kv[1])
                if keep:
                    values.append(kv)
            entries.append((version.stix_id, version.modified, version.owner, values))
        ObservableIndexRepository.add(batch.connection, entries)  # one multi-row insert

    def unindex_versions(self, batch: ObjectBatch, removed: Sequence[VersionKey]) -> None:
        """Forget the values of deleted versions, in their transaction: a deleted version
        must neither correlate nor count towards a value being common."""
        ObservableIndexRepository.remove(batch.connection, removed)

    def of(self, principal: Principal, stix_id: str) -> list[Correlation]:
        """Objects ``principal`` may read that share a value with ``stix_id`` (NotFound if
        ``stix_id`` is absent or unreadable), by value, then id."""
        row, _ = self._exchange.get(principal, stix_id)
        found: list[tuple[str, str, str, int]] = []
        for value in self._index.values(stix_id, row.modified):
            if not self._wanted(value.value):
                continue
            if self._index.object_count(value.key) > self.common_threshold:
                continue
            carriers = [
                c
                for c in self._index.carriers(value.key, 4 * self.common_threshold + 4)
                if c.stix_id != stix_id
            ]
            if not carriers:
                continue
            ids = tuple(sorted({c.stix_id for c in carriers}))
            query = VersionQuery(ids=ids, versions=("last",), limit=len(ids))
            visible = {r.stix_id: r for r in self._exchange.versions_page(principal, query)}
            for carrier in carriers:
                other = visible.get(carrier.stix_id)
                if other is not None and other.modified == carrier.modified:
                    found.append((value.kind, value.value, other.stix_id, other.owner))
                    visible.pop(carrier.stix_id)
        identities = self._orgs.identities({owner for *_, owner in found})
        types = {sid: sid.split("--", 1)[0] for _, _, sid, _ in found}
        return sorted(
            Correlation(kind, value, sid, types[sid], identities.get(owner, ""))
            for kind, value, sid, owner in found
        )
