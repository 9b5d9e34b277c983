"""Rewriting an object's personal data for a destination: pure, no I/O.

``redact`` replaces each finding with a marker naming its kind; ``pseudonymise`` with a
keyed pseudonym: HMAC-SHA-256 of the normalised value under the sharing group's key, so
every partner in the group sees the same pseudonym for the same value (and can correlate)
without learning the value. An e-mail address keeps an address's shape
(``<pseudonym>@pseudonym.invalid``), so an ``email-addr`` object and a STIX pattern stay
valid. The rewritten object is a new dict; the input is left as it was.
"""

from __future__ import annotations

import copy
import hashlib
import hmac
import re
from typing import Any

import phonenumbers

from accord.privacy.detect import ACCOUNT, EMAIL, INDIVIDUAL, IP, PHONE, Finding

_INDEXED = re.compile(r"\A(?P<key>[a-z_]+)(?:\[(?P<index>\d+)\])?\Z")
_NON_ALNUM = re.compile(r"[^0-9A-Za-z]")
PSEUDONYM_CHARS = 16  # hex characters: 64 bits, plenty to correlate without collisions


def normalised(finding: Finding) -> str:
    """The value one person's data has however it was written (case, spaces, dashes)."""
    if finding.kind == EMAIL:
        return finding.value.strip().lower()
    if finding.kind == PHONE:
        try:
            number = phonenumbers.parse(finding.value, None)
            return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
        except phonenumbers.NumberParseException:
            return "+" + _NON_ALNUM.sub("", finding.value)
    if finding.kind == IP:
        return finding.value.strip().lower()
    if finding.kind in (ACCOUNT, INDIVIDUAL):
        return finding.value.strip()
    return _NON_ALNUM.sub("", finding.value).upper()


def pseudonym(key: bytes, finding: Finding) -> str:
    """The keyed pseudonym of ``finding``'s value (its kind is part of what is keyed)."""
    message = f"{finding.kind}\x00{normalised(finding)}".encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()[:PSEUDONYM_CHARS]


def replacement(finding: Finding, key: bytes | None) -> str:
    """What stands in for ``finding``: a marker (``key`` None) or its pseudonym."""
    if key is None:
        return (
            "redacted@redacted.invalid" if finding.kind == EMAIL else f"[redacted {finding.kind}]"
        )
    token = pseudonym(key, finding)
    if finding.kind == EMAIL:
        return f"{token}@pseudonym.invalid"
    return f"[{finding.kind} {token}]"


def rewrite(obj: dict[str, Any], findings: list[Finding], key: bytes | None) -> dict[str, Any]:
    """A copy of ``obj`` with every finding replaced (``key`` None: redacted markers)."""
    out = copy.deepcopy(obj)
    by_path: dict[str, list[Finding]] = {}
    for f in findings:
        by_path.setdefault(f.path, []).append(f)
    for path, found in by_path.items():
        match = _INDEXED.match(path)
        if match is None:
            continue
        name, index = match["key"], match["index"]
        container: Any = out
        slot: Any = name
        if index is not None:
            container, slot = out.get(name), int(index)
        text = container[slot]
        if not isinstance(text, str):
            continue
        kept_end = len(text) + 1
        # Right to left, skipping any finding that overlaps one already replaced.
        for f in sorted(found, key=lambda f: (f.start, -f.end), reverse=True):
            if f.end > kept_end:
                continue
            text = text[: f.start] + replacement(f, key) + text[f.end :]
            kept_end = f.start
        container[slot] = text
    return out
