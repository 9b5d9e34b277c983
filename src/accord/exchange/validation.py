"""Fast STIX 2.1 validation whose verdict agrees with the OASIS ``stix2-validator``.

A node must ingest well over 10,000 validated objects per second on two cores, but
``stix2-validator`` (jsonschema plus ANTLR-parsed patterns) manages about 400 objects per
second on one.  This module gives the same valid/invalid verdict as
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
object against.  Objects nested about 1,000 levels deep make ``stix2-validator`` hit
Python's recursion limit; they are judged on their content here.
"""

from __future__ import annotations

import calendar
import functools
import json
import os
import re
import threading
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

import fastjsonschema
import stix2validator
from stix2validator import validator as _sv_validator
from stix2validator.util import ValidationOptions
from stix2validator.v21 import enums as _enums
from stix2validator.v21 import musts as _musts
from stix2validator.v21 import shoulds as _shoulds

__all__ = ["ValidationIssue", "validate_objects"]


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
    issues: list[ValidationIssue] = []
    for index, obj in enumerate(objects):
        try:
            found = _validate_one(obj)
        except Exception as exc:  # the contract: never raise on bad input
            found = [(None, f"could not be validated: {type(exc).__name__}: {exc}")]
        if found:
            object_id = _object_id(obj)
            issues.extend(ValidationIssue(index, object_id, f, r) for f, r in found)
    return issues


# (field, reason) pairs, before they become ValidationIssues.
_Issue = tuple[str | None, str]
_Found = list[_Issue]

_TIMESTAMP_MATCH: Final = _musts.TIMESTAMP_FORMAT_RE.match
_PROPERTY_RE: Final = _musts.PROPERTY_FORMAT_RE
_TYPE_RE: Final = _musts.TYPE_FORMAT_RE
_OBSERVABLE_TYPES: Final = frozenset(_enums.OBSERVABLE_TYPES)
_LANG_CODES: Final = frozenset(_enums.LANG_CODES)
_SOFTWARE_LANG_CODES: Final = frozenset(_enums.SOFTWARE_LANG_CODES)
_TIMESTAMP_PROPERTIES: Final[dict[str, tuple[str, ...]]] = {
    t: ("created", "modified", *props) for t, props in _enums.TIMESTAMP_PROPERTIES.items()
}
_CORE_TIMESTAMPS: Final = ("created", "modified")
_COMPARES: Final[dict[str, tuple[tuple[str, str, str], ...]]] = {
    t: (("modified", "ge", "created"), *extra) for t, extra in _enums.TIMESTAMP_COMPARE.items()
}
_CORE_COMPARE: Final = (("modified", "ge", "created"),)
# musts.uuid_version_check: these SCOs need a UUIDv4 id unless one of their ID
# contributing properties is present.
_UUID4_TYPES: Final[dict[str, tuple[str, ...]]] = {
    "artifact": ("hashes", "payload_bin"),
    "email-message": ("from_ref", "subject", "body"),
    "user-account": ("account_type", "user_id", "account_login"),
    "windows-registry-key": ("key", "values"),
    "x509-certificate": ("hashes", "serial_number"),
}
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


def _object_id(obj: Any) -> str | None:
    if isinstance(obj, dict):
        value = obj.get("id")
        if isinstance(value, str):
            return value
    return None


def _validate_one(obj: Any) -> _Found:
    if not isinstance(obj, dict):
        return [(None, f"expected a JSON object, got {_json_kind(obj)}")]
    missing = [p for p in ("type", "id") if p not in obj]
    if missing:
        return [(p, f"missing required property '{p}'") for p in missing]
    otype = obj["type"]
    if not isinstance(otype, str):
        return [("type", f"'type' must be a string, got {_json_kind(otype)}")]
    if otype == "bundle":
        return [("type", "bundles are not accepted; submit the contained objects instead")]
    if otype in _FRAGMENT_SCHEMAS:
        return [("type", f"'{otype}' is not a STIX object type")]
    spec_version = obj.get("spec_version")
    if isinstance(spec_version, str) and spec_version != "2.1":
        return [("spec_version", f"only STIX 2.1 content is accepted, not '{spec_version}'")]

    if _needs_reference_validator(obj):
        return _reference_validate(obj)

    schema_issue = _schema_check(obj, otype)
    if schema_issue is not None:
        return [schema_issue]
    found: _Found = []
    _run_musts(obj, otype, found)
    return found


def _json_kind(value: Any) -> str:
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


# --------------------------------------------------------------------------------------
# Reference validator for rare shapes


def _needs_reference_validator(obj: dict[str, Any]) -> bool:
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
def _reference_options() -> Any:
    return ValidationOptions(version="2.1")


def _reference_validate(obj: dict[str, Any]) -> _Found:
    try:
        result = stix2validator.validate_instance(obj, _reference_options())
    except Exception as exc:  # it rejects what it cannot check
        return [(None, f"rejected by stix2-validator: {type(exc).__name__}: {exc}")]
    if result.is_valid:
        return []
    return [(None, str(error)) for error in result.errors] or [(None, "rejected")]


def _delegate(check: Callable[..., Any], obj: dict[str, Any], field: str | None) -> _Found:
    """Run one stix2-validator check function; its findings or its crash become issues."""
    try:
        return [(field, str(e.message)) for e in check(obj)]
    except Exception as exc:  # a crash there is a rejection
        return [(field, f"could not be checked: {type(exc).__name__}: {exc}")]


# --------------------------------------------------------------------------------------
# JSON schemas


_SCHEMA_DIR: Final = os.path.abspath(
    os.path.join(os.path.dirname(stix2validator.__file__), "schemas-2.1", "schemas")
)
# The per-property rules every object schema applies at its top level; see _PropertyRules.
_PROPERTY_RULES_FILE: Final = os.path.join(_SCHEMA_DIR, "common", "properties.json")
_ANNOTATIONS: Final = frozenset(
    {"$id", "$schema", "$comment", "title", "description", "definitions", "$defs", "examples"}
)
_SUBSCHEMA_MAPS: Final = frozenset({"properties", "patternProperties"})
_SUBSCHEMA_LISTS: Final = frozenset({"allOf", "anyOf", "oneOf"})
_SUBSCHEMA_SINGLE: Final = frozenset(
    {"not", "items", "additionalProperties", "if", "then", "else", "contains", "propertyNames"}
)
_PLAIN_KEYWORDS: Final = frozenset(
    {
        "enum",
        "required",
        "minItems",
        "maxItems",
        "minLength",
        "maxLength",
        "minimum",
        "maximum",
        "exclusiveMinimum",
        "exclusiveMaximum",
        "minProperties",
        "maxProperties",
        "uniqueItems",
    }
)
# Python types of the JSON types, as both jsonschema and fastjsonschema see parsed JSON.
_JSON_TYPES: Final[dict[str, tuple[type, ...]]] = {
    "array": (list,),
    "boolean": (bool,),
    "null": (type(None),),
    "number": (int, float),
    "object": (dict,),
    "string": (str,),
}
_DRAFT_07: Final = "http://json-schema.org/draft-07/schema#"

_ValueCheck = Callable[[Any], str | None]


class SchemaBuildError(RuntimeError):
    """The bundled schemas use a construct this module cannot translate faithfully."""


def _schema_files() -> dict[str, str]:
    """Schema name -> file, found the way ``stix2validator.validator.find_schema`` does."""
    found: dict[str, str] = {}
    for root, _dirs, files in os.walk(_SCHEMA_DIR, followlinks=True):
        if "examples" in root:
            continue
        for name in files:
            if name.endswith(".json"):
                found.setdefault(name[: -len(".json")], os.path.join(root, name))
    return found


@dataclass(slots=True)
class _ObjectSchema:
    """A compiled object schema.

    ``validate`` is compiled without detailed exceptions, which makes the failing
    alternatives of anyOf/oneOf cheaper; ``explain``, compiled on first need, re-runs a
    rejected object to name the field and the rule.  ``property_rules`` is set when the
    schema applies properties.json to the object itself, which ``_PropertyRules`` then does
    instead of fastjsonschema.
    """

    name: str
    definition: dict[str, Any]
    formats: dict[str, Callable[[str], Any]]
    lock: threading.Lock
    validate: Callable[[Any], Any]
    property_rules: _PropertyRules | None
    _explain: Callable[[Any], Any] | None = None

    def explain(self, obj: Any) -> fastjsonschema.JsonSchemaValueException | None:
        if self._explain is None:
            with self.lock:
                if self._explain is None:
                    self._explain = fastjsonschema.compile(
                        self.definition, formats=self.formats, use_default=False
                    )
        try:
            self._explain(obj)
        except fastjsonschema.JsonSchemaValueException as exc:
            return exc
        return None


class _PropertyRules:
    """properties.json as applied to an object's own properties, memoised per key.

    It checks every property name against three regexes (an unmatched name is invalid)
    and the value against the schemas of the regexes that match.  fastjsonschema would
    run the three searches for every property of every object, about a third of the
    whole validation; property names repeat, so the matching schemas are looked up per
    name instead.  The value checks are the file's own subschemas, translated.
    """

    _MEMO_LIMIT: Final = 10_000

    def __init__(self, compiler: _SchemaCompiler, document: Any) -> None:
        unknown = set(document) - _ANNOTATIONS - {"patternProperties", "additionalProperties"}
        if unknown or document.get("additionalProperties") is not False:
            raise SchemaBuildError(f"properties.json has an unexpected shape: {sorted(unknown)}")
        self._rules = [
            (re.compile(pattern).search, compiler.value_check(subschema))
            for pattern, subschema in document["patternProperties"].items()
        ]
        self._memo: dict[str, tuple[_ValueCheck, ...]] = {}

    def _checks_for(self, key: Any) -> tuple[_ValueCheck, ...]:
        checks = self._memo.get(key)
        if checks is None:
            checks = tuple(check for search, check in self._rules if search(key))
            if len(self._memo) < self._MEMO_LIMIT:
                self._memo[key] = checks
        return checks

    def first_issue(self, obj: dict[str, Any]) -> _Issue | None:
        for key, value in obj.items():
            checks = self._checks_for(key)
            if not checks:
                return (str(key), f"'{key}' is not a valid property name")
            for check in checks:
                problem = check(value)
                if problem is not None:
                    return (str(key), f"'{key}' {problem}")
        return None


class _SchemaCompiler:
    """Inlines the bundled schemas and compiles one fastjsonschema validator per name."""

    def __init__(self) -> None:
        self._files = _schema_files()
        self._documents: dict[str, Any] = {}
        self._formats: dict[str, Callable[[str], Any]] = {}
        self._format_patterns: dict[str, tuple[str, str | None]] = {}
        self._pattern_formats: dict[str, str] = {}
        self._compiled: dict[str, _ObjectSchema] = {}
        self._lock = threading.Lock()
        # Per compilation: whether properties.json applies to the object itself, and the
        # subschemas compiled as functions of their own (see _convert).
        self._uses_property_rules = False
        self._definitions: dict[str, Any] = {}
        self._property_rules = _PropertyRules(self, self._load(_PROPERTY_RULES_FILE))

    def has_schema(self, name: str) -> bool:
        return name in self._files

    def pattern_of_format(self, name: str) -> tuple[str, str | None] | None:
        """The regex behind a format made from a "pattern", and its schema's title."""
        return self._format_patterns.get(name)

    def schema(self, name: str) -> _ObjectSchema:
        compiled = self._compiled.get(name)
        if compiled is None:
            with self._lock:
                compiled = self._compiled.get(name)
                if compiled is None:
                    compiled = self._compile(name)
                    self._compiled[name] = compiled
        return compiled

    def _compile(self, name: str) -> _ObjectSchema:
        path = self._files[name]
        self._uses_property_rules = False
        self._definitions = {}
        schema = self._convert(self._load(path), path, (), at_root=True)
        if not isinstance(schema, dict):
            raise SchemaBuildError(f"schema {name} is not an object")
        definition = {"$schema": _DRAFT_07, **schema, "definitions": self._definitions}
        validate: Callable[[Any], Any] = fastjsonschema.compile(
            definition, formats=self._formats, use_default=False, detailed_exceptions=False
        )
        rules = self._property_rules if self._uses_property_rules else None
        return _ObjectSchema(name, definition, self._formats, self._lock, validate, rules)

    def value_check(self, subschema: Any) -> _ValueCheck:
        """A check for one property value; returns None or what is wrong with it."""
        self._definitions = {}
        schema = self._convert(subschema, _PROPERTY_RULES_FILE, (), at_root=False)
        definitions = self._definitions
        if isinstance(schema, dict) and set(schema) <= {"type", "minItems"}:
            # The usual "any non-null value, arrays not empty" (see _type_union).
            kinds = [schema["type"]] if isinstance(schema["type"], str) else schema["type"]
            allowed = tuple(t for kind in kinds for t in _JSON_TYPES[kind])
            no_bools = "boolean" not in kinds
            min_items = schema.get("minItems", 0)
            expected = " or ".join(kinds)

            def check_type(value: Any) -> str | None:
                if not isinstance(value, allowed) or (no_bools and isinstance(value, bool)):
                    return f"must be {expected}, not {_json_kind(value)}"
                if isinstance(value, list) and len(value) < min_items:
                    return "must not be an empty array"
                return None

            return check_type
        if not isinstance(schema, dict):
            raise SchemaBuildError(f"properties.json value schema {subschema!r}")
        validate = fastjsonschema.compile(
            {"$schema": _DRAFT_07, **schema, "definitions": definitions},
            formats=self._formats,
            use_default=False,
        )

        def check_schema(value: Any) -> str | None:
            try:
                validate(value)
            except fastjsonschema.JsonSchemaValueException as exc:
                return exc.message.removeprefix("data ").removeprefix("data")
            return None

        return check_schema

    def _load(self, path: str) -> Any:
        document = self._documents.get(path)
        if document is None:
            with open(path, encoding="utf-8") as handle:
                document = json.load(handle)
            self._documents[path] = document
        return document

    def _resolve(self, ref: str, base: str) -> tuple[Any, str]:
        file_part, _, fragment = ref.partition("#")
        path = (
            os.path.normpath(os.path.join(os.path.dirname(base), file_part)) if file_part else base
        )
        node = self._load(path)
        for token in fragment.split("/")[1:] if fragment else ():
            node = node[token.replace("~1", "/").replace("~0", "~")]
        return node, path

    def _convert(
        self, node: Any, base: str, stack: tuple[tuple[str, str], ...], *, at_root: bool
    ) -> Any:
        """The draft-07 equivalent of a Draft 2020-12 schema node, with $refs inlined.

        ``at_root`` says whether the node applies to the object itself (the root schema,
        its allOf members and their $ref targets), where properties.json is left to
        _PropertyRules.
        """
        if isinstance(node, bool):
            return node
        if not isinstance(node, dict):
            raise SchemaBuildError(f"unexpected schema node {node!r} in {base}")
        out: dict[str, Any] = {}
        all_of: list[Any] = []
        for key, value in node.items():
            if key in _ANNOTATIONS or key == "$ref":
                continue
            if key in _SUBSCHEMA_MAPS:
                out[key] = {
                    k: self._convert(v, base, stack, at_root=False) for k, v in value.items()
                }
            elif key == "anyOf" and (union := _type_union(value)) is not None:
                all_of.append(union)
            elif key in _SUBSCHEMA_LISTS:
                nested = at_root and key == "allOf"
                out[key] = [self._convert(v, base, stack, at_root=nested) for v in value]
            elif key == "not" and (rewritten := self._rewrite_not(value, node)) is not None:
                all_of.append(rewritten)
            elif key in _SUBSCHEMA_SINGLE:
                if isinstance(value, list):
                    raise SchemaBuildError(f"tuple-form {key} in {base}")
                out[key] = self._convert(value, base, stack, at_root=False)
            elif key == "type":
                out[key] = self._convert_type(value, all_of)
            elif key == "pattern":
                all_of.append({"format": self._pattern_format(value, node.get("title"))})
            elif key == "format":
                all_of.append({"format": self._checker_format(value)})
            elif key in _PLAIN_KEYWORDS:
                out[key] = value
            elif key == "const" and isinstance(value, str):
                # The same test for a string, and fastjsonschema cannot generate "const"
                # without detailed exceptions.
                out["enum"] = [value]
            else:
                raise SchemaBuildError(f"unsupported keyword {key!r} in {base}")
        ref = node.get("$ref")
        if isinstance(ref, str):
            key = (base, ref)
            if key in stack:
                raise SchemaBuildError(f"recursive $ref {ref} in {base}")
            target, target_base = self._resolve(ref, base)
            # Draft 2020-12 applies $ref alongside its siblings; draft-07 ignores them, so
            # the target joins the node's allOf.
            if at_root and target_base == _PROPERTY_RULES_FILE:
                self._uses_property_rules = True
            elif at_root or not _is_compound(target):
                all_of.append(self._convert(target, target_base, (*stack, key), at_root=at_root))
            else:
                all_of.append(self._definition(target, target_base, ref, (*stack, key)))
        if all_of:
            if not out and len(all_of) == 1:
                only: Any = all_of[0]
                return only
            out["allOf"] = [*out.get("allOf", []), *all_of]
        return out

    def _definition(
        self, target: Any, base: str, ref: str, stack: tuple[tuple[str, str], ...]
    ) -> dict[str, str]:
        """A $ref to ``target`` compiled as a function of its own.

        fastjsonschema builds error names with ``str.format(**locals())`` inside loops,
        and anyOf/oneOf/not/if fail by raising, so a failing alternative inside an array
        item costs a dict of every local of the enclosing function: hundreds in a fully
        inlined object schema.  Compound subschemas referenced by file (external
        references, kill-chain phases, granular markings, hashes, extensions) therefore
        stay functions with few locals.
        """
        file_part, _, fragment = ref.partition("#")
        name = re.sub(r"[^A-Za-z0-9_-]", "_", os.path.relpath(base, _SCHEMA_DIR) + fragment)
        if name not in self._definitions:
            self._definitions[name] = True  # placeholder while converting
            self._definitions[name] = self._convert(target, base, stack, at_root=False)
        return {"$ref": f"#/definitions/{name}"}

    def _rewrite_not(self, negated: Any, node: dict[str, Any]) -> Any:
        """An equivalent of ``{"not": negated}`` that does not fail inside a try block.

        fastjsonschema evaluates "not" by catching the exception of the inner schema, and
        raising is the dominant cost when the inner schema fails (the usual case), so the
        shapes found in the STIX schemas are expressed positively.
        """
        if not isinstance(negated, dict) or len(negated) != 1:
            return None
        ((key, value),) = negated.items()
        if key == "enum" and all(isinstance(v, str) for v in value):
            # A non-string is in no list of strings, and formats only judge strings.
            excluded = frozenset(value)
            return {"format": self._callable_format(lambda s: s not in excluded)}
        if key == "pattern" and node.get("type") == "string":
            search = re.compile(value).search
            return {"format": self._callable_format(lambda s: search(s) is None)}
        if node.get("type") != "object":
            return None
        if key == "required" and isinstance(value, list) and len(value) == 1:
            return _forbid(value)
        if key == "anyOf" and all(
            isinstance(b, dict) and list(b) == ["required"] and len(b["required"]) == 1
            for b in value
        ):
            return _forbid([b["required"][0] for b in value])
        return None

    def _callable_format(self, check: Callable[[str], bool]) -> str:
        name = f"stix-negation-{len(self._formats)}"
        self._formats[name] = check
        return name

    def _convert_type(self, value: Any, all_of: list[Any]) -> Any:
        types = [value] if isinstance(value, str) else list(value)
        if "integer" not in types:
            return value
        # jsonschema counts 5.0 as an integer, fastjsonschema does not; "a number that is a
        # multiple of 1" is what jsonschema means.
        if len(types) != 1:
            raise SchemaBuildError(f"type list with integer: {value!r}")
        all_of.append({"multipleOf": 1})
        return "number"

    def _pattern_format(self, pattern: str, title: Any) -> str:
        # jsonschema applies "pattern" with re.search; fastjsonschema rewrites "$" to "\Z",
        # which differs before a trailing newline and breaks "$" inside character classes.
        name = self._pattern_formats.get(pattern)
        if name is None:
            name = f"stix-pattern-{len(self._pattern_formats)}"
            self._pattern_formats[pattern] = name
            self._format_patterns[name] = (pattern, title if isinstance(title, str) else None)
            self._formats[name] = re.compile(pattern).search
        return name

    def _checker_format(self, fmt: str) -> str:
        # The checker stix2-validator passes to jsonschema, including its own "email" rule.
        name = f"checker-{fmt}"
        if name not in self._formats:
            checker = _sv_validator.Draft202012Validator.FORMAT_CHECKER

            def conforms(value: str, _fmt: str = fmt) -> bool:
                try:
                    return bool(checker.conforms(value, _fmt))
                except Exception:  # jsonschema would propagate it: a rejection
                    return False

            self._formats[name] = conforms
        return name


def _is_compound(schema: Any) -> bool:
    """Whether a schema has subschemas of its own (rather than only value constraints)."""
    return isinstance(schema, dict) and any(
        key in schema for key in (*_SUBSCHEMA_MAPS, *_SUBSCHEMA_LISTS, *_SUBSCHEMA_SINGLE, "$ref")
    )


def _forbid(names: list[str]) -> dict[str, Any]:
    """On an object, "none of these properties is present"."""
    return {"properties": dict.fromkeys(names, False)}


def _type_union(branches: Any) -> dict[str, Any] | None:
    """An anyOf of bare type alternatives as one multi-type schema, or None.

    properties.json and dictionary.json admit any non-null value as
    anyOf[array(minItems 1), string, integer, boolean, number, object]; fastjsonschema
    would raise and catch an exception for each failed alternative of every property.
    """
    if not isinstance(branches, list) or not branches:
        return None
    types: list[str] = []
    extra: dict[str, Any] = {}
    for branch in branches:
        if not isinstance(branch, dict) or not isinstance(branch.get("type"), str):
            return None
        kind = branch["type"]
        rest = {k: v for k, v in branch.items() if k not in ("type", "description")}
        if rest and (kind != "array" or set(rest) - {"minItems", "maxItems"}):
            return None
        if kind in types:
            return None
        types.append(kind)
        extra.update(rest)
    if "integer" in types:
        if "number" not in types:
            return None
        types.remove("integer")
    return {"type": types, **extra}


_COMPILER_LOCK: Final = threading.Lock()
_COMPILER: list[_SchemaCompiler] = []


def _compiler() -> _SchemaCompiler:
    if not _COMPILER:
        with _COMPILER_LOCK:
            if not _COMPILER:
                _COMPILER.append(_SchemaCompiler())
    return _COMPILER[0]


def _schema_name(obj: dict[str, Any], otype: str, compiler: _SchemaCompiler) -> str:
    if compiler.has_schema(otype):
        return otype
    # stix2validator._schema_validate: the generic schema for a custom type.
    if "created" not in obj and "modified" not in obj and otype != "marking-definition":
        return "cyber-observable-core"
    return "core"


def _schema_check(obj: dict[str, Any], otype: str) -> _Issue | None:
    compiler = _compiler()
    schema = compiler.schema(_schema_name(obj, otype, compiler))
    try:
        schema.validate(obj)
        if schema.property_rules is not None:
            issue = schema.property_rules.first_issue(obj)
            if issue is not None:
                return (issue[0], f"{issue[1]} (STIX 2.1 '{schema.name}' schema)")
    except fastjsonschema.JsonSchemaValueException as exc:
        detailed = schema.explain(obj) or exc
        return _describe_schema_error(detailed, schema.name, compiler)
    except Exception as exc:  # e.g. non-string keys; jsonschema fails too
        return (None, f"does not conform to the STIX 2.1 '{schema.name}' schema: {exc!r}")
    return None


def _describe_schema_error(
    exc: fastjsonschema.JsonSchemaValueException, name: str, compiler: _SchemaCompiler
) -> _Issue:
    raw_name = exc.name or "data"
    field: str | None = raw_name[4:].lstrip(".") if raw_name.startswith("data") else raw_name
    field = field or None
    where = f"'{field}'" if field else "the object"
    if exc.rule == "required" and isinstance(exc.value, dict):
        required = exc.rule_definition if isinstance(exc.rule_definition, list) else []
        absent = [p for p in required if p not in exc.value]
        if absent:
            prop = str(absent[0])
            path = f"{field}.{prop}" if field else prop
            return (path, f"missing required property '{path}' (STIX 2.1 '{name}' schema)")
    if exc.rule == "format" and isinstance(exc.definition, dict):
        fmt = str(exc.definition.get("format", ""))
        regex = compiler.pattern_of_format(fmt)
        if regex is not None:
            return (field, f"{where} {_pattern_failure(*regex)} (STIX 2.1 '{name}' schema)")
        if fmt.startswith("checker-"):
            return (field, f"{where} is not a valid {fmt.removeprefix('checker-')}")
    if exc.rule == "multipleOf" and exc.rule_definition == 1:
        return (field, f"{where} must be an integer (STIX 2.1 '{name}' schema)")
    message = exc.message
    if message.startswith(raw_name):
        message = message[len(raw_name) :].strip()
    return (field, f"{where} {message} (STIX 2.1 '{name}' schema)")


def _pattern_failure(pattern: str, title: str | None) -> str:
    """What a value failing a schema regex should have been (after stix2-validator's
    pretty_error, which keys its wording on the title of the schema holding the regex)."""
    if title == "timestamp":
        return "must be a timestamp of the form YYYY-MM-DDTHH:mm:ss[.s+]Z"
    if title == "timestamp_millis":
        return "must be a timestamp precise to the millisecond (YYYY-MM-DDTHH:mm:ss.sssZ)"
    if title == "identifier":
        return "must be an identifier of the form [object-type]--[UUID]"
    if title == "id" and pattern.startswith("^") and pattern.endswith("--"):
        return f"must start with '{pattern[1:]}'"
    if title == "type":
        return "must be lowercase ASCII letters, digits and single hyphens, 3 to 250 long"
    return f"does not match /{pattern}/"


# --------------------------------------------------------------------------------------
# MUST checks (stix2validator.v21.musts)
#
# Each check performs the same operations on the same values as its stix2-validator
# counterpart, so it raises on exactly the inputs where stix2-validator raises (e.g. a
# TypeError from a regex applied to a number), which makes stix2-validator reject the
# object; an exception from a check therefore becomes an issue.


def _run_musts(obj: dict[str, Any], otype: str, found: _Found) -> None:
    """The MUST checks, in stix2-validator's order, for a schema-conformant object."""
    is_observable = otype in _OBSERVABLE_TYPES
    try:
        _check_timestamps(obj, otype, is_observable, found)
    except Exception as exc:  # see above
        found.append(_crash(None, exc))
    try:
        _check_timestamp_order(obj, otype, is_observable, found)
    except Exception as exc:  # see above
        found.append(_crash(None, exc))
    if otype == "marking-definition":
        try:
            _check_marking_self_refs(obj, found)
        except Exception as exc:  # see above
            found.append(_crash("object_marking_refs", exc))
    if "granular_markings" in obj:
        found.extend(_delegate(_musts.marking_selector_syntax, obj, "granular_markings"))
    if is_observable:
        try:
            _check_observable_vocabularies(obj, otype, found)
        except Exception as exc:  # see above
            found.append(_crash(None, exc))
    if "lang" in obj:
        lang = obj["lang"]
        if not isinstance(lang, str) or lang not in _LANG_CODES:
            found.append(("lang", f"{lang!r} is not a valid RFC 5646 language code"))
    if otype == "indicator":
        try:
            _check_pattern(obj, found)
        except Exception as exc:  # see above
            found.append(_crash("pattern", exc))
    if "cpe" in obj:
        found.extend(_delegate(_musts.cpe_check, obj, "cpe"))
    if otype == "language-content" and "contents" in obj:
        try:
            _check_language_contents(obj, found)
        except Exception as exc:  # see above
            found.append(_crash("contents", exc))
    if otype in _UUID4_TYPES or otype == "process":
        try:
            _check_uuid4(obj, otype, found)
        except Exception as exc:  # see above
            found.append(_crash("id", exc))
    _run_should_crash_probes(obj, found)


def _run_should_crash_probes(obj: dict[str, Any], found: _Found) -> None:
    """Reject what stix2-validator's SHOULD checks crash on.

    With strict=False, SHOULD findings are only warnings, but stix2-validator still runs
    every SHOULD check and an exception in one rejects the object.  On a
    schema-conformant object the only such check that can meet an unconstrained value is
    ``extref_hashes``: SCO schemas do not define ``external_references``, so there it can
    be any JSON value, which the check iterates as a list of dicts.
    """
    if "external_references" in obj:
        try:
            _shoulds.extref_hashes(obj)
        except Exception as exc:  # a crash there is a rejection
            found.append(_crash("external_references", exc))


def _crash(field: str | None, exc: Exception) -> tuple[str | None, str]:
    return (field, f"has a value of the wrong shape ({type(exc).__name__}: {exc})")


def _timestamp_parses(value: str) -> bool:
    """Whether ``dateutil.parser.parse`` accepts a value matching TIMESTAMP_FORMAT_RE.

    The regex already fixes the layout and the field ranges, leaving year 0, days past the
    end of the month and second 60 as the values dateutil rejects.
    """
    if value[17:19] == "60" or value[0:4] == "0000":
        return False
    if value[8:10] <= "28":
        return True
    return int(value[8:10]) <= calendar.monthrange(int(value[0:4]), int(value[5:7]))[1]


def _check_timestamp(holder: Any, prop: str, label: str, found: _Found) -> None:
    if prop in holder:
        value = holder[prop]
        if _TIMESTAMP_MATCH(value) and not _timestamp_parses(value):
            found.append((label, f"{value!r} is not a valid timestamp (no such date or time)"))


def _check_timestamps(obj: dict[str, Any], otype: str, is_observable: bool, found: _Found) -> None:
    """``musts.timestamp``: timestamps that look right must also be real dates."""
    for prop in _TIMESTAMP_PROPERTIES.get(otype, _CORE_TIMESTAMPS):
        if prop in obj:
            value = obj[prop]
            if _TIMESTAMP_MATCH(value) and not _timestamp_parses(value):
                found.append((prop, f"{value!r} is not a valid timestamp (no such date or time)"))
    if not is_observable:
        return
    for prop in _enums.TIMESTAMP_OBSERVABLE_PROPERTIES.get(otype, ()):
        _check_timestamp(obj, prop, prop, found)
    for embed, props in _enums.TIMESTAMP_EMBEDDED_PROPERTIES.get(otype, {}).items():
        container = obj.get(embed)
        if embed not in obj or not isinstance(container, Mapping):
            continue
        for prop in props:
            if embed == "extensions":
                for ext in container:
                    _check_timestamp(container[ext], prop, f"{embed}.{ext}.{prop}", found)
            else:
                _check_timestamp(container, prop, f"{embed}.{prop}", found)


def _as_datetime(value: str) -> datetime | str:
    """``musts.datetime_from_str`` without strptime: a datetime, or the string unchanged."""
    # strptime('%Y-%m-%dT%H:%M:%S[.%f]Z') takes 1 to 6 fraction digits and nothing after Z.
    length = len(value)
    if length != 20 and not 22 <= length <= 27:
        return value
    if value[-1] != "Z" or (length > 20 and value[19] != "."):
        return value
    fraction = value[20:-1]
    if fraction and not fraction.isdigit():
        return value
    try:
        return datetime(
            int(value[0:4]),
            int(value[5:7]),
            int(value[8:10]),
            int(value[11:13]),
            int(value[14:16]),
            int(value[17:19]),
            int(fraction.ljust(6, "0")) if fraction else 0,
        )
    except ValueError:
        return value


def _in_order(first: Any, op: str, second: Any) -> bool:
    """``musts.compare``: timestamps compare as datetimes when both parse, else as given."""
    if _TIMESTAMP_MATCH(first) and _TIMESTAMP_MATCH(second):
        # Same length means the same layout: if both parse, chronological order is string
        # order, and if either does not, stix2-validator compares the strings anyway.
        if len(first) != len(second):
            a = _as_datetime(first)
            b = _as_datetime(second)
            if isinstance(a, datetime) and isinstance(b, datetime):
                return a >= b if op == "ge" else a > b
    return bool(first >= second if op == "ge" else first > second)


def _check_timestamp_order(
    obj: dict[str, Any], otype: str, is_observable: bool, found: _Found
) -> None:
    """``musts.timestamp_compare`` and ``musts.observable_timestamp_compare``."""
    compares = _COMPARES.get(otype, _CORE_COMPARE)
    if is_observable:
        compares = (*compares, *_enums.TIMESTAMP_COMPARE_OBSERVABLE.get(otype, ()))
    for first, op, second in compares:
        if first in obj and second in obj and not _in_order(obj[first], op, obj[second]):
            relation = "later than or equal to" if op == "ge" else "later than"
            found.append(
                (first, f"'{first}' ({obj[first]}) must be {relation} '{second}' ({obj[second]})")
            )


def _check_marking_self_refs(obj: dict[str, Any], found: _Found) -> None:
    """``musts.object_marking_circular_refs`` and ``granular_markings_circular_refs``."""
    own_id = obj["id"]
    if "object_marking_refs" in obj:
        for i, ref in enumerate(obj["object_marking_refs"]):
            if ref == own_id:
                found.append(
                    (f"object_marking_refs[{i}]", "a marking definition cannot mark itself")
                )
    if "granular_markings" in obj:
        for i, marking in enumerate(obj["granular_markings"]):
            if "marking_ref" in marking and marking["marking_ref"] == own_id:
                found.append(
                    (
                        f"granular_markings[{i}].marking_ref",
                        "a marking definition cannot mark itself",
                    )
                )


@functools.cache
def _media_types() -> frozenset[str]:
    return frozenset(_enums.media_types())


@functools.cache
def _char_sets() -> frozenset[str]:
    return frozenset(_enums.char_sets())


def _check_observable_vocabularies(obj: dict[str, Any], otype: str, found: _Found) -> None:
    """``musts.artifact_mime_type``, ``character_set`` and ``software_language`` on an SCO."""
    if not _media_types() or not _char_sets():
        # The IANA lists are missing; stix2-validator then falls back to regexes.
        found.extend(_delegate(_musts.artifact_mime_type, obj, "mime_type"))
        found.extend(_delegate(_musts.character_set, obj, None))
    elif otype == "artifact" and "mime_type" in obj:
        value = obj["mime_type"]
        if not isinstance(value, str) or value not in _media_types():
            found.append(("mime_type", f"{value!r} is not an IANA registered MIME type"))
    elif otype in ("directory", "file"):
        prop = "path_enc" if otype == "directory" else "name_enc"
        if prop in obj:
            value = obj[prop]
            if not isinstance(value, str) or value not in _char_sets():
                found.append((prop, f"{value!r} is not an IANA registered character set"))
    if otype == "software" and "languages" in obj:
        for i, lang in enumerate(obj["languages"]):
            # ISO 639-2 codes are accepted (stix2-validator only logs a warning).
            if not isinstance(lang, str) or (
                lang not in _LANG_CODES and lang not in _SOFTWARE_LANG_CODES
            ):
                found.append((f"languages[{i}]", f"{lang!r} is not a valid language code"))


def _check_language_contents(obj: dict[str, Any], found: _Found) -> None:
    """``musts.language_contents``: language keys, then property-name keys."""
    for key, value in obj["contents"].items():
        if not isinstance(key, str) or key not in _LANG_CODES:
            found.append((f"contents.{key}", f"{key!r} is not an RFC 5646 language code"))
        for subkey, _subvalue in value.items():
            if not _PROPERTY_RE.match(subkey):
                found.append(
                    (f"contents.{key}.{subkey}", f"{subkey!r} is not a valid property name")
                )


def _check_uuid4(obj: dict[str, Any], otype: str, found: _Found) -> None:
    """``musts.uuid_version_check`` and ``musts.process``."""
    version = uuid.UUID(obj["id"].split("--")[-1]).version
    if version == 4:
        return
    if otype == "process":
        found.append(("id", "a process object must use a UUIDv4 for its id"))
    elif all(k not in obj for k in _UUID4_TYPES[otype]):
        found.append(("id", "without ID contributing properties the id must use a UUIDv4"))


# --------------------------------------------------------------------------------------
# Patterns


def _check_pattern(obj: dict[str, Any], found: _Found) -> None:
    """``musts.patterns``: syntax, object types and property names of a STIX pattern."""
    if obj.get("pattern_type", "") != "stix":
        return
    pattern = obj.get("pattern")
    if not isinstance(pattern, str):
        return
    if "pattern_version" in obj:
        version = obj["pattern_version"]
    elif "spec_version" in obj:
        version = obj["spec_version"]
    else:
        version = "2.1"
    if version == "2.1" and _simple_pattern_ok(pattern):
        return
    found.extend(("pattern", message) for message in _slow_pattern_errors(pattern, version))


@functools.lru_cache(maxsize=4096)
def _slow_pattern_errors(pattern: str, version: str) -> tuple[str, ...]:
    """Exactly what ``stix2validator.v21.musts.patterns`` reports for this pattern."""
    probe = {
        "type": "indicator",
        "id": "indicator--00000000-0000-4000-8000-000000000000",
        "pattern_type": "stix",
        "pattern": pattern,
        "pattern_version": version,
    }
    try:
        return tuple(str(e.message) for e in _musts.patterns(probe, _reference_options()))
    except Exception as exc:  # stix2-validator would crash: a rejection
        return (f"Pattern could not be parsed: {type(exc).__name__}: {exc}",)


# The fast path recognises this subset of the STIX 2.1 pattern grammar:
#   pattern     := ws* observation (ws+ (AND|OR|FOLLOWEDBY) ws+ observation)* ws*
#   observation := "[" ws* comparison (ws+ (AND|OR) ws+ comparison)* ws* "]"
#   comparison  := type ":" property ("." step)* ws* ("=" | "!=") ws* literal
#                | type ":" property ("." step)* ws+ (LIKE | MATCHES) ws+ string
# Every token is delimited so that ANTLR's longest-match lexer produces the same token (an
# identifier never runs into "-", a quote or another identifier character, a literal is
# followed by whitespace or "]"), keywords are never used as names, and whitespace is
# limited to characters that both ANTLR's WS rule and str.isspace() (used by
# stix2patterns' bracket check) accept.  Anything else goes to stix2-validator.
_WS: Final = r"[ \t\r\n]"
_STRING: Final = r"'[^'\\\x00-\x1f]*(?:\\['\\][^'\\\x00-\x1f]*)*'"
_COMPARISON: Final = rf"""
    (?P<type>[a-z][a-z0-9]*(?:-[a-z0-9]+)*)
    :
    (?P<prop>[a-z_][a-z0-9_]*)
    (?P<steps>(?:\.(?:[a-zA-Z_][a-zA-Z0-9_]*|'[A-Za-z0-9_-]+'))*)
    (?:
        {_WS}*!?={_WS}*
        (?P<literal>{_STRING}|-?(?:0|[1-9][0-9]*)|true|false)
      | {_WS}+(?:LIKE|MATCHES){_WS}+
        (?P<string>{_STRING})
    )
    """
_COMPARISON_RE: Final = re.compile(rf"{_COMPARISON}(?=[ \t\r\n\]])", re.VERBOSE)
# The usual indicator: one observation holding one comparison.
_SINGLE_RE: Final = re.compile(rf"{_WS}*\[{_WS}*{_COMPARISON}{_WS}*\]{_WS}*", re.VERBOSE)
_STEP_RE: Final = re.compile(r"\.(?:([a-zA-Z_][a-zA-Z0-9_]*)|'([A-Za-z0-9_-]+)')")
_OPEN_RE: Final = re.compile(rf"{_WS}*\[{_WS}*")
_CLOSE_RE: Final = re.compile(rf"{_WS}*\]")
_COMPARISON_JOIN_RE: Final = re.compile(rf"{_WS}+(?:AND|OR){_WS}+")
_OBSERVATION_JOIN_RE: Final = re.compile(rf"{_WS}+(?:AND|OR|FOLLOWEDBY){_WS}+(?=\[)")
_TRAILING_WS_RE: Final = re.compile(rf"{_WS}*\Z")
_KEYWORDS: Final = frozenset(
    "AND OR NOT FOLLOWEDBY LIKE MATCHES ISSUPERSET ISSUBSET EXISTS LAST IN START STOP "
    "SECONDS true false WITHIN REPEATS TIMES".split()
)
_OBSERVABLE_PROPERTIES: Final[dict[str, frozenset[str]]] = {
    t: frozenset(props) for t, props in _enums.OBSERVABLE_PROPERTIES.items()
}


def _simple_pattern_ok(pattern: str) -> bool:
    """True only for patterns that stix2-validator certainly accepts; False means "ask it"."""
    single = _SINGLE_RE.fullmatch(pattern)
    if single is not None:
        return _comparison_ok(single)
    pos = 0
    while True:
        opened = _OPEN_RE.match(pattern, pos)
        if opened is None:
            return False
        pos = opened.end()
        while True:
            comparison = _COMPARISON_RE.match(pattern, pos)
            if comparison is None or not _comparison_ok(comparison):
                return False
            pos = comparison.end()
            join = _COMPARISON_JOIN_RE.match(pattern, pos)
            if join is None:
                break
            pos = join.end()
        closed = _CLOSE_RE.match(pattern, pos)
        if closed is None:
            return False
        pos = closed.end()
        join = _OBSERVATION_JOIN_RE.match(pattern, pos)
        if join is None:
            return _TRAILING_WS_RE.match(pattern, pos) is not None
        pos = join.end()


def _comparison_ok(comparison: re.Match[str]) -> bool:
    otype = comparison["type"]
    prop = comparison["prop"]
    if prop in _KEYWORDS:
        return False
    # musts.patterns, default options: the object type, then the first property name.
    if otype not in _OBSERVABLE_TYPES and not (
        otype.startswith("x-") and len(otype) <= 250 and _TYPE_RE.match(otype)
    ):
        return False
    if prop not in _OBSERVABLE_PROPERTIES.get(otype, ()) and not _PROPERTY_RE.match(prop):
        return False
    steps = comparison["steps"]
    if not steps:
        return True
    path = [prop]
    for step in _STEP_RE.finditer(steps):
        name = step[1]
        if name is not None and name in _KEYWORDS:
            return False
        path.append(name if name is not None else step[2])
    if "hashes" in path:
        # stix2patterns.v21.object_validator.verify_object
        expected = _HASH_VALUE_RES.get(path[-1].upper().replace("-", "").replace("'", ""))
        if expected is not None:
            literal = comparison["literal"] or comparison["string"]
            if not expected.match(literal.replace("'", "")):
                return False
    return True


def _hash_value_res() -> dict[str, re.Pattern[str]]:
    from stix2patterns.v21.object_validator import HASHES_REGEX

    return {name: re.compile(spec[0]) for name, spec in HASHES_REGEX.items()}


_HASH_VALUE_RES: Final = _hash_value_res()
