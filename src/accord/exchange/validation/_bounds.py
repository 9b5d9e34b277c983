"""Bounds every submitted object meets before any STIX check, the same on every store.

STIX itself sets no such bounds; Accord's store and its JSON serialiser do, so they are
checked first, and a value outside them is reported naming its property path
(``x_data.items[3].name``) rather than failing later, in the database or the serialiser:

* arrays and objects nest at most ``MAX_DEPTH`` levels, the STIX object itself counting
  as the first (canonical JSON is written by orjson, which stops at 255 levels; real
  STIX content nests well under ten);
* no text, key or value, holds a NUL character (PostgreSQL text cannot) or an unpaired
  UTF-16 surrogate (not Unicode text: it cannot be written as UTF-8);
* numbers are finite and integers fit in 64 bits (what a JSON reader hands back from
  any JSON text; larger ones become floats);
* keys are strings, values are JSON values (for callers handing in Python values);
* ``type`` has at most ``MAX_TYPE_LENGTH`` characters, so that a ``type--UUID``
  identifier fits the store's 100-character column.

This module imports nothing heavy: the package exports its text checks for other
inputs (TAXII parameters, federation messages).
"""

from __future__ import annotations

import math
import re
from typing import Any, Final

MAX_DEPTH: Final = 64
MAX_TYPE_LENGTH: Final = 62
_UNSTORABLE: Final = re.compile("[\x00\ud800-\udfff]")
_INT_RANGE: Final = range(-(2**63), 2**64)

# A position in the object: (parent position, key or index), the object itself None.
_Where = tuple["_Where | None", str | int] | None


def unstorable(text: str) -> str | None:
    """Why ``text`` cannot be stored (a NUL or an unpaired surrogate in it), or None."""
    if text.isascii():
        return "contains a NUL character (U+0000)" if "\x00" in text else None
    found = _UNSTORABLE.search(text)
    if found is None:
        return None
    if found.group() == "\x00":
        return "contains a NUL character (U+0000)"
    return f"contains an unpaired surrogate (U+{ord(found.group()):04X}), which is not Unicode text"


def printable(text: str) -> str:
    """``text`` with NUL and unpaired surrogates written as ``\\uXXXX`` escapes."""
    return _UNSTORABLE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def bounds_issue(obj: dict[str, Any]) -> tuple[str | None, str] | None:
    """The first way ``obj`` breaks the bounds above, with the path of the value at fault."""
    stack: list[tuple[Any, _Where, int]] = [(obj, None, 1)]
    while stack:
        value, where, depth = stack.pop()
        if isinstance(value, str):
            why = unstorable(value)
            if why:
                return _path(where), why
        elif isinstance(value, dict):
            if depth > MAX_DEPTH:
                return _path(where), _too_deep()
            for key, item in value.items():
                if not isinstance(key, str):
                    return _path(where), f"has a key that is not a string: {key!r}"
                why = unstorable(key)
                if why:
                    return _path((where, key)), f"has a key that {why}"
                stack.append((item, (where, key), depth + 1))
        elif isinstance(value, list):
            if depth > MAX_DEPTH:
                return _path(where), _too_deep()
            stack.extend((item, (where, i), depth + 1) for i, item in enumerate(value))
        elif isinstance(value, bool) or value is None:
            continue
        elif isinstance(value, int):
            if value not in _INT_RANGE:
                return _path(where), "is an integer beyond 64 bits"
        elif isinstance(value, float):
            if not math.isfinite(value):
                return _path(where), "is not a finite number"
        else:
            return _path(where), f"is a Python {type(value).__name__}, not a JSON value"
    otype = obj.get("type")
    if isinstance(otype, str) and len(otype) > MAX_TYPE_LENGTH:
        limit = MAX_TYPE_LENGTH
        return "type", f"has {len(otype)} characters; Accord stores types of at most {limit}"
    return None


def _too_deep() -> str:
    return (
        f"nests arrays and objects more than {MAX_DEPTH} levels deep "
        f"(the limit, counting the STIX object as the first)"
    )


def _path(where: _Where) -> str | None:
    """``where`` as a property path: ``a.b[2].c``, keys escaped by ``printable``."""
    parts: list[str] = []
    while where is not None:
        where, key = where
        parts.append(f"[{key}]" if isinstance(key, int) else "." + printable(key))
    text = "".join(reversed(parts)).lstrip(".")
    if len(text) > 300:  # a path 64 levels deep of long keys: its two ends tell enough
        text = f"{text[:150]}…{text[-100:]}"
    return text or None
