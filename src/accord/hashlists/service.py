"""Hash lists for one node: lists, entries, opinions, disables, matching, lookups, reports.

Every list, entry and opinion is a STIX object stored through the exchange, so its TLP,
scope, the gate, TAXII and federation apply unchanged. The service keeps the node's
match index in step with the store (it is an ``exchange.Index``: entry versions are
recorded in ``hashlist_entries`` inside the ingest transaction, and the in-memory index
picks up what is new from there, so other worker processes and federation pulls reach
it too), and shows a hit only after the gate says the caller may read the entry and its
list at their latest versions.
"""

from __future__ import annotations

import math
import re
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import orjson

from accord.domain.audit import Event, actor_of
from accord.domain.clock import Clock
from accord.domain.model import Principal, Role
from accord.domain.scope import Scope
from accord.domain.stix import format_timestamp
from accord.domain.tlp import TLP
from accord.errors import Forbidden, InvalidInput, NotFound, Problem, TooManyAttempts
from accord.exchange.service import Exchange, ShareRequest
from accord.hashlists.index import MatchIndex
from accord.hashlists.labels import check_labels
from accord.hashlists.signals import (
    PDQ,
    PDQ_QUALITY,
    PDQ_THRESHOLD,
    SignalError,
    signal,
)
from accord.hashlists.stix import (
    LIST_TYPE,
    Polarity,
    State,
    Verdict,
    aggregate,
    check_criteria,
    disabled_version,
    enabled_version,
    entry_facts,
    entry_object,
    list_object,
    opinion_object,
    verdict_of,
)
from accord.store.accounts import GroupRepository, OrganisationRepository
from accord.store.hashlists import Activity, EntryRow, HashListRepository
from accord.store.objects import NewVersion, ObjectBatch, ObjectRow, VersionKey, VersionQuery
from accord.store.peers import Peer, PeerRepository

if TYPE_CHECKING:
    from accord.hashlists.remote import PeerLookups

MAX_ITEMS = 10_000  # hashes per match, lookup or add call
_NODE_ID = re.compile(r"\A[0-9a-f]{32}\Z")
_REFRESH_S = 2.0  # how stale the index may be before a lookup pulls what is new
_TEXT = 2000


@dataclass(frozen=True, slots=True)
class Item:
    """One hash to match or add: its signal, value and (PDQ) quality."""

    signal: str
    value: str
    quality: int | None = None


@dataclass(frozen=True, slots=True)
class NewEntry:
    signal: str
    value: str
    criterion: str
    labels: dict[str, Any] = field(default_factory=dict)
    quality: int | None = None


@dataclass(frozen=True, slots=True)
class HashList:
    id: str
    name: str
    description: str
    criteria: list[dict[str, str]]
    polarity: Polarity
    owner: str  # identity id
    owner_org: int
    tlp: TLP
    scope: Scope
    modified: str


@dataclass(frozen=True, slots=True)
class OpinionView:
    id: str
    opiner: str
    verdict: Verdict
    explanation: str
    modified: str


@dataclass(frozen=True, slots=True)
class EntryView:
    id: str
    list_id: str
    signal: str
    value: str
    labels: dict[str, Any]
    criterion: str
    disabled: str | None  # the reason, when disabled
    state: State
    held: bool
    opinions: list[OpinionView]
    modified: str


@dataclass(frozen=True, slots=True)
class MatchHit:
    query: int
    entry: str
    list_id: str
    list_name: str
    owner: str
    signal: str
    distance: int
    labels: dict[str, Any]
    criterion: str
    state: State
    held: bool
    sighting: str | None = None


@dataclass(frozen=True, slots=True)
class MatchResult:
    hits: list[MatchHit]
    suppressed: list[int]  # queries whose hits a negative list suppressed


@dataclass(frozen=True, slots=True)
class LookupAnswer:
    query: int
    hit: bool
    labels: list[dict[str, Any]]
    distance: int | None


def _invalid(why: str, where: str) -> InvalidInput:
    return InvalidInput(f"{where}: {why}", [Problem(why, field=where)])


def check_items(raw: Sequence[Item], *, minimum_quality: int = PDQ_QUALITY) -> list[Item]:
    """Items in canonical form, or InvalidInput naming the first bad one."""
    if not raw:
        raise _invalid("send at least one hash", "hashes")
    if len(raw) > MAX_ITEMS:
        raise _invalid(f"at most {MAX_ITEMS} hashes a call", "hashes")
    items: list[Item] = []
    for i, item in enumerate(raw):
        try:
            kind = signal(item.signal)
        except SignalError as exc:
            raise _invalid(str(exc), f"hashes[{i}].signal") from None
        try:
            value = kind.parse(item.value)
        except SignalError as exc:
            raise _invalid(str(exc), f"hashes[{i}].value") from None
        quality = None
        if kind is PDQ:
            try:
                quality = PDQ.check_quality(item.quality, minimum_quality)
            except SignalError as exc:
                raise _invalid(str(exc), f"hashes[{i}].quality") from None
        items.append(Item(kind.name, value, quality))
    return items


def _text(value: str, name: str, limit: int = _TEXT, *, required: bool = False) -> str:
    if required and not value.strip():
        raise _invalid("must not be empty", name)
    if len(value) > limit or "\x00" in value:
        raise _invalid(f"at most {limit} characters, no NUL", name)
    return value


class HashLists:
    """The hash-list service of one node."""

    def __init__(
        self,
        exchange: Exchange,
        repo: HashListRepository,
        orgs: OrganisationRepository,
        groups: GroupRepository,
        clock: Clock,
        *,
        threshold: int = PDQ_THRESHOLD,
        quality: int = PDQ_QUALITY,
        flood_limit: int = 1000,
        lookup_rate: int = 60,
        peers: PeerRepository | None = None,
    ) -> None:
        self._exchange = exchange
        self._peers = peers  # None where the node runs without federation
        self.remote: PeerLookups | None = None  # lookups by and at peer nodes, with federation
        self._repo = repo
        self._orgs = orgs
        self._groups = groups
        self._clock = clock
        self.threshold = threshold
        self.quality = quality
        self.flood_limit = flood_limit  # distinct items an entry may match in an hour
        self.lookup_rate = lookup_rate  # lookup calls an organisation may make a minute
        self.index = MatchIndex()
        self._last_ref = 0
        self._refreshed = 0.0
        self._dirty = True
        self._refresh_lock = threading.Lock()
        self._loaded = threading.Event()
        self._flood: dict[tuple[str, str], set[str]] = defaultdict(set)
        self._flood_lock = threading.Lock()

    # exchange.Index: kept inside every ingest and delete transaction -----------------
    def index_versions(self, batch: ObjectBatch, versions: Sequence[NewVersion]) -> None:
        entries: list[tuple[str, str, str, int, str, str, bool]] = []
        links: list[tuple[str, str, str, str]] = []
        for v in versions:
            if v.type == "indicator" and "x_accord_hash_list_ref" in v.doc:
                facts = entry_facts(orjson.loads(v.doc))
                if facts is not None:
                    entries.append(
                        (
                            v.stix_id,
                            v.modified,
                            facts.list_id,
                            v.owner,
                            facts.signal,
                            facts.value,
                            facts.disabled,
                        )
                    )
            elif v.type == "opinion" and "x_accord_verdict" in v.doc:
                for ref in orjson.loads(v.doc).get("object_refs", []):
                    if isinstance(ref, str) and ref.startswith("indicator--"):
                        links.append((v.stix_id, v.modified, "opinion", ref))
            elif v.type == "sighting" and "x_accord_hash_match" in v.doc:
                ref = orjson.loads(v.doc).get("sighting_of_ref")
                if isinstance(ref, str):
                    links.append((v.stix_id, v.modified, "sighting", ref))
        HashListRepository.add_entries(batch.connection, entries)
        HashListRepository.add_links(batch.connection, links)
        if entries:
            self._dirty = True

    def unindex_versions(self, batch: ObjectBatch, removed: Sequence[VersionKey]) -> None:
        gone = HashListRepository.remove_versions(batch.connection, removed)
        self.index.kill(gone)

    def refresh(self, *, wait: bool = False) -> None:
        """Add entry versions stored since the last refresh (here or by another process).

        The first call loads everything and others wait for it; after that a refresh
        runs in whichever lookup finds the index stale, and lookups that find one
        running go on with the index as it is.
        """
        stale = self._dirty or time.monotonic() - self._refreshed > _REFRESH_S
        if self._loaded.is_set() and not stale:
            return
        if not self._refresh_lock.acquire(blocking=not self._loaded.is_set() or wait):
            return
        try:
            self._dirty = False
            while True:
                rows = self._repo.entries_after(self._last_ref, 50_000)
                if not rows:
                    break
                self.index.add([(r.signal, r.value, r.ref) for r in rows if not r.disabled])
                self._last_ref = rows[-1].ref
            self._refreshed = time.monotonic()
            self._loaded.set()
        finally:
            self._refresh_lock.release()

    # Lists ----------------------------------------------------------------------------
    def _writer(self, principal: Principal) -> int:
        if principal.org is None or not principal.can_write():
            raise Forbidden("only an admin or analyst may change hash lists")
        return principal.org

    def create_list(
        self,
        principal: Principal,
        *,
        name: str,
        description: str,
        criteria: object,
        polarity: str = "positive",
        share: ShareRequest | None = None,
    ) -> HashList:
        org = self._writer(principal)
        _text(name, "name", 250, required=True)
        _text(description, "description")
        try:
            checked = check_criteria(criteria)
        except SignalError as exc:
            raise _invalid(str(exc), "criteria") from None
        try:
            kind = Polarity(polarity)
        except ValueError:
            raise _invalid("'positive' or 'negative'", "polarity") from None
        share = share or ShareRequest(tlp=TLP.AMBER, scope=Scope.ORGANISATION)
        tlp = share.tlp or TLP.AMBER
        obj = list_object(
            owner_identity=self._orgs.get(org).identity_id,
            name=name,
            description=description,
            criteria=checked,
            polarity=kind,
            tlp=tlp,
            now=self._clock(),
        )
        self._exchange.ingest(principal, obj, share)
        self._record(obj["id"], None, org, "create", {"name": name})
        return self.get_list(principal, obj["id"])

    def get_list(self, principal: Principal, list_id: str) -> HashList:
        if not list_id.startswith(f"{LIST_TYPE}--"):
            raise NotFound(f"no hash list {list_id[:100]!r}")
        row, _ = self._exchange.get(principal, list_id)
        return self._list_of(row)

    def _list_of(self, row: ObjectRow) -> HashList:
        doc = orjson.loads(row.doc)
        return HashList(
            id=row.stix_id,
            name=doc.get("name", ""),
            description=doc.get("description", ""),
            criteria=doc.get("criteria", []),
            polarity=Polarity(doc.get("polarity", "positive")),
            owner=doc.get("created_by_ref", ""),
            owner_org=row.owner,
            tlp=row.tlp,
            scope=row.scope,
            modified=row.modified,
        )

    def lists(self, principal: Principal) -> list[HashList]:
        from accord.store.objects import ObjectQuery

        found: list[HashList] = []
        for rows in self._exchange.iter_all(principal, ObjectQuery(types=(LIST_TYPE,))):
            found += [self._list_of(r) for r in rows]
        return found

    def _share_of(self, principal: Principal, stix_id: str) -> ShareRequest:
        """The distribution an object has, as a request to give its next version the same."""
        row, access = self._exchange.access(principal, stix_id)
        d = access.distribution
        group = None
        if d.group is not None:
            group = next((g.slug for g in self._groups.all() if g.id == d.group), None)
        recipients = tuple(self._orgs.identities(d.recipients).values())
        return ShareRequest(tlp=d.tlp, scope=d.scope, recipients=recipients, group=group)

    def _owned_list(self, principal: Principal, list_id: str) -> HashList:
        found = self.get_list(principal, list_id)
        if found.owner_org != principal.org:
            raise Forbidden("only the organisation that owns the list may change it")
        return found

    # Entries ----------------------------------------------------------------------------
    def add_entries(
        self, principal: Principal, list_id: str, entries: Sequence[NewEntry]
    ) -> list[str]:
        """Add entries to a list the principal's organisation owns, all or nothing."""
        org = self._writer(principal)
        hash_list = self._owned_list(principal, list_id)
        if not entries or len(entries) > MAX_ITEMS:
            raise _invalid(f"send 1 to {MAX_ITEMS} entries", "entries")
        criteria = {c["id"] for c in hash_list.criteria}
        items = check_items(
            [Item(e.signal, e.value, e.quality) for e in entries], minimum_quality=self.quality
        )
        objects = []
        now = self._clock()
        owner = self._orgs.get(org).identity_id
        for i, (entry, item) in enumerate(zip(entries, items, strict=True)):
            if entry.criterion not in criteria:
                raise _invalid(
                    f"the list's criteria are: {', '.join(sorted(criteria))}",
                    f"entries[{i}].criterion",
                )
            try:
                labels = check_labels(entry.labels)
            except SignalError as exc:
                raise _invalid(str(exc), f"entries[{i}].labels") from None
            objects.append(
                entry_object(
                    owner_identity=owner,
                    list_id=list_id,
                    signal=signal(item.signal),
                    value=item.value,
                    quality=item.quality,
                    labels=labels,
                    criterion=entry.criterion,
                    tlp=hash_list.tlp,
                    now=now,
                )
            )
        bundle = {"type": "bundle", "id": f"bundle--{objects[0]['id'][11:]}", "objects": objects}
        self._exchange.ingest(principal, bundle, self._share_of(principal, list_id))
        self._dirty = True  # committed now: the next lookup picks the entries up
        self._record(list_id, None, org, "add", {"count": len(objects)})
        return [o["id"] for o in objects]

    def _entry_doc(self, principal: Principal, entry_id: str) -> tuple[ObjectRow, dict[str, Any]]:
        if not entry_id.startswith("indicator--"):
            raise NotFound(f"no hash-list entry {entry_id[:100]!r}")
        row, _ = self._exchange.get(principal, entry_id)
        doc = orjson.loads(row.doc)
        if entry_facts(doc) is None:
            raise NotFound(f"no hash-list entry {entry_id[:100]!r}")
        return row, doc

    def set_disabled(
        self, principal: Principal, entry_id: str, disabled: bool, reason: str = ""
    ) -> EntryView:
        """Disable (or enable again) one entry: a new version that travels like any other."""
        org = self._writer(principal)
        row, doc = self._entry_doc(principal, entry_id)
        if row.owner != org:
            raise Forbidden("only the organisation that owns the entry may disable it")
        _text(reason, "reason", 500, required=disabled)
        now = self._clock()
        is_disabled = "x_accord_disabled" in doc
        if disabled == is_disabled:
            return self.entry(principal, entry_id)
        new = disabled_version(doc, reason, now) if disabled else enabled_version(doc, now)
        self._exchange.ingest(principal, new, self._share_of(principal, entry_id))
        kind = "disable" if disabled else "enable"
        self._record(doc["x_accord_hash_list_ref"], entry_id, org, kind, {"reason": reason})
        self._dirty = True
        return self.entry(principal, entry_id)

    def entry(self, principal: Principal, entry_id: str) -> EntryView:
        row, doc = self._entry_doc(principal, entry_id)
        return self._views(principal, [(row, doc)])[0]

    def entries(
        self, principal: Principal, list_id: str, after: str = "", limit: int = 50
    ) -> list[EntryView]:
        self.get_list(principal, list_id)
        ids = self._repo.entry_ids_of(list_id, after, limit)
        rows = self._latest(principal, ids)
        return self._views(
            principal, [(rows[i], orjson.loads(rows[i].doc)) for i in ids if i in rows]
        )

    def _latest(self, principal: Principal, ids: Sequence[str]) -> dict[str, ObjectRow]:
        found: dict[str, ObjectRow] = {}
        wanted = sorted(set(ids))
        for i in range(0, len(wanted), 500):
            chunk = tuple(wanted[i : i + 500])
            query = VersionQuery(ids=chunk, versions=("last",), limit=len(chunk))
            found.update((r.stix_id, r) for r in self._exchange.versions_page(principal, query))
        return found

    def _opinions(
        self, principal: Principal, entry_ids: Sequence[str]
    ) -> dict[str, list[OpinionView]]:
        links = self._repo.linked(entry_ids, "opinion")
        rows = self._latest(principal, [o for ids in links.values() for o in ids])
        found: dict[str, list[OpinionView]] = {}
        for entry_id, ids in links.items():
            for oid in ids:
                row = rows.get(oid)
                if row is None:
                    continue
                doc = orjson.loads(row.doc)
                verdict = verdict_of(doc)
                if verdict is None or entry_id not in doc.get("object_refs", []):
                    continue
                found.setdefault(entry_id, []).append(
                    OpinionView(
                        oid,
                        doc.get("created_by_ref", ""),
                        verdict,
                        doc.get("explanation", ""),
                        row.modified,
                    )
                )
        return found

    def _states(
        self, principal: Principal, owners: dict[str, str]
    ) -> tuple[dict[str, State], dict[str, list[OpinionView]]]:
        opinions = self._opinions(principal, list(owners))
        states = {}
        for entry_id, owner in owners.items():
            latest: dict[str, tuple[str, Verdict]] = {}
            for o in opinions.get(entry_id, []):
                if o.opiner not in latest or latest[o.opiner][0] < o.modified:
                    latest[o.opiner] = (o.modified, o.verdict)
            states[entry_id] = aggregate({k: v for k, (_, v) in latest.items()}, owner)
        return states, opinions

    def _views(
        self, principal: Principal, rows: Sequence[tuple[ObjectRow, dict[str, Any]]]
    ) -> list[EntryView]:
        owners = {row.stix_id: doc.get("created_by_ref", "") for row, doc in rows}
        states, opinions = self._states(principal, owners)
        held = self._repo.held(owners)
        views = []
        for row, doc in rows:
            facts = entry_facts(doc)
            assert facts is not None
            views.append(
                EntryView(
                    id=row.stix_id,
                    list_id=facts.list_id,
                    signal=facts.signal,
                    value=facts.value,
                    labels=doc.get("x_accord_labels", {}),
                    criterion=doc.get("x_accord_criterion", ""),
                    disabled=(doc.get("x_accord_disabled") or {}).get("reason")
                    if facts.disabled
                    else None,
                    state=states[row.stix_id],
                    held=row.stix_id in held,
                    opinions=opinions.get(row.stix_id, []),
                    modified=row.modified,
                )
            )
        return views

    # Opinions ---------------------------------------------------------------------------
    def opine(
        self,
        principal: Principal,
        entry_id: str,
        verdict: str,
        explanation: str = "",
        tlp: TLP | None = None,
        share: ShareRequest | None = None,
    ) -> EntryView:
        """Give (or change) the principal's organisation's opinion of an entry it may read.

        The opinion is the organisation's own object under its own marking; by default
        it goes to the entry's owner only (like a sighting), ``share`` widens that.
        """
        org = self._writer(principal)
        try:
            kind = Verdict(verdict)
        except ValueError:
            raise _invalid(f"one of: {', '.join(v.value for v in Verdict)}", "verdict") from None
        _text(explanation, "explanation")
        row, doc = self._entry_doc(principal, entry_id)
        me = self._orgs.get(org).identity_id
        mine = [
            o for o in self._opinions(principal, [entry_id]).get(entry_id, []) if o.opiner == me
        ]
        previous = max(mine, key=lambda o: o.modified) if mine else None
        marking = tlp or (share.tlp if share and share.tlp else None) or row.tlp
        if share is None:
            share = (
                ShareRequest(tlp=marking, scope=Scope.ORGANISATION)
                if row.owner == org
                else ShareRequest(
                    tlp=marking,
                    scope=Scope.RECIPIENTS,
                    recipients=(doc.get("created_by_ref", ""),),
                )
            )
        prior_doc = None
        if previous is not None:
            prior_doc = orjson.loads(self._exchange.get(principal, previous.id)[0].doc)
        obj = opinion_object(
            opinion_id=previous.id if previous else None,
            opiner_identity=me,
            entry_id=entry_id,
            verdict=kind,
            explanation=explanation,
            tlp=marking,
            now=self._clock(),
            previous=previous.modified if previous else None,
            created=prior_doc.get("created") if prior_doc else None,
        )
        self._exchange.ingest(principal, obj, share)
        self._record(
            doc["x_accord_hash_list_ref"], entry_id, org, "opinion", {"verdict": kind.value}
        )
        return self.entry(principal, entry_id)

    # Matching ---------------------------------------------------------------------------
    def match(
        self,
        principal: Principal,
        items: Sequence[Item],
        *,
        threshold: int | None = None,
        sightings: bool = False,
    ) -> MatchResult:
        """Hits of ``items`` among the entries ``principal`` may read (and their lists)."""
        if principal.org is None:
            raise Forbidden("sign in to match against hash lists")
        if sightings and not principal.can_write():
            raise Forbidden("only an admin or analyst may report sightings")
        limit = self.threshold if threshold is None else threshold
        if not 0 <= limit <= 128:
            raise _invalid("a PDQ threshold is 0 to 128 bits", "threshold")
        checked = check_items(items, minimum_quality=self.quality)
        raw = self._search(checked, limit)
        rows = self._repo.entries(h[1] for h in raw)
        readable = self._latest(
            principal, [r.stix_id for r in rows.values()] + [r.list_ref for r in rows.values()]
        )
        lists = {
            lid: self._list_of(readable[lid])
            for lid in {r.list_ref for r in rows.values()}
            if lid in readable
        }
        candidates: list[tuple[int, EntryRow, int, dict[str, Any]]] = []
        seen: set[tuple[int, str]] = set()
        for query, ref, distance in raw:
            row = rows.get(ref)
            if row is None or row.list_ref not in lists:
                continue
            latest = readable.get(row.stix_id)
            if latest is None or latest.modified != row.modified:
                continue  # superseded: the latest version decides (it may be disabled)
            if (query, row.stix_id) in seen:
                continue
            seen.add((query, row.stix_id))
            candidates.append((query, row, distance, orjson.loads(latest.doc)))
        negative = {
            q for q, row, _, _ in candidates if lists[row.list_ref].polarity is Polarity.NEGATIVE
        }
        positive = [c for c in candidates if lists[c[1].list_ref].polarity is Polarity.POSITIVE]
        kept = [c for c in positive if c[0] not in negative]
        states, _ = self._states(
            principal, {c[1].stix_id: c[3].get("created_by_ref", "") for c in kept}
        )
        held = self._repo.held({c[1].stix_id for c in kept}) | self._flood_check(kept, checked)
        hits = [
            MatchHit(
                query=q,
                entry=row.stix_id,
                list_id=row.list_ref,
                list_name=lists[row.list_ref].name,
                owner=doc.get("created_by_ref", ""),
                signal=row.signal,
                distance=d,
                labels=doc.get("x_accord_labels", {}),
                criterion=doc.get("x_accord_criterion", ""),
                state=states[row.stix_id],
                held=row.stix_id in held,
            )
            for q, row, d, doc in sorted(kept, key=lambda c: (c[0], c[2], c[1].stix_id))
        ]
        self._record_many(
            [
                Activity(
                    self._clock(),
                    h.list_id,
                    h.entry,
                    principal.org,
                    "match",
                    orjson.dumps({"distance": h.distance, "labels": h.labels}).decode(),
                )
                for h in hits
            ]
        )
        if sightings and hits:
            hits = self._sight(principal, hits, readable)
        return MatchResult(hits, sorted({c[0] for c in positive if c[0] in negative}))

    def _search(self, items: Sequence[Item], threshold: int) -> list[tuple[int, int, int]]:
        self.refresh()
        by_signal: dict[str, list[int]] = defaultdict(list)
        for i, item in enumerate(items):
            by_signal[item.signal].append(i)
        found: list[tuple[int, int, int]] = []
        for name, positions in by_signal.items():
            values = [items[i].value for i in positions]
            for hit in self.index.search(name, values, threshold):
                found.append((positions[hit.query], hit.ref, hit.distance))
        return found

    def _flood_check(
        self, kept: Sequence[tuple[int, EntryRow, int, dict[str, Any]]], items: Sequence[Item]
    ) -> set[str]:
        """Entries that matched more than ``flood_limit`` distinct items this hour: held."""
        now = self._clock()
        hour = format_timestamp(now)[:13]
        newly: list[tuple[EntryRow, int]] = []
        with self._flood_lock:
            for key in [k for k in self._flood if k[1] != hour]:
                del self._flood[key]
            for q, row, _, _ in kept:
                seen = self._flood[(row.stix_id, hour)]
                before = len(seen)
                seen.add(f"{items[q].signal}:{items[q].value}")
                if before <= self.flood_limit < len(seen):
                    newly.append((row, len(seen)))
        held: set[str] = set()
        for row, count in newly:
            if self._repo.hold(row.stix_id, row.list_ref, count, now):
                self._record(
                    row.list_ref, row.stix_id, None, "hold", {"items": count, "hour": hour}
                )
            held.add(row.stix_id)
        return held

    def release(self, principal: Principal, entry_id: str) -> EntryView:
        """The owner's review of a held entry: matches are actionable again."""
        org = self._writer(principal)
        row, doc = self._entry_doc(principal, entry_id)
        if row.owner != org:
            raise Forbidden("only the organisation that owns the entry may release it")
        if self._repo.release(entry_id, self._clock()):
            self._record(doc["x_accord_hash_list_ref"], entry_id, org, "release", {})
        return self.entry(principal, entry_id)

    def _sight(
        self, principal: Principal, hits: list[MatchHit], readable: dict[str, ObjectRow]
    ) -> list[MatchHit]:
        """One sighting per entry hit, shared back to its owner (the matcher's own object)."""
        now = format_timestamp(self._clock())
        counts = Counter(h.entry for h in hits)
        ids: dict[str, str] = {}
        for entry_id, count in counts.items():
            row = readable[entry_id]
            owner = orjson.loads(row.doc).get("created_by_ref", "")
            sighting_id, _ = self._exchange.report_sighting(
                principal, entry_id, owner, row.tlp, count, (now, now), x_accord_hash_match=True
            )
            ids[entry_id] = sighting_id
        return [replace(h, sighting=ids[h.entry]) for h in hits]

    # Lookup without export -------------------------------------------------------------
    def grant(self, principal: Principal, list_id: str, org_ref: str) -> None:
        """Let an organisation look hashes up in a list it may not read."""
        org = self._writer(principal)
        self._owned_list(principal, list_id)
        grantee = self._orgs.find(org_ref)
        if self._repo.grant(list_id, grantee.id, org, self._clock()):
            self._record(list_id, None, org, "grant", {"grantee": grantee.identity_id})

    def revoke(self, principal: Principal, list_id: str, org_ref: str) -> None:
        org = self._writer(principal)
        self._owned_list(principal, list_id)
        grantee = self._orgs.find(org_ref)
        if self._repo.revoke(list_id, grantee.id):
            self._record(list_id, None, org, "revoke", {"grantee": grantee.identity_id})

    def peer_of(self, ref: str) -> Peer:
        """A registered peer node, by node id or by the name this node gave it."""
        if self._peers is None:
            raise InvalidInput("this node runs without federation: it has no peer nodes")
        wanted = ref.strip().lower()
        for peer in self._peers.all():
            if peer.node_id == wanted or peer.name == ref.strip():
                return peer
        if not _NODE_ID.match(wanted):
            raise _invalid("a peer's node id (32 hex digits) or its name here", "node")
        raise NotFound(f"no peer node {wanted}; `accord peer list` shows them")

    def remember_nonce(self, peer_id: int, nonce: str, now: datetime, forget: datetime) -> bool:
        """Keep a peer's request nonce; False if it was seen before (a replay)."""
        return self._repo.remember_nonce(peer_id, nonce, now, forget)

    def peer_names(self) -> dict[str, str]:
        """Each peer node's name here, by node id (for reports)."""
        return {p.node_id: p.name for p in self._peers.all()} if self._peers else {}

    def grant_node(self, principal: Principal, list_id: str, node_ref: str) -> Peer:
        """Let the organisations of a peer node look hashes up in a list, from that node."""
        org = self._writer(principal)
        self._owned_list(principal, list_id)
        peer = self.peer_of(node_ref)
        if self._repo.grant_node(list_id, peer.node_id, org, self._clock()):
            self._record(list_id, None, org, "grant", {"node": peer.node_id, "peer": peer.name})
        return peer

    def revoke_node(self, principal: Principal, list_id: str, node_ref: str) -> Peer:
        org = self._writer(principal)
        self._owned_list(principal, list_id)
        peer = self.peer_of(node_ref)
        if self._repo.revoke_node(list_id, peer.node_id):
            self._record(list_id, None, org, "revoke", {"node": peer.node_id, "peer": peer.name})
        return peer

    def grants(self, principal: Principal, list_id: str) -> tuple[list[str], list[str]]:
        """Who may look the list up (the owner's view): organisations' identity ids, and
        peer nodes' ids."""
        self._writer(principal)
        self._owned_list(principal, list_id)
        orgs = self._orgs.identities(set(self._repo.grantees(list_id)))
        return sorted(orgs.values()), self._repo.node_grantees(list_id)

    def lookup(
        self, principal: Principal, list_id: str, items: Sequence[Item]
    ) -> list[LookupAnswer]:
        """Hit or no hit, with labels, for a granted organisation; rate-limited and audited."""
        if principal.org is None:
            raise Forbidden("sign in to look hashes up")
        unknown = NotFound(f"no hash list {list_id[:100]!r} open to lookups by your organisation")
        if not list_id.startswith(f"{LIST_TYPE}--") or not self._repo.granted(
            list_id, principal.org
        ):
            raise unknown
        requester = self._orgs.get(principal.org).identity_id
        actor = actor_of(principal.org, principal.role, principal.token_id, principal.peer)
        return self._answer(list_id, items, principal.org, {"requester": requester}, unknown, actor)

    def peer_lookup(
        self, peer: Peer, org_identity: str, list_id: str, items: Sequence[Item]
    ) -> list[LookupAnswer]:
        """Hit or no hit, with labels, for an organisation homed on the peer node ``peer``
        (whose signed request was checked): granted to that node or to that organisation,
        rate-limited per organisation and audited with both."""
        actor = f"peer-node:{peer.node_id}"
        try:
            known = self._orgs.by_identity([org_identity])
            org = known.get(org_identity)
            if org is None or self._orgs.get(org).home != peer.node_id:
                raise Forbidden(
                    f"{org_identity[:60]} is not known here as an organisation of {peer.name}; "
                    "sync with this node first"
                )
            unknown = NotFound(
                f"no hash list {list_id[:100]!r} open to lookups by {peer.name} or its organisation"
            )
            if not list_id.startswith(f"{LIST_TYPE}--") or not (
                self._repo.node_granted(list_id, peer.node_id) or self._repo.granted(list_id, org)
            ):
                raise unknown
            detail = {"requester": org_identity, "node": peer.node_id, "peer": peer.name}
            return self._answer(list_id, items, org, detail, unknown, actor)
        except (Forbidden, NotFound, TooManyAttempts) as exc:
            self.audit_refusal(actor, list_id, f"for {org_identity[:60]}: {exc.detail}")
            raise

    def audit_refusal(self, actor: str, list_id: str, why: str) -> None:
        """Record a refused lookup in the node's audit log."""
        self._exchange.audit.record(
            [Event(actor, "hash-lookup", "denied", list_id[:128] or None, detail=why[:500])]
        )

    def _answer(
        self,
        list_id: str,
        items: Sequence[Item],
        org: int,
        requester: dict[str, str],
        unknown: NotFound,
        actor: str,
    ) -> list[LookupAnswer]:
        checked = check_items(items, minimum_quality=self.quality)
        now = self._clock()
        window = now - timedelta(minutes=1)
        used = self._repo.count_recent(org, "lookup", window)
        if used >= self.lookup_rate:
            oldest = self._repo.oldest_recent(org, "lookup", window) or now
            wait = max(1, min(60, math.ceil(60 - (now - oldest).total_seconds())))
            raise TooManyAttempts(
                f"too many lookups this minute (at most {self.lookup_rate}); try again in {wait} s",
                wait,
            )
        owner_row = self._exchange_owner_view(list_id)
        if owner_row is None:
            raise unknown
        owner_view, hash_list = owner_row
        raw = self._search(checked, self.threshold)
        rows = self._repo.entries(h[1] for h in raw)
        mine = {ref: r for ref, r in rows.items() if r.list_ref == list_id}
        latest = self._latest(owner_view, [r.stix_id for r in mine.values()])
        answers: dict[int, LookupAnswer] = {
            i: LookupAnswer(i, False, [], None) for i in range(len(checked))
        }
        for query, ref, distance in raw:
            row = mine.get(ref)
            if row is None:
                continue
            doc_row = latest.get(row.stix_id)
            if doc_row is None or doc_row.modified != row.modified:
                continue
            doc = orjson.loads(doc_row.doc)
            if "x_accord_disabled" in doc:
                continue
            prior = answers[query]
            best = distance if prior.distance is None else min(prior.distance, distance)
            answers[query] = LookupAnswer(
                query, True, [*prior.labels, doc.get("x_accord_labels", {})], best
            )
        result = list(answers.values())
        hits = sum(a.hit for a in result)
        self._record(
            hash_list.id, None, org, "lookup", {**requester, "hashes": len(checked), "hits": hits}
        )
        self._exchange.audit.record(
            [
                Event(
                    actor,
                    "hash-lookup",
                    "allowed",
                    hash_list.id,
                    detail=f"by {requester['requester']}: {len(checked)} hashes, {hits} hits",
                )
            ]
        )
        return result

    def _exchange_owner_view(self, list_id: str) -> tuple[Principal, HashList] | None:
        """The list as its owner sees it (lookups run on the owner's behalf)."""
        grants = self._repo.grant_owner(list_id)
        if grants is None:
            return None
        owner = Principal(org=grants, role=Role.READER, groups=self._groups.of_org(grants))
        try:
            return owner, self.get_list(owner, list_id)
        except NotFound:
            return None

    # Activity and transparency ---------------------------------------------------------
    def _record(
        self, list_id: str, entry_id: str | None, org: int | None, kind: str, detail: dict[str, Any]
    ) -> None:
        self._record_many(
            [Activity(self._clock(), list_id, entry_id, org, kind, orjson.dumps(detail).decode())]
        )

    def _record_many(self, rows: Sequence[Activity]) -> None:
        self._repo.record(rows)

    def report(
        self, principal: Principal, list_id: str, start: datetime, end: datetime
    ) -> dict[str, Any]:
        """The transparency report of a list over [start, end): what changed, who matched
        how often by label, and (for the owner) who looked up how much."""
        hash_list = self.get_list(principal, list_id)
        if end <= start:
            raise _invalid("the period's end comes after its start", "end")
        rows = self._repo.activity(list_id, start, end)
        added = removed = enabled = 0
        opinions: Counter[str] = Counter()
        labels: Counter[str] = Counter()
        matches = 0
        lookups: Counter[str] = Counter()
        lookup_hashes = 0
        by_node: Counter[str] = Counter()  # lookups from peer nodes, by node id
        by_node_hashes: Counter[str] = Counter()
        holds = 0
        for a in rows:
            detail = orjson.loads(a.detail)
            if a.kind == "add":
                added += int(detail.get("count", 1))
            elif a.kind in ("disable", "remove"):
                removed += 1
            elif a.kind == "enable":
                enabled += 1
            elif a.kind == "opinion":
                opinions[detail.get("verdict", "")] += 1
            elif a.kind == "match":
                matches += 1
                for key, value in _label_keys(detail.get("labels", {})):
                    labels[f"{key}:{value}"] += 1
            elif a.kind == "lookup":
                lookups[detail.get("requester", "")] += 1
                lookup_hashes += int(detail.get("hashes", 0))
                if isinstance(detail.get("node"), str):
                    by_node[detail["node"]] += 1
                    by_node_hashes[detail["node"]] += int(detail.get("hashes", 0))
            elif a.kind == "hold":
                holds += 1
        owner = principal.org == hash_list.owner_org
        return {
            "list": {"id": hash_list.id, "name": hash_list.name, "owner": hash_list.owner},
            "period": {"start": format_timestamp(start), "end": format_timestamp(end)},
            "entries": {
                "added": added,
                "removed": removed,
                "re_enabled": enabled,
                "total": self._repo.count_entries(list_id),
            },
            "opinions": dict(sorted(opinions.items())),
            "disputed": opinions.get("disputed", 0) + opinions.get("false-positive", 0),
            "matches": {"total": matches, "by_label": dict(sorted(labels.items()))},
            "held_for_review": holds,
            "lookups": {
                "total": sum(lookups.values()),
                "hashes": lookup_hashes,
                "by_requester": dict(sorted(lookups.items())) if owner else None,
                "from_peer_nodes": sum(by_node.values()),
                "by_node": (
                    {
                        n: {"lookups": c, "hashes": by_node_hashes[n]}
                        for n, c in sorted(by_node.items())
                    }
                    if owner
                    else None
                ),
            },
        }


def _label_keys(labels: dict[str, Any]) -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    if isinstance(labels.get("content_type"), str):
        found.append(("content_type", labels["content_type"]))
    for behaviour in labels.get("behaviours", []) or []:
        found.append(("behaviour", str(behaviour)))
    producer = labels.get("producer")
    if isinstance(producer, dict) and isinstance(producer.get("name"), str):
        found.append(("producer", producer["name"]))
    if isinstance(labels.get("ideology"), str):
        found.append(("ideology", labels["ideology"]))
    return found
