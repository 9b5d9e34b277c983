"""Rare shapes whose checks are intricate, handed to ``stix2-validator`` itself."""

from __future__ import annotations

import functools
from typing import Any

import stix2validator
from stix2validator.util import ValidationOptions

from accord.exchange.validation._common import Found


def needs_reference_validator(obj: dict[str, Any]) -> bool:
    """Whether ``obj`` has a shape whose checks are left to stix2-validator itself.

    Observed-data's deprecated ``objects`` dictionary gets per-observable schemas and MUST
    checks (several of which crash on ordinary input), and stix2-validator also runs every
    MUST and SHOULD check on any STIX-looking dict inside a list property.  These shapes are
    rare enough that exactness is worth more than speed.
    """
    if "objects" in obj:
        # Also on an SCO: the cyber-observable checks then run on the members of
        # "objects" instead of on the SCO itself.
        return True
    for value in obj.values():
        if type(value) is list:
            for item in value:
                if isinstance(item, dict) and "id" in item and "type" in item:
                    return True
    return False


@functools.cache
def reference_options() -> Any:
    """The options ``stix2-validator`` is run with: STIX 2.1, defaults (strict off)."""
    return ValidationOptions(version="2.1")


def reference_validate(obj: dict[str, Any]) -> Found:
    """stix2-validator's own verdict on ``obj``; a crash in it is a rejection."""
    try:
        result = stix2validator.validate_instance(obj, reference_options())
    except Exception as exc:  # it rejects what it cannot check
        return [(None, f"rejected by stix2-validator: {type(exc).__name__}: {exc}")]
    if result.is_valid:
        return []
    return [(None, str(error)) for error in result.errors] or [(None, "rejected")]
