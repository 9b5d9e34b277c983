"""Signal types behind one interface: PDQ (perceptual, range match) and MD5, SHA-256 (exact).

The model is python-threatexchange's ``SignalType``: a name, how a value is written and
checked, how two values compare and how a local file is hashed. Hashing reads files in
bounded chunks (MD5 and SHA-256) or decodes a bounded thumbnail (PDQ); the content
itself is never kept.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, ClassVar

_HEX = frozenset("0123456789abcdef")
CHUNK = 1 << 20  # bytes read at a time when streaming a file
PDQ_THRESHOLD = 31  # Hamming distance of a confident PDQ match (Meta's recommendation)
PDQ_QUALITY = 50  # PDQ hashes of quality below this are too flat to match on
PDQ_MAX_PIXELS = 64_000_000  # larger images are refused before decoding (bounded memory)
PDQ_MAX_SIDE = 512  # images are hashed at most this large (PDQ works on 64x64 anyway)


class SignalError(ValueError):
    """A value or file that no signal type accepts, said in one sentence."""


@dataclass(frozen=True, slots=True)
class Hashed:
    """One signal computed from one file."""

    signal: str
    value: str
    quality: int | None = None


class SignalType:
    """One kind of hash: its name, its STIX hash key, how values are checked and compared."""

    name: ClassVar[str]
    stix_key: ClassVar[str]  # the key in a STIX ``hashes`` dictionary / file pattern
    hex_length: ClassVar[int]
    exact: ClassVar[bool] = True

    @classmethod
    def parse(cls, value: object) -> str:
        """The value in canonical form (lower-case hex), or SignalError saying why not."""
        if not isinstance(value, str):
            raise SignalError(f"a {cls.name} hash is a string of {cls.hex_length} hex digits")
        text = value.strip().lower()
        if len(text) != cls.hex_length:
            raise SignalError(
                f"a {cls.name} hash has {cls.hex_length} hex digits, not {min(len(text), 99_999)}"
            )
        if not _HEX.issuperset(text):
            raise SignalError(f"a {cls.name} hash has only hex digits (0-9, a-f)")
        return text

    @classmethod
    def distance(cls, a: str, b: str) -> int:
        """0 when equal; exact types know no nearer miss than 1."""
        return 0 if a == b else 1


class MD5(SignalType):
    name = "md5"
    stix_key = "MD5"
    hex_length = 32


class SHA256(SignalType):
    name = "sha256"
    stix_key = "SHA-256"
    hex_length = 64


class PDQ(SignalType):
    """Meta's 256-bit perceptual image hash; a match is a Hamming distance <= threshold."""

    name = "pdq"
    stix_key = "PDQ"
    hex_length = 64
    exact = False

    @classmethod
    def distance(cls, a: str, b: str) -> int:
        return (int(a, 16) ^ int(b, 16)).bit_count()

    @classmethod
    def check_quality(cls, quality: object, minimum: int = PDQ_QUALITY) -> int | None:
        """The quality score (0-100) when given, or SignalError when out of range or too low."""
        if quality is None:
            return None
        if isinstance(quality, bool) or not isinstance(quality, int) or not 0 <= quality <= 100:
            raise SignalError("a PDQ quality is a whole number from 0 to 100")
        if quality < minimum:
            raise SignalError(f"PDQ quality {quality} is below the threshold of {minimum}")
        return quality


SIGNALS: dict[str, type[SignalType]] = {s.name: s for s in (PDQ, MD5, SHA256)}
BY_STIX_KEY: dict[str, type[SignalType]] = {s.stix_key: s for s in SIGNALS.values()}


def signal(name: object) -> type[SignalType]:
    """The signal type called ``name``, or SignalError naming those there are."""
    found = SIGNALS.get(name) if isinstance(name, str) else None
    if found is None:
        raise SignalError(f"unknown signal type; use one of: {', '.join(SIGNALS)}")
    return found


# Hashing local files ---------------------------------------------------------------


def digest_stream(stream: BinaryIO) -> tuple[str, str]:
    """MD5 and SHA-256 of a stream, read in ``CHUNK``-sized pieces (bounded memory)."""
    md5, sha = hashlib.md5(usedforsecurity=False), hashlib.sha256()
    while chunk := stream.read(CHUNK):
        md5.update(chunk)
        sha.update(chunk)
    return md5.hexdigest(), sha.hexdigest()


def pdq_of_stream(stream: BinaryIO) -> tuple[str, int]:
    """The PDQ hash (hex) and quality of an image, or SignalError when it is not one."""
    import numpy as np
    import pdqhash
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(stream) as image:
            if image.width * image.height > PDQ_MAX_PIXELS:
                raise SignalError(f"the image is over {PDQ_MAX_PIXELS // 1_000_000} million pixels")
            image.draft("RGB", (PDQ_MAX_SIDE, PDQ_MAX_SIDE))  # JPEG: decode small
            image.thumbnail((PDQ_MAX_SIDE, PDQ_MAX_SIDE))
            pixels = np.asarray(image.convert("RGB"))
    except SignalError:
        raise
    except (UnidentifiedImageError, Image.DecompressionBombError) as exc:
        raise SignalError(f"not an image this node can decode ({type(exc).__name__})") from None
    except (OSError, ValueError, SyntaxError) as exc:
        raise SignalError(f"the image could not be decoded: {str(exc)[:120]}") from None
    bits, quality = pdqhash.compute(pixels)
    return bytes(np.packbits(np.asarray(bits, dtype=np.uint8))).hex(), int(quality)


def looks_like_image(head: bytes) -> bool:
    """Whether the first bytes of a file are an image signature Pillow reads."""
    signatures = (b"\x89PNG", b"\xff\xd8\xff", b"GIF8", b"BM", b"II*\x00", b"MM\x00*")
    return head.startswith(signatures) or (head[:4] == b"RIFF" and head[8:12] == b"WEBP")


def hash_file(path: Path, *, pdq: bool = True) -> list[Hashed]:
    """Every signal of a local file: MD5 and SHA-256 always, PDQ when it is an image.

    Raises SignalError when the file cannot be read, or looks like an image and does
    not decode. Nothing is kept but the hashes.
    """
    try:
        with path.open("rb") as stream:
            md5, sha = digest_stream(stream)
            stream.seek(0)
            head = stream.read(16)
            found = [Hashed(MD5.name, md5), Hashed(SHA256.name, sha)]
            if pdq and looks_like_image(head):
                stream.seek(0)
                value, quality = pdq_of_stream(stream)
                found.append(Hashed(PDQ.name, value, quality))
            return found
    except OSError as exc:
        raise SignalError(f"cannot read {path.name}: {exc.strerror or exc}") from None
