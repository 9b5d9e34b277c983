"""Sharing STIX 2.1 content: ingest, read, pass on and export, all through the policy gate.

Ingest is all or nothing: a bundle is parsed, validated, stamped (owner, TLP,
scope, provenance) and stored in one transaction, or nothing of it is stored and
every problem is reported. Re-posting versions already stored is a no-op.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

import orjson

from accord.domain.access import ObjectAccess, PeerAudience
from accord.domain.audit import NOT_RECORDED, Event, Recorder, actor_of
from accord.domain.clock import Clock
from accord.domain.model import Principal
from accord.domain.scope import Distribution, Scope, default_scope, distribution_problem
from accord.domain.stix import (
    canonical_json,
    format_timestamp,
    normalise_timestamp,
    parse_timestamp,
    version_key,
)
from accord.domain.text import MAX_SEARCH, unstorable
from accord.domain.tlp import MARKING_IDS, STANDARD_MARKING_IDS, TLP, marking_definition, tlp_of
from accord.errors import (
    Conflict,
    Forbidden,
    InvalidInput,
    NotFound,
    PolicyViolation,
    Problem,
    ValidationFailed,
)
from accord.exchange.validation import validate_objects
from accord.policy import received, share_problem
from accord.store.accounts import GroupRepository, OrganisationRepository
from accord.store.objects import (
    Arrival,
    ExistingVersion,
    NewVersion,
    ObjectBatch,
    ObjectQuery,
    ObjectRow,
    ObjectStore,
    TravelRow,
    VersionKey,
    VersionQuery,
)

# The longest STIX id the store holds (its column's width; validation keeps ids within it).
_MAX_ID = 100

# ``sighting_of_ref`` lets an indicator's page find the sightings reported against it.
_SEARCHED = (
    "name",
    "description",
    "pattern",
    "value",
    "aliases",
    "x_mitre_aliases",
    "sighting_of_ref",
)


@dataclass(frozen=True, slots=True)
class ShareRequest:
    """How the submitter wants objects distributed; unset fields take defaults."""

    tlp: TLP | None = None
    scope: Scope | None = None
    recipients: tuple[str, ...] = ()
    group: str | None = None

    @classmethod
    def parse(
        cls, tlp: str | None, scope: str | None, recipients: Sequence[str], group: str | None
    ) -> ShareRequest:
        """From user input (query parameters, CLI options), or InvalidInput."""
        try:
            return cls(
                tlp=TLP.parse(tlp) if tlp else None,
                scope=Scope(scope) if scope else None,
                recipients=tuple(recipients),
                group=group or None,
            )
        except ValueError as exc:
            scopes = ", ".join(s.value for s in Scope)
            raise InvalidInput(f"{exc} (scopes: {scopes})") from None


@dataclass(slots=True)
class IngestReport:
    stored: list[str] = field(default_factory=list)
    duplicates: list[str] = field(default_factory=list)
    skipped_markings: int = 0

    @property
    def changed(self) -> bool:
        return bool(self.stored)


@dataclass(frozen=True, slots=True)
class ObjectPage:
    rows: list[ObjectRow]
    next_cursor: int | None


def parse_payload(payload: bytes | Any) -> list[Any]:
    """The objects of a STIX bundle or of a single object, or InvalidInput."""
    if isinstance(payload, bytes | bytearray | memoryview):
        try:
            payload = orjson.loads(payload)
        except orjson.JSONDecodeError as exc:
            raise InvalidInput(f"the body is not JSON: {exc}") from None
    if not isinstance(payload, dict):
        raise InvalidInput("send a STIX 2.1 bundle or a single STIX object (a JSON object)")
    if payload.get("type") == "bundle":
        objects = payload.get("objects", [])
        if not isinstance(objects, list):
            raise InvalidInput("the bundle's 'objects' must be a list")
        bundle_id = payload.get("id")
        if not isinstance(bundle_id, str) or not bundle_id.startswith("bundle--"):
            raise InvalidInput("a bundle needs an id of the form 'bundle--<uuid>'")
        return objects
    if "type" not in payload:
        raise InvalidInput("the JSON object has no 'type': it is neither a bundle nor STIX")
    return [payload]


@functools.lru_cache(maxsize=4096)
def _normalised(text: str) -> str:
    """``normalise_timestamp``, once per distinct text: the objects of one bulk import
    share few timestamps (a MISP event's attributes mostly share one)."""
    return normalise_timestamp(text)


def stamp(
    obj: dict[str, Any], owner: int, distribution: Distribution, provenance: str, via: str
) -> NewVersion:
    """A validated object as a version to store: its document and the columns indexed from it."""
    created = obj.get("created")
    modified = obj.get("modified") or created
    return NewVersion(
        stix_id=obj["id"],
        type=obj["type"],
        spec_version=obj.get("spec_version", "2.1"),
        created=_normalised(created) if isinstance(created, str) else None,
        modified=_normalised(modified) if isinstance(modified, str) else version_key(obj),
        owner=owner,
        revoked=obj.get("revoked") is True,
        distribution=distribution,
        search_text=search_text(obj),
        provenance=provenance,
        via=via,
        doc=canonical_json(obj).decode(),
    )


def consecutive_stamps(start: datetime, count: int) -> list[str]:
    """``format_timestamp(start + i µs)`` for ``i`` in ``range(count)``, formatting each
    second once (a bulk write stamps hundreds of thousands)."""
    moment = start.astimezone(UTC).replace(tzinfo=None)
    second, micro = moment.replace(microsecond=0), moment.microsecond
    prefix = second.isoformat() + "."
    stamps = []
    for _ in range(count):
        if micro == 1_000_000:
            second, micro = second + timedelta(seconds=1), 0
            prefix = second.isoformat() + "."
        stamps.append(f"{prefix}{micro:06d}Z")
        micro += 1
    return stamps


def _not_theirs(index: int, stix_id: str) -> Problem:
    return Problem(
        "'created_by_ref' names another organisation on this node; "
        "only that organisation may share it",
        index,
        stix_id,
        "created_by_ref",
    )


def search_text(obj: dict[str, Any]) -> str:
    """The lower-cased text that free-text search looks in."""
    parts: list[str] = []
    for key in _SEARCHED:
        value = obj.get(key)
        if isinstance(value, str):
            parts.append(value)
        elif isinstance(value, list):
            parts.extend(v for v in value if isinstance(v, str))
    return "\n".join(parts).lower()


class Index(Protocol):
    """Data kept beside the stored versions (detection's observable index).

    The exchange calls it inside the transaction of every write and every delete, so
    an index never tells of a version that is not stored, nor misses one that is.
    """

    def index_versions(self, batch: ObjectBatch, versions: Sequence[NewVersion]) -> None: ...
    def unindex_versions(self, batch: ObjectBatch, removed: Sequence[VersionKey]) -> None: ...


class Disclosure(Protocol):
    """What a reader receives of versions another organisation owns (privacy's rules).

    The exchange hands every page of versions it reads for a principal through its one
    disclosure, when any of them is owned by another organisation than the reader's:
    each comes back as the reader may receive it, with its document rewritten, or None
    when it is withheld. Paging keys (pk, date_added) and stamps stay the stored ones.
    """

    def disclose(
        self, principal: Principal, rows: Sequence[ObjectRow]
    ) -> list[ObjectRow | None]: ...


@dataclass(frozen=True, slots=True)
class VersionWindow:
    """A page of versions as a reader receives them, with the stored page's position:
    ``last`` is the last stored version the page covered (withheld or not), so a cursor
    taken from it neither skips nor repeats a version."""

    rows: list[ObjectRow]
    more: bool
    last: ObjectRow | None


class Exchange:
    def __init__(
        self,
        store: ObjectStore,
        orgs: OrganisationRepository,
        groups: GroupRepository,
        *,
        node_name: str,
        node_id: str,
        default_tlp: TLP,
        clock: Clock,
    ) -> None:
        self._store = store
        self._orgs = orgs
        self._groups = groups
        self._node = node_name
        self._node_id = node_id
        self._default_tlp = default_tlp
        self._clock = clock
        self._indexes: list[Index] = []
        self.audit: Recorder = NOT_RECORDED  # the audit capability hands in its log
        self.disclosure: Disclosure | None = None  # privacy hands in its rules
        self._committed: list[Callable[[], None]] = []

    def add_index(self, index: Index) -> None:
        """Keep ``index`` in step with every version stored or deleted from now on."""
        self._indexes.append(index)

    def on_commit(self, listener: Callable[[], None]) -> None:
        """Call ``listener`` after every write that stored versions or an onward share
        commits (in the writer's thread, so it must be quick: federation's push wakes up).

        Only writes through this process's ``Exchange`` are told; others (another worker
        process, the CLI) are seen by whoever polls the store (``store.changes``).
        """
        self._committed.append(listener)

    def _notify(self) -> None:
        for listener in self._committed:
            listener()

    # Ingest -------------------------------------------------------------------------
    def ingest(
        self, principal: Principal, payload: bytes | Any, request: ShareRequest | None = None
    ) -> IngestReport:
        """Validate, stamp and store a bundle or object, all or nothing."""
        if principal.org is None or not principal.can_write():
            raise Forbidden("only an admin or analyst may share threat information")
        request = request or ShareRequest()
        objects = parse_payload(payload)
        issues = validate_objects(objects)
        if issues:
            problems = [Problem(i.reason, i.index, i.object_id, i.field) for i in issues]
            raise ValidationFailed(
                f"{len({i.index for i in issues})} of {len(objects)} objects are invalid STIX 2.1; "
                "nothing was stored",
                problems,
            )
        recipients, group = self._audience(principal, request)
        report = IngestReport()
        owners = self._orgs.by_identity(
            o["created_by_ref"] for o in objects if isinstance(o.get("created_by_ref"), str)
        )
        now = self._clock()
        provenance = orjson.dumps(
            {
                "origin_node": self._node,
                "origin_node_id": self._node_id,
                "received": format_timestamp(now),
                "via": [],
            }
        ).decode()
        versions: list[tuple[int, NewVersion]] = []
        refused: list[Problem] = []
        stamps: dict[TLP | None, tuple[Distribution, str | None]] = {}
        for index, obj in enumerate(objects):
            if obj.get("type") == "marking-definition" and obj.get("id") in STANDARD_MARKING_IDS:
                report.skipped_markings += 1
                continue
            marked = tlp_of(obj.get("object_marking_refs"))
            if marked not in stamps:  # one answer per distinct marking in the bundle
                tlp = _stricter(marked, request.tlp) or self._default_tlp
                scope = request.scope or default_scope(tlp)
                dist = Distribution(
                    tlp=tlp,
                    scope=scope,
                    recipients=recipients if scope is Scope.RECIPIENTS else frozenset(),
                    group=group if scope is Scope.GROUP else None,
                )
                stamps[marked] = (dist, distribution_problem(dist))
            dist, why = stamps[marked]
            if why:
                refused.append(Problem(why, index, obj["id"], "object_marking_refs"))
                continue
            owner = owners.get(obj.get("created_by_ref", ""), principal.org)
            versions.append((index, stamp(obj, owner, dist, provenance, self._node_id)))
        if refused:
            raise PolicyViolation(
                f"{len(refused)} objects ask for a distribution their marking forbids; "
                "nothing was stored",
                refused,
            )
        self.store_versions(versions, principal.org, now, report)
        return report

    def _audience(
        self, principal: Principal, request: ShareRequest
    ) -> tuple[frozenset[int], int | None]:
        recipients: set[int] = set()
        for ref in request.recipients:
            recipients.add(self._orgs.find(ref).id)
        group_id = None
        if request.group is not None:
            try:
                group = self._groups.get(request.group)
            except NotFound:
                group = None
            if group is None or principal.org not in group.members:
                raise NotFound(f"no sharing group {request.group!r} that your organisation is in")
            group_id = group.id
        if request.scope is Scope.RECIPIENTS and not recipients:
            raise PolicyViolation("scope 'recipients' needs at least one recipient organisation")
        if request.scope is Scope.GROUP and group_id is None:
            raise PolicyViolation("scope 'group' needs a sharing group (group=<slug>)")
        return frozenset(recipients), group_id

    def store_versions(
        self,
        versions: Sequence[tuple[int, NewVersion]],
        submitter: int | None,
        now: datetime,
        report: IngestReport,
        within: Callable[[ObjectBatch], None] | None = None,
    ) -> None:
        """Store stamped versions in one transaction, or raise Conflict and store none.

        A version already stored is a duplicate when identical, a conflict otherwise;
        an id keeps one owner; ``submitter`` (None for a verified peer) must be that
        owner. ``within`` runs inside the transaction, so its writes share its fate.
        """
        with self._store.batch(len(versions)) as batch:
            existing = batch.existing((v.stix_id, v.modified) for _, v in versions)
            fresh: dict[tuple[str, str], tuple[int, NewVersion]] = {}
            clashes: list[Problem] = []
            for index, v in versions:
                key = (v.stix_id, v.modified)
                if v.stix_id not in existing and key not in fresh:  # the usual case: new
                    if submitter is not None and v.owner != submitter:
                        clashes.append(_not_theirs(index, v.stix_id))
                    else:
                        fresh[key] = (index, v)
                    continue
                stored = next(
                    (e for e in existing.get(v.stix_id, []) if e.modified == v.modified), None
                )
                earlier = fresh.get(key)
                same_as = stored.doc if stored else (earlier[1].doc if earlier else None)
                if same_as is not None:
                    if same_as == v.doc:
                        report.duplicates.append(v.stix_id)
                    else:
                        clashes.append(
                            Problem(
                                "a different object with this id and 'modified' is already stored; "
                                "give the new version a later 'modified'",
                                index,
                                v.stix_id,
                                "modified",
                            )
                        )
                    continue
                owners = {e.owner for e in existing.get(v.stix_id, [])}
                if owners and owners != {v.owner}:
                    clashes.append(
                        Problem(
                            "only the organisation that created this object may add versions",
                            index,
                            v.stix_id,
                            "created_by_ref",
                        )
                    )
                    continue
                if submitter is not None and v.owner != submitter:
                    clashes.append(_not_theirs(index, v.stix_id))
                    continue
                fresh[key] = (index, v)
            if clashes:
                raise Conflict(
                    f"{len(clashes)} objects clash with what is stored; nothing was stored",
                    clashes,
                )
            new = [v for _, v in fresh.values()]
            if within is not None:
                within(batch)
            latest, superseded = _latest_flags(new, existing)
            batch.insert(
                new, self._date_added(batch.last_date_added(), now, len(new)), latest, superseded
            )
            for kept in self._indexes:
                kept.index_versions(batch, new)
        report.stored = [v.stix_id for v in new]
        if new:
            self._notify()

    @staticmethod
    def _date_added(last: str | None, now: datetime, count: int) -> list[str]:
        """Distinct, strictly increasing stamps after anything stored before."""
        start = now
        if last is not None:
            start = max(now, parse_timestamp(last) + timedelta(microseconds=1))
        return consecutive_stamps(start, count)

    # Reading ------------------------------------------------------------------------
    def _disclosed(self, principal: Principal, rows: Sequence[ObjectRow]) -> list[ObjectRow]:
        """``rows`` as ``principal`` receives them: another organisation's versions pass
        through the disclosure (rewritten, or left out when withheld)."""
        if self.disclosure is None or all(r.owner == principal.org for r in rows):
            return list(rows)
        return [r for r in self.disclosure.disclose(principal, rows) if r is not None]

    def page(
        self, principal: Principal, query: ObjectQuery, *, as_stored: bool = False
    ) -> ObjectPage:
        """One page of the latest versions ``principal`` may read (the gate); with
        ``as_stored``, as stored rather than as disclosed to it (privacy's access
        requests match on what is stored, then disclose what they found)."""
        for value, name in [(t, "type") for t in query.types] + [(query.text or "", "q")]:
            why = unstorable(value)
            if why:
                raise InvalidInput(f"'{name}' {why}", [Problem(why, field=name)])
        if query.text and len(query.text) > MAX_SEARCH:
            why = f"a search is at most {MAX_SEARCH} characters"
            raise InvalidInput(why, [Problem(why, field="q")])
        stored = self._store.list_latest(principal, replace(query, limit=query.limit + 1))
        more = len(stored) > query.limit
        stored = stored[: query.limit]
        rows = list(stored) if as_stored else self._disclosed(principal, stored)
        if query.text and rows and self.disclosure is not None and not as_stored:
            # A rewritten version is found only by what the reader receives of it.
            needle = query.text.lower()
            raw = {r.pk: r.doc for r in stored}
            rows = [
                r for r in rows if r.doc is raw[r.pk] or needle in search_text(orjson.loads(r.doc))
            ]
        _read(self.audit, principal, "read", rows)
        return ObjectPage(rows=rows, next_cursor=stored[-1].pk if more and stored else None)

    def iter_all(
        self, principal: Principal, query: ObjectQuery, *, as_stored: bool = False
    ) -> Iterator[list[ObjectRow]]:
        """Every readable latest version matching ``query``, page by page."""
        after = query.after
        while True:
            page = self.page(principal, replace(query, after=after), as_stored=as_stored)
            if page.rows:
                yield page.rows
            if page.next_cursor is None:
                return
            after = page.next_cursor

    def get(self, principal: Principal, stix_id: str) -> tuple[ObjectRow, list[ObjectRow]]:
        """The latest version and every version ``principal`` may read; NotFound otherwise.

        The latest version carries the marking and scope under which ``principal``
        received it (``policy.received``): an onward share's, for its recipients."""
        found = self._store.access(principal, stix_id) if _storable_id(stix_id) else None
        held = received(principal, found[1]) if found is not None else None
        who = _who(principal)
        if found is None or held is None:
            self.audit.record([Event(who, "read", "not-found", stix_id[:_MAX_ID])])
            raise NotFound(f"no object {stix_id[:_MAX_ID]!r}")
        shown = self._disclosed(principal, [replace(found[0], tlp=held.tlp, scope=held.scope)])
        if not shown:
            self.audit.record([Event(who, "read", "withheld", stix_id, found[0].modified)])
            raise NotFound(f"no object {stix_id[:_MAX_ID]!r}")
        latest = shown[0]
        self.audit.record([Event(who, "read", "allowed", stix_id, latest.modified)])
        return latest, self._disclosed(principal, self._store.versions(principal, stix_id))

    def access(self, principal: Principal, stix_id: str) -> tuple[ObjectRow, ObjectAccess]:
        """The latest version ``principal`` may read with its distribution; NotFound otherwise."""
        found = self._store.access(principal, stix_id) if _storable_id(stix_id) else None
        shown = self._disclosed(principal, [found[0]]) if found is not None else []
        if found is None or not shown:
            raise NotFound(f"no object {stix_id[:_MAX_ID]!r}")
        return shown[0], found[1]

    def arrivals(self, principal: Principal, since: datetime) -> list[Arrival]:
        """Counts of versions ``principal`` may read stored from the hour of ``since`` on."""
        return self._store.arrivals(principal, format_timestamp(since)[:13])

    def sightings_of(self, principal: Principal, stix_id: str, limit: int = 100) -> list[ObjectRow]:
        """Sightings ``principal`` may read that report ``stix_id`` seen."""
        if not _storable_id(stix_id):
            return []
        query = ObjectQuery(types=("sighting",), text=stix_id, limit=limit)
        rows = self._store.list_latest(principal, query)
        rows = self._disclosed(principal, rows)
        found = [r for r in rows if orjson.loads(r.doc).get("sighting_of_ref") == stix_id]
        _read(self.audit, principal, "read", found)
        return found

    def versions_page(self, principal: Principal, query: VersionQuery) -> list[ObjectRow]:
        """Versions ``principal`` may read that match ``query``, oldest ``date_added`` first
        (at most ``query.limit``; fewer when some are withheld from the reader)."""
        rows = self._disclosed(principal, self._store.versions_page(principal, query))
        _read(self.audit, principal, "read", rows)
        return rows

    def version_window(self, principal: Principal, query: VersionQuery) -> VersionWindow:
        """One page of ``query.limit`` stored versions as ``principal`` receives them,
        whether more follow, and the last stored version it covered (for the cursor)."""
        stored = self._store.versions_page(principal, replace(query, limit=query.limit + 1))
        more = len(stored) > query.limit
        stored = stored[: query.limit]
        rows = self._disclosed(principal, stored)
        _read(self.audit, principal, "read", rows)
        return VersionWindow(rows, more, stored[-1] if stored else None)

    def travel_page(
        self, here: str, audience: PeerAudience, after: tuple[str, int] | None, limit: int
    ) -> list[TravelRow]:
        """Versions that may travel to a peer node's ``audience``, in ``date_added`` order,
        after the (date_added, pk) keyset ``after``."""
        rows = self._store.travel_page(here, audience, after, limit)
        _read(self.audit, f"peer-node:{audience.node_id}", "transfer", [t.row for t in rows])
        return rows

    def report_sighting(
        self,
        principal: Principal,
        of_ref: str,
        owner: str,
        tlp: TLP,
        count: int,
        seen: tuple[str, str],
        **extra: Any,
    ) -> tuple[str, IngestReport]:
        """Store a STIX sighting of ``of_ref`` by ``principal``'s organisation, between
        ``seen`` (first, last), marked ``tlp`` and shared back to ``owner`` (the sighted
        object's owner's identity id) alone, or kept to itself when it is the owner."""
        if principal.org is None:
            raise Forbidden("only an organisation reports sightings")
        me = self._orgs.get(principal.org).identity_id
        now = format_timestamp(self._clock())
        sighting: dict[str, Any] = {
            "type": "sighting",
            "spec_version": "2.1",
            "id": f"sighting--{uuid.uuid4()}",
            "created": now,
            "modified": now,
            "created_by_ref": me,
            "sighting_of_ref": of_ref,
            "count": min(count, 999_999_999),
            "first_seen": seen[0],
            "last_seen": seen[1],
            "where_sighted_refs": [me],
            "object_marking_refs": [MARKING_IDS[tlp]],
            **extra,
        }
        request = (
            ShareRequest(tlp=tlp, scope=Scope.ORGANISATION)
            if owner == me
            else ShareRequest(tlp=tlp, scope=Scope.RECIPIENTS, recipients=(owner,))
        )
        return sighting["id"], self.ingest(principal, sighting, request)

    def reshare(self, principal: Principal, stix_id: str, request: ShareRequest) -> Distribution:
        """Pass an object on within what its marking and its source allow."""
        if principal.org is None or not principal.can_write():
            raise Forbidden("only an admin or analyst may share threat information")
        found = self._store.access(principal, stix_id) if _storable_id(stix_id) else None
        if found is None:
            raise NotFound(f"no object {stix_id[:_MAX_ID]!r}")
        row, access = found
        tlp = request.tlp or row.tlp
        recipients, group = self._audience(principal, request)
        scope = request.scope or default_scope(tlp)
        proposed = Distribution(
            tlp,
            scope,
            recipients if scope is Scope.RECIPIENTS else frozenset(),
            group if scope is Scope.GROUP else None,
        )
        why = share_problem(principal, access, proposed)
        decision, asked = "refused" if why else "allowed", f"{proposed.tlp} {proposed.scope.value}"
        self.audit.record([Event(_who(principal), "share", decision, stix_id, detail=asked)])
        if why:
            raise PolicyViolation(why)
        self._store.add_share(row.pk, principal.org, proposed, self._clock())
        self._notify()
        return proposed

    def delete_versions(self, principal: Principal, stix_id: str, versions: tuple[str, ...]) -> int:
        """Delete the matching versions (TAXII match[version] terms) of an object
        ``principal``'s organisation owns; how many went. The newest left becomes latest."""
        if principal.org is None or not principal.can_write():
            raise Forbidden("only the owner organisation's analysts may delete an object")
        with self._store.batch() as batch:
            removed = batch.delete_versions(principal.org, stix_id, versions)
            for kept in self._indexes:
                kept.unindex_versions(batch, removed)
        return len(removed)

    def erase(self, stix_id: str) -> list[VersionKey]:
        """Delete every version of ``stix_id``, whoever owns it, with every index's data.

        Not a principal's act: the node's own (privacy's retention and erasure), so the
        caller decides whether it may. The keys of the versions deleted."""
        with self._store.batch() as batch:
            owners = {e.owner for e in batch.existing([(stix_id, "")]).get(stix_id, [])}
            removed = [k for o in owners for k in batch.delete_versions(o, stix_id, ("all",))]
            for kept in self._indexes:
                kept.unindex_versions(batch, removed)
        # The audit trail records the erasure, then forgets what named the object.
        self.audit.record([Event("node", "erase", "allowed", stix_id, None, f"{len(removed)}")])
        self.audit.forget(stix_id)
        return removed

    def export(self, principal: Principal, query: ObjectQuery) -> Iterator[bytes]:
        """A STIX 2.1 bundle of what ``principal`` may read, as JSON chunks."""
        yield b'{"type":"bundle","id":"bundle--' + str(uuid.uuid4()).encode() + b'","objects":['
        first = True
        used: set[TLP] = set()
        owners: set[int] = set()
        sent: set[str] = set()
        for rows in self.iter_all(principal, query):
            for row in rows:
                used.add(row.tlp)
                owners.add(row.owner)
                sent.add(row.stix_id)
                yield (b"" if first else b",") + row.doc.encode()
                first = False
        # The owners' identities resolve created_by_ref; the TLP definitions the markings.
        extras = [self._orgs.get(o).identity() for o in sorted(owners)]
        extras += [marking_definition(t) for t in sorted(used, key=lambda t: t.rank)]
        for extra in extras:
            if extra["id"] not in sent:
                yield (b"" if first else b",") + canonical_json(extra)
                first = False
        yield b"]}"


def _who(principal: Principal) -> str:
    return actor_of(principal.org, principal.role, principal.token_id, principal.peer)


def _read(audit: Recorder, reader: Principal | str, action: str, rows: Sequence[Any]) -> None:
    """One entry for a page of versions read: ``object_ref`` names the first, ``detail`` all."""
    if rows:
        refs = [f"{r.stix_id}@{r.modified}" for r in rows]
        who = reader if isinstance(reader, str) else _who(reader)
        audit.record([Event(who, action, "allowed", rows[0].stix_id, detail=" ".join(refs))])


def _storable_id(stix_id: str) -> bool:
    """Whether a stored object could have ``stix_id``: others are not asked of the store."""
    return len(stix_id) <= _MAX_ID and unstorable(stix_id) is None


def _stricter(a: TLP | None, b: TLP | None) -> TLP | None:
    if a is None or b is None:
        return a or b
    return a if a.rank >= b.rank else b


def _latest_flags(
    new: Sequence[NewVersion], existing: dict[str, list[ExistingVersion]]
) -> tuple[list[bool], list[int]]:
    """Which new rows become the latest of their id, and which stored rows stop being it."""
    newest: dict[str, str] = {}
    for v in new:
        current = newest.get(v.stix_id)
        stored = max((e.modified for e in existing.get(v.stix_id, [])), default="")
        best = max(current or "", stored, v.modified)
        newest[v.stix_id] = best
    latest = [newest[v.stix_id] == v.modified for v in new]
    superseded = [
        e.pk
        for stix_id, top in newest.items()
        for e in existing.get(stix_id, [])
        if e.is_latest and e.modified != top
    ]
    return latest, superseded
