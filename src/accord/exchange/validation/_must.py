"""The MUST checks of ``stix2validator.v21.musts``, re-implemented.

Each check performs the same operations on the same values as its stix2-validator
counterpart, so it raises on exactly the inputs where stix2-validator raises (e.g. a
TypeError from a regex applied to a number), which makes stix2-validator reject the
object; ``run_musts`` runs each through ``guard``, which turns such a crash into an
issue. Likewise the one SHOULD check that can crash on a schema-conformant object.
Granular-marking selectors and CPE strings are left to stix2-validator's own checks.
"""

from __future__ import annotations

import calendar
import functools
import uuid
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, Final

from stix2validator.v21 import enums, musts, shoulds

from accord.exchange.validation._common import OBSERVABLE_TYPES, PROPERTY_RE, Found, guard
from accord.exchange.validation._patterns import check_pattern

_TIMESTAMP_MATCH: Final = musts.TIMESTAMP_FORMAT_RE.match
_LANG_CODES: Final = frozenset(enums.LANG_CODES)
_SOFTWARE_LANG_CODES: Final = frozenset(enums.SOFTWARE_LANG_CODES)
_TIMESTAMP_PROPERTIES: Final[dict[str, tuple[str, ...]]] = {
    t: ("created", "modified", *props) for t, props in enums.TIMESTAMP_PROPERTIES.items()
}
_CORE_TIMESTAMPS: Final = ("created", "modified")
_COMPARES: Final[dict[str, tuple[tuple[str, str, str], ...]]] = {
    t: (("modified", "ge", "created"), *extra) for t, extra in enums.TIMESTAMP_COMPARE.items()
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


def run_musts(obj: dict[str, Any], otype: str, found: Found) -> None:
    """The MUST checks, in stix2-validator's order, for a schema-conformant object."""
    is_observable = otype in OBSERVABLE_TYPES
    guard(found, None, _check_timestamps, obj, otype, is_observable)
    guard(found, None, _check_timestamp_order, obj, otype, is_observable)
    if otype == "marking-definition":
        guard(found, "object_marking_refs", _check_marking_self_refs, obj)
    if "granular_markings" in obj:
        found.extend(_delegate(musts.marking_selector_syntax, obj, "granular_markings"))
    if is_observable:
        guard(found, None, _check_observable_vocabularies, obj, otype)
    if "lang" in obj:
        lang = obj["lang"]
        if not isinstance(lang, str) or lang not in _LANG_CODES:
            found.append(("lang", f"{lang!r} is not a valid RFC 5646 language code"))
    if otype == "indicator":
        guard(found, "pattern", check_pattern, obj)
    if "cpe" in obj:
        found.extend(_delegate(musts.cpe_check, obj, "cpe"))
    if otype == "language-content" and "contents" in obj:
        guard(found, "contents", _check_language_contents, obj)
    if otype in _UUID4_TYPES or otype == "process":
        guard(found, "id", _check_uuid4, obj, otype)
    if "external_references" in obj:
        guard(found, "external_references", _probe_extref_hashes, obj)


def _probe_extref_hashes(obj: dict[str, Any], found: Found) -> None:
    """Reject what stix2-validator's SHOULD checks crash on (through ``guard``).

    With strict=False, SHOULD findings are only warnings, but stix2-validator still runs
    every SHOULD check and an exception in one rejects the object.  On a
    schema-conformant object the only such check that can meet an unconstrained value is
    ``extref_hashes``: SCO schemas do not define ``external_references``, so there it can
    be any JSON value, which the check iterates as a list of dicts.
    """
    shoulds.extref_hashes(obj)


def _delegate(check: Callable[..., Any], obj: dict[str, Any], field: str | None) -> Found:
    """Run one stix2-validator check function; its findings or its crash become issues."""
    try:
        return [(field, str(e.message)) for e in check(obj)]
    except Exception as exc:  # a crash there is a rejection
        return [(field, f"could not be checked: {type(exc).__name__}: {exc}")]


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


def _check_timestamp(holder: Any, prop: str, label: str, found: Found) -> None:
    if prop in holder:
        value = holder[prop]
        if _TIMESTAMP_MATCH(value) and not _timestamp_parses(value):
            found.append((label, f"{value!r} is not a valid timestamp (no such date or time)"))


def _check_timestamps(obj: dict[str, Any], otype: str, is_observable: bool, found: Found) -> None:
    """``musts.timestamp``: timestamps that look right must also be real dates."""
    for prop in _TIMESTAMP_PROPERTIES.get(otype, _CORE_TIMESTAMPS):
        if prop in obj:
            value = obj[prop]
            if _TIMESTAMP_MATCH(value) and not _timestamp_parses(value):
                found.append((prop, f"{value!r} is not a valid timestamp (no such date or time)"))
    if not is_observable:
        return
    for prop in enums.TIMESTAMP_OBSERVABLE_PROPERTIES.get(otype, ()):
        _check_timestamp(obj, prop, prop, found)
    for embed, props in enums.TIMESTAMP_EMBEDDED_PROPERTIES.get(otype, {}).items():
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
    obj: dict[str, Any], otype: str, is_observable: bool, found: Found
) -> None:
    """``musts.timestamp_compare`` and ``musts.observable_timestamp_compare``."""
    compares = _COMPARES.get(otype, _CORE_COMPARE)
    if is_observable:
        compares = (*compares, *enums.TIMESTAMP_COMPARE_OBSERVABLE.get(otype, ()))
    for first, op, second in compares:
        if first in obj and second in obj and not _in_order(obj[first], op, obj[second]):
            relation = "later than or equal to" if op == "ge" else "later than"
            found.append(
                (first, f"'{first}' ({obj[first]}) must be {relation} '{second}' ({obj[second]})")
            )


def _check_marking_self_refs(obj: dict[str, Any], found: Found) -> None:
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
    return frozenset(enums.media_types())


@functools.cache
def _char_sets() -> frozenset[str]:
    return frozenset(enums.char_sets())


def _check_observable_vocabularies(obj: dict[str, Any], otype: str, found: Found) -> None:
    """``musts.artifact_mime_type``, ``character_set`` and ``software_language`` on an SCO."""
    if not _media_types() or not _char_sets():
        # The IANA lists are missing; stix2-validator then falls back to regexes.
        found.extend(_delegate(musts.artifact_mime_type, obj, "mime_type"))
        found.extend(_delegate(musts.character_set, obj, None))
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


def _check_language_contents(obj: dict[str, Any], found: Found) -> None:
    """``musts.language_contents``: language keys, then property-name keys."""
    for key, value in obj["contents"].items():
        if not isinstance(key, str) or key not in _LANG_CODES:
            found.append((f"contents.{key}", f"{key!r} is not an RFC 5646 language code"))
        for subkey, _subvalue in value.items():
            if not PROPERTY_RE.match(subkey):
                found.append(
                    (f"contents.{key}.{subkey}", f"{subkey!r} is not a valid property name")
                )


def _check_uuid4(obj: dict[str, Any], otype: str, found: Found) -> None:
    """``musts.uuid_version_check`` and ``musts.process``."""
    version = uuid.UUID(obj["id"].split("--")[-1]).version
    if version == 4:
        return
    if otype == "process":
        found.append(("id", "a process object must use a UUIDv4 for its id"))
    elif all(k not in obj for k in _UUID4_TYPES[otype]):
        found.append(("id", "without ID contributing properties the id must use a UUIDv4"))
