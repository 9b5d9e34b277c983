"""TLP 2.0 (FIRST) as Accord stores it and as STIX 2.1 carries it.

Labels are upper case and never translated. In STIX the five levels are the
standard marking-definition objects that OASIS publishes for TLP 2.0; the four
TLP 1.0 definitions of the STIX 2.1 specification are read as their TLP 2.0
successors (WHITE becomes CLEAR), so older feeds keep their meaning.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any


class TLP(StrEnum):
    """A TLP 2.0 label; members compare by strictness (``CLEAR`` < ``RED``)."""

    CLEAR = "TLP:CLEAR"
    GREEN = "TLP:GREEN"
    AMBER = "TLP:AMBER"
    AMBER_STRICT = "TLP:AMBER+STRICT"
    RED = "TLP:RED"

    @property
    def rank(self) -> int:
        return _ORDER.index(self)

    def at_least(self, other: TLP) -> bool:
        """True when this label is as strict as ``other`` or stricter."""
        return self.rank >= other.rank

    @classmethod
    def parse(cls, text: str) -> TLP:
        """Read a label as people write it (``amber+strict``, ``TLP:GREEN``, ``white``)."""
        key = text.strip().upper().removeprefix("TLP:").replace("_", "+")
        key = {"WHITE": "CLEAR", "AMBER STRICT": "AMBER+STRICT"}.get(key, key)
        try:
            return cls("TLP:" + key)
        except ValueError:
            allowed = ", ".join(t.value for t in cls)
            raise ValueError(f"unknown TLP label {text!r}; use one of {allowed}") from None


_ORDER = (TLP.CLEAR, TLP.GREEN, TLP.AMBER, TLP.AMBER_STRICT, TLP.RED)

TLP2_EXTENSION_ID = "extension-definition--60a3c5c5-0d10-413e-aab3-9e08dde9e88d"

MARKING_IDS: dict[TLP, str] = {
    TLP.CLEAR: "marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487",
    TLP.GREEN: "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb",
    TLP.AMBER: "marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421",
    TLP.AMBER_STRICT: "marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003",
    TLP.RED: "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1",
}

_TLP1_IDS: dict[str, TLP] = {
    "marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc9": TLP.CLEAR,
    "marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da": TLP.GREEN,
    "marking-definition--f88d31f6-486f-44da-b317-01333bde0b82": TLP.AMBER,
    "marking-definition--5e57c739-391a-4eb3-b6be-7d15ca92d5ed": TLP.RED,
}

_BY_ID: dict[str, TLP] = {**{v: k for k, v in MARKING_IDS.items()}, **_TLP1_IDS}

STANDARD_MARKING_IDS = frozenset(_BY_ID)


def marking_definition(tlp: TLP) -> dict[str, Any]:
    """The OASIS TLP 2.0 marking-definition object for ``tlp``."""
    level = tlp.value.removeprefix("TLP:").lower()
    return {
        "type": "marking-definition",
        "spec_version": "2.1",
        "id": MARKING_IDS[tlp],
        "created": "2022-10-01T00:00:00.000Z",
        "name": tlp.value,
        "extensions": {
            TLP2_EXTENSION_ID: {"extension_type": "property-extension", "tlp_2_0": level}
        },
    }


def tlp_of(marking_refs: object) -> TLP | None:
    """The strictest TLP among ``object_marking_refs``, or None when none is a TLP marking."""
    if not isinstance(marking_refs, list):
        return None
    found = [_BY_ID[ref] for ref in marking_refs if isinstance(ref, str) and ref in _BY_ID]
    return max(found, key=lambda t: t.rank) if found else None
