"""misp-stix's output for the commonest attributes, written directly.

misp-stix builds every object through the ``stix2`` library and parses every pattern it
writes with the ANTLR grammar: about 2 ms an attribute, which caps an import near 500
attributes a second. For the attribute types that make up most of real feeds (IPv4
addresses, domains, URLs, MD5/SHA-1/SHA-256 hashes) whose value matches a strict form,
this module writes the very objects misp-stix writes (observed data, its observables and,
for ``to_ids``, the indicator; ``tests/exchange/test_misp_fast.py`` holds them equal to
misp-stix's for generated attributes). Values outside those forms, other types, and
attributes with galaxies, analyst data, first/last seen or tags misp-stix reads as
anything but a label or TLP marking go through misp-stix itself.

The patterns quote only values the strict forms admit (no quote, backslash or space), so
they are valid by construction and skip the pattern grammar.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from accord.exchange.misp.mapping import TLP_TAGS, whole_number

_IPV4 = re.compile(
    r"(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)"
)
_DOMAIN = re.compile(r"(?=.{1,253}$)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}")
# A '%' only as an escape (%XX): the STIX uri format refuses any other.
_URL = re.compile(r"https?://(?:[A-Za-z0-9._~:/?#\[\]@!$&()*+,;=-]|%[0-9A-Fa-f]{2}){1,2000}")
_HEX = {"md5": 32, "sha1": 40, "sha256": 64}
_HASH_KEYS = {"md5": "MD5", "sha1": "SHA-1", "sha256": "SHA-256"}
_HASH_PATTERN = {"md5": "MD5", "sha1": "'SHA-1'", "sha256": "'SHA-256'"}
_HEXCHARS = re.compile(r"[0-9a-f]+")
_ATTRIBUTE_KEYS = frozenset(
    {
        "uuid",
        "type",
        "category",
        "value",
        "to_ids",
        "distribution",
        "timestamp",
        "comment",
        "Tag",
        "sharing_group_id",
        "SharingGroup",
        "disable_correlation",
        "deleted",
        "object_relation",
        "event_id",
        "object_id",
        "id",
    }
)


def _plain_tags(
    attribute: dict[str, Any], is_confidence: Callable[[str], bool]
) -> list[str] | None:
    """The labels misp-stix gives the tags, or None when one is more than a label."""
    labels: list[str] = []
    for tag in attribute.get("Tag", []):
        name = tag.get("name") if isinstance(tag, dict) else None
        if not isinstance(name, str):
            return None
        if name in TLP_TAGS:
            continue
        if name.lower().startswith("tlp:") or is_confidence(name):
            return None
        labels.append(name)
    return labels


def _when(stamp: Any) -> tuple[str, str] | None:
    seconds = whole_number(stamp)
    return None if seconds is None else _moment(seconds)


@functools.lru_cache(maxsize=1024)
def _moment(seconds: int) -> tuple[str, str]:
    """Formatted once per distinct time: an event's attributes mostly share one."""
    moment = datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%S")
    return moment + ".000Z", moment + "Z"


def convert(
    attribute: dict[str, Any], is_confidence: Callable[[str], bool]
) -> list[dict[str, Any]] | None:
    """misp-stix's objects for ``attribute`` (no markings, no creator), or None when this
    attribute must go through misp-stix."""
    if not _ATTRIBUTE_KEYS.issuperset(attribute):
        return None
    kind, value, key = attribute.get("type"), attribute.get("value"), attribute.get("uuid")
    category = attribute.get("category")
    if not isinstance(value, str) or not isinstance(category, str) or not isinstance(key, str):
        return None
    if '"' in category or not category:
        return None
    when = _when(attribute.get("timestamp"))
    labels = _plain_tags(attribute, is_confidence)
    if when is None or labels is None:
        return None
    stamp, observed = when
    observables: list[dict[str, Any]]
    if kind in ("ip-src", "ip-dst"):
        if not _IPV4.fullmatch(value):
            return None
        side = "src_ref" if kind == "ip-src" else "dst_ref"
        observables = [
            {
                "type": "network-traffic",
                "spec_version": "2.1",
                "id": f"network-traffic--{key}",
                side: f"ipv4-addr--{key}",
                "protocols": ["tcp"],
            },
            {"type": "ipv4-addr", "spec_version": "2.1", "id": f"ipv4-addr--{key}", "value": value},
        ]
        pattern = (
            f"[network-traffic:{side}.type = 'ipv4-addr' AND "
            f"network-traffic:{side}.value = '{value}']"
        )
    elif kind == "domain":
        if not _DOMAIN.fullmatch(value):
            return None
        observables = [
            {
                "type": "domain-name",
                "spec_version": "2.1",
                "id": f"domain-name--{key}",
                "value": value,
            }
        ]
        pattern = f"[domain-name:value = '{value}']"
    elif kind == "url":
        if not _URL.fullmatch(value):
            return None
        observables = [{"type": "url", "spec_version": "2.1", "id": f"url--{key}", "value": value}]
        pattern = f"[url:value = '{value}']"
    elif kind in _HEX:
        if len(value) != _HEX[kind] or not _HEXCHARS.fullmatch(value):
            return None
        observables = [
            {
                "type": "file",
                "spec_version": "2.1",
                "id": f"file--{key}",
                "hashes": {_HASH_KEYS[kind]: value},
            }
        ]
        pattern = f"[file:hashes.{_HASH_PATTERN[kind]} = '{value}']"
    else:
        return None
    all_labels = [f'misp:type="{kind}"', f'misp:category="{category}"', *labels]
    found: list[dict[str, Any]] = [
        {
            "type": "observed-data",
            "spec_version": "2.1",
            "id": f"observed-data--{key}",
            "created": stamp,
            "modified": stamp,
            "first_observed": observed,
            "last_observed": observed,
            "number_observed": 1,
            "object_refs": [o["id"] for o in observables],
            "labels": all_labels,
        },
        *observables,
    ]
    if attribute.get("to_ids") is True:
        indicator: dict[str, Any] = {
            "type": "indicator",
            "spec_version": "2.1",
            "id": f"indicator--{key}",
            "created": stamp,
            "modified": stamp,
            "pattern": pattern,
            "pattern_type": "stix",
            "pattern_version": "2.1",
            "valid_from": observed,
            "kill_chain_phases": [{"kill_chain_name": "misp-category", "phase_name": category}],
            "labels": list(all_labels),
        }
        comment = attribute.get("comment")
        if isinstance(comment, str) and comment:
            indicator["description"] = comment
        found.append(indicator)
    return found
