"""Arrow string columns read as numpy arrays: fingerprints and dotted quads, a column at a time.

These are the kernels the bulk screen (``accord.detect.screen``) is built of. A value is
never copied out of its column: ``StringColumn`` exposes the Arrow buffers as arrays of
offsets, lengths and 8-byte words, so

- ``fingerprint`` hashes each value from its length and four of its words (the first,
  the last and two between: every byte of values up to 32 bytes long), and
- ``ipv4_integers`` parses dotted quads with word-at-a-time arithmetic and a table of
  the 81 dot layouts of a quad.

numpy and pyarrow are imported here at the top: this module is only loaded, through
``accord.detect.bulk``, when a log is read in bulk.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

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


def fingerprint(words: np.ndarray, starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """A 64-bit fingerprint of each value: ``lengths`` bytes from ``starts`` in ``words``.

    It mixes the value's length and four of its 8-byte words, which start at its first
    byte, its last eight, and two evenly between, so every byte of a value up to 32
    bytes long counts (shorter ones are masked).
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
    return fingerprint(strings.words, strings.starts, strings.lengths)


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
# The low n bits of a 16-bit mask, for n = 0..16.
_LENGTH_BITS = np.array([(1 << n) - 1 for n in range(17)], dtype=np.uint16)


def ipv4_integers(strings: StringColumn) -> tuple[np.ndarray, np.ndarray]:
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
