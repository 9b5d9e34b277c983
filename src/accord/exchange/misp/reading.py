"""PyMISP's reading of the commonest attributes, done directly.

``MISPEvent.from_dict`` then ``to_json`` normalise an event the way MISP writes it
(numbers as strings, defaults filled, strings stripped, duplicate tags dropped); for an
attribute that costs about 80 µs, most of a 10,000-attributes-a-second budget. For an
attribute whose fields are all of the forms MISP itself writes (listed in ``_READERS``;
already-stripped strings, canonical numbers, plain tags, an empty galaxy list), this
module builds the very dictionary PyMISP's ``MISPAttribute`` writes, field order
included; every other attribute, and the event itself, still goes through PyMISP.
``tests/exchange/test_misp_reading.py`` holds the two equal on generated attributes.
"""

from __future__ import annotations

import functools
import re
from typing import Any, TypeGuard

_DIGITS = re.compile(r"0|[1-9][0-9]{0,11}")
# Types PyMISP reads specially (a datetime value, a sample's data): always through it.
_SPECIAL = frozenset({"datetime", "malware-sample", "attachment"})
# MISPAttribute's fields as its constructor orders them (empty ones are not written).
_SLOTS = ("uuid", "ShadowAttribute", "Sighting", "Tag", "Galaxy")
_EMPTY_LISTS = frozenset({"ShadowAttribute", "Sighting", "Galaxy"})
_NONE_ONLY = frozenset({"object_relation", "first_seen", "last_seen"})
_KEYS = frozenset(
    {
        "uuid",
        "type",
        "category",
        "value",
        "to_ids",
        "distribution",
        "id",
        "event_id",
        "timestamp",
        "sharing_group_id",
        "SharingGroup",
        "disable_correlation",
        "Tag",
        "comment",
        "deleted",
        "object_id",
        *_EMPTY_LISTS,
        *_NONE_ONLY,
    }
)


@functools.cache
def _types() -> tuple[frozenset[str], dict[str, frozenset[str]]]:
    from pymisp import MISPAttribute

    described = MISPAttribute().describe_types
    mapping = {c: frozenset(t) for c, t in described["category_type_mappings"].items()}
    return frozenset(described["types"]) - _SPECIAL, mapping


def _number(value: Any) -> str | None:
    """The string PyMISP writes for an id or timestamp it reads with ``int()`` (None: let
    PyMISP read it)."""
    if isinstance(value, str):
        return value if _DIGITS.fullmatch(value) else None
    if isinstance(value, int) and not isinstance(value, bool) and 0 < value < 10**12:
        return str(value)
    return None


def _plain(value: Any) -> TypeGuard[str]:
    return isinstance(value, str) and value == value.strip()


def read_attribute(attribute: Any) -> dict[str, Any] | None:
    """What ``MISPAttribute.from_dict(**attribute).to_dict()`` writes, or None when this
    attribute must go through PyMISP."""
    if not isinstance(attribute, dict) or not _KEYS.issuperset(attribute):
        return None
    types, mapping = _types()
    kind, category, value = attribute.get("type"), attribute.get("category"), attribute.get("value")
    if not (_plain(kind) and _plain(category) and _plain(value) and _plain(attribute.get("uuid"))):
        return None
    if kind not in types or kind not in mapping.get(category, ()):
        return None
    to_ids = attribute.get("to_ids")
    correlation = attribute.get("disable_correlation", False)
    if not isinstance(to_ids, bool) or not isinstance(correlation, bool):
        return None
    out: dict[str, Any] = dict.fromkeys(_SLOTS)
    out.update(type=kind, value=value, category=category, to_ids=to_ids)
    if "distribution" in attribute:
        distribution = attribute["distribution"]
        if isinstance(distribution, int) and not isinstance(distribution, bool):
            distribution = str(distribution)
        if distribution not in ("0", "1", "2", "3", "4", "5"):
            return None
        out["distribution"] = distribution
    for key in ("id", "event_id", "timestamp", "sharing_group_id"):
        if key in attribute:
            number = _number(attribute[key])
            if number is None or (key == "timestamp" and not 0 < int(number) < 10**10):
                return None
            out[key] = number
    if out.get("distribution") == "4" and out.get("sharing_group_id") in (None, "0"):
        return None  # PyMISP refuses it, with its own message
    tags = attribute.get("Tag", [])
    if not isinstance(tags, list):
        return None
    names = []
    for tag in tags:
        if not isinstance(tag, dict) or tag.keys() != {"name"} or not _plain(tag["name"]):
            return None
        names.append(tag["name"])
    if len(set(names)) != len(names):
        return None  # PyMISP drops repeated tags
    out["Tag"] = [{"name": n} for n in names] or None
    if "SharingGroup" in attribute:
        group = attribute["SharingGroup"]
        if not isinstance(group, dict) or not group or not set(group) <= {"uuid", "name"}:
            return None
        if not all(_plain(v) for v in group.values()):
            return None
        out["SharingGroup"] = dict(group)
    out["disable_correlation"] = correlation
    for key, item in attribute.items():  # the rest, as PyMISP sets them: in their order
        if key == "uuid":
            out["uuid"] = item
        elif key in _EMPTY_LISTS:
            if item != []:
                return None
        elif key in _NONE_ONLY:
            if item is not None:
                return None
        elif key in ("comment", "object_id"):
            if not _plain(item):
                return None
            out[key] = item
        elif key == "deleted":
            if not isinstance(item, bool):
                return None
            out[key] = item
    return {k: v for k, v in out.items() if v is not None}
