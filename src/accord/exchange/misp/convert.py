"""A MISP event as Accord's STIX 2.1 objects, and the same objects as the MISP event again.

The content (indicators, observed data, observables) comes from misp-stix's
``MISPtoSTIX21Parser``; PyMISP's ``MISPEvent`` reads and writes the MISP core format.
What those drop, Accord's own mapping (``mapping``) carries:

- every STIX object is stamped with the Accord marking and scope of the MISP attribute,
  object or event it came from (``tlp:`` tags and distribution, sharing group by UUID);
- the event's grouping carries the event's own MISP record (``x_misp_event``: every field
  but its attributes and objects), and the first STIX object of each attribute and object
  carries that attribute's or object's record (``x_misp_attribute``, ``x_misp_object``),
  so each travels with its own marking and scope and the event is rebuilt exactly.

An attribute or object that misp-stix turns into nothing of its own becomes a custom
``x-misp-attribute`` / ``x-misp-object`` (as misp-stix itself writes for types STIX has
no word for). Galaxy clusters, sightings and relationships stay in the records of what
they belong to (they are shared across events in misp-stix's output and would clash).
"""

from __future__ import annotations

import functools
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson

from accord.domain.scope import Scope
from accord.domain.stix import format_timestamp
from accord.domain.text import unstorable
from accord.domain.tlp import MARKING_IDS, TLP
from accord.errors import InvalidInput, Problem
from accord.exchange.misp import reading
from accord.exchange.misp.mapping import (
    DISTRIBUTION_NAMES,
    RECIPIENT_TAG,
    SCOPE_TAG,
    MispDistribution,
    fit_to_tlp,
    narrower,
    parse_distribution,
    scope_of,
    tlp_of_tags,
    whole_number,
)

EVENT_KEY = "x_misp_event"
ATTRIBUTE_KEY = "x_misp_attribute"
OBJECT_KEY = "x_misp_object"
MEMBERS_KEY = "x_accord_misp_members"  # the grouping's list of the records' carriers

# STIX types whose object is preferred to carry a record, best first.
_PRIMARY = ("grouping", "report", "indicator", "observed-data", "vulnerability")
_DROPPED_TYPES = frozenset({"marking-definition", "identity"})


@dataclass(frozen=True, slots=True)
class Stamp:
    """The Accord marking and audience of one MISP unit (event, attribute or object)."""

    tlp: TLP
    scope: Scope
    group: int | None = None
    recipients: frozenset[int] = frozenset()


@dataclass(frozen=True, slots=True)
class Mapped:
    """One STIX object ready to stamp and store."""

    obj: dict[str, Any]
    stamp: Stamp
    valid: bool = False  # written valid by construction (``fast``): no STIX check needed


@dataclass(slots=True)
class ImportReport:
    """What an import mapped how: counts by (MISP setting -> Accord setting), and notes."""

    events: list[str] = field(default_factory=list)
    attributes: int = 0
    objects: int = 0
    stored: int = 0
    duplicates: int = 0
    mappings: Counter[tuple[str, str]] = field(default_factory=Counter)
    notes: Counter[str] = field(default_factory=Counter)
    skipped: list[str] = field(default_factory=list)

    def merge(self, other: ImportReport) -> None:
        self.events += other.events
        self.attributes += other.attributes
        self.objects += other.objects
        self.stored += other.stored
        self.duplicates += other.duplicates
        self.mappings.update(other.mappings)
        self.notes.update(other.notes)
        self.skipped += other.skipped

    def as_dict(self) -> dict[str, Any]:
        return {
            "events": self.events,
            "attributes": self.attributes,
            "objects": self.objects,
            "stored": self.stored,
            "duplicates": self.duplicates,
            "mapped": [
                {"misp": misp, "accord": accord, "count": count}
                for (misp, accord), count in sorted(self.mappings.items())
            ],
            "notes": [{"note": n, "count": c} for n, c in sorted(self.notes.items())],
            "skipped": self.skipped,
        }


class Audience:
    """What the conversion needs to know of the node: sharing groups and organisations."""

    def __init__(
        self,
        group_of: Callable[[str], int | None],
        org_of: Callable[[str], int | None],
        default_tlp: TLP,
        default_distribution: MispDistribution,
    ) -> None:
        self.group_of = group_of
        self.org_of = org_of
        self.default_tlp = default_tlp
        self.default_distribution = default_distribution


def misp_stix() -> Any:
    """The ``misp_stix_converter`` module, imported quietly.

    It imports its STIX 1 half too, and with it mixbox's vendored ``six``, whose import
    hook predates ``find_spec``: every later import in the process would then warn
    (an error under ``-W error``). The hook gets the ``find_spec`` newer six has."""
    import importlib.util
    import sys
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import misp_stix_converter  # type: ignore[import-untyped]

    for finder in sys.meta_path:
        if type(finder).__name__ == "_SixMetaPathImporter" and not hasattr(finder, "find_spec"):

            def find_spec(
                fullname: str, path: Any = None, target: Any = None, _finder: Any = finder
            ) -> Any:
                if _finder.find_module(fullname) is None:
                    return None
                return importlib.util.spec_from_loader(fullname, _finder)

            finder.find_spec = find_spec  # type: ignore[method-assign]
    return misp_stix_converter


# Reading the MISP core format ------------------------------------------------------------


def read_event(payload: bytes | dict[str, Any]) -> dict[str, Any]:
    """The event of a MISP core-format document (``{"Event": {...}}`` or the event itself)
    as PyMISP normalises it, or InvalidInput (a truncated file is not JSON)."""
    if not isinstance(payload, bytes | bytearray):  # PyMISP empties what it reads
        try:
            payload = orjson.dumps(payload)
        except orjson.JSONEncodeError:  # an unpaired surrogate, or no JSON for a value
            inner = payload.get("Event", payload) if isinstance(payload, dict) else payload
            for where, why in _unstorable_texts(inner, "Event"):
                raise InvalidInput(f"{where}: {why}", [Problem(why, field=where)]) from None
            raise InvalidInput("a MISP event is JSON: a value has no JSON form") from None
    # orjson refuses unpaired surrogates, so the only unstorable text JSON can carry is a
    # NUL, written as an escape: without one, no text needs looking at.
    texts_storable = b"\\u0000" not in payload
    try:
        payload = orjson.loads(payload)
    except orjson.JSONDecodeError as exc:
        raise InvalidInput(f"not JSON (truncated?): {exc}") from None
    if not isinstance(payload, dict):
        raise InvalidInput("a MISP event is a JSON object")
    event = payload.get("Event", payload)
    if not isinstance(event, dict):
        raise InvalidInput(
            "'Event' must be a JSON object", [Problem("not an object", field="Event")]
        )
    _check_shape(event, texts_storable)
    # Attributes of the forms MISP writes are read directly (``reading``, held equal to
    # PyMISP); the event and every other attribute go through PyMISP's MISPEvent.
    attributes = event.get("Attribute")
    if not isinstance(attributes, list):
        return _pymisp(event)
    direct = [reading.read_attribute(a) for a in attributes]
    if all(d is None for d in direct):
        return _pymisp(event)
    slow = [a for a, d in zip(attributes, direct, strict=True) if d is None]
    copies = orjson.loads(orjson.dumps(slow)) if slow else []  # PyMISP empties what it reads
    result = _pymisp({**event, "Attribute": slow})
    read = result.get("Attribute", [])
    if len(read) != len(slow):  # PyMISP made more (or fewer) of some: let it read them all
        return _pymisp({**event, "Attribute": _restored(attributes, direct, copies)})
    rest = iter(read)
    result["Attribute"] = [next(rest) if d is None else d for d in direct]
    return result


def _restored(
    attributes: list[Any], direct: list[dict[str, Any] | None], copies: list[Any]
) -> list[Any]:
    rest = iter(copies)
    return [next(rest) if d is None else a for a, d in zip(attributes, direct, strict=True)]


def _pymisp(event: dict[str, Any]) -> dict[str, Any]:
    from pymisp import MISPEvent

    misp = MISPEvent()
    try:
        misp.from_dict(**event)
    except Exception as exc:  # PyMISP raises many kinds for malformed events
        raise InvalidInput(f"not a MISP event: {exc}") from None
    result: dict[str, Any] = orjson.loads(misp.to_json())
    return result


def _check_shape(event: dict[str, Any], texts_storable: bool) -> None:
    """Refuse what no store keeps and distributions MISP does not have, naming the field
    (``texts_storable``: the caller knows no text holds a NUL or an unpaired surrogate)."""
    problems: list[Problem] = []
    if not texts_storable:
        for why in _unstorable_texts(event, "Event"):
            problems.append(Problem(why[1], field=why[0]))
    if not isinstance(event.get("info"), str) or not event["info"].strip():
        problems.append(Problem("a MISP event needs its 'info'", field="Event.info"))
    raw = event.get("uuid")
    if not isinstance(raw, str) or not _is_uuid(raw):
        problems.append(Problem("a MISP event needs a UUID", field="Event.uuid"))
    if "distribution" in event and parse_distribution(event["distribution"], inherit=False) is None:
        problems.append(
            Problem(
                f"unknown distribution {event['distribution']!r}: an event's is 0 to 4",
                field="Event.distribution",
            )
        )
    problems += _tag_problems(event, "Event") + _timestamp_problems(event, "Event")
    problems += _container_problems(event)
    # Every UUID names one STIX object's id: one repeated would give an attribute the
    # stamp (and so the audience) of the event or of another attribute.
    seen: dict[str, str] = {}
    if isinstance(raw, str) and _is_uuid(raw):
        seen[raw.lower()] = "Event.uuid"
    for where, unit, attribute in _units(event):
        if not isinstance(unit, dict):
            problems.append(Problem("must be a JSON object", field=where))
            continue
        problems += _tag_problems(unit, where) + _timestamp_problems(unit, where)
        if attribute:
            problems += _attribute_problems(unit, where)
        if (
            "distribution" in unit
            and parse_distribution(unit["distribution"], inherit=True) is None
        ):
            problems.append(
                Problem(
                    f"unknown distribution {unit['distribution']!r}: use 0 to 5",
                    field=f"{where}.distribution",
                )
            )
        if "uuid" in unit and not (isinstance(unit["uuid"], str) and _is_uuid(unit["uuid"])):
            problems.append(Problem("not a UUID", field=f"{where}.uuid"))
        elif "uuid" in unit:
            first = seen.setdefault(unit["uuid"].lower(), f"{where}.uuid")
            if first != f"{where}.uuid":
                problems.append(Problem(f"the UUID of {first} again", field=f"{where}.uuid"))
    if problems:
        raise InvalidInput(f"{problems[0].field}: {problems[0].reason}", problems)


def _unstorable_texts(value: Any, path: str) -> Iterable[tuple[str, str]]:
    if isinstance(value, str):
        why = unstorable(value)
        if why:
            yield path, why
    elif isinstance(value, dict):
        for k, v in value.items():
            yield from _unstorable_texts(v, f"{path}.{k}")
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _unstorable_texts(v, f"{path}[{i}]")


def _units(event: dict[str, Any]) -> list[tuple[str, Any, bool]]:
    """Each attribute and object of ``event``, with where it is and whether it is an
    attribute (objects' own attributes included); not yet known to be JSON objects."""
    units: list[tuple[str, Any, bool]] = []
    for i, a in enumerate(_list(event, "Attribute")):
        units.append((f"Event.Attribute[{i}]", a, True))
    for i, o in enumerate(_list(event, "Object")):
        units.append((f"Event.Object[{i}]", o, False))
        for j, a in enumerate(_list(o, "Attribute")):
            units.append((f"Event.Object[{i}].Attribute[{j}]", a, True))
    return units


def carried_uuids(event: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """(where, UUID) of ``event`` and of each of its attributes and objects given one."""
    if isinstance(event.get("uuid"), str):
        yield "Event.uuid", event["uuid"]
    for where, unit, _ in _units(event):
        if isinstance(unit, dict) and isinstance(unit.get("uuid"), str):
            yield f"{where}.uuid", unit["uuid"]


# The last second a STIX timestamp can name (9999-12-31T23:59:59Z).
_LAST_SECOND = 253_402_300_799


def _timestamp_problems(unit: dict[str, Any], where: str) -> list[Problem]:
    """MISP's timestamps are Unix times in whole seconds, as numbers or digit strings."""
    if "timestamp" not in unit:
        return []
    seconds = whole_number(unit["timestamp"])
    if seconds is not None and seconds <= _LAST_SECOND:
        return []
    return [
        Problem(f"a Unix time in whole seconds, 0 to {_LAST_SECOND}", field=f"{where}.timestamp")
    ]


def _container_problems(event: dict[str, Any]) -> list[Problem]:
    """Lists of objects where MISP writes them, and objects where it writes one. The
    items of attribute and object lists are the units' checks to name."""
    lists: list[tuple[str, Any, bool]] = [  # where, value, whether its items are checked here
        ("Event.Attribute", event.get("Attribute"), False),
        ("Event.Object", event.get("Object"), False),
        ("Event.Galaxy", event.get("Galaxy"), True),
        ("Event.EventReport", event.get("EventReport"), True),
    ]
    for i, o in enumerate(_list(event, "Object")):
        if isinstance(o, dict):
            lists.append((f"Event.Object[{i}].Attribute", o.get("Attribute"), False))
    for i, g in enumerate(_list(event, "Galaxy")):
        if isinstance(g, dict):
            lists.append((f"Event.Galaxy[{i}].GalaxyCluster", g.get("GalaxyCluster"), True))
    found: list[Problem] = []
    for where, value, items in lists:
        if value is None:
            continue
        if not isinstance(value, list):
            found.append(Problem("a list of objects", field=where))
        elif items:
            found += [
                Problem("must be a JSON object", field=f"{where}[{i}]")
                for i, item in enumerate(value)
                if not isinstance(item, dict)
            ]
    for key in ("Orgc", "Org"):
        org = event.get(key)
        if org is not None and not isinstance(org, dict):
            why = "an object (the organisation's name and uuid)"
            found.append(Problem(why, field=f"Event.{key}"))
        elif org and "uuid" in org and not (isinstance(org["uuid"], str) and _is_uuid(org["uuid"])):
            found.append(Problem("not a UUID", field=f"Event.{key}.uuid"))
    return found


def _attribute_problems(unit: dict[str, Any], where: str) -> list[Problem]:
    """What PyMISP would store wrongly or drop without a word: MISP itself refuses these."""
    found: list[Problem] = []
    value = unit.get("value")
    if value is None or value == "" or value == []:
        found.append(Problem("an attribute needs a value", field=f"{where}.value"))
    elif isinstance(value, dict | bool):  # a list is PyMISP's: one attribute per value
        found.append(Problem("an attribute's value is text", field=f"{where}.value"))
    kind = unit.get("type")
    if not isinstance(kind, str) or kind not in _attribute_types():
        found.append(Problem(f"no MISP attribute type {str(kind)[:64]!r}", field=f"{where}.type"))
    for key in ("category", "comment"):
        if unit.get(key) is not None and not isinstance(unit[key], str):
            found.append(Problem("text", field=f"{where}.{key}"))
    to_ids = unit.get("to_ids", False)
    if not isinstance(to_ids, bool) and to_ids not in (0, 1, "0", "1"):
        found.append(Problem("true or false (or 1 or 0)", field=f"{where}.to_ids"))
    for key in ("first_seen", "last_seen"):
        if unit.get(key) is not None and not _is_time(unit[key]):
            found.append(
                Problem("a date and time (ISO 8601) or a Unix time", field=f"{where}.{key}")
            )
    return found


@functools.cache
def _attribute_types() -> frozenset[str]:
    from pymisp import MISPAttribute

    types: list[str] = MISPAttribute().describe_types["types"]
    return frozenset(types)


def _is_time(value: Any) -> bool:
    """Whether PyMISP reads ``value`` as a time (it drops one it cannot, with a warning):
    a number is a Unix time, a text a date and time (a text of digits is neither)."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return 0 <= value <= _LAST_SECOND
    if not isinstance(value, str):
        return False
    try:
        datetime.fromisoformat(value)
    except ValueError:
        from dateutil.parser import parse

        try:
            parse(value)
        except (ValueError, OverflowError):
            return False
    return True


def _tag_problems(unit: dict[str, Any], where: str) -> list[Problem]:
    """A tag PyMISP would drop unread (a ``tlp:`` one among them) is refused instead."""
    tags = unit.get("Tag")
    if tags is None:
        return []
    if not isinstance(tags, list):
        return [Problem("a list of tags", field=f"{where}.Tag")]
    return [
        Problem("a tag is an object with a 'name'", field=f"{where}.Tag[{k}]")
        for k, tag in enumerate(tags)
        if not _tag_name(tag)
    ]


def _tag_name(tag: Any) -> bool:
    name = tag.get("name") if isinstance(tag, dict) else tag
    return isinstance(name, str) and bool(name.strip())


def _list(holder: Any, key: str) -> list[Any]:
    value = holder.get(key) if isinstance(holder, dict) else None
    return value if isinstance(value, list) else []


def _is_uuid(text: str) -> bool:
    """Whether ``text`` is a UUID as MISP writes one (36 characters, hyphenated): the
    form a STIX id takes."""
    try:
        return len(text) == 36 and str(uuid.UUID(text)) == text.lower()
    except ValueError:
        return False


# MISP -> Accord ---------------------------------------------------------------------------


def _tag_names(unit: dict[str, Any]) -> list[str]:
    return [t["name"] for t in _list(unit, "Tag") if isinstance(t, dict) and "name" in t]


def _tag_values(names: Sequence[str], key: str) -> list[str]:
    prefix = key + "="
    return [n[len(prefix) :].strip('"') for n in names if n.startswith(prefix)]


class _Stamper:
    """Resolves each unit's marking and audience, noting what was not exact."""

    def __init__(self, event: dict[str, Any], audience: Audience, report: ImportReport) -> None:
        self.audience = audience
        self.report = report
        self._known: dict[Any, tuple[Stamp, Counter[str], Counter[tuple[str, str]]]] = {}
        names = _tag_names(event)
        reading = tlp_of_tags(names)
        self.report.notes.update(reading.notes)
        self.event_tlp = reading.tlp
        if reading.tlp is None:
            self.report.notes[
                f"event without a tlp: tag: marked {audience.default_tlp.value} (the default)"
            ] += 1
        raw = event.get("distribution")
        if raw is None:
            dist = audience.default_distribution
            self.report.notes[
                f"event without a distribution: read as {int(dist)} "
                f"({DISTRIBUTION_NAMES[int(dist)]}), the importer's default"
            ] += 1
        else:
            dist = parse_distribution(raw, inherit=False) or MispDistribution.ORGANISATION
        self.event_stamp = self._resolve(
            "Event", dist, event, reading.tlp or audience.default_tlp, None
        )

    def _group(self, where: str, unit: dict[str, Any]) -> int:
        sg = unit.get("SharingGroup")
        sg_uuid = sg.get("uuid") if isinstance(sg, dict) else None
        if not isinstance(sg_uuid, str):
            raise InvalidInput(
                f"{where}: distribution 4 needs its SharingGroup with a UUID",
                [
                    Problem(
                        "distribution 4 names no sharing group UUID", field=f"{where}.SharingGroup"
                    )
                ],
            )
        group = self.audience.group_of(sg_uuid)
        if group is None:
            raise InvalidInput(
                f"{where}: no sharing group {sg_uuid} on this node (link it first)",
                [
                    Problem(
                        f"sharing group {sg_uuid} does not exist here",
                        field=f"{where}.SharingGroup",
                    )
                ],
            )
        return group

    def _resolve(
        self,
        where: str,
        dist: MispDistribution,
        unit: dict[str, Any],
        tlp: TLP,
        parent: Stamp | None,
    ) -> Stamp:
        names = _tag_names(unit)
        group = None
        recipients: frozenset[int] = frozenset()
        misp = f"distribution {int(dist)} ({DISTRIBUTION_NAMES[int(dist)]})"
        if dist is MispDistribution.INHERIT:
            assert parent is not None
            scope, group, recipients = parent.scope, parent.group, parent.recipients
        else:
            scope = scope_of(dist, public="public" in _tag_values(names, SCOPE_TAG))
            if scope is Scope.GROUP:
                group = self._group(where, unit)
            if scope is Scope.ORGANISATION:
                refs = _tag_values(names, RECIPIENT_TAG)
                found = {ref: self.audience.org_of(ref) for ref in refs}
                recipients = frozenset(o for o in found.values() if o is not None)
                if len(recipients) < len(refs):
                    self.report.notes[
                        "accord:recipient tag naming no organisation here: left out (stricter)"
                    ] += 1
                if recipients:
                    scope = Scope.RECIPIENTS
            if dist is MispDistribution.ALL and scope is Scope.FEDERATION:
                self.report.notes[
                    "distribution 3 (all communities) -> federation: Accord's public scope "
                    "admits anonymous readers, so the stricter federation"
                ] += 1
        if parent is not None:
            narrowed = narrower(scope, parent.scope)
            if narrowed is not scope or (
                scope is Scope.GROUP and parent.scope is Scope.GROUP and group != parent.group
            ):
                self.report.notes[
                    "attribute wider than its event (or in another sharing group): "
                    "given the event's audience, as MISP would"
                ] += 1
                scope, group, recipients = parent.scope, parent.group, parent.recipients
        fitted = fit_to_tlp(scope, tlp)
        if fitted is not scope:
            self.report.notes[
                f"{tlp.value} does not allow scope '{scope.value}': "
                f"narrowed to '{fitted.value}' (stricter)"
            ] += 1
            scope = fitted
        stamp = Stamp(
            tlp,
            scope,
            group if scope is Scope.GROUP else None,
            recipients if scope is Scope.RECIPIENTS else frozenset(),
        )
        tags = ", ".join(n for n in names if n.lower().startswith("tlp:")) or "no tlp: tag"
        self.report.mappings[(f"{misp}; {tags}", f"{tlp.value}; {scope.value}")] += 1
        return stamp

    def unit(self, where: str, unit: dict[str, Any], parent: Stamp) -> Stamp:
        """``_unit``, worked out once per distinct setting (tags, distribution, sharing
        group, parent): an event's attributes share a handful. What it notes in the
        report is noted again for every unit that has the setting."""
        group = unit.get("SharingGroup")
        key = (
            tuple(_tag_names(unit)),
            unit.get("distribution"),
            group.get("uuid") if isinstance(group, dict) else None,
            parent,
        )
        try:
            known = self._known.get(key)
        except TypeError:  # an unhashable distribution or UUID: no shortcut
            return self._unit(where, unit, parent)
        if known is not None:
            self.report.notes.update(known[1])
            self.report.mappings.update(known[2])
            return known[0]
        notes, mappings = self.report.notes, self.report.mappings
        self.report.notes, self.report.mappings = Counter(), Counter()
        try:
            stamp = self._unit(where, unit, parent)
            self._known[key] = (stamp, self.report.notes, self.report.mappings)
        finally:
            notes.update(self.report.notes)
            mappings.update(self.report.mappings)
            self.report.notes, self.report.mappings = notes, mappings
        return stamp

    def _unit(self, where: str, unit: dict[str, Any], parent: Stamp) -> Stamp:
        reading = tlp_of_tags(_tag_names(unit))
        self.report.notes.update(reading.notes)
        tlp = parent.tlp
        if reading.tlp is not None and reading.tlp.rank > tlp.rank:
            tlp = reading.tlp
        raw = unit.get("distribution")
        dist = (
            MispDistribution.INHERIT
            if raw is None
            else parse_distribution(raw, inherit=True) or MispDistribution.ORGANISATION
        )
        return self._resolve(where, dist, unit, tlp, parent)


def _timestamp(value: Any) -> str | None:
    seconds = whole_number(value)
    return None if seconds is None else format_timestamp(datetime.fromtimestamp(seconds, UTC))


def _fill_timestamps(event: dict[str, Any], now: int, report: ImportReport) -> None:
    """MISP stamps every event and attribute; where one has none, the import's time (so
    the STIX versions are stable across re-imports of the same file)."""
    if "timestamp" not in event:
        event["timestamp"] = str(now)
        report.notes["event without a timestamp: given the import's time"] += 1
    stamp = event["timestamp"]
    for a in _list(event, "Attribute"):
        a.setdefault("timestamp", stamp)
    for o in _list(event, "Object"):
        o.setdefault("timestamp", stamp)
        for a in _list(o, "Attribute"):
            a.setdefault("timestamp", o["timestamp"])


def event_to_stix(
    event: dict[str, Any], audience: Audience, report: ImportReport, now: datetime
) -> list[Mapped]:
    """The STIX objects of one (read) MISP event, each with its stamp; InvalidInput when a
    sharing group is unknown. Nothing is stored here."""
    _fill_timestamps(event, int(now.timestamp()), report)
    stamper = _Stamper(event, audience, report)
    event_stamp = stamper.event_stamp
    event_uuid = event["uuid"]
    owners: dict[str, tuple[str, dict[str, Any], Stamp]] = {}  # uuid -> (record key, record, stamp)
    order: list[str] = []
    for i, a in enumerate(_list(event, "Attribute")):
        if "uuid" not in a:  # as MISP does; not setdefault, which draws one for every attribute
            a["uuid"] = str(uuid.uuid4())
        owners[a["uuid"]] = (
            ATTRIBUTE_KEY,
            a,
            stamper.unit(f"Event.Attribute[{i}]", a, event_stamp),
        )
        order.append(a["uuid"])
        report.attributes += 1
    for i, o in enumerate(_list(event, "Object")):
        if "uuid" not in o:
            o["uuid"] = str(uuid.uuid4())
        where = f"Event.Object[{i}]"
        stamp = stamper.unit(where, o, event_stamp)
        # An object's STIX carries all its attributes' values: the strictest of them applies.
        for j, a in enumerate(_list(o, "Attribute")):
            inner = stamper.unit(f"{where}.Attribute[{j}]", a, stamp)
            if inner != stamp:
                report.notes[
                    "object attribute stricter than its object: the object takes the stricter"
                ] += 1
                stamp = Stamp(
                    max(stamp.tlp, inner.tlp, key=lambda t: t.rank),
                    narrower(stamp.scope, inner.scope),
                    inner.group if inner.scope.breadth < stamp.scope.breadth else stamp.group,
                    inner.recipients
                    if inner.scope.breadth < stamp.scope.breadth
                    else stamp.recipients,
                )
                scope = fit_to_tlp(stamp.scope, stamp.tlp)
                stamp = Stamp(
                    stamp.tlp,
                    scope,
                    stamp.group if scope is Scope.GROUP else None,
                    stamp.recipients if scope is Scope.RECIPIENTS else frozenset(),
                )
        owners[o["uuid"]] = (OBJECT_KEY, o, stamp)
        order.append(o["uuid"])
        report.objects += 1

    produced, checked = _content(event)
    record = {k: v for k, v in event.items() if k not in ("Attribute", "Object")}
    mapped: list[Mapped] = []
    carriers: dict[str, dict[str, Any]] = {}
    dropped = 0
    grouping: dict[str, Any] | None = None
    for obj in produced:
        otype = obj["type"]
        if otype == "note" and obj["id"] == f"note--{event_uuid}" and owners:
            continue  # misp-stix saw only the slow part: the event is not empty
        if otype in _DROPPED_TYPES:
            continue
        oid = obj["id"].split("--", 1)[1]
        if oid == event_uuid:
            stamp = event_stamp
            if otype in ("grouping", "report"):
                grouping = obj
        elif oid in owners:
            stamp = owners[oid][2]
            best = carriers.get(oid)
            if best is None or _rank(otype) < _rank(best["type"]):
                carriers[oid] = obj
        else:
            dropped += 1
            continue
        obj.pop("created_by_ref", None)
        obj["object_marking_refs"] = [MARKING_IDS[stamp.tlp]]
        mapped.append(Mapped(obj, stamp, id(obj) in checked))
    if dropped:
        report.notes[
            "galaxy clusters, sightings and relationships: kept in the MISP records "
            "of their event or attribute, not as STIX objects of their own"
        ] += dropped
    stamp_time = _timestamp(event.get("timestamp")) or format_timestamp(now)
    records: list[str] = []
    for key in order:
        kind, unit, stamp = owners[key]
        carrier = carriers.get(key)
        if carrier is None:
            carrier = _custom(kind, key, unit, stamp_time)
            mapped.append(Mapped(carrier, stamp))
        carrier[kind] = unit
        records.append(carrier["id"])
    if grouping is None:  # misp-stix always writes one; a fallback keeps the record
        grouping = _custom("x_misp_event", event_uuid, record, stamp_time)
        mapped.insert(0, Mapped(grouping, event_stamp))
    # The records' carriers first, in the event's order (export rebuilds it from them).
    carried = set(records)
    others = [m.obj["id"] for m in mapped if m.obj["id"] not in carried]
    refs = records + [r for r in others if r != grouping["id"]]
    if grouping["type"] != "x-misp-event":
        if not refs:  # STIX wants at least one: the event's note
            note = _empty_note(event_uuid, grouping["id"], stamp_time, event_stamp.tlp)
            mapped.append(Mapped(note, event_stamp))
            refs = [note["id"]]
        grouping["object_refs"] = refs
    grouping[EVENT_KEY] = record
    grouping[MEMBERS_KEY] = records
    return mapped


def _content(event: dict[str, Any]) -> tuple[list[dict[str, Any]], set[int]]:
    """The STIX objects misp-stix makes of ``event``, and the ``id()`` of those written
    directly by ``fast`` (the same objects, valid by construction)."""
    from accord.exchange.misp import fast

    module = misp_stix()

    def is_confidence(name: str) -> bool:
        return module.MISPtoSTIX21Mapping.confidence_tags(name) is not None

    direct: list[dict[str, Any]] = []
    slow: list[dict[str, Any]] = []
    for attribute in _list(event, "Attribute"):
        objects = fast.convert(attribute, is_confidence)
        if objects is None:
            slow.append(attribute)
        else:
            direct += objects
    rest = {k: v for k, v in event.items() if k != "Attribute"}
    if slow:
        rest["Attribute"] = slow
    parser = module.MISPtoSTIX21Parser()
    try:
        parser.parse_misp_event({"Event": rest})
        produced: list[dict[str, Any]] = orjson.loads(parser.bundle.serialize())["objects"]
    except Exception as exc:  # misp-stix refuses some malformed content with many kinds
        raise InvalidInput(f"misp-stix could not convert event {event['uuid']}: {exc}") from None
    return produced + direct, {id(o) for o in direct}


def _rank(otype: str) -> int:
    return _PRIMARY.index(otype) if otype in _PRIMARY else len(_PRIMARY)


def _custom(kind: str, key: str, unit: dict[str, Any], stamp: str) -> dict[str, Any]:
    otype = kind.replace("_", "-")
    when = _timestamp(unit.get("timestamp")) or stamp
    return {
        "type": otype,
        "spec_version": "2.1",
        "id": f"{otype}--{key}",
        "created": when,
        "modified": when,
    }


def _empty_note(event_uuid: str, grouping_id: str, stamp: str, tlp: TLP) -> dict[str, Any]:
    return {
        "type": "note",
        "spec_version": "2.1",
        "id": f"note--{event_uuid}",
        "created": stamp,
        "modified": stamp,
        "content": "This MISP Event is empty and contains no attribute or object.",
        "object_refs": [grouping_id],
        "object_marking_refs": [MARKING_IDS[tlp]],
    }


# Accord -> MISP ---------------------------------------------------------------------------


def stix_to_event(grouping: dict[str, Any], members: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """The MISP event (core format, ``{"Event": ...}``) an event's grouping and the member
    objects a reader may see rebuild: the records, in the grouping's order."""
    event = dict(grouping[EVENT_KEY])
    attributes: list[dict[str, Any]] = []
    objects: list[dict[str, Any]] = []
    for doc in members:
        if ATTRIBUTE_KEY in doc:
            attributes.append(doc[ATTRIBUTE_KEY])
        elif OBJECT_KEY in doc:
            objects.append(doc[OBJECT_KEY])
    if attributes:
        event["Attribute"] = attributes
    if objects:
        event["Object"] = objects
    return {"Event": event}


def member_ids(grouping: dict[str, Any]) -> list[str]:
    """The ids of the objects that carry the event's attribute and object records, in order."""
    refs = grouping.get(MEMBERS_KEY, [])
    return [r for r in refs if isinstance(r, str)] if isinstance(refs, list) else []
