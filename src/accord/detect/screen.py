"""The screen: what may match a ``MatcherSet``, answered for a whole column of log values.

A ``Screen`` is built once per compiled ``MatcherSet`` (``screen_for`` caches it with
the set). For a column of log values it answers which values *may* make
``MatcherSet.match`` name an indicator, never missing one that does; only the rows it
lets through are turned into records and confirmed by the exact matcher, so what is
reported is exactly what the per-record path reports, and the screen only has to be
cheap, not exact:

- exact values: the fingerprint of each value (``accord.detect.columns``) looked up in a
  bit table and then in the sorted fingerprints of every indicator value. Two values
  with one fingerprint only cost a needless confirmation;
- subdomains (``MatcherSet.subdomains``): the fingerprint of the text after every dot;
- IPv4 ranges (CIDR indicators, and exact addresses where that is all a column can
  match): dotted quads parsed to integers, then a bit per /24 and ``searchsorted``
  over merged ranges;
- IPv6 ranges: any value with a colon that is not a URL goes to the matcher;
- patterns on the ``stix2-matcher`` fallback: every row goes to the matcher.

numpy and pyarrow are imported here at the top: this module is only loaded, through
``accord.detect.bulk``, when a log is read in bulk.
"""

from __future__ import annotations

import weakref
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from accord.detect.columns import StringColumn, fingerprint, fingerprints, ipv4_integers
from accord.detect.matcher import MatcherSet
from accord.detect.observables import (
    AUTO,
    DOMAIN,
    DST,
    EMAIL,
    FILE_HASHES,
    IPV4,
    IPV6,
    OBSERVABLE_KEYS,
    URL,
)

# Per column kind, the (type, path) of every object a value of that kind may become.
_ADDRESS_KINDS = frozenset({IPV4, IPV6, DST, AUTO})
_DOMAIN_KINDS = frozenset({DOMAIN, DST, AUTO})


def _type_path(key: str) -> tuple[str, str]:
    sco_type, _, path = key.partition(":")
    return sco_type, path


_OBJECTS: dict[str, frozenset[tuple[str, str]]] = {
    key: frozenset({_type_path(key)}) for key in OBSERVABLE_KEYS
}
_OBJECTS[DST] = frozenset(_type_path(k) for k in (DST, IPV4, IPV6, DOMAIN))
_OBJECTS[AUTO] = frozenset(_type_path(k) for k in (URL, EMAIL, IPV4, IPV6, DOMAIN, *FILE_HASHES))


@dataclass(frozen=True, slots=True)
class _Fingerprints:
    """A set of fingerprints: a bit table on their top bits, then the sorted fingerprints."""

    sorted: np.ndarray
    bits: np.ndarray
    shift: np.uint64

    @classmethod
    def of(cls, values: pa.Array) -> _Fingerprints:
        found = np.sort(fingerprints(values))
        found = found[np.append(True, found[1:] != found[:-1])] if len(found) else found
        # About 64 bits per value: one value in 64 not in the set reaches the sorted array.
        size = max(16, int(len(found) * 64 - 1).bit_length())
        shift = np.uint64(64 - size)
        slots = found >> shift
        bits = np.zeros(1 << (size - 3), dtype=np.uint8)
        np.bitwise_or.at(bits, (slots >> np.uint64(3)).astype(np.intp), _BIT[slots & np.uint64(7)])
        return cls(found, bits, shift)

    def contains(self, hashes: np.ndarray) -> np.ndarray:
        slots = hashes >> self.shift
        maybe = self.bits[(slots >> np.uint64(3)).view(np.intp)] & _BIT[slots & np.uint64(7)]
        rows = np.flatnonzero(maybe)
        found = np.zeros(len(hashes), dtype=bool)
        if len(rows):
            wanted = hashes[rows]
            at = np.minimum(np.searchsorted(self.sorted, wanted), len(self.sorted) - 1)
            found[rows[self.sorted[at] == wanted]] = True
        return found


_BIT = np.array([1 << i for i in range(8)], dtype=np.uint8)


@dataclass(frozen=True, slots=True)
class _Ranges:
    """IPv4 ranges, merged and sorted, with a bit for every /24 one of them touches."""

    starts: np.ndarray
    ends: np.ndarray
    blocks: np.ndarray

    @classmethod
    def of(cls, firsts: np.ndarray, lasts: np.ndarray) -> _Ranges:
        """The ranges [first, last], merged where they overlap or touch."""
        order = np.argsort(firsts, kind="stable")
        firsts, lasts = firsts[order], np.maximum.accumulate(lasts[order])
        opens = np.ones(len(firsts), dtype=bool)
        opens[1:] = firsts[1:] > lasts[:-1] + 1
        starts = firsts[opens]
        ends = lasts[np.append(np.flatnonzero(opens)[1:] - 1, len(lasts) - 1)]
        # The /24 blocks they touch, as disjoint runs: +1 where a run opens, -1 after it.
        first_block, last_block = starts >> 8, ends >> 8
        runs = np.ones(len(starts), dtype=bool)
        runs[1:] = first_block[1:] > last_block[:-1] + 1
        edges = np.zeros((1 << 24) + 1, dtype=np.int8)
        edges[first_block[runs]] = 1
        edges[last_block[np.append(np.flatnonzero(runs)[1:] - 1, len(runs) - 1)] + 1] -= 1
        touched = np.cumsum(edges[:-1], dtype=np.int8).view(bool)
        return cls(starts, ends, np.packbits(touched, bitorder="little"))

    def contains(self, numbers: np.ndarray) -> np.ndarray:
        """Which numbers (-1: none) lie in a range."""
        block = np.maximum(numbers, 0) >> 8
        maybe = (self.blocks[block >> 3] >> (block & 7).astype(np.uint8)) & 1
        maybe &= numbers >= 0
        rows = np.flatnonzero(maybe)
        found = np.zeros(len(numbers), dtype=bool)
        if len(rows):
            wanted = numbers[rows]
            at = np.searchsorted(self.starts, wanted, side="right") - 1
            inside = (at >= 0) & (wanted <= self.ends[np.maximum(at, 0)])
            found[rows[inside]] = True
        return found


@dataclass(frozen=True, slots=True)
class _Plan:
    """What the screen does with a column of one kind."""

    exact: bool  # look its values up among the indicator values
    parents: bool  # ... and the text after each of their dots (subdomains)
    quads: bool  # parse dotted quads, look them up among the ranges
    quads_cover: bool  # ... and look up only the values that are not quads
    colons: bool  # let every value with a colon through (IPv6 ranges)


@dataclass(slots=True)
class Screen:
    """What may match a ``MatcherSet``, for whole columns at once; see the module docstring.

    ``column`` and ``rows`` never leave out a value or row the matcher would match; they
    may let through some it does not.
    """

    values: _Fingerprints | None  # every exact value
    ranges: _Ranges | None  # IPv4 subnets, and the exact values that are dotted quads
    quads_in_ranges: bool  # every exact value that parses as a dotted quad is in ranges
    exact_kinds: frozenset[tuple[str, str]]  # the (type, path) of the exact values
    everything: bool  # stix2-matcher fallbacks: every row may match
    subdomains: bool
    colons: bool
    plans: dict[str, _Plan] = field(default_factory=dict)

    def plan(self, kind: str) -> _Plan:
        found = self.plans.get(kind)
        if found is None:
            exact = self.values is not None and bool(_OBJECTS.get(kind, set()) & self.exact_kinds)
            quads = kind in _ADDRESS_KINDS and self.ranges is not None
            found = self.plans[kind] = _Plan(
                exact=exact,
                parents=self.subdomains
                and kind in _DOMAIN_KINDS
                and _type_path(DOMAIN) in self.exact_kinds,
                quads=quads,
                quads_cover=quads and self.quads_in_ranges,
                colons=kind in _ADDRESS_KINDS and self.colons,
            )
        return found

    def column(self, column: pa.Array | pa.ChunkedArray, kind: str) -> np.ndarray:
        """Which values of a column of observable ``kind`` may match (a bool array)."""
        if isinstance(column, pa.ChunkedArray):
            parts = [self.column(chunk, kind) for chunk in column.chunks]
            return np.concatenate(parts) if parts else np.zeros(0, dtype=bool)
        if self.everything:
            return np.ones(len(column), dtype=bool)
        plan = self.plan(kind)
        mask = np.zeros(len(column), dtype=bool)
        if not (plan.exact or plan.parents or plan.quads or plan.colons):
            return mask
        strings = StringColumn.of(column)
        starts, lengths = strings.starts, strings.lengths
        if plan.quads and self.ranges is not None:
            numbers, whole = ipv4_integers(strings)
            mask |= self.ranges.contains(numbers)
            if plan.quads_cover:
                # A value that is all a dotted quad can only equal exact values that are
                # dotted quads, and those are among the ranges.
                rest = np.flatnonzero(~whole)
                starts, lengths = starts[rest], lengths[rest]
        if plan.exact and self.values is not None and len(starts):
            found = self.values.contains(fingerprint(strings.words, starts, lengths))
            if len(starts) == len(mask):
                mask |= found
            else:
                mask[rest[found]] = True
        if plan.parents and self.values is not None:
            mask |= _parents(strings, self.values)
        if plan.colons:
            text = column.cast(pa.string())
            colon = pc.and_(
                pc.match_substring(text, ":"), pc.invert(pc.match_substring(text, "://"))
            )
            mask |= np.asarray(pc.fill_null(colon, False).to_numpy(zero_copy_only=False), bool)
        if strings.present is not None:
            mask &= strings.present
        return mask

    def rows(self, table: pa.Table | pa.RecordBatch, kinds: Mapping[str, str]) -> np.ndarray:
        """Indices of the rows of ``table`` that may match, given each column's kind."""
        if self.everything:
            return np.arange(table.num_rows)
        mask = np.zeros(table.num_rows, dtype=bool)
        for name, kind in kinds.items():
            mask |= self.column(table.column(name), kind)
        return np.flatnonzero(mask)


def _parents(strings: StringColumn, values: _Fingerprints) -> np.ndarray:
    """Which values have a dot followed by an exact value (as ``parent_domains`` reads)."""
    mask = np.zeros(len(strings.starts), dtype=bool)
    if not len(mask):
        return mask
    total = int(strings.starts[-1] + strings.lengths[-1])
    dots = np.flatnonzero(strings.data[:total] == 0x2E)
    if len(dots):
        owner = np.searchsorted(strings.starts, dots, side="right") - 1
        ends = strings.starts[owner] + strings.lengths[owner]
        hashes = fingerprint(strings.words, dots + 1, ends - dots - 1)
        mask[owner[values.contains(hashes)]] = True
    return mask


def build_screen(matchers: MatcherSet) -> Screen:
    """The screen of ``matchers`` (``screen_for`` builds it once per matcher set)."""
    kinds = {(sco_type, path) for sco_type, path, _ in matchers.exact}
    firsts: list[np.ndarray] = []
    lasts: list[np.ndarray] = []
    colons = False
    for (_, _, version), by_prefix in matchers.subnets.items():
        if version != 4:
            colons = True
            continue
        for prefix, networks in by_prefix.items():
            shift = 32 - prefix
            network = np.fromiter(networks, dtype=np.int64, count=len(networks)) << shift
            firsts.append(network)
            lasts.append(network | ((1 << shift) - 1))
    values = None
    quads_in_ranges = False
    if matchers.exact:
        exact = pa.array([value for _, _, value in matchers.exact], type=pa.string())
        values = _Fingerprints.of(exact)
        numbers, whole = ipv4_integers(StringColumn.of(exact))
        rows = np.flatnonzero(whole)
        written = exact.take(pa.array(rows)).to_pylist()
        # Only addresses written the one way ``str(IPv4Address)`` writes them can stand
        # for themselves in the ranges: a log value equal to one of them has its number.
        quads_in_ranges = all(map(_canonical, numbers[rows].tolist(), written))
        if quads_in_ranges:
            firsts.append(numbers[rows])
            lasts.append(numbers[rows])
    ranges = None
    if sum(map(len, firsts)):
        ranges = _Ranges.of(np.concatenate(firsts), np.concatenate(lasts))
    return Screen(
        values=values,
        ranges=ranges,
        quads_in_ranges=quads_in_ranges,
        exact_kinds=frozenset(kinds),
        everything=bool(matchers.fallback),
        subdomains=matchers.subdomains,
        colons=colons,
    )


def _canonical(number: int, written: str) -> bool:
    return f"{number >> 24}.{(number >> 16) & 255}.{(number >> 8) & 255}.{number & 255}" == written


_SCREENS: weakref.WeakKeyDictionary[MatcherSet, tuple[tuple[int, bool], Screen]] = (
    weakref.WeakKeyDictionary()
)


def screen_for(matchers: MatcherSet) -> Screen:
    """The screen of ``matchers``, built on first use and again after ``add``."""
    version = (len(matchers.ids), matchers.subdomains)
    cached = _SCREENS.get(matchers)
    if cached is not None and cached[0] == version:
        return cached[1]
    screen = build_screen(matchers)
    _SCREENS[matchers] = (version, screen)
    return screen
