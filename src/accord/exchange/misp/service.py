"""MISP in and out of Accord: events imported through the exchange, events and feeds
exported through the gate.

Import is checked whole before anything is stored: every event of a command or request is
read, mapped, validated as STIX 2.1 and stamped first; then the events are stored, each
whole (all of it or none), several to a transaction of the exchange. Memory stays bounded
whatever the import's size: what was prepared is held up to ``hold_bytes`` of documents
(``ACCORD_MISP_IMPORT_HOLD_MB``), and the events past that are prepared again,
identically, as storing reaches them. Export reads only
what the caller may read, so a served feed is gated per caller like every other read.
"""

from __future__ import annotations

import gc
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import orjson

from accord.domain.clock import Clock
from accord.domain.model import Principal
from accord.domain.scope import Distribution
from accord.domain.stix import format_timestamp
from accord.domain.text import unstorable
from accord.domain.tlp import TLP
from accord.errors import (
    Conflict,
    Forbidden,
    InvalidInput,
    NotFound,
    Problem,
    ValidationFailed,
)
from accord.exchange.misp.convert import (
    EVENT_KEY,
    Audience,
    ImportReport,
    Mapped,
    carried_uuids,
    event_to_stix,
    member_ids,
    read_event,
    stix_to_event,
)
from accord.exchange.misp.mapping import MispDistribution
from accord.exchange.service import Exchange, IngestReport, stamp
from accord.exchange.validation import validate_objects
from accord.store.accounts import GroupRepository, OrganisationRepository
from accord.store.misp import Feed, MispRepository
from accord.store.objects import NewVersion, ObjectQuery, VersionQuery

# MISP sharing groups of this node's own groups get a stable UUID from this namespace.
_GROUP_NAMESPACE = uuid.UUID("0f6a4c53-2f4e-4f45-9a55-6d6973702d61")
_EVENT_TYPES = ("grouping", "x-misp-event")
_CHUNK = 500
# Versions stored in one transaction at most when events are stored together.
_GROUP_VERSIONS = 20_000


@dataclass(frozen=True, slots=True)
class PreparedEvent:
    """One event mapped, validated and stamped: ready to store in one transaction."""

    uuid: str
    timestamp: int
    versions: list[tuple[int, NewVersion]]


@contextmanager
def bulk() -> Iterator[None]:
    """Cyclic garbage collection paused while events are prepared and stored.

    An import holds prepared events until all are checked: millions of small,
    acyclic objects, which the cycle collector would otherwise scan again and again
    (a quarter of an import's time). Reference counting still frees them; the
    collector resumes, and catches up, when the import ends."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _carried_once(
    event: dict[str, Any], index: int, seen: dict[str, int], labels: Sequence[str]
) -> None:
    """Refuse an event, attribute or object whose UUID an earlier event of the import
    carried: stored after the first, it would clash with it, or pass for the first's copy
    (with the first's audience). One event's own repeats are ``read_event``'s to refuse."""
    for where, value in carried_uuids(event):
        first = seen.setdefault(value if value.islower() else value.lower(), index)
        if first != index:
            why = f"{value} is also in {labels[first]}: an import carries each UUID once"
            raise InvalidInput(f"{where}: {why}", [Problem(why, field=where)])


class Checked:
    """Every event of an import, checked, in order; iterating yields each prepared, to store.

    The first events, up to the node's ``hold_bytes`` of documents, are held as prepared;
    each of the rest is prepared, and checked, again as iteration reaches it, with the same
    clock reading and view of the node's groups and organisations: the same versions (an
    attribute sent without a UUID gets a new one each time, as MISP gives it)."""

    def __init__(
        self,
        kept: list[PreparedEvent],
        rest: Sequence[tuple[bytes | dict[str, Any], str]],
        again: Callable[[bytes | dict[str, Any], str], PreparedEvent],
    ) -> None:
        self._kept = kept
        self._rest = rest
        self._again = again

    def __len__(self) -> int:
        return len(self._kept) + len(self._rest)

    def __iter__(self) -> Iterator[PreparedEvent]:
        yield from self._kept
        for payload, label in self._rest:
            yield self._again(payload, label)


class Misp:
    def __init__(
        self,
        exchange: Exchange,
        repo: MispRepository,
        orgs: OrganisationRepository,
        groups: GroupRepository,
        *,
        node_id: str,
        default_tlp: TLP,
        clock: Clock,
        hold_bytes: int,
    ) -> None:
        """``hold_bytes``: documents of prepared events an import holds between checking
        and storing, at most (about twice as much memory in all: 1,000,000 attributes
        hold 1.8 GB of documents). Events past it are prepared again when stored, which
        costs as much as preparing them did (about a quarter of an import's time)."""
        self._exchange = exchange
        self.repo = repo
        self._orgs = orgs
        self._groups = groups
        self._node_id = node_id
        self._default_tlp = default_tlp
        self.clock = clock
        self._hold_bytes = hold_bytes

    # Sharing groups --------------------------------------------------------------------
    def group_uuid(self, slug: str) -> str:
        """The MISP sharing-group UUID of a local group: its link, else a stable derived one."""
        group = self._groups.get(slug)
        for misp_uuid, group_id in self.repo.group_links().items():
            if group_id == group.id:
                return misp_uuid
        return str(uuid.uuid5(_GROUP_NAMESPACE, f"{self._node_id}/{slug}"))

    def link_group(self, principal: Principal, misp_uuid: str, slug: str) -> None:
        """Link a MISP sharing group (by UUID) to a local sharing group (admins only)."""
        if not principal.is_admin():
            raise Forbidden("only an admin may link sharing groups")
        try:
            canonical = str(uuid.UUID(misp_uuid))
        except ValueError:
            raise InvalidInput(
                f"not a UUID: {misp_uuid[:64]!r}", [Problem("not a UUID", field="uuid")]
            ) from None
        self.repo.link_group(canonical, self._groups.get(slug).id)

    def _group_resolver(self) -> dict[str, int]:
        found = {
            str(uuid.uuid5(_GROUP_NAMESPACE, f"{self._node_id}/{g.slug}")): g.id
            for g in self._groups.all()
        }
        found.update(self.repo.group_links())
        return found

    def _audience(self, tlp: TLP | None, distribution: MispDistribution | None) -> Audience:
        groups = self._group_resolver()
        identities = {o.identity_id: o.id for o in self._orgs.all()}
        return Audience(
            lambda u: groups.get(u.lower()),
            identities.get,
            tlp or self._default_tlp,
            distribution if distribution is not None else MispDistribution.ORGANISATION,
        )

    # Import ----------------------------------------------------------------------------
    def prepare(
        self,
        principal: Principal,
        payloads: Sequence[bytes | dict[str, Any]],
        report: ImportReport,
        *,
        tlp: TLP | None = None,
        distribution: MispDistribution | None = None,
        names: Sequence[str] | None = None,
        on_checked: Callable[[], None] = lambda: None,
    ) -> Checked:
        """Read, map, validate and stamp every event; InvalidInput naming the first bad one.

        ``names`` label the payloads in errors (file names, feed entries); ``on_checked``
        is called after each event."""
        if principal.org is None or not principal.can_write():
            raise Forbidden("only an admin or analyst may import MISP events")
        audience = self._audience(tlp, distribution)
        now = self.clock()
        provenance = orjson.dumps(
            {
                "origin_node": "misp",
                "origin_node_id": self._node_id,
                "received": format_timestamp(now),
                "via": [],
            }
        ).decode()
        owner = principal.org
        labels = names or [f"event {i}" for i in range(len(payloads))]
        seen: dict[str, int] = {}  # UUID -> the event of this import that carried it first

        def prepared(
            payload: bytes | dict[str, Any], label: str, into: ImportReport, index: int = -1
        ) -> PreparedEvent:
            try:
                event = read_event(payload)
                if index >= 0:
                    _carried_once(event, index, seen, labels)
                mapped = event_to_stix(event, audience, into, now)
                return self._stamped(owner, event, mapped, provenance)
            except InvalidInput as exc:
                exc.detail = f"{label}: {exc.detail}"
                raise

        kept: list[PreparedEvent] = []
        held = 0
        for index, (payload, label) in enumerate(zip(payloads, labels, strict=True)):
            event = prepared(payload, label, report, index)
            report.events.append(event.uuid)
            on_checked()
            if held < self._hold_bytes:  # once past it, nothing more is kept: kept is a prefix
                kept.append(event)
                held += sum(len(v.doc) for _, v in event.versions)
        rest = list(zip(payloads, labels, strict=True))[len(kept) :]
        # Mapping notes were counted when checked: a second preparation counts nothing.
        return Checked(kept, rest, lambda payload, label: prepared(payload, label, ImportReport()))

    def _stamped(
        self, owner: int, event: dict[str, Any], mapped: list[Mapped], provenance: str
    ) -> PreparedEvent:
        # What ``fast`` wrote is valid by construction; everything else is checked.
        objects = [m.obj for m in mapped if not m.valid]
        issues = validate_objects(objects)
        if issues:
            problems = [Problem(i.reason, i.index, i.object_id, i.field) for i in issues]
            raise ValidationFailed(
                f"event {event['uuid']} maps to invalid STIX 2.1 ({issues[0].reason}); "
                "nothing was stored",
                problems,
            )
        versions = []
        for index, m in enumerate(mapped):
            dist = Distribution(m.stamp.tlp, m.stamp.scope, m.stamp.recipients, m.stamp.group)
            versions.append((index, stamp(m.obj, owner, dist, provenance, self._node_id)))
        return PreparedEvent(event["uuid"], int(event["timestamp"]), versions)

    def _store(
        self, principal: Principal, versions: list[tuple[int, NewVersion]], report: ImportReport
    ) -> None:
        """Store versions in one transaction (all of them or none)."""
        assert principal.org is not None
        ingest = IngestReport()
        self._exchange.store_versions(versions, principal.org, self.clock(), ingest)
        report.stored += len(ingest.stored)
        report.duplicates += len(ingest.duplicates)

    def store_all(
        self,
        principal: Principal,
        prepared: Iterable[PreparedEvent],
        report: ImportReport,
        on_stored: Callable[[PreparedEvent], None] = lambda _: None,
    ) -> None:
        """Store prepared events in order, each whole, calling ``on_stored`` for each.

        Events go several to a transaction (up to ``_GROUP_VERSIONS`` versions): one
        commit for all of them, and each index page they touch written once, not once an
        event (on a store of millions, inserts by random STIX id touch a page apiece). A
        group that clashes with what is stored is rolled back and stored again event by
        event, so the events before the clashing one are kept and its error names it. A
        group the database fails (an outage) is rolled back whole: importing again stores
        the rest and counts what was stored as duplicates.
        """
        group: list[PreparedEvent] = []
        size = 0
        for event in prepared:
            if group and size + len(event.versions) > _GROUP_VERSIONS:
                self._store_group(principal, group, report, on_stored)
                group, size = [], 0
            group.append(event)
            size += len(event.versions)
        if group:
            self._store_group(principal, group, report, on_stored)

    def _store_group(
        self,
        principal: Principal,
        group: list[PreparedEvent],
        report: ImportReport,
        on_stored: Callable[[PreparedEvent], None],
    ) -> None:
        if len(group) > 1:
            try:
                self._store(principal, [v for event in group for v in event.versions], report)
            except Conflict:
                pass  # nothing of the group was stored: event by event, below
            else:
                for event in group:
                    on_stored(event)
                return
        for event in group:
            self._store(principal, event.versions, report)
            on_stored(event)

    def import_events(
        self,
        principal: Principal,
        payloads: Sequence[bytes | dict[str, Any]],
        *,
        tlp: TLP | None = None,
        distribution: MispDistribution | None = None,
        names: Sequence[str] | None = None,
    ) -> ImportReport:
        """Import MISP events: all are checked first, then each is stored whole."""
        report = ImportReport()
        with bulk():
            prepared = self.prepare(
                principal, payloads, report, tlp=tlp, distribution=distribution, names=names
            )
            self.store_all(principal, prepared, report)
        return report

    # Export ----------------------------------------------------------------------------
    def _groupings(self, principal: Principal) -> Iterator[tuple[int, dict[str, Any]]]:
        for rows in self._exchange.iter_all(principal, ObjectQuery(types=_EVENT_TYPES, limit=500)):
            for row in rows:
                doc = orjson.loads(row.doc)
                if isinstance(doc.get(EVENT_KEY), dict):
                    yield row.owner, doc

    def _members(self, principal: Principal, grouping: dict[str, Any]) -> list[dict[str, Any]]:
        ids = member_ids(grouping)
        found: dict[str, dict[str, Any]] = {}
        for start in range(0, len(ids), _CHUNK):
            chunk = tuple(ids[start : start + _CHUNK])
            query = VersionQuery(ids=chunk, versions=("last",), limit=len(chunk))
            for row in self._exchange.versions_page(principal, query):
                found[row.stix_id] = orjson.loads(row.doc)
        return [found[i] for i in ids if i in found]

    def _event(self, principal: Principal, owner: int, grouping: dict[str, Any]) -> dict[str, Any]:
        event = stix_to_event(grouping, self._members(principal, grouping))
        if "Orgc" not in event["Event"]:  # the feed format needs the creator: the owner
            org = self._orgs.get(owner)
            event["Event"]["Orgc"] = {
                "name": org.name,
                "uuid": org.identity_id.split("--", 1)[1],
            }
        return event

    def export(self, principal: Principal) -> Iterator[dict[str, Any]]:
        """Every MISP event ``principal`` may read, in the core format, with the
        attributes and objects it may read (distribution and sharing groups kept)."""
        for owner, grouping in self._groupings(principal):
            yield self._event(principal, owner, grouping)

    def event(self, principal: Principal, event_uuid: str) -> dict[str, Any]:
        """One event as ``principal`` may read it, or NotFound."""
        for otype in _EVENT_TYPES:
            try:
                row, _ = self._exchange.get(principal, f"{otype}--{event_uuid}")
            except NotFound:
                continue
            doc = orjson.loads(row.doc)
            if isinstance(doc.get(EVENT_KEY), dict):
                return self._event(principal, row.owner, doc)
        raise NotFound(f"no MISP event {event_uuid[:64]!r}")

    # The feed Accord serves ---------------------------------------------------------------
    def feed_event(self, principal: Principal, event_uuid: str) -> dict[str, Any]:
        """One event in MISP's feed format (``to_feed``: no distribution or sharing group)."""
        from pymisp import MISPEvent

        misp = MISPEvent()
        misp.load(self.event(principal, event_uuid))
        feed: dict[str, Any] = misp.to_feed()
        return feed

    def feed_manifest(self, principal: Principal) -> dict[str, Any]:
        """``manifest.json``: every readable event's uuid with its summary."""
        from pymisp import MISPEvent

        manifest: dict[str, Any] = {}
        for owner, grouping in self._groupings(principal):
            record = dict(grouping[EVENT_KEY])
            if "Orgc" not in record:
                org = self._orgs.get(owner)
                record["Orgc"] = {"name": org.name, "uuid": org.identity_id.split("--", 1)[1]}
            misp = MISPEvent()
            misp.load({"Event": record})
            manifest.update(misp.manifest)
        return manifest

    def feed_hashes(self, principal: Principal) -> Iterator[str]:
        """``hashes.csv``: ``md5(value),event uuid`` for every readable attribute."""
        from pymisp import MISPEvent

        for event in self.export(principal):
            misp = MISPEvent()
            misp.load(event)
            for h in misp.attributes_hashes("md5"):
                yield f"{h},{misp.uuid}\n"

    # Feeds this node pulls --------------------------------------------------------------------
    def add_feed(
        self,
        principal: Principal,
        name: str,
        url: str,
        *,
        distribution: int = 0,
        tlp: TLP | None = None,
        directory: bool = False,
    ) -> Feed:
        """A feed pulled on schedule; a directory only when ``directory`` (the CLI, run by
        the node's operator): over the API a feed is an http(s) URL."""
        if not principal.is_admin() or principal.org is None:
            raise Forbidden("only an admin may add a MISP feed")
        remote = url.startswith(("http://", "https://"))
        if not remote and not directory:
            why = "a feed is an http(s) URL (directories only from the command line)"
            raise InvalidInput(why, [Problem(why, field="url")])
        if not url or unstorable(url):
            raise InvalidInput("the feed URL is not storable text", [Problem("bad", field="url")])
        if remote:
            feed_url(url)
        if not name or len(name) > 80 or not name.replace("-", "").replace("_", "").isalnum():
            raise InvalidInput(
                "a feed name is 1-80 letters, digits, '-' or '_'",
                [Problem("bad name", field="name")],
            )
        if self.repo.feed(name) is not None:
            raise InvalidInput(f"a feed named {name!r} exists", [Problem("taken", field="name")])
        if distribution not in range(5):
            raise InvalidInput(
                f"unknown distribution {distribution}: use 0 to 4",
                [Problem("unknown distribution", field="distribution")],
            )
        return self.repo.add_feed(
            name, url, principal.org, distribution, (tlp or self._default_tlp).value
        )


def feed_url(location: str) -> str:
    """The base URL of the feed at http(s) ``location``, or InvalidInput naming the field."""
    import httpx  # loaded where feeds are

    base = location if location.endswith("/") else location + "/"
    try:
        host = httpx.URL(base).host
    except httpx.InvalidURL as exc:
        host, why = "", str(exc)
    else:
        why = "it names no host"
    if not host:
        raise InvalidInput(
            f"not a feed URL: {location[:200]!r} ({why})", [Problem(why, field="url")]
        )
    return base


def md5_of_values(event: dict[str, Any]) -> set[str]:
    """The md5 of every attribute value, as MISP's ``hashes.csv`` lists them."""
    from pymisp import MISPEvent

    misp = MISPEvent()
    misp.load(event)
    return set(misp.attributes_hashes("md5"))
