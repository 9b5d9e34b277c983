"""Capacity self-assessment (CMM dimensions, GCI pillars) and needs and offers.

Both are STIX custom objects in the exchange store, owned by the organisation that
posts them and stored under the TLP and scope it chooses, so the gate decides who
reads them and federation carries them exactly as far as their marking allows:

- ``x-accord-capacity-assessment``: one id per organisation and framework; each new
  assessment is a new version of it (a later ``modified``), so the versions are the
  history. ``scores`` maps a dimension (or pillar) code to a stage, 1 (start-up) to 5
  (dynamic); ``target`` is the stage aimed at, and the gap is target minus stage.
  (GCI pillars are self-assessed on the same five stages here; the GCI's own scoring
  is not reproduced.)
- ``x-accord-capacity-need`` / ``x-accord-capacity-offer``: what a state asks for or
  offers (training, expert missions, tools, funding), tagged with dimension or pillar
  codes and norms. Matching proposes, for each need, the offers whose tags overlap it
  (most shared tags first). A match is tracked on the need itself: each step (open,
  matched, agreed, delivered, evaluated) is a new version of the need naming the offer,
  the owner of the step and its date, so it travels with the need under its scope.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import orjson

from accord.domain.clock import Clock
from accord.domain.model import Principal
from accord.domain.stix import format_timestamp, parse_timestamp
from accord.domain.tlp import marking_definition
from accord.errors import Conflict, Forbidden, InvalidInput, NotFound, Problem
from accord.exchange.service import Exchange, ShareRequest
from accord.norms.framework import Framework
from accord.norms.service import parse_tlp
from accord.store.accounts import OrganisationRepository
from accord.store.objects import ObjectQuery

ASSESSMENT = "x-accord-capacity-assessment"
NEED = "x-accord-capacity-need"
OFFER = "x-accord-capacity-offer"
KINDS = ("training", "expert-mission", "tools", "funding")
STEPS = ("open", "matched", "agreed", "delivered", "evaluated")
_NS = uuid.UUID("2c7f0d7e-5b7a-4a0e-8f0a-9b3f0d3c1e55")
MAX_TAGS = 20


def _bad(field_name: str, why: str) -> InvalidInput:
    return InvalidInput(f"'{field_name}': {why}", [Problem(why, field=field_name)])


@dataclass(frozen=True, slots=True)
class Assessment:
    stix_id: str
    state: str
    framework: str
    scores: dict[str, int]
    target: int
    assessed: str
    tlp: str
    scope: str

    def gaps(self) -> dict[str, int]:
        return {code: max(self.target - stage, 0) for code, stage in self.scores.items()}


@dataclass(frozen=True, slots=True)
class Posting:
    stix_id: str
    type: str
    state: str
    kind: str
    title: str
    tags: tuple[str, ...]
    step: str
    offer_ref: str | None
    owner: str | None
    updated: str
    tlp: str
    scope: str
    org: int | None = None  # the organisation that holds it on this node (its owner row)


@dataclass(frozen=True, slots=True)
class Match:
    need: Posting
    offer: Posting
    shared: tuple[str, ...]


class Capacity:
    def __init__(
        self,
        framework: Framework,
        exchange: Exchange,
        orgs: OrganisationRepository,
        clock: Clock,
    ) -> None:
        self.framework = framework
        self._exchange = exchange
        self._orgs = orgs
        self._clock = clock

    def _author(self, principal: Principal) -> tuple[str, str]:
        if principal.org is None or not principal.can_write():
            raise Forbidden("only an organisation's admins and analysts post for it")
        org = self._orgs.get(principal.org)
        if org.state is None:
            raise InvalidInput("an organisation of no state has no national assessment")
        return org.identity_id, org.state

    def _share(
        self, principal: Principal, obj: dict[str, Any], tlp: str, scope: str, group: str | None
    ) -> None:
        self._exchange.ingest(principal, obj, ShareRequest.parse(tlp, scope, (), group))

    def _base(
        self, kind: str, stix_id: str, identity: str, tlp: str, now: datetime
    ) -> dict[str, Any]:
        stamp = format_timestamp(now)
        return {
            "type": kind,
            "spec_version": "2.1",
            "id": stix_id,
            "created": stamp,
            "modified": stamp,
            "created_by_ref": identity,
            "object_marking_refs": [marking_definition(parse_tlp(tlp))["id"]],
        }

    # Self-assessment --------------------------------------------------------------------
    def assess(
        self,
        principal: Principal,
        framework: str,
        scores: dict[str, int],
        target: int,
        tlp: str = "TLP:AMBER",
        scope: str = "organisation",
        group: str | None = None,
    ) -> Assessment:
        identity, state = self._author(principal)
        if framework not in ("cmm", "gci"):
            raise _bad("framework", "cmm or gci")
        known = (
            [d.code for d in self.framework.dimensions]
            if framework == "cmm"
            else [p.code for p in self.framework.pillars]
        )
        if not scores:
            raise _bad("scores", "give a stage for at least one dimension")
        for code, stage in scores.items():
            if code not in known:
                raise _bad("scores", f"unknown dimension {code[:40]!r}; known: {', '.join(known)}")
            self.framework.check_stage(stage, "scores")
        self.framework.check_stage(target, "target")
        stix_id = f"{ASSESSMENT}--{uuid.uuid5(_NS, f'{identity}/{framework}')}"
        now = self._clock()
        obj = self._base(ASSESSMENT, stix_id, identity, tlp, now)
        try:
            _, earlier = self._exchange.get(principal, stix_id)
            docs = [orjson.loads(r.doc) for r in earlier]
            obj["created"] = min(str(d["created"]) for d in docs)
            last = max(parse_timestamp(str(d["modified"])) for d in docs)
            if last >= now:
                obj["modified"] = format_timestamp(last + timedelta(milliseconds=1))
        except NotFound:
            pass
        obj.update(
            {
                "state": state,
                "framework": framework,
                "scores": dict(sorted(scores.items())),
                "target": target,
            }
        )
        self._share(principal, obj, tlp, scope, group)
        return _assessment(obj, parse_tlp(tlp).value, scope)

    def assessments(self, principal: Principal, state: str) -> list[Assessment]:
        """Every version the reader may read of a state's assessments, oldest first."""
        found: list[Assessment] = []
        for rows in self._exchange.iter_all(principal, ObjectQuery(types=(ASSESSMENT,), limit=500)):
            for row in rows:
                doc = orjson.loads(row.doc)
                if doc.get("state") != state.upper():
                    continue
                _, versions = self._exchange.get(principal, row.stix_id)
                for v in versions:
                    found.append(_assessment(orjson.loads(v.doc), v.tlp.value, v.scope.value))
        return sorted(found, key=lambda a: (a.framework, a.assessed))

    # Needs and offers --------------------------------------------------------------------
    def post(
        self,
        principal: Principal,
        kind_of_post: str,
        kind: str,
        title: str,
        tags: list[str],
        tlp: str = "TLP:GREEN",
        scope: str = "federation",
        group: str | None = None,
    ) -> Posting:
        identity, state = self._author(principal)
        if kind_of_post not in ("need", "offer"):
            raise _bad("type", "need or offer")
        if kind not in KINDS:
            raise _bad("kind", f"one of: {', '.join(KINDS)}")
        if not title.strip() or len(title) > 300:
            raise _bad("title", "1 to 300 characters")
        if not tags or len(tags) > MAX_TAGS:
            raise _bad("tags", f"1 to {MAX_TAGS} dimension, pillar or norm codes")
        for tag in tags:
            if tag not in {n.code for n in self.framework.norms}:
                self.framework.check_dimension(tag, "tags")
        stype = NEED if kind_of_post == "need" else OFFER
        obj = self._base(stype, f"{stype}--{uuid.uuid4()}", identity, tlp, self._clock())
        obj.update({"state": state, "kind": kind, "name": title, "tags": sorted(set(tags))})
        if stype == NEED:
            obj["step"] = "open"
        if group:
            obj["audience_group"] = group  # its members read it; a new step goes there too
        self._share(principal, obj, tlp, scope, group)
        return _posting(obj, parse_tlp(tlp).value, scope)

    def postings(self, principal: Principal) -> list[Posting]:
        found: list[Posting] = []
        for rows in self._exchange.iter_all(
            principal, ObjectQuery(types=(NEED, OFFER), limit=1000)
        ):
            found.extend(
                _posting(orjson.loads(r.doc), r.tlp.value, r.scope.value, r.owner) for r in rows
            )
        return found

    def next_steps(self, principal: Principal, posts: list[Posting]) -> dict[str, str]:
        """For each need of the reader's organisation not yet evaluated, the step it moves to
        next (what ``advance`` accepts); empty for readers who may not move needs."""
        if principal.org is None or not principal.can_write():
            return {}
        return {
            p.stix_id: STEPS[STEPS.index(p.step) + 1]
            for p in posts
            if p.type == NEED and p.org == principal.org and p.step in STEPS[:-1]
        }

    def matches(self, principal: Principal) -> list[Match]:
        """For every open need the reader may see, the offers it may see that share a tag."""
        posts = self.postings(principal)
        return match(posts)

    def advance(
        self, principal: Principal, need_id: str, step: str, offer_id: str | None = None
    ) -> Posting:
        """Move a need one step on (its owner's organisation only), as a new version."""
        if step not in STEPS:
            raise _bad("step", f"one of: {', '.join(STEPS)}")
        identity, _ = self._author(principal)
        try:
            latest, _ = self._exchange.get(principal, need_id)
        except NotFound:
            raise NotFound(f"no need {need_id[:100]!r}") from None
        doc = orjson.loads(latest.doc)
        if doc.get("type") != NEED or latest.owner != principal.org:
            raise NotFound(f"no need {need_id[:100]!r} of your organisation")
        if STEPS.index(step) != STEPS.index(doc.get("step", "open")) + 1:
            raise Conflict(f"a need at '{doc.get('step')}' moves to the next step only")
        if step == "matched":
            if offer_id is None:
                raise _bad("offer", "name the offer matched")
            offer, _ = self._exchange.get(principal, offer_id)
            if orjson.loads(offer.doc).get("type") != OFFER:
                raise _bad("offer", "not an offer")
            doc["offer_ref"] = offer_id
        now = max(self._clock(), parse_timestamp(doc["modified"]) + timedelta(milliseconds=1))
        doc.update({"step": step, "step_owner": identity, "modified": format_timestamp(now)})
        doc.setdefault("steps", [])
        doc["steps"] = [*doc["steps"], {"step": step, "at": format_timestamp(now), "by": identity}]
        group = doc.get("audience_group") if latest.scope.value == "group" else None
        self._share(principal, doc, latest.tlp.value, latest.scope.value, group)
        return _posting(doc, latest.tlp.value, latest.scope.value)


def match(posts: list[Posting], per_need: int = 5) -> list[Match]:
    """Needs still open or matched, each with up to ``per_need`` offers of other states
    that share a tag, most shared tags first (then by id, so the answer is stable).

    Offers are indexed by tag and by pair of tags: an offer sharing two or more tags with a
    need is found through a pair, and only those are counted exactly; one-tag offers then
    fill the list in id order. Work per need is bounded by its tags, not by the offers."""
    singles: dict[str, list[Posting]] = {}
    pairs: dict[tuple[str, str], list[Posting]] = {}
    for p in sorted((p for p in posts if p.type == OFFER), key=lambda p: p.stix_id):
        tags = sorted(set(p.tags))
        for a in tags:
            singles.setdefault(a, []).append(p)
        for x in range(len(tags)):
            for y in range(x + 1, len(tags)):
                pairs.setdefault((tags[x], tags[y]), []).append(p)
    found: list[Match] = []
    for need in posts:
        if need.type != NEED or need.step not in ("open", "matched"):
            continue
        wanted = sorted(set(need.tags))
        chosen: dict[str, tuple[int, Posting]] = {}
        for x in range(len(wanted)):
            for y in range(x + 1, len(wanted)):
                for offer in pairs.get((wanted[x], wanted[y]), ()):
                    if offer.state != need.state and offer.stix_id not in chosen:
                        chosen[offer.stix_id] = (len(set(offer.tags) & set(wanted)), offer)
        ranked = sorted(chosen.values(), key=lambda c: (-c[0], c[1].stix_id))[:per_need]
        if len(ranked) < per_need:
            ones: dict[str, Posting] = {}
            for tag in wanted:
                taken = 0
                for offer in singles.get(tag, ()):
                    if taken >= per_need:
                        break
                    if offer.state != need.state and offer.stix_id not in chosen:
                        ones[offer.stix_id] = offer
                        taken += 1
            extra = sorted(ones.values(), key=lambda o: o.stix_id)[: per_need - len(ranked)]
            ranked += [(1, o) for o in extra]
        wanted_set = set(wanted)
        found.extend(
            Match(need, offer, tuple(sorted(wanted_set & set(offer.tags)))) for _, offer in ranked
        )
    return found


def _assessment(doc: dict[str, Any], tlp: str, scope: str) -> Assessment:
    return Assessment(
        stix_id=str(doc["id"]),
        state=str(doc.get("state", "")),
        framework=str(doc.get("framework", "")),
        scores={str(k): int(v) for k, v in dict(doc.get("scores", {})).items()},
        target=int(doc.get("target", 0)),
        assessed=str(doc.get("modified", "")),
        tlp=tlp,
        scope=scope,
    )


def _posting(doc: dict[str, Any], tlp: str, scope: str, org: int | None = None) -> Posting:
    tags = doc.get("tags", [])
    return Posting(
        stix_id=str(doc["id"]),
        type=str(doc["type"]),
        state=str(doc.get("state", "")),
        kind=str(doc.get("kind", "")),
        title=str(doc.get("name", "")),
        tags=tuple(str(t) for t in tags) if isinstance(tags, list) else (),
        step=str(doc.get("step", "")),
        offer_ref=doc.get("offer_ref") if isinstance(doc.get("offer_ref"), str) else None,
        owner=doc.get("step_owner") if isinstance(doc.get("step_owner"), str) else None,
        updated=str(doc.get("modified", "")),
        tlp=tlp,
        scope=scope,
        org=org,
    )


# Training ----------------------------------------------------------------------------------
COURSE = "x-accord-training-course"
RECORD = "x-accord-training-record"
FORMATS = ("course", "e-learning")


@dataclass(frozen=True, slots=True)
class Course:
    stix_id: str
    state: str
    title: str
    format: str
    tags: tuple[str, ...]
    tlp: str
    scope: str


@dataclass(frozen=True, slots=True)
class Enrolment:
    stix_id: str
    course_ref: str
    participants: int
    status: str  # enrolled, completed
    completed: int
    enrolled: str


@dataclass(frozen=True, slots=True)
class TrainingFigures:
    state: str
    enrolments: int
    completions: int
    participants: int
    completed_participants: int


class Training:
    """A catalogue of courses and e-learning modules (any organisation offers them, shared
    by scope), and enrolment records per organisation (``enrolled`` then ``completed``,
    a new version of the record), counted per state over what the reader may see."""

    def __init__(self, capacity: Capacity) -> None:
        self._c = capacity

    def add_course(
        self,
        principal: Principal,
        title: str,
        format: str,
        tags: list[str],
        tlp: str = "TLP:CLEAR",
        scope: str = "public",
    ) -> Course:
        c = self._c
        identity, state = c._author(principal)
        if format not in FORMATS:
            raise _bad("format", f"one of: {', '.join(FORMATS)}")
        if not title.strip() or len(title) > 300:
            raise _bad("title", "1 to 300 characters")
        if len(tags) > MAX_TAGS:
            raise _bad("tags", f"at most {MAX_TAGS}")
        for tag in tags:
            if tag not in {n.code for n in c.framework.norms}:
                c.framework.check_dimension(tag, "tags")
        obj = c._base(COURSE, f"{COURSE}--{uuid.uuid4()}", identity, tlp, c._clock())
        obj.update({"state": state, "name": title, "format": format, "tags": sorted(set(tags))})
        c._share(principal, obj, tlp, scope, None)
        return _course(obj, parse_tlp(tlp).value, scope)

    def courses(self, principal: Principal) -> list[Course]:
        found: list[Course] = []
        for rows in self._c._exchange.iter_all(principal, ObjectQuery(types=(COURSE,), limit=500)):
            found.extend(_course(orjson.loads(r.doc), r.tlp.value, r.scope.value) for r in rows)
        return found

    def enrol(
        self,
        principal: Principal,
        course_id: str,
        participants: int,
        tlp: str = "TLP:GREEN",
        scope: str = "community",
    ) -> str:
        c = self._c
        identity, state = c._author(principal)
        try:
            course, _ = c._exchange.get(principal, course_id)
        except NotFound:
            raise NotFound(f"no course {course_id[:100]!r}") from None
        if course.type != COURSE:
            raise _bad("course", "not a course")
        if not 1 <= participants <= 10_000:
            raise _bad("participants", "1 to 10,000")
        obj = c._base(RECORD, f"{RECORD}--{uuid.uuid4()}", identity, tlp, c._clock())
        obj.update(
            {
                "state": state,
                "course_ref": course_id,
                "participants": participants,
                "status": "enrolled",
            }
        )
        c._share(principal, obj, tlp, scope, None)
        return str(obj["id"])

    def complete(self, principal: Principal, record_id: str, completed: int) -> None:
        c = self._c
        c._author(principal)
        try:
            latest, _ = c._exchange.get(principal, record_id)
        except NotFound:
            raise NotFound(f"no enrolment {record_id[:100]!r}") from None
        doc = orjson.loads(latest.doc)
        if latest.type != RECORD or latest.owner != principal.org:
            raise NotFound(f"no enrolment {record_id[:100]!r} of your organisation")
        if doc.get("status") == "completed":
            raise Conflict("this enrolment is already completed")
        if not 0 <= completed <= int(doc.get("participants", 0)):
            raise _bad("completed", "0 to the number enrolled")
        now = max(c._clock(), parse_timestamp(doc["modified"]) + timedelta(milliseconds=1))
        doc.update(
            {"status": "completed", "completed": completed, "modified": format_timestamp(now)}
        )
        c._share(principal, doc, latest.tlp.value, latest.scope.value, None)

    def enrolments(self, principal: Principal) -> list[Enrolment]:
        """The enrolment records of the reader's organisation, newest first."""
        if principal.org is None:
            return []
        found: list[Enrolment] = []
        query = ObjectQuery(types=(RECORD,), limit=1000)
        for rows in self._c._exchange.iter_all(principal, query):
            for r in rows:
                if r.owner != principal.org:
                    continue
                doc = orjson.loads(r.doc)
                found.append(
                    Enrolment(
                        stix_id=r.stix_id,
                        course_ref=str(doc.get("course_ref", "")),
                        participants=int(doc.get("participants", 0)),
                        status=str(doc.get("status", "")),
                        completed=int(doc.get("completed", 0)),
                        enrolled=str(doc.get("created", "")),
                    )
                )
        return sorted(found, key=lambda e: (e.enrolled, e.stix_id), reverse=True)

    def figures(self, principal: Principal) -> list[TrainingFigures]:
        counts: dict[str, list[int]] = {}
        query = ObjectQuery(types=(RECORD,), limit=1000)
        for rows in self._c._exchange.iter_all(principal, query):
            for r in rows:
                doc = orjson.loads(r.doc)
                f = counts.setdefault(str(doc.get("state", "")), [0, 0, 0, 0])
                f[0] += 1
                f[2] += int(doc.get("participants", 0))
                if doc.get("status") == "completed":
                    f[1] += 1
                    f[3] += int(doc.get("completed", 0))
        return [TrainingFigures(s, *v) for s, v in sorted(counts.items())]


def _course(doc: dict[str, Any], tlp: str, scope: str) -> Course:
    tags = doc.get("tags", [])
    return Course(
        stix_id=str(doc["id"]),
        state=str(doc.get("state", "")),
        title=str(doc.get("name", "")),
        format=str(doc.get("format", "")),
        tags=tuple(str(t) for t in tags) if isinstance(tags, list) else (),
        tlp=tlp,
        scope=scope,
    )
