"""Norms implementation reports: drafts kept by their organisation, and the evidence
figures (aggregates over what a reader may see) computed from the node's own records.

Published answers live in the exchange store as STIX objects (``accord.norms.stix``);
these tables hold only what has not been published: the drafts, answer by answer, and
which version went out as which object.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Column,
    ForeignKey,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
    and_,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.engine import Connection, Engine

from accord.domain.model import Principal
from accord.domain.stix import format_timestamp
from accord.errors import Conflict, NotFound
from accord.store import gate
from accord.store.checks import CHECKS, coord_check_targets, coord_checks
from accord.store.contacts import contact_gate, coord_contacts
from accord.store.db import write
from accord.store.requests import REQUESTS, coord_requests
from accord.store.tables import metadata, organisations, stix_objects
from accord.store.types import UTCDateTime

norm_reports = Table(
    "norm_reports",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("org_id", ForeignKey("organisations.id", ondelete="CASCADE"), nullable=False),
    Column("state", String(2), nullable=False),
    Column("report_key", String(36), nullable=False, unique=True),
    Column("created", UTCDateTime, nullable=False),
    UniqueConstraint("org_id", name="uq_norm_reports_org_id"),
)

norm_versions = Table(
    "norm_versions",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("report_id", ForeignKey("norm_reports.id", ondelete="CASCADE"), nullable=False),
    Column("number", Integer, nullable=False),
    Column("status", String(10), nullable=False),  # draft | published
    Column("created", UTCDateTime, nullable=False),
    Column("published", UTCDateTime, nullable=True),
    Column("scope", String(16), nullable=True),  # where it was published
    Column("group_id", Integer, nullable=True),
    Column("stix_id", String(100), nullable=True),
    UniqueConstraint("report_id", "number", name="uq_norm_versions_report_id_number"),
)

norm_answers = Table(
    "norm_answers",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("version_id", ForeignKey("norm_versions.id", ondelete="CASCADE"), nullable=False),
    Column("item", String(20), nullable=False),
    Column("measures", Text, nullable=False),
    Column("challenges", Text, nullable=False),
    Column("documents", JSON, nullable=False),
    Column("tlp", String(20), nullable=False),
    Column("scope", String(16), nullable=False),
    Column("updated", UTCDateTime, nullable=False),
    UniqueConstraint("version_id", "item", name="uq_norm_answers_version_id_item"),
)


@dataclass(frozen=True, slots=True)
class Answer:
    item: str
    measures: str
    challenges: str
    documents: tuple[str, ...]
    tlp: str
    scope: str
    updated: datetime


@dataclass(frozen=True, slots=True)
class Version:
    id: int
    report_id: int
    org_id: int
    state: str
    report_key: str
    number: int
    status: str
    created: datetime
    published: datetime | None
    scope: str | None
    stix_id: str | None


class NormsRepository:
    """Drafts and versions of each organisation's report."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    # Versions -------------------------------------------------------------------------
    def _versions(self, conn: Connection, *where: Any) -> list[Version]:
        v, r = norm_versions.c, norm_reports.c
        stmt = (
            select(
                v.id,
                v.report_id,
                r.org_id,
                r.state,
                r.report_key,
                v.number,
                v.status,
                v.created,
                v.published,
                v.scope,
                v.stix_id,
            )
            .join(norm_reports, r.id == v.report_id)
            .where(*where)
            .order_by(v.number)
        )
        return [Version(*row) for row in conn.execute(stmt)]

    def versions_of(self, org_id: int) -> list[Version]:
        with self._engine.connect() as conn:
            return self._versions(conn, norm_reports.c.org_id == org_id)

    def version(self, version_id: int) -> Version:
        with self._engine.connect() as conn:
            found = self._versions(conn, norm_versions.c.id == version_id)
        if not found:
            raise NotFound(f"no report version {version_id}")
        return found[0]

    def new_draft(self, org_id: int, state: str, report_key: str, now: datetime) -> Version:
        """A new draft: the first version, or the next one carrying the last one's answers.
        Conflict while a draft is open."""
        r, v = norm_reports.c, norm_versions.c
        with write(self._engine) as conn:
            report_id = conn.execute(select(r.id).where(r.org_id == org_id)).scalar()
            if report_id is None:
                inserted = conn.execute(
                    insert(norm_reports).values(
                        org_id=org_id, state=state, report_key=report_key, created=now
                    )
                ).inserted_primary_key
                assert inserted is not None
                report_id = inserted[0]
            versions = self._versions(conn, v.report_id == report_id)
            if versions and versions[-1].status == "draft":
                raise Conflict(f"version {versions[-1].number} is still a draft; publish it first")
            number = versions[-1].number + 1 if versions else 1
            key = conn.execute(
                insert(norm_versions).values(
                    report_id=report_id, number=number, status="draft", created=now
                )
            ).inserted_primary_key
            assert key is not None
            new_id = key[0]
            if versions:
                a = norm_answers.c
                rows = conn.execute(
                    select(a.item, a.measures, a.challenges, a.documents, a.tlp, a.scope).where(
                        a.version_id == versions[-1].id
                    )
                ).all()
                if rows:
                    conn.execute(
                        insert(norm_answers),
                        [{**row._asdict(), "version_id": new_id, "updated": now} for row in rows],
                    )
            return self._versions(conn, v.id == new_id)[0]

    # Answers --------------------------------------------------------------------------
    def answers(self, version_id: int) -> list[Answer]:
        a = norm_answers.c
        with self._engine.connect() as conn:
            rows = conn.execute(
                select(
                    a.item, a.measures, a.challenges, a.documents, a.tlp, a.scope, a.updated
                ).where(a.version_id == version_id)
            )
            return [Answer(i, m, c, tuple(d or ()), t, s, u) for i, m, c, d, t, s, u in rows]

    def put_answer(self, version_id: int, answer: Answer) -> None:
        """Write one answer of a draft, in one transaction that re-checks it is a draft."""
        a, v = norm_answers.c, norm_versions.c
        values = {
            "measures": answer.measures,
            "challenges": answer.challenges,
            "documents": list(answer.documents),
            "tlp": answer.tlp,
            "scope": answer.scope,
            "updated": answer.updated,
        }
        with write(self._engine) as conn:
            status = conn.execute(select(v.status).where(v.id == version_id)).scalar()
            if status != "draft":
                raise Conflict("this version is published: answers can no longer change")
            done = conn.execute(
                update(norm_answers)
                .where(a.version_id == version_id, a.item == answer.item)
                .values(**values)
            ).rowcount
            if not done:
                conn.execute(
                    insert(norm_answers).values(version_id=version_id, item=answer.item, **values)
                )

    @staticmethod
    def mark_published(
        conn: Connection,
        version_id: int,
        now: datetime,
        scope: str,
        group_id: int | None,
        stix_id: str,
    ) -> None:
        """Inside the exchange's write: the draft becomes the published version."""
        v = norm_versions.c
        done = conn.execute(
            update(norm_versions)
            .where(v.id == version_id, v.status == "draft")
            .values(
                status="published", published=now, scope=scope, group_id=group_id, stix_id=stix_id
            )
        ).rowcount
        if not done:
            raise Conflict("this version is already published")


# Evidence ---------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Evidence:
    """Figures for one state over one period, counted over what the reader may see."""

    state: str
    start: datetime
    end: datetime
    requests_received: int
    requests_acknowledged: int
    requests_answered: int
    median_ack_seconds: float | None
    median_response_seconds: float | None
    contacts_by_kind: dict[str, int]
    check_targets: int
    check_responses: int
    median_check_seconds: float | None
    objects_by_scope: dict[str, int]
    sightings: int
    vulnerabilities: int


def _median(values: Sequence[float]) -> float | None:
    return statistics.median(values) if values else None


class EvidenceRepository:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._contacts = contact_gate(engine.dialect.name)

    def evidence(self, reader: Principal, state: str, start: datetime, end: datetime) -> Evidence:
        orgs = select(organisations.c.id).where(organisations.c.state == state)
        q, c, o = coord_requests.c, coord_contacts.c, stix_objects.c
        with self._engine.connect() as conn:
            requests = conn.execute(
                select(q.submitted, q.acknowledged, q.responded).where(
                    q.kind == "assistance",
                    q.recipient_org.in_(orgs),
                    q.submitted.is_not(None),
                    q.submitted >= start,
                    q.submitted < end,
                    gate.readable_rows(reader, REQUESTS),
                )
            ).all()
            contacts: dict[Any, Any] = dict(
                conn.execute(
                    select(c.kind, func.count())
                    .where(
                        c.org_id.in_(orgs),
                        c.deleted.is_(None),
                        gate.readable_rows(reader, self._contacts),
                    )
                    .group_by(c.kind)
                ).all()
            )
            t, k = coord_check_targets.c, coord_checks.c
            targets = conn.execute(
                select(k.created, t.acknowledged)
                .join(coord_checks, k.id == t.check_id)
                .where(
                    t.state == state,
                    k.created >= start,
                    k.created < end,
                    gate.readable_rows(reader, CHECKS),
                )
            ).all()
            lo, hi = format_timestamp(start), format_timestamp(end)
            shared = and_(
                o.owner_org.in_(orgs),
                ~o.type.startswith("x-accord-"),  # reports and postings are not evidence
                o.date_added >= lo,
                o.date_added < hi,
                gate.readable(reader),
            )
            by_scope: dict[Any, Any] = dict(
                conn.execute(select(o.scope, func.count()).where(shared).group_by(o.scope)).all()
            )
            by_type: dict[Any, Any] = dict(
                conn.execute(
                    select(o.type, func.count())
                    .where(shared, o.type.in_(("sighting", "vulnerability")))
                    .group_by(o.type)
                ).all()
            )
        acks = [(a - s).total_seconds() for s, a, _ in requests if a is not None and s is not None]
        answers = [
            (r - s).total_seconds() for s, _, r in requests if r is not None and s is not None
        ]
        checked = [(a - c0).total_seconds() for c0, a in targets if a is not None]
        return Evidence(
            state=state,
            start=start,
            end=end,
            requests_received=len(requests),
            requests_acknowledged=len(acks),
            requests_answered=len(answers),
            median_ack_seconds=_median(acks),
            median_response_seconds=_median(answers),
            contacts_by_kind={str(k0): int(n) for k0, n in contacts.items()},
            check_targets=len(targets),
            check_responses=len(checked),
            median_check_seconds=_median(checked),
            objects_by_scope={str(k0): int(n) for k0, n in by_scope.items()},
            sightings=int(by_type.get("sighting", 0)),
            vulnerabilities=int(by_type.get("vulnerability", 0)),
        )

    def activity(
        self, reader: Principal, start: datetime, end: datetime
    ) -> dict[str, tuple[int, int, int]]:
        """Per state, in three grouped queries: assistance requests received, objects
        shared and vulnerability objects shared in the period, over what ``reader`` may
        see (the regional view's 'with evidence' for norms (h), (d) and (j))."""
        q, o, g = coord_requests.c, stix_objects.c, organisations.c
        lo, hi = format_timestamp(start), format_timestamp(end)
        found: dict[str, list[int]] = {}
        with self._engine.connect() as conn:
            for state, n in conn.execute(
                select(g.state, func.count())
                .join(organisations, g.id == q.recipient_org)
                .where(
                    q.kind == "assistance",
                    q.submitted.is_not(None),
                    q.submitted >= start,
                    q.submitted < end,
                    gate.readable_rows(reader, REQUESTS),
                )
                .group_by(g.state)
            ):
                found.setdefault(state, [0, 0, 0])[0] = int(n)
            shared = (
                select(g.state, o.type, func.count())
                .join(organisations, g.id == o.owner_org)
                .where(
                    g.state.is_not(None),
                    o.date_added >= lo,
                    o.date_added < hi,
                    gate.readable(reader),
                )
                .group_by(g.state, o.type)
            )
            for state, kind, n in conn.execute(shared):
                if kind.startswith("x-accord-"):  # the reports themselves are not evidence
                    continue
                counts = found.setdefault(state, [0, 0, 0])
                counts[1] += int(n)
                if kind == "vulnerability":
                    counts[2] += int(n)
        return {s: (c[0], c[1], c[2]) for s, c in found.items() if s}

    def marker(self, stix_type: str) -> tuple[int, int]:
        """(newest pk, count) of the stored versions of one type: it changes whenever a
        version of that type is stored or deleted, so a cache keyed by it stays true."""
        o = stix_objects.c
        with self._engine.connect() as conn:
            top, count = conn.execute(
                select(func.max(o.pk), func.count()).where(o.type == stix_type)
            ).one()
        return int(top or 0), int(count)
