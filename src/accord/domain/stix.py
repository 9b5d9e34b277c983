"""Small STIX 2.1 helpers: timestamps and canonical JSON."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import orjson

_TIMESTAMP = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?Z$",
)

# Objects that carry no ``modified`` (SCOs, marking definitions) are one version each.
UNVERSIONED = "0001-01-01T00:00:00.000000Z"


def parse_timestamp(text: str) -> datetime:
    """A STIX timestamp at any sub-second precision, as an aware UTC datetime (µs precision)."""
    m = _TIMESTAMP.match(text)
    if not m:
        raise ValueError(f"not a STIX timestamp (YYYY-MM-DDTHH:MM:SS[.s+]Z): {text!r}")
    *parts, frac = m.groups()
    micros = int((frac or "0")[:6].ljust(6, "0"))
    year, month, day, hour, minute, second = (int(p) for p in parts)
    return datetime(year, month, day, hour, minute, second, micros, tzinfo=UTC)


def format_timestamp(moment: datetime) -> str:
    """``moment`` as a STIX timestamp with exactly six fractional digits."""
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


def normalise_timestamp(text: str) -> str:
    """The same instant with six fractional digits: fixed width, so strings sort as times.

    Ingest calls this for every object, so the text is rebuilt from the match rather
    than formatted from a datetime; the datetime is still built, to check the calendar.
    """
    m = _TIMESTAMP.match(text)
    if not m:
        raise ValueError(f"not a STIX timestamp (YYYY-MM-DDTHH:MM:SS[.s+]Z): {text!r}")
    year, month, day, hour, minute, second, frac = m.groups()
    try:
        datetime(int(year), int(month), int(day), int(hour), int(minute), int(second))
    except ValueError:
        raise ValueError(f"not a calendar date and time: {text!r}") from None
    return f"{text[:19]}.{(frac or '')[:6].ljust(6, '0')}Z"


def canonical_json(obj: Any) -> bytes:
    """Compact JSON with sorted keys: the form objects are stored and compared in."""
    return orjson.dumps(obj, option=orjson.OPT_SORT_KEYS)


def version_key(obj: dict[str, Any]) -> str:
    """The normalised ``modified`` (else ``created``) that tells versions of one id apart."""
    stamp = obj.get("modified") or obj.get("created")
    return normalise_timestamp(stamp) if isinstance(stamp, str) else UNVERSIONED
