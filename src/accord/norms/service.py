"""The norms service: drafting and publishing reports, the regional view, evidence.

Rules it owns: only an admin or analyst of an organisation drafts that organisation's
report (of its state); a published version never changes (an answer to it is a
conflict); every answer carries its own TLP and scope, checked against the marking's
rules when written and again, capped by where the report goes, when published. What
anyone reads of published reports comes from the exchange store through the gate.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import orjson

from accord.domain.clock import Clock
from accord.domain.model import Principal
from accord.domain.scope import Distribution, Scope, distribution_problem
from accord.domain.stix import format_timestamp
from accord.domain.text import unstorable
from accord.domain.tlp import TLP
from accord.errors import Conflict, Forbidden, InvalidInput, NotFound, PolicyViolation, Problem
from accord.exchange.service import Exchange, IngestReport, stamp
from accord.exchange.validation import validate_objects
from accord.norms import stix
from accord.norms.framework import Framework
from accord.store.accounts import GroupRepository, OrganisationRepository
from accord.store.norms import Answer, Evidence, EvidenceRepository, NormsRepository, Version
from accord.store.objects import ObjectQuery

if TYPE_CHECKING:
    from accord.norms.capacity import Capacity, Training

# Where an answer may be meant for (recipients are a request's notion, not a report's).
ANSWER_SCOPES = (Scope.ORGANISATION, Scope.GROUP, Scope.COMMUNITY, Scope.FEDERATION, Scope.PUBLIC)
# Where a version may be published.
TARGETS = (Scope.GROUP, Scope.COMMUNITY, Scope.FEDERATION, Scope.PUBLIC)
_HEADER_TLP = {
    Scope.GROUP: TLP.AMBER,
    Scope.COMMUNITY: TLP.GREEN,
    Scope.FEDERATION: TLP.GREEN,
    Scope.PUBLIC: TLP.CLEAR,
}
MAX_TEXT = 20_000
MAX_DOCUMENTS = 20
MAX_COMPARE = 3
_CACHED_READERS = 256
MIN_YEAR, MAX_YEAR = 1970, 9000


def _bad(field_name: str, why: str) -> InvalidInput:
    return InvalidInput(f"'{field_name}': {why}", [Problem(why, field=field_name)])


def _text(field_name: str, value: str, limit: int = MAX_TEXT) -> str:
    why = unstorable(value)
    if why:
        raise _bad(field_name, why)
    if len(value) > limit:
        raise _bad(field_name, f"at most {limit} characters")
    return value


def parse_tlp(value: str, field_name: str = "tlp") -> TLP:
    try:
        return TLP.parse(value)
    except ValueError as exc:
        raise _bad(field_name, str(exc)) from None


def parse_scope(value: str, allowed: Sequence[Scope], field_name: str = "scope") -> Scope:
    try:
        scope = Scope(value)
    except ValueError:
        scope = None
    if scope is None or scope not in allowed:
        raise _bad(field_name, f"one of: {', '.join(s.value for s in allowed)}")
    return scope


@dataclass(frozen=True, slots=True)
class AnswerInput:
    item: str
    measures: str = ""
    challenges: str = ""
    documents: tuple[str, ...] = ()
    tlp: str = "TLP:GREEN"
    scope: str = "community"


@dataclass(frozen=True, slots=True)
class Draft:
    version: Version
    answers: list[Answer]


@dataclass
class StateReport:
    """What a reader may see of one state's published reports (every version)."""

    state: str
    versions: dict[int, dict[str, stix.PublishedAnswer]] = field(default_factory=dict)

    @property
    def latest(self) -> int | None:
        return max(self.versions) if self.versions else None

    def answered(self, version: int | None = None) -> set[str]:
        number = self.latest if version is None else version
        return set(self.versions.get(number, {})) if number is not None else set()


@dataclass(frozen=True, slots=True)
class Cell:
    state: str
    norm: str
    status: str  # reported | evidence | none


@dataclass(frozen=True, slots=True)
class Matrix:
    states: list[str]
    norms: list[str]
    cells: dict[tuple[str, str], str]


class NormsService:
    def __init__(
        self,
        framework: Framework,
        repo: NormsRepository,
        evidence: EvidenceRepository,
        exchange: Exchange,
        orgs: OrganisationRepository,
        groups: GroupRepository,
        *,
        node_name: str,
        node_id: str,
        clock: Clock,
        capacity: Capacity | None = None,
    ) -> None:
        self.framework = framework
        self.capacity = capacity
        self.training = None if capacity is None else _training(capacity)
        self._published: dict[tuple[object, ...], dict[str, StateReport]] = {}
        self._lock = threading.Lock()
        self._repo = repo
        self._evidence = evidence
        self._exchange = exchange
        self._orgs = orgs
        self._groups = groups
        self._node = node_name
        self._node_id = node_id
        self._clock = clock

    # Drafting -------------------------------------------------------------------------
    def _writer(self, principal: Principal, org_ref: str | None = None) -> tuple[int, str]:
        """The organisation ``principal`` drafts for, with its state."""
        if principal.org is None or not principal.can_write():
            raise Forbidden("only an organisation's admins and analysts draft its report")
        if org_ref is not None:
            target = self._orgs.find(org_ref)
            if target.id != principal.org:
                raise Forbidden(
                    "only an organisation's own members draft its report "
                    f"({target.name} is another organisation)"
                )
        org = self._orgs.get(principal.org)
        if org.state is None:
            raise PolicyViolation("an organisation of no state has no national report")
        return org.id, org.state

    def start_draft(self, principal: Principal, org_ref: str | None = None) -> Version:
        org_id, state = self._writer(principal, org_ref)
        return self._repo.new_draft(org_id, state, str(uuid.uuid4()), self._clock())

    def versions(self, principal: Principal) -> list[Version]:
        """Every version of the reader's organisation's report (drafts are its own)."""
        if principal.org is None:
            return []
        return self._repo.versions_of(principal.org)

    def draft(self, principal: Principal, version_id: int) -> Draft:
        version = self._own(principal, version_id)
        return Draft(version, self._repo.answers(version.id))

    def _own(self, principal: Principal, version_id: int) -> Version:
        try:
            version = self._repo.version(version_id)
        except NotFound:
            version = None
        if version is None or version.org_id != principal.org:
            raise NotFound(f"no report version {version_id} of your organisation")
        return version

    def answer(self, principal: Principal, version_id: int, given: AnswerInput) -> Answer:
        """Write one answer of a draft; a published version refuses (409)."""
        self._writer(principal)
        version = self._own(principal, version_id)
        item = self.framework.check_item(given.item)
        tlp = parse_tlp(given.tlp)
        scope = parse_scope(given.scope, ANSWER_SCOPES)
        if scope is not Scope.GROUP:  # a group's id comes when it is published
            why = distribution_problem(Distribution(tlp, scope))
            if why:
                raise _bad("scope", why)
        elif distribution_problem(Distribution(tlp, scope, group=0)):
            raise _bad("scope", f"{tlp.value} does not allow scope 'group'")
        if len(given.documents) > MAX_DOCUMENTS:
            raise _bad("documents", f"at most {MAX_DOCUMENTS} documents")
        documents = tuple(_text("documents", d, 500) for d in given.documents if d.strip())
        answer = Answer(
            item=item,
            measures=_text("measures", given.measures),
            challenges=_text("challenges", given.challenges),
            documents=documents,
            tlp=tlp.value,
            scope=scope.value,
            updated=self._clock(),
        )
        if version.status != "draft":
            raise Conflict("this version is published: answers can no longer change")
        self._repo.put_answer(version.id, answer)
        return answer

    def publish(
        self, principal: Principal, version_id: int, target: str, group: str | None = None
    ) -> Version:
        """Publish a draft to a group, the community, the federation or the public, each
        answer as far as its own marking and scope allow and never further than ``target``."""
        org_id, state = self._writer(principal)
        version = self._own(principal, version_id)
        if version.status != "draft":
            raise Conflict(f"version {version.number} is already published")
        where = parse_scope(target, TARGETS, "target")
        group_id = None
        if group:
            found = next((g for g in self._groups.all() if g.slug == group), None)
            if found is None or org_id not in found.members:
                raise NotFound(f"no sharing group {group[:80]!r} that your organisation is in")
            group_id = found.id
        answers = self._repo.answers(version.id)
        if not answers:
            raise _bad("answers", "a report needs at least one answer to be published")
        org = self._orgs.get(org_id)
        now = self._clock()
        key, number = version.report_key, version.number
        objects: list[tuple[dict[str, Any], Distribution]] = []
        header_tlp = _HEADER_TLP[where]
        header_dist = self._distribution(header_tlp, where, group_id, "target")
        objects.append(
            (stix.header(key, number, state, org.identity_id, header_tlp, now), header_dist)
        )
        for a in answers:
            own = Scope(a.scope)
            scope = own if own.breadth <= where.breadth else where
            tlp = TLP(a.tlp)
            dist = self._distribution(tlp, scope, group_id, f"answers.{a.item}")
            obj = stix.answer(
                key,
                number,
                state,
                org.identity_id,
                tlp,
                now,
                a.item,
                a.measures,
                a.challenges,
                a.documents,
            )
            objects.append((obj, dist))
        issues = validate_objects([o for o, _ in objects])
        if issues:  # cannot happen for what the service builds; refuse rather than store
            raise InvalidInput("the report does not make valid STIX 2.1: nothing was published")
        provenance = orjson.dumps(
            {
                "origin_node": self._node,
                "origin_node_id": self._node_id,
                "received": format_timestamp(now),
                "via": [],
            }
        ).decode()
        versions = [
            (i, stamp(o, org_id, d, provenance, self._node_id)) for i, (o, d) in enumerate(objects)
        ]
        header_id = str(objects[0][0]["id"])

        def mark(batch: Any) -> None:
            NormsRepository.mark_published(
                batch.connection, version.id, now, where.value, group_id, header_id
            )

        self._exchange.store_versions(versions, org_id, now, IngestReport(), within=mark)
        return self._repo.version(version.id)

    @staticmethod
    def _distribution(
        tlp: TLP, scope: Scope, group_id: int | None, field_name: str
    ) -> Distribution:
        if scope is Scope.GROUP and group_id is None:
            raise _bad("group", f"{field_name} goes to a sharing group: name one (group=<slug>)")
        dist = Distribution(tlp, scope, group=group_id if scope is Scope.GROUP else None)
        why = distribution_problem(dist)
        if why:
            raise _bad(field_name, why)
        return dist

    # Reading published reports ----------------------------------------------------------
    def published(self, principal: Principal) -> dict[str, StateReport]:
        """Every published answer ``principal`` may read, by state and version.

        Kept per process for each reader (organisation and groups: all the gate looks
        at) until an answer is stored or deleted, so repeated regional views parse the
        answers once; callers treat the result as read-only."""
        key = (principal.org, principal.groups, self._evidence.marker(stix.ANSWER))
        cached = self._published.get(key)
        if cached is not None:
            return cached
        found = self._read_published(principal)
        with self._lock:  # requests run in a thread pool
            self._published[key] = found
            while len(self._published) > _CACHED_READERS:
                self._published.pop(next(iter(self._published)))
        return found

    def _read_published(self, principal: Principal) -> dict[str, StateReport]:
        found: dict[str, StateReport] = {}
        query = ObjectQuery(types=(stix.ANSWER,), limit=1000)
        for rows in self._exchange.iter_all(principal, query):
            for row in rows:
                a = stix.read_answer(orjson.loads(row.doc), row.tlp.value, row.scope.value)
                if a is None or a.item not in self.framework.items:
                    continue
                report = found.setdefault(a.state, StateReport(a.state))
                report.versions.setdefault(a.version, {})[a.item] = a
        return found

    def state_report(
        self, principal: Principal, state: str, version: int | None = None
    ) -> tuple[StateReport, int | None]:
        state = _state(state)
        report = self.published(principal).get(state, StateReport(state))
        number = version if version is not None else report.latest
        if version is not None and version not in report.versions:
            raise NotFound(f"no published version {version} of {state}'s report that you may read")
        return report, number

    def states(self) -> list[str]:
        return sorted({o.state for o in self._orgs.all() if o.state is not None})

    def group_states(self, principal: Principal, slug: str) -> list[str]:
        """The states of a sharing group's members: for its members to see."""
        group = next((g for g in self._groups.all() if g.slug == slug), None)
        if group is None or group.id not in principal.groups:
            raise NotFound(f"no sharing group {slug[:80]!r} that your organisation is in")
        states = {o.state for o in self._orgs.all() if o.id in group.members}
        return sorted(s for s in states if s is not None)

    def matrix(
        self,
        principal: Principal,
        states: Sequence[str] | None = None,
        start: datetime | None = None,
        end: datetime | None = None,
    ) -> Matrix:
        """States by norms: reported (an answer the reader may read in the latest
        version), evidence (none, but the node's records show activity), or none."""
        published = self.published(principal)
        chosen = (
            sorted(set(states))
            if states is not None
            else sorted(set(self.states()) | set(published))
        )
        start, end = self._period(start, end)
        norms = [n.code for n in self.framework.norms]
        cells: dict[tuple[str, str], str] = {}
        activity = self._evidence.activity(principal, start, end)
        for s in chosen:
            answered = published[s].answered() if s in published else set()
            requests, shared, vulnerabilities = activity.get(s, (0, 0, 0))
            evidenced = {"h": requests > 0, "d": shared > 0, "j": vulnerabilities > 0}
            for n in norms:
                if n in answered:
                    cells[(s, n)] = "reported"
                elif evidenced.get(n, False):
                    cells[(s, n)] = "evidence"
                else:
                    cells[(s, n)] = "none"
        return Matrix(chosen, norms, cells)

    def compare(self, principal: Principal, states: Sequence[str]) -> dict[str, StateReport]:
        chosen = [_state(s) for s in dict.fromkeys(states)]
        if not 1 <= len(chosen) <= MAX_COMPARE:
            raise _bad("states", f"compare one to {MAX_COMPARE} states")
        published = self.published(principal)
        return {s: published.get(s, StateReport(s)) for s in chosen}

    def trend(self, principal: Principal, state: str) -> list[tuple[int, int]]:
        """(version, answers the reader may read) for each published version."""
        report = self.published(principal).get(_state(state), StateReport(state))
        return [(v, len(a)) for v, a in sorted(report.versions.items())]

    def evidence(
        self,
        principal: Principal,
        state: str,
        start: datetime | None = None,
        end: datetime | None = None,
    ) -> Evidence:
        start, end = self._period(start, end)
        return self._evidence.evidence(principal, _state(state), start, end)

    def _period(self, start: datetime | None, end: datetime | None) -> tuple[datetime, datetime]:
        """The period asked for (naive times read as UTC); by default the last year."""
        end = _utc(end) if end is not None else self._clock()
        if not MIN_YEAR <= end.year <= MAX_YEAR:
            raise _bad("end", f"a year from {MIN_YEAR} to {MAX_YEAR}")
        start = _utc(start) if start is not None else end - timedelta(days=365)
        if not MIN_YEAR - 1 <= start.year <= MAX_YEAR:
            raise _bad("start", f"a year from {MIN_YEAR} to {MAX_YEAR}")
        if start >= end:
            raise _bad("start", "the period's start must be before its end")
        return start, end


def _training(capacity: Capacity) -> Training:
    from accord.norms.capacity import Training

    return Training(capacity)


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _state(value: str) -> str:
    state = value.strip().upper()
    if len(state) != 2 or not state.isascii() or not state.isalpha():
        raise _bad("state", "a state is a two-letter ISO 3166 code")
    return state
