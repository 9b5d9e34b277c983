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

The text rule is ``accord.domain.text``'s, shared with every other input.
"""

from __future__ import annotations

import math
from typing import Any, Final

from accord.domain.text import printable, unstorable

MAX_DEPTH: Final = 64
MAX_TYPE_LENGTH: Final = 62
_INT_RANGE: Final = range(-(2**63), 2**64)

# A breach: the path to the value at fault, innermost key first, and why.
_Breach = tuple[list[str | int], str]


def bounds_issue(obj: dict[str, Any]) -> tuple[str | None, str] | None:
    """The first way ``obj`` breaks the bounds above, with the path of the value at fault."""
    found = _breach(obj, 1)
    if found is not None:
        path, why = found
        return _path(path[::-1]), why
    otype = obj.get("type")
    if isinstance(otype, str) and len(otype) > MAX_TYPE_LENGTH:
        limit = MAX_TYPE_LENGTH
        return "type", f"has {len(otype)} characters; Accord stores types of at most {limit}"
    return None


def _breach(container: dict[str, Any] | list[Any], depth: int) -> _Breach | None:
    """The first breach inside ``container`` (at ``depth``): the path to it, innermost
    key first, and why. Recursive, but never deeper than MAX_DEPTH + 1 calls; the common
    case (ASCII text, small integers) is tested inline, which keeps a typical object to
    a few microseconds."""
    if depth > MAX_DEPTH:
        return [], _too_deep()
    is_dict = isinstance(container, dict)
    items = container.items() if is_dict else enumerate(container)  # type: ignore[union-attr]
    for key, item in items:
        if is_dict:
            if type(key) is not str:
                return [], f"has a key that is not a string: {key!r}"
            if not key.isascii() or "\x00" in key:
                why = unstorable(key)
                if why:
                    return [key], f"has a key that {why}"
        kind = type(item)
        if kind is str:
            if not item.isascii() or "\x00" in item:
                why = unstorable(item)
                if why:
                    return [key], why
        elif kind is dict or kind is list:
            found = _breach(item, depth + 1)
            if found is not None:
                found[0].append(key)
                return found
        elif kind is int:
            if item not in _INT_RANGE:
                return [key], "is an integer beyond 64 bits"
        elif kind is float:
            if not math.isfinite(item):
                return [key], "is not a finite number"
        elif item is not None and kind is not bool:
            # Subclasses of JSON's Python types (a StrEnum, an OrderedDict) are still text,
            # mappings or numbers; only other values are refused.
            found = _breach_subclass(item, depth)
            if found is not None:
                found[0].append(key)
                return found
    return None


def _breach_subclass(item: Any, depth: int) -> _Breach | None:
    if isinstance(item, str):
        why = unstorable(item)
        return ([], why) if why else None
    if isinstance(item, dict | list):
        return _breach(item, depth + 1)
    if isinstance(item, bool):
        return None
    if isinstance(item, int):
        return None if item in _INT_RANGE else ([], "is an integer beyond 64 bits")
    if isinstance(item, float):
        return None if math.isfinite(item) else ([], "is not a finite number")
    return [], f"is a Python {type(item).__name__}, not a JSON value"


def _too_deep() -> str:
    return (
        f"nests arrays and objects more than {MAX_DEPTH} levels deep "
        f"(the limit, counting the STIX object as the first)"
    )


def _path(keys: list[str | int]) -> str | None:
    """A property path, ``a.b[2].c``, from its keys (escaped by ``printable``)."""
    text = "".join(f"[{k}]" if isinstance(k, int) else "." + printable(k) for k in keys)
    text = text.lstrip(".")
    if len(text) > 300:  # a path 64 levels deep of long keys: its two ends tell enough
        text = f"{text[:150]}…{text[-100:]}"
    return text or None
