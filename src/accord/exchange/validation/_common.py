"""What the checks share: findings as (field, reason) pairs, how a crash becomes one,
and the stix2-validator vocabularies more than one check reads."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

from stix2validator.v21 import enums, musts

# (field, reason) pairs, before they become ValidationIssues.
Issue = tuple[str | None, str]
Found = list[Issue]

OBSERVABLE_TYPES: Final = frozenset(enums.OBSERVABLE_TYPES)
PROPERTY_RE: Final = musts.PROPERTY_FORMAT_RE


def json_kind(value: Any) -> str:
    """What a JSON value is, for a sentence: "a string", "an array", "null"…"""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list | tuple):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def crash(field: str | None, exc: Exception) -> Issue:
    """The issue for a check that raised on ``field``: stix2-validator rejects those."""
    return (field, f"has a value of the wrong shape ({type(exc).__name__}: {exc})")


def guard(found: Found, field: str | None, check: Callable[..., object], *args: Any) -> None:
    """Run ``check(*args, found)``; if it raises, its crash joins ``found`` as an issue.

    The checks perform the same operations on the same values as their stix2-validator
    counterparts, so they raise on exactly the inputs where stix2-validator raises, which
    makes it reject the object. Issues a check found before it raised are kept.
    """
    try:
        check(*args, found)
    except Exception as exc:  # a crash there is a rejection
        found.append(crash(field, exc))
