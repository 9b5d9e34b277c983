"""Lists, entries and opinions as STIX 2.1 objects (pure: building and reading documents).

- A list is a custom SDO ``x-accord-hash-list`` (name, description, inclusion criteria,
  polarity); its TLP and scope are the exchange's stamp, like any shared object.
- An entry is a standard ``indicator`` whose pattern is a file hash
  (``[file:hashes.MD5 = '…']``, ``[file:hashes.'SHA-256' = '…']``, ``[file:hashes.PDQ = '…']``),
  so any STIX consumer reads MD5 and SHA-256 as it reads every file-hash indicator, and
  PDQ under the open hash-algorithm vocabulary's key ``PDQ`` (stix2-validator accepts it
  without a warning). Accord's own facts ride in ``x_accord_*`` properties: the list it
  belongs to, its signal, labels, the criterion it meets, and when disabled, why
  (a disable is a new version with ``valid_until`` set, which STIX consumers honour).
- An opinion is a standard ``opinion`` on one entry, with Accord's verdict beside
  STIX's five-point value.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from accord.domain.stix import format_timestamp
from accord.domain.tlp import MARKING_IDS, TLP
from accord.hashlists.signals import SIGNALS, SignalError, SignalType

LIST_TYPE = "x-accord-hash-list"
CRITERION_ID = re.compile(r"^[a-z0-9][a-z0-9-]{0,31}$")
_PATTERN = re.compile(r"^\[file:hashes\.(?:'([A-Za-z0-9-]+)'|([A-Za-z0-9_]+)) = '([0-9a-f]+)'\]$")


class Polarity(StrEnum):
    POSITIVE = "positive"  # matches are reported
    NEGATIVE = "negative"  # matches suppress other lists' hits (known benign content)


class Verdict(StrEnum):
    TRUE_POSITIVE = "true-positive"
    FALSE_POSITIVE = "false-positive"
    DISPUTED = "disputed"
    INVESTIGATION_SEED = "investigation-seed"


OPINION_VALUE = {
    Verdict.TRUE_POSITIVE: "strongly-agree",
    Verdict.FALSE_POSITIVE: "strongly-disagree",
    Verdict.DISPUTED: "disagree",
    Verdict.INVESTIGATION_SEED: "neutral",
}


class State(StrEnum):
    POSITIVE = "positive"
    DISPUTED = "disputed"
    NEGATIVE = "negative"


def pattern(signal: type[SignalType], value: str) -> str:
    key = signal.stix_key
    quoted = key if key.isalnum() else f"'{key}'"
    return f"[file:hashes.{quoted} = '{value}']"


def parse_pattern(text: str) -> tuple[str, str] | None:
    """(signal name, value) of an entry's pattern, None when it is not one."""
    found = _PATTERN.match(text)
    if found is None:
        return None
    key = found.group(1) or found.group(2)
    for signal in SIGNALS.values():
        if signal.stix_key == key:
            return signal.name, found.group(3)
    return None


def later(previous: str, now: datetime) -> str:
    """A ``modified`` stamp after ``previous`` (the clock may not have moved)."""
    stamp = format_timestamp(now)
    if stamp > previous:
        return stamp
    from accord.domain.stix import parse_timestamp

    return format_timestamp(parse_timestamp(previous) + timedelta(milliseconds=1))


def check_criteria(raw: object) -> list[dict[str, str]]:
    """Inclusion criteria as [{id, text}], or SignalError."""
    if not isinstance(raw, list) or not raw or len(raw) > 50:
        raise SignalError("a list states 1 to 50 inclusion criteria")
    criteria: list[dict[str, str]] = []
    for item in raw:
        if not isinstance(item, dict) or set(item) != {"id", "text"}:
            raise SignalError("a criterion is {id, text}")
        cid, text = item["id"], item["text"]
        if not isinstance(cid, str) or not CRITERION_ID.match(cid):
            raise SignalError("a criterion id is 1-32 lower-case letters, digits or '-'")
        if not isinstance(text, str) or not 0 < len(text) <= 2000 or "\x00" in text:
            raise SignalError("a criterion's text is 1 to 2000 characters")
        criteria.append({"id": cid, "text": text})
    if len({c["id"] for c in criteria}) != len(criteria):
        raise SignalError("criterion ids are distinct")
    return criteria


def list_object(
    *,
    owner_identity: str,
    name: str,
    description: str,
    criteria: list[dict[str, str]],
    polarity: Polarity,
    tlp: TLP,
    now: datetime,
) -> dict[str, Any]:
    stamp = format_timestamp(now)
    return {
        "type": LIST_TYPE,
        "spec_version": "2.1",
        "id": f"{LIST_TYPE}--{uuid.uuid4()}",
        "created": stamp,
        "modified": stamp,
        "created_by_ref": owner_identity,
        "name": name,
        "description": description,
        "criteria": criteria,
        "polarity": polarity.value,
        "object_marking_refs": [MARKING_IDS[tlp]],
    }


def entry_object(
    *,
    owner_identity: str,
    list_id: str,
    signal: type[SignalType],
    value: str,
    quality: int | None,
    labels: dict[str, Any],
    criterion: str,
    tlp: TLP,
    now: datetime,
) -> dict[str, Any]:
    stamp = format_timestamp(now)
    obj: dict[str, Any] = {
        "type": "indicator",
        "spec_version": "2.1",
        "id": f"indicator--{uuid.uuid4()}",
        "created": stamp,
        "modified": stamp,
        "created_by_ref": owner_identity,
        "name": f"{signal.stix_key} hash",
        "description": "An entry of a shared hash list.",
        "indicator_types": ["malicious-activity"],
        "pattern_type": "stix",
        "pattern": pattern(signal, value),
        "valid_from": stamp,
        "object_marking_refs": [MARKING_IDS[tlp]],
        "x_accord_hash_list_ref": list_id,
        "x_accord_signal": signal.name,
        "x_accord_criterion": criterion,
        "x_accord_labels": labels,
    }
    if quality is not None:
        obj["x_accord_quality"] = quality
    return obj


def disabled_version(entry: dict[str, Any], reason: str, now: datetime) -> dict[str, Any]:
    """The entry's next version, disabled (``valid_until``) with the reason."""
    modified = later(entry["modified"], now)
    return {
        **entry,
        "modified": modified,
        "valid_until": modified
        if modified > entry["valid_from"]
        else later(entry["valid_from"], now),
        "x_accord_disabled": {"reason": reason, "at": modified},
    }


def enabled_version(entry: dict[str, Any], now: datetime) -> dict[str, Any]:
    obj = {k: v for k, v in entry.items() if k not in ("valid_until", "x_accord_disabled")}
    obj["modified"] = later(entry["modified"], now)
    return obj


def opinion_object(
    *,
    opinion_id: str | None,
    opiner_identity: str,
    entry_id: str,
    verdict: Verdict,
    explanation: str,
    tlp: TLP,
    now: datetime,
    previous: str | None = None,
    created: str | None = None,
) -> dict[str, Any]:
    modified = later(previous, now) if previous else format_timestamp(now)
    obj: dict[str, Any] = {
        "type": "opinion",
        "spec_version": "2.1",
        "id": opinion_id or f"opinion--{uuid.uuid4()}",
        "created": created or modified,
        "modified": modified,
        "created_by_ref": opiner_identity,
        "opinion": OPINION_VALUE[verdict],
        "object_refs": [entry_id],
        "object_marking_refs": [MARKING_IDS[tlp]],
        "x_accord_verdict": verdict.value,
    }
    if explanation:
        obj["explanation"] = explanation
    return obj


@dataclass(frozen=True, slots=True)
class EntryFacts:
    """What the index needs of one entry version."""

    list_id: str
    signal: str
    value: str
    disabled: bool


def entry_facts(obj: dict[str, Any]) -> EntryFacts | None:
    """The facts of an entry version, None when ``obj`` is no hash-list entry."""
    if obj.get("type") != "indicator":
        return None
    list_id = obj.get("x_accord_hash_list_ref")
    found = parse_pattern(obj.get("pattern", "")) if isinstance(obj.get("pattern"), str) else None
    if not isinstance(list_id, str) or not list_id.startswith(f"{LIST_TYPE}--") or found is None:
        return None
    signal, value = found
    disabled = "x_accord_disabled" in obj or obj.get("revoked") is True
    return EntryFacts(list_id, signal, value, disabled)


def verdict_of(obj: dict[str, Any]) -> Verdict | None:
    raw = obj.get("x_accord_verdict")
    if isinstance(raw, str) and raw in Verdict.__members__.values():
        return Verdict(raw)
    return {
        "strongly-agree": Verdict.TRUE_POSITIVE,
        "agree": Verdict.TRUE_POSITIVE,
        "strongly-disagree": Verdict.FALSE_POSITIVE,
        "disagree": Verdict.DISPUTED,
    }.get(obj.get("opinion", ""))


def aggregate(verdicts: dict[str, Verdict], owner: str) -> State:
    """The state of an entry from each organisation's latest verdict it may see.

    The owner listing an entry is one positive; a false positive from the owner, or
    more false positives than positives, makes it negative; any false positive or
    dispute short of that makes it disputed. Investigation seeds count for nothing.
    """
    if verdicts.get(owner) is Verdict.FALSE_POSITIVE:
        return State.NEGATIVE
    positives = 1 + sum(1 for o, v in verdicts.items() if v is Verdict.TRUE_POSITIVE and o != owner)
    negatives = sum(1 for v in verdicts.values() if v is Verdict.FALSE_POSITIVE)
    if negatives > positives:
        return State.NEGATIVE
    if negatives or any(v is Verdict.DISPUTED for v in verdicts.values()):
        return State.DISPUTED
    return State.POSITIVE
