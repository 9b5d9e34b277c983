"""Labels on entries and lists: content type, producing entity, behaviour, ideology, incident.

The behaviour taxonomy ships as data (``data/behaviours.json``) with its source; an
entity is named with its UN Security Council consolidated list reference when it has
one (``QDe.115``: the list's entity references are ``<regime><e|i>.<number>``).
"""

from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from accord.hashlists.signals import SignalError

CONTENT_TYPES = ("image", "video", "audio", "text", "document", "other")
UN_REF = re.compile(r"^[A-Z]{2,4}[ei]\.\d{1,5}$")
_TEXT_MAX = 300


@dataclass(frozen=True, slots=True)
class Behaviour:
    id: str
    name: str
    description: str


@dataclass(frozen=True, slots=True)
class Taxonomy:
    source: str
    url: str
    behaviours: tuple[Behaviour, ...]

    def ids(self) -> frozenset[str]:
        return frozenset(b.id for b in self.behaviours)


@functools.cache
def taxonomy() -> Taxonomy:
    """The behaviour taxonomy shipped with Accord."""
    raw = json.loads((Path(__file__).parent / "data" / "behaviours.json").read_text("utf-8"))
    return Taxonomy(raw["source"], raw["url"], tuple(Behaviour(**label) for label in raw["labels"]))


def _text(value: object, name: str) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str) or len(value) > _TEXT_MAX or not value.isprintable():
        raise SignalError(f"label '{name}' is printable text of at most {_TEXT_MAX} characters")
    return value


def check_labels(raw: object) -> dict[str, Any]:
    """Labels in canonical form (keys with no value dropped), or SignalError naming the label."""
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise SignalError("labels are an object")
    known = {"content_type", "producer", "behaviours", "ideology", "incident"}
    unknown = sorted(set(raw) - known)
    if unknown:
        raise SignalError(f"unknown label {unknown[0][:40]!r}; labels: {', '.join(sorted(known))}")
    labels: dict[str, Any] = {}
    content = raw.get("content_type")
    if content is not None:
        if content not in CONTENT_TYPES:
            raise SignalError(f"label 'content_type' is one of: {', '.join(CONTENT_TYPES)}")
        labels["content_type"] = content
    producer = raw.get("producer")
    if producer is not None:
        if not isinstance(producer, dict) or set(producer) - {"name", "un_ref"}:
            raise SignalError("label 'producer' is {name, un_ref}")
        name = _text(producer.get("name"), "producer.name")
        ref = producer.get("un_ref")
        if ref is not None and (not isinstance(ref, str) or not UN_REF.match(ref)):
            raise SignalError(
                "label 'producer.un_ref' is a UN Security Council consolidated list "
                "reference such as QDe.115"
            )
        if name is None:
            raise SignalError("label 'producer' needs a name")
        labels["producer"] = {"name": name, **({"un_ref": ref} if ref else {})}
    behaviours = raw.get("behaviours")
    if behaviours is not None:
        known_ids = taxonomy().ids()
        if not isinstance(behaviours, list) or not all(
            isinstance(b, str) and b in known_ids for b in behaviours
        ):
            raise SignalError(f"label 'behaviours' lists ids from: {', '.join(sorted(known_ids))}")
        if behaviours:
            labels["behaviours"] = sorted(set(behaviours))
    for key in ("ideology", "incident"):
        value = _text(raw.get(key), key)
        if value is not None:
            labels[key] = value
    return labels
