"""Fast STIX 2.1 validation whose verdict agrees with the OASIS ``stix2-validator``.

A node must ingest well over 10,000 validated objects per second on two cores, but
``stix2-validator`` (jsonschema plus ANTLR-parsed patterns) manages about 400 objects per
second on one.  This package gives the same valid/invalid verdict as
``stix2validator.validate_instance(obj, ValidationOptions(version="2.1"))`` about a
hundred times faster:

* The JSON schemas shipped inside ``stix2validator`` are translated to draft-07 and
  compiled with ``fastjsonschema`` once per object type, on first use.  The translation
  keeps jsonschema's Draft 2020-12 semantics where fastjsonschema would differ: ``$ref``
  siblings are honoured, ``pattern`` is a Python ``re.search`` (so ``$`` still matches
  before a trailing newline), integral floats count as integers, and ``format`` is
  checked by the very format checker ``stix2-validator`` hands to jsonschema.  Some
  constructs are rewritten into equivalents that do not fail by raising, which is what
  makes fastjsonschema slow; properties.json is applied per property name, memoised.
* The MUST checks of ``stix2validator.v21.musts`` are re-implemented.  They perform the
  same operations on the same values, so an input that makes ``stix2-validator`` crash
  (which rejects the object) is reported as an issue here too; likewise the one SHOULD
  check that can crash on a schema-conformant object.
* STIX patterns in the common simple forms are accepted by a strict tokeniser that only
  admits patterns the ANTLR grammar and the validator's own checks certainly accept;
  everything else takes the exact ``stix2-validator`` code path, memoised per pattern.
* Rare shapes whose checks are intricate (an ``objects`` property, as in observed-data's
  deprecated embedded observables, and STIX objects nested inside list properties) are
  handed to ``stix2-validator`` itself, as are granular-marking selectors and CPE strings.

Deliberate differences, all rejections of content ``stix2-validator`` would accept:
bundles (objects are submitted individually), ``spec_version`` other than ``"2.1"``, and
object types that merely name one of ``stix2-validator``'s helper schema fragments
(``"dictionary"``, ``"external-reference"``, ...), which it would otherwise validate an
object against.  Accord's own bounds come first (``_bounds``): nesting at most
``MAX_DEPTH`` (64) levels, no NUL or unpaired surrogate in any text, 64-bit integers,
types of at most 62 characters; what breaks them is reported naming the property path.

The work is split across private modules: ``_object`` judges one object and routes it,
``_schemas`` translates and compiles the JSON schemas, ``_must`` holds the MUST checks,
``_patterns`` the pattern checks, ``_reference`` hands rare shapes to
``stix2-validator`` and ``_common`` holds what they share. They import
``stix2validator`` (about half a second: jsonschema and its format checkers, the IRI
grammar deferred by ``_deferred``) and
``fastjsonschema``, so this package loads them on the first call of
``validate_objects``, not when it is imported; a server warms them up before it takes
requests (``accord.runtime.settle``).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from accord.domain.text import printable
from accord.exchange.validation._bounds import MAX_DEPTH

__all__ = ["MAX_DEPTH", "ValidationIssue", "validate_objects"]


@dataclass(frozen=True, slots=True)
class ValidationIssue:
    """One reason why one submitted object is not acceptable STIX 2.1."""

    index: int
    object_id: str | None
    field: str | None
    reason: str


def validate_objects(objects: Sequence[Any]) -> list[ValidationIssue]:
    """Validate STIX 2.1 objects; an empty list means all are valid. Never raises on bad input.

    ``objects`` is a sequence of already JSON-parsed values.  Each issue names the index of
    the offending entry, its ``id`` when that is a string, the property at fault when there
    is one (``"pattern"``, ``"modified"``, ``"object_marking_refs[0]"``), and a sentence.
    An object is valid exactly when ``stix2-validator`` with default options (strict off,
    so SHOULD-level findings are not errors) accepts it, except for the deliberate
    rejections listed in the module docstring.  Schema violations are reported one per
    object (the first found); the semantic checks run only on schema-conformant objects.
    """
    if isinstance(objects, str | bytes | bytearray | Mapping) or not isinstance(objects, Sequence):
        return [ValidationIssue(0, None, None, "expected a list of STIX objects")]
    validate_one = _validate_one()
    issues: list[ValidationIssue] = []
    for index, obj in enumerate(objects):
        try:
            found = validate_one(obj)
        except Exception as exc:  # the contract: never raise on bad input
            found = [(None, f"could not be validated: {type(exc).__name__}: {exc}")]
        if found:
            object_id = _object_id(obj)
            issues.extend(ValidationIssue(index, object_id, f, r) for f, r in found)
    return issues


def _object_id(obj: Any) -> str | None:
    if isinstance(obj, dict):
        value = obj.get("id")
        if isinstance(value, str):
            return printable(value)
    return None


@functools.cache
def _validate_one() -> Callable[[Any], list[tuple[str | None, str]]]:
    """The check of one object, its modules (and stix2-validator) imported on first use."""
    from accord.exchange.validation._deferred import defer_rfc3987_syntax

    defer_rfc3987_syntax()  # before jsonschema is imported: see _deferred
    from accord.exchange.validation._object import validate_one

    return validate_one
