"""One submitted value judged: its shape, Accord's bounds (``_bounds``), the policy
refusals, then schema and MUST checks.

Rare shapes go to stix2-validator itself (``_reference``); everything else is checked
against its compiled schema (``_schemas``) and, when it conforms, by the MUST checks
(``_must``).
"""

from __future__ import annotations

from typing import Any, Final

from accord.exchange.validation._bounds import bounds_issue
from accord.exchange.validation._common import Found, json_kind
from accord.exchange.validation._must import run_musts
from accord.exchange.validation._reference import needs_reference_validator, reference_validate
from accord.exchange.validation._schemas import schema_check

# Schema files that describe a fragment of an object rather than an object.
# stix2-validator picks a schema by file name, so {"type": "dictionary", ...} would be
# validated against dictionary.json; such "objects" are refused instead.
_FRAGMENT_SCHEMAS: Final = frozenset(
    {
        "binary",
        "dictionary",
        "extension",
        "external-reference",
        "granular-marking",
        "hashes-type",
        "hex",
        "identifier",
        "kill-chain-phase",
        "properties",
        "timestamp",
        "url-regex",
    }
)


def validate_one(obj: Any) -> Found:
    """What is wrong with one submitted value, as (field, reason) pairs; [] if it is valid."""
    if not isinstance(obj, dict):
        return [(None, f"expected a JSON object, got {json_kind(obj)}")]
    out_of_bounds = bounds_issue(obj)
    if out_of_bounds is not None:
        return [out_of_bounds]
    missing = [p for p in ("type", "id") if p not in obj]
    if missing:
        return [(p, f"missing required property '{p}'") for p in missing]
    otype = obj["type"]
    if not isinstance(otype, str):
        return [("type", f"'type' must be a string, got {json_kind(otype)}")]
    if otype == "bundle":
        return [("type", "bundles are not accepted; submit the contained objects instead")]
    if otype in _FRAGMENT_SCHEMAS:
        return [("type", f"'{otype}' is not a STIX object type")]
    spec_version = obj.get("spec_version")
    if isinstance(spec_version, str) and spec_version != "2.1":
        return [("spec_version", f"only STIX 2.1 content is accepted, not '{spec_version}'")]

    if needs_reference_validator(obj):
        return reference_validate(obj)

    schema_issue = schema_check(obj, otype)
    if schema_issue is not None:
        return [schema_issue]
    found: Found = []
    run_musts(obj, otype, found)
    return found
