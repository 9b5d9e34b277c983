"""An indicator made from one bare value: what an analyst types into the console."""

from __future__ import annotations

import uuid
from typing import Any

from accord.detect.observables import classify
from accord.errors import InvalidInput


def indicator_for(value: str, name: str, description: str, stamp: str) -> dict[str, Any]:
    """A STIX 2.1 indicator whose pattern matches ``value`` (an address, CIDR range,
    domain, URL, e-mail address or MD5/SHA-1/SHA-256 hash)."""
    value = value.strip()
    key = classify(value)
    if key is None:
        raise InvalidInput(
            f"cannot tell what {value[:80]!r} is; give an IP address or range, domain, URL, "
            "e-mail address or file hash"
        )
    kind, path = key.split(":", 1)
    if path.startswith("hashes."):
        path = f"hashes.'{path.removeprefix('hashes.')}'"
        value = value.lower()
    literal = value.replace("\\", "\\\\").replace("'", "\\'")
    indicator: dict[str, Any] = {
        "type": "indicator",
        "spec_version": "2.1",
        "id": f"indicator--{uuid.uuid4()}",
        "created": stamp,
        "modified": stamp,
        "name": name.strip() or value,
        "pattern": f"[{kind}:{path} = '{literal}']",
        "pattern_type": "stix",
        "valid_from": stamp,
        "indicator_types": ["malicious-activity"],
    }
    if description.strip():
        indicator["description"] = description.strip()
    return indicator
