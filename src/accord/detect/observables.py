"""What a log record says, as STIX cyber-observable objects the matchers can test.

A reader yields records as ``{field: value}``; a field map names, per field, the
observable property it carries (``ipv4-addr:value``, ``file:hashes.'SHA-256'``…, or
``auto`` to recognise the value's kind). ``objects_of`` turns one record into the
objects of one observation, grouped the way STIX groups them: every address, domain,
URL or e-mail field is an object of its own; the hashes of a record belong to one
``file`` (and one ``x509-certificate``); a ``network-traffic:dst_ref.value`` field is a
``network-traffic`` object whose ``dst_ref`` is an address object, which is itself
part of the observation. The same grouping feeds ``observed_data``, the SDO the OASIS
``stix2-matcher`` is run on, so both matchers see the same observation.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

# Every observable property the compiled matchers handle, as "type:path".
IPV4 = "ipv4-addr:value"
IPV6 = "ipv6-addr:value"
DOMAIN = "domain-name:value"
URL = "url:value"
EMAIL = "email-addr:value"
DST = "network-traffic:dst_ref.value"
AUTO = "auto"
HASH_ALGORITHMS = ("MD5", "SHA-1", "SHA-256")
FILE_HASHES = tuple(f"file:hashes.{a}" for a in HASH_ALGORITHMS)
CERT_HASHES = tuple(f"x509-certificate:hashes.{a}" for a in HASH_ALGORITHMS)
OBSERVABLE_KEYS = (IPV4, IPV6, DOMAIN, URL, EMAIL, DST, *FILE_HASHES, *CERT_HASHES)

_HEX = re.compile(r"[0-9a-fA-F]+")
_HASH_BY_LENGTH = {32: "MD5", 40: "SHA-1", 64: "SHA-256"}


@dataclass(slots=True)
class ObservedObject:
    """One cyber-observable object of a record: its STIX type and property values.

    ``props`` maps a property path (``value``, ``hashes.MD5``, ``dst_ref.value``) to
    the value and the record field it came from.
    """

    type: str
    props: dict[str, tuple[str, str]] = field(default_factory=dict)


def classify(value: str) -> str | None:
    """The observable key a bare value most plausibly is, or None for nothing we match."""
    if not value or len(value) > 4096:
        return None
    if "://" in value:
        return URL
    if "@" in value:
        return EMAIL
    if ":" in value or value[0].isdigit():
        address = address_key(value)
        if address is not None:
            return address
    if len(value) in _HASH_BY_LENGTH and _HEX.fullmatch(value):
        return f"file:hashes.{_HASH_BY_LENGTH[len(value)]}"
    if "." in value and " " not in value and "/" not in value:
        return DOMAIN
    return None


def address_key(value: str) -> str | None:
    """``ipv4-addr:value`` or ``ipv6-addr:value`` for an address or CIDR, else None."""
    try:
        net = ipaddress.ip_network(value, strict=False)
    except ValueError:
        return None
    return IPV4 if net.version == 4 else IPV6


def _address_type(value: str) -> str:
    key = address_key(value)
    return key.split(":", 1)[0] if key else "domain-name"


def objects_of(record: Mapping[str, Any], fields: Mapping[str, str]) -> list[ObservedObject]:
    """The observation one record makes, for the fields ``fields`` maps.

    Empty values, Zeek's ``-`` and non-string values that are not numbers are skipped.
    """
    objects: list[ObservedObject] = []
    shared: dict[str, ObservedObject] = {}
    for name, key in fields.items():
        raw = record.get(name)
        if raw is None:
            continue
        for item in raw if isinstance(raw, list) else (raw,):
            _add(objects, shared, name, key, item)
    return objects


def _add(
    objects: list[ObservedObject], shared: dict[str, ObservedObject], name: str, key: str, raw: Any
) -> None:
    if isinstance(raw, str):
        value = raw
    elif isinstance(raw, int | float) and not isinstance(raw, bool):
        value = str(raw)
    else:
        return
    if not value or value == "-":
        return
    if key == AUTO:
        found = classify(value)
        if found is None:
            return
        key = found
    sco_type, _, path = key.partition(":")
    if sco_type in ("file", "x509-certificate"):
        holder = shared.get(sco_type)
        if holder is None:
            holder = shared[sco_type] = ObservedObject(sco_type)
            objects.append(holder)
        holder.props.setdefault(path, (value, name))
    elif sco_type == "network-traffic":
        objects.append(ObservedObject(sco_type, {path: (value, name)}))
        objects.append(ObservedObject(_address_type(value), {"value": (value, name)}))
    else:
        objects.append(ObservedObject(sco_type, {path: (value, name)}))


def observed_data(objects: Sequence[ObservedObject], stamp: str) -> dict[str, Any]:
    """A STIX 2.1 bundle of one ``observed-data`` and its objects, as ``stix2-matcher`` reads it."""
    ids = [f"{o.type}--00000000-0000-4000-8000-{i:012d}" for i, o in enumerate(objects)]
    scos: list[dict[str, Any]] = []
    for position, obj in enumerate(objects):
        sco: dict[str, Any] = {"type": obj.type, "id": ids[position], "spec_version": "2.1"}
        for path, (value, _) in obj.props.items():
            head, _, tail = path.partition(".")
            if path == "dst_ref.value":
                # objects_of puts the destination right after its network-traffic object.
                sco["dst_ref"] = ids[position + 1]
            elif tail:
                sco.setdefault(head, {})[tail] = value
            else:
                sco[head] = value
        scos.append(sco)
    observation = {
        "type": "observed-data",
        "spec_version": "2.1",
        "id": "observed-data--00000000-0000-4000-8000-000000000000",
        "created": stamp,
        "modified": stamp,
        "first_observed": stamp,
        "last_observed": stamp,
        "number_observed": 1,
        "object_refs": ids,
    }
    return {
        "type": "bundle",
        "id": "bundle--00000000-0000-4000-8000-000000000000",
        "objects": [observation, *scos],
    }
