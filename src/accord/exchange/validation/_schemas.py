"""The JSON schemas shipped inside ``stix2validator``, compiled with ``fastjsonschema``.

They are translated to draft-07 and compiled once per object type, on first use. The
translation keeps jsonschema's Draft 2020-12 semantics where fastjsonschema would
differ: ``$ref`` siblings are honoured, ``pattern`` is a Python ``re.search`` (so ``$``
still matches before a trailing newline), integral floats count as integers, and
``format`` is checked by the very format checker ``stix2-validator`` hands to
jsonschema. Some constructs are rewritten into equivalents that do not fail by raising,
which is what makes fastjsonschema slow; properties.json is applied per property name,
memoised (``_PropertyRules``).
"""

from __future__ import annotations

import json
import os
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

import fastjsonschema
import stix2validator
from stix2validator import validator as _sv_validator

from accord.exchange.validation._common import Issue, json_kind

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

    def first_issue(self, obj: dict[str, Any]) -> Issue | None:
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
                    return f"must be {expected}, not {json_kind(value)}"
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


def schema_check(obj: dict[str, Any], otype: str) -> Issue | None:
    """The first way ``obj`` breaks the schema of its type, or None."""
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
) -> Issue:
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
