"""Bulk matching: a vectorised screen in front of the exact matcher, and a fast CSV reader.

A ``Screen`` is built once per compiled ``MatcherSet`` (and cached with it). It answers,
for a whole column of log values at a time, which values *may* make ``MatcherSet.match``
name an indicator, never missing one that does; only the rows it lets through are turned
into records and confirmed by the exact matcher, so what is reported is exactly what the
per-record path reports, and the screen only has to be cheap, not exact:

- exact values: a 64-bit fingerprint of each value (its length and four 8-byte words,
  first, last and two between, read straight from the Arrow buffer; every byte of values
  up to 32 bytes), looked up in a bit table and then in the sorted fingerprints of every
  indicator value. Two values with one fingerprint only cost a needless confirmation;
- subdomains (``MatcherSet.subdomains``): the fingerprint of the text after every dot;
- IPv4 ranges (CIDR indicators, and exact addresses where that is all a column can
  match): dotted quads parsed to integers with word-at-a-time arithmetic and a table of
  the 81 dot layouts, then a bit per /24 and ``searchsorted`` over merged ranges;
- IPv6 ranges: any value with a colon that is not a URL goes to the matcher;
- patterns on the ``stix2-matcher`` fallback: every row goes to the matcher.

``read_log_screened`` reads CSV logs through this screen: the file is cut into chunks of
whole lines, parsed by pyarrow in a worker thread while the previous chunk is screened,
and each row keeps its line number. A chunk pyarrow and Python's ``csv`` module might
read differently (malformed rows, NUL bytes, text that is not UTF-8, lone carriage
returns) goes through the per-record reader instead, which reports its malformed lines
with their numbers; quoted line breaks send the rest of the file there. Other formats
are read record by record, as ``read_log`` reads them.
"""

from __future__ import annotations

import csv
import io
import itertools
import os
import weakref
from collections import deque
from collections.abc import Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import cast

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pyarrow import csv as pacsv

from accord.detect.matcher import Hit, MatcherSet
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
    objects_of,
)
from accord.detect.readers import (
    FORMATS,
    GZIP_ERRORS,
    CSVLayout,
    LogRecord,
    ReadStats,
    csv_layout,
    csv_record,
    csv_records,
    damaged,
    detect_format,
    log_name,
    open_binary,
    read_lines,
)
from accord.errors import InvalidInput

CHUNK_SIZE = 16 << 20

_U64 = np.dtype("<u8")
_PACK = np.uint64(0x0102040810204080)  # 0/1 bytes times this: byte i lands on bit 56 + i
_K = tuple(
    np.uint64(k)
    for k in (
        0x9E3779B97F4A7C15,
        0xC2B2AE3D27D4EB4F,
        0x165667B19E3779F9,
        0x27D4EB2F165667C5,
        0xFF51AFD7ED558CCD,
    )
)
# The low n bytes of a word, for n = 0..8.
_BYTE_MASKS = np.array([(1 << (8 * n)) - 1 for n in range(8)] + [(1 << 64) - 1], dtype=np.uint64)

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


# Strings as numpy ------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class StringColumn:
    """An Arrow string column as numpy: where each value lies in its bytes, and the bytes.

    ``words[i]`` is the little-endian 8-byte word starting at byte ``i`` (zeros past
    the end), so a value's first bytes are one gather away.
    """

    data: np.ndarray
    words: np.ndarray
    starts: np.ndarray
    lengths: np.ndarray
    present: np.ndarray | None  # False where the value is null; None: no nulls

    @classmethod
    def of(cls, array: pa.Array) -> StringColumn:
        if not (pa.types.is_string(array.type) or pa.types.is_large_string(array.type)):
            array = array.cast(pa.string())
        n = len(array)
        _, offsets_buffer, data_buffer = array.buffers()
        wide = pa.types.is_large_string(array.type)
        offsets = (
            np.frombuffer(
                offsets_buffer,
                dtype=np.int64 if wide else np.int32,
                count=n + 1,
                offset=array.offset * (8 if wide else 4),
            )
            if offsets_buffer is not None
            else np.zeros(n + 1, dtype=np.int32)
        )
        first, last = int(offsets[0]), int(offsets[-1])
        data = np.zeros(last - first + 16, dtype=np.uint8)
        if data_buffer is not None and last > first:
            data[: last - first] = np.frombuffer(
                data_buffer, dtype=np.uint8, count=last - first, offset=first
            )
        words = np.ndarray((last - first + 9,), dtype=_U64, buffer=data, strides=(1,))
        starts = offsets[:-1].astype(np.int64) - first
        lengths = np.diff(offsets).astype(np.int64)
        present = None
        if array.null_count:
            present = np.asarray(array.is_valid().to_numpy(zero_copy_only=False), dtype=bool)
        return cls(data, words, starts, lengths, present)


def _fingerprint(words: np.ndarray, starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """A 64-bit fingerprint of each value: its length and four of its 8-byte words.

    The words start at the value's first byte, its last eight, and two evenly between,
    so every byte of a value up to 32 bytes long counts (shorter ones are masked).
    """
    span = np.maximum(lengths, 8) - 8
    third = span // 3
    mask = _BYTE_MASKS[np.minimum(lengths, 8)] if len(lengths) and lengths.min() < 8 else None
    h = lengths.astype(np.uint64) * _K[4]
    for position, k in zip(
        (starts, starts + third, starts + (span - third), starts + span), _K[:4], strict=True
    ):
        word = words[position]
        if mask is not None:
            word &= mask
        word *= k
        h += word
    h ^= h >> np.uint64(31)
    h *= _K[1]
    h ^= h >> np.uint64(29)
    return h


def fingerprints(column: pa.Array) -> np.ndarray:
    """The screen's fingerprint of every value of a string column (nulls included)."""
    strings = StringColumn.of(column)
    return _fingerprint(strings.words, strings.starts, strings.lengths)


def _bits16(flags: np.ndarray) -> np.ndarray:
    """Rows of 16 booleans as 16-bit masks (bit i: column i)."""
    packed = (flags.view(_U64) * _PACK) >> np.uint64(56)  # 0/1 bytes: byte i to bit 56 + i
    return packed.astype(np.uint8).view("<u2").reshape(-1)


def _quad_tables() -> tuple[np.ndarray, np.ndarray]:
    """Per dot layout of a dotted quad: its number, and the weights of its digits.

    A layout's key is the mask of its dots with the bit after its last character set;
    ``layout[key]`` is 0 for anything but four groups of one to three characters. A
    digit's weight is its place value times 256 ** (3 - octet), so a dotted quad's
    number is the sum of its digits times their weights, modulo 2 ** 32: the sums are
    taken in 32 bits and wrap, exactly, since every address is below 2 ** 32.
    """
    layout = np.zeros(1 << 16, dtype=np.uint8)
    weights = np.zeros((82, 16), dtype=np.uint32)
    for number, sizes in enumerate(itertools.product((1, 2, 3), repeat=4), start=1):
        position, dots = 0, 0
        for octet, size in enumerate(sizes):
            for i in range(size):
                weights[number, position + i] = 10 ** (size - 1 - i) * 256 ** (3 - octet)
            position += size
            if octet < 3:
                dots |= 1 << position
                position += 1
        layout[dots | (1 << position)] = number
    return layout, weights


_LAYOUT, _LAYOUT_WEIGHTS = _quad_tables()
# The index of the lowest set bit of a 16-bit mask, 16 for none.
_LOWEST_BIT = np.array([16] + [(m & -m).bit_length() - 1 for m in range(1, 1 << 16)], np.int8)


def _ipv4_integers(strings: StringColumn) -> tuple[np.ndarray, np.ndarray]:
    """Each value's IPv4 address as an integer (or -1), and whether it is all the value.

    Every dotted quad Python's ``ipaddress`` accepts, alone or before a ``/`` (a CIDR
    value), gets its number; some it rejects (leading zeros, octets over 255) get a
    number too, which costs a needless confirmation, never a miss.
    """
    n = len(strings.starts)
    starts, lengths, words = strings.starts, strings.lengths, strings.words
    text = np.empty((n, 2), dtype=_U64)  # the first 16 bytes, zeros after the value
    text[:, 0] = words[starts] & _BYTE_MASKS[np.minimum(lengths, 8)]
    text[:, 1] = words[starts + 8] & _BYTE_MASKS[np.clip(lengths - 8, 0, 8)]
    chars = text.view(np.uint8).reshape(n, 16)
    digits = chars - np.uint8(48)
    dots = _bits16(chars == 0x2E)
    others = _LENGTH_BITS[np.minimum(lengths, 16)] & ~(dots | _bits16(digits < 10))
    # The quad ends at the first character that is no digit or dot: the end, or a slash.
    end = np.minimum(_LOWEST_BIT[others], lengths)
    ok = end <= 15
    end = np.minimum(end, 15)
    ok &= (end == lengths) | (chars.reshape(-1)[np.arange(0, 16 * n, 16) + end] == 0x2F)
    end_bit = np.left_shift(1, end, dtype=np.int64)
    layout = _LAYOUT[(dots & (end_bit - 1)) | end_bit]
    ok &= layout != 0
    # Layout 0 weighs nothing: every row is summed, and those that are no quad dropped.
    summed = np.einsum(
        "ij,ij->i", digits, _LAYOUT_WEIGHTS[layout], dtype=np.uint32, casting="unsafe"
    )
    numbers = np.where(ok, summed.astype(np.int64), -1)
    return numbers, ok & (end == lengths)


_LENGTH_BITS = np.array([(1 << n) - 1 for n in range(17)], dtype=np.uint16)


# The screen ------------------------------------------------------------------------------
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
            numbers, whole = _ipv4_integers(strings)
            mask |= self.ranges.contains(numbers)
            if plan.quads_cover:
                # A value that is all a dotted quad can only equal exact values that are
                # dotted quads, and those are among the ranges.
                rest = np.flatnonzero(~whole)
                starts, lengths = starts[rest], lengths[rest]
        if plan.exact and self.values is not None and len(starts):
            found = self.values.contains(_fingerprint(strings.words, starts, lengths))
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
        hashes = _fingerprint(strings.words, dots + 1, ends - dots - 1)
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
        numbers, whole = _ipv4_integers(StringColumn.of(exact))
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


# Reading CSV logs through the screen ---------------------------------------------------------
def read_log_screened(
    path: str,
    stats: ReadStats,
    matchers: MatcherSet,
    *,
    fmt: str = "auto",
    mapping: Mapping[str, str] | None = None,
    chunk_size: int = CHUNK_SIZE,
) -> Iterator[LogRecord]:
    """The records of the log at ``path`` (``-``: stdin) that may match ``matchers``, in order.

    ``read_log`` with the CSV rows the screen rules out left out: the same references,
    times, malformed lines and errors; ``stats`` counts every line and record read.
    Other formats yield every record.
    """
    if fmt not in FORMATS:
        raise InvalidInput(f"unknown log format {fmt!r}; use one of: {', '.join(FORMATS)}")
    name = log_name(path)
    with open_binary(path) as stream:
        try:
            head = stream.readline()
        except GZIP_ERRORS as exc:
            raise damaged(name, 0, exc) from None
        header = _csv_header(head, name, fmt)
        if header is None:
            raw = itertools.chain([head], stream) if head else stream
            yield from read_lines(raw, name, stats, fmt=fmt, mapping=mapping)
            return
        layout = csv_layout(header, name, mapping)
        stats.lines += 1
        screen = screen_for(matchers)
        buffered = cast(io.BufferedIOBase, stream)  # open_binary's streams all are
        yield from _screened_csv(buffered, name, stats, layout, screen, chunk_size)


def match_log(
    path: str,
    stats: ReadStats,
    matchers: MatcherSet,
    *,
    fmt: str = "auto",
    mapping: Mapping[str, str] | None = None,
    chunk_size: int = CHUNK_SIZE,
) -> Iterator[tuple[LogRecord, Hit]]:
    """Every (record, hit) of the log at ``path``, as the per-record path finds them."""
    for record in read_log_screened(
        path, stats, matchers, fmt=fmt, mapping=mapping, chunk_size=chunk_size
    ):
        for hit in matchers.match(objects_of(record.fields, record.field_map)):
            yield record, hit


def _csv_header(head: bytes, name: str, fmt: str) -> list[str] | None:
    """The header of a CSV log whose first line is ``head``; None: read it record by record.

    That is any other format, and a first line the per-record reader would treat
    specially (not UTF-8, NUL bytes, a quoted line break, nothing at all).
    """
    if fmt not in ("auto", "csv") or not head.strip() or b"\x00" in head:
        return None
    try:
        text = head.decode("utf-8").rstrip("\r\n")
    except UnicodeDecodeError:
        return None
    if fmt == "auto" and detect_format(text, name) != "csv":
        return None
    if "\r" in text or ('"' in text and not _quotes_well_formed(head.rstrip(b"\r\n"))):
        return None
    try:
        return next(csv.reader([text]), None)
    except csv.Error:
        return None


@dataclass(frozen=True, slots=True)
class _CSVColumns:
    """How a CSV log's columns are named for pyarrow, and which of them are read."""

    names: list[str]  # c0, c1, …: header names may repeat or be empty
    read: dict[str, str]  # header name -> pyarrow name, the last column of that name
    kinds: dict[str, str]  # pyarrow name -> observable kind

    @classmethod
    def of(cls, layout: CSVLayout) -> _CSVColumns:
        last = {h: i for i, h in enumerate(layout.header)}
        wanted = [*layout.field_map]
        if layout.time_column is not None:
            wanted.append(layout.time_column)
        read = {h: f"c{last[h]}" for h in dict.fromkeys(wanted)}
        kinds = {read[h]: kind for h, kind in layout.field_map.items()}
        return cls([f"c{i}" for i in range(len(layout.header))], read, kinds)


@dataclass(frozen=True, slots=True)
class _Read:
    """Whole lines of a CSV log as read, and how the stream went on."""

    data: bytearray
    end: bool  # the stream ended after these lines
    failure: BaseException | None  # the gzip error that ended it


@dataclass(frozen=True, slots=True)
class _Chunk:
    """Lines of a CSV log, parsed and screened where they could be."""

    read: _Read
    lines: int
    records: int
    # (line from 0, fields) of each row that may match; None: read the lines record by record
    candidates: list[tuple[int, dict[str, str]]] | None
    rest_by_record: bool  # quoted line breaks: read from here on record by record


def _screened_csv(
    stream: io.BufferedIOBase,
    name: str,
    stats: ReadStats,
    layout: CSVLayout,
    screen: Screen,
    chunk_size: int,
) -> Iterator[LogRecord]:
    columns = _CSVColumns.of(layout)
    line = 2  # of the first line of the next chunk
    # This thread reads chunks in order; workers parse and screen a few of them at once
    # (pyarrow and numpy let go of the GIL), and their results are taken in order.
    with ThreadPoolExecutor(max_workers=_WORKERS, thread_name_prefix="accord-csv") as pool:
        pending: deque[Future[_Chunk]] = deque()
        end = False
        while pending or not end:
            while not end and len(pending) <= _WORKERS:
                read = _read_chunk(stream, chunk_size)
                end = read.end
                pending.append(pool.submit(_process, read, columns, screen))
            chunk = pending.popleft().result()
            if chunk.rest_by_record:
                later = [f.result().read.data for f in pending]
                raw = itertools.chain(*map(io.BytesIO, [chunk.read.data, *later]), stream)
                yield from csv_records(raw, line, name, stats, layout)
                return
            if chunk.candidates is None:
                yield from csv_records(io.BytesIO(chunk.read.data), line, name, stats, layout)
            else:
                stats.lines += chunk.lines
                stats.records += chunk.records
                for offset, fields in chunk.candidates:
                    yield csv_record(name, line + offset, fields, layout)
            line += chunk.lines
            if chunk.read.failure is not None:
                raise damaged(name, line - 1, chunk.read.failure)


_WORKERS = max(2, min(4, os.cpu_count() or 2))


def _read_chunk(stream: io.BufferedIOBase, size: int) -> _Read:
    """The next whole lines of ``stream``, about ``size`` bytes of them."""
    data = bytearray(size)
    total = 0
    end = False
    failure: BaseException | None = None
    try:
        with memoryview(data) as view:
            while total < size:
                # readinto1: a gzip stream that breaks off loses no more than its last line.
                got = stream.readinto1(view[total:])
                if not got:
                    end = True
                    break
                total += got
        del data[total:]
        if not end and not data.endswith(b"\n"):
            tail = stream.readline()
            data += tail
            end = not tail.endswith(b"\n")
    except GZIP_ERRORS as exc:
        failure, end = exc, True
        del data[data.rfind(b"\n", 0, total) + 1 :]  # as in the per-record reader
    return _Read(data, end, failure)


def _process(read: _Read, columns: _CSVColumns, screen: Screen) -> _Chunk:
    """Parse and screen one chunk (in a worker thread)."""
    data = read.data
    lines = int(np.count_nonzero(np.frombuffer(data, dtype=np.uint8) == 0x0A))
    lines += 0 if data.endswith(b"\n") or not data else 1
    table, line_index, rest = _parse(data, lines, columns)
    if table is None:
        return _Chunk(read, lines, 0, None, rest)
    rows = screen.rows(table, columns.kinds)
    candidates: list[tuple[int, dict[str, str]]] = []
    if len(rows):
        picked = table.take(pa.array(rows)).to_pydict()
        offsets = line_index[rows] if line_index is not None else rows
        for i, offset in enumerate(offsets.tolist()):
            candidates.append((offset, {h: picked[c][i] for h, c in columns.read.items()}))
    return _Chunk(read, lines, table.num_rows, candidates, False)


def _parse(
    data: bytearray, lines: int, columns: _CSVColumns
) -> tuple[pa.Table | None, np.ndarray | None, bool]:
    """(table, line of each row or None for one row a line, rest by record) for ``data``.

    The table is None where pyarrow and the ``csv`` module might disagree; then those
    lines are read record by record, and so is the rest of the log where a quoted value
    may run past them.
    """
    if not data:
        return None, None, False
    # Without quotes, every line ends a record for both readers; with quotes, only when
    # they are used as RFC 4180 uses them (else both may differ, and so may where a
    # record ends). Where the csv module must read lines with quotes, it reads on from
    # there to the end: its state cannot be handed from one chunk to the next.
    quoted = b'"' in data
    if quoted and not _quotes_well_formed(data):
        return None, None, True
    if b"\x00" in data or (b"\r" in data and data.count(b"\r") != data.count(b"\r\n")):
        return None, None, quoted
    if not data.isascii():
        try:
            data.decode("utf-8")
        except UnicodeDecodeError:
            return None, None, quoted
    invalid: list[object] = []

    def skip(row: object) -> str:
        invalid.append(row)
        return "skip"

    try:
        table = pacsv.read_csv(
            pa.py_buffer(data),
            read_options=pacsv.ReadOptions(
                column_names=columns.names, use_threads=False, block_size=len(data) + 1
            ),
            parse_options=pacsv.ParseOptions(newlines_in_values=quoted, invalid_row_handler=skip),
            convert_options=pacsv.ConvertOptions(
                check_utf8=False,  # checked above, for every column
                include_columns=list(columns.read.values()),
                column_types=dict.fromkeys(columns.read.values(), pa.string()),
            ),
        )
    except pa.ArrowException:  # whatever pyarrow cannot read, the csv module reads
        return None, None, quoted
    if invalid:  # rows of the wrong width, which the csv module reports
        return None, None, False
    if table.num_rows == lines:
        return table, None, False
    if table.num_rows > lines:
        return None, None, quoted
    kept = _non_blank_lines(data)
    if len(kept) != table.num_rows:
        return None, None, True  # line breaks inside quoted values
    return table, kept, False


def _quotes_well_formed(data: bytes | bytearray) -> bool:
    """Whether every quote in ``data`` opens, closes or doubles inside a quoted field.

    That is, quoting as RFC 4180 has it, from outside a quoted field to outside one. The
    quotes before a quote say where it stands: after an even number it is entered from
    outside, so it must open a field (follow a comma or a line break) unless it follows
    a quote; after an odd number, it leaves the field, so it must end it (precede a
    comma or a line break) unless a quote follows.
    """
    text = np.frombuffer(data, dtype=np.uint8)
    quotes = np.flatnonzero(text == 0x22)
    if len(quotes) % 2:
        return False
    if not len(quotes):
        return True
    entered, left = quotes[0::2], quotes[1::2]
    before = text[np.maximum(entered - 1, 0)]
    before[entered == 0] = 0x0A
    after = text[np.minimum(left + 1, len(text) - 1)]
    after[left == len(text) - 1] = 0x0A
    return bool(_MAY_PRECEDE_OPENING[before].all() and _MAY_FOLLOW_CLOSING[after].all())


_MAY_PRECEDE_OPENING = np.zeros(256, dtype=bool)
_MAY_PRECEDE_OPENING[[0x2C, 0x0A, 0x22]] = True
_MAY_FOLLOW_CLOSING = np.zeros(256, dtype=bool)
_MAY_FOLLOW_CLOSING[[0x2C, 0x0A, 0x0D, 0x22]] = True


def _non_blank_lines(data: bytearray) -> np.ndarray:
    """The lines of ``data`` (from 0) that are not empty: blank lines hold no CSV row."""
    ends = np.flatnonzero(np.frombuffer(data, dtype=np.uint8) == 0x0A)
    if not data.endswith(b"\n"):
        ends = np.append(ends, len(data))
    starts = np.concatenate(([0], ends[:-1] + 1))
    length = ends - starts
    crlf = (length == 1) & (
        np.frombuffer(data, dtype=np.uint8)[np.minimum(starts, len(data) - 1)] == 0x0D
    )
    return np.flatnonzero((length > 0) & ~crlf)
