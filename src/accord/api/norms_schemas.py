"""Request and response bodies of the norms endpoints."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from accord.api.fields import Input, one_of
from accord.norms.framework import Framework
from accord.norms.service import ANSWER_SCOPES, TARGETS, Draft, Matrix, StateReport
from accord.store.norms import Evidence


class _Read(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class DraftCreate(Input):
    org: str | None = Field(
        default=None, max_length=200, description="Name or identity id; omit: your own."
    )


class AnswerIn(Input):
    measures: str = Field(default="", max_length=20_000, description="Measures taken.")
    challenges: str = Field(
        default="", max_length=20_000, description="Challenges and capacity gaps."
    )
    documents: list[str] = Field(
        default_factory=list, max_length=20, description="Supporting documents (titles or URLs)."
    )
    tlp: str = Field(default="TLP:GREEN", max_length=20)
    scope: str = Field(
        default="community",
        max_length=16,
        json_schema_extra=one_of(s.value for s in ANSWER_SCOPES),
    )


class PublishIn(Input):
    target: str = Field(max_length=16, json_schema_extra=one_of(s.value for s in TARGETS))
    group: str | None = Field(default=None, max_length=80, description="A sharing group's slug.")


class VersionPublic(_Read):
    id: int
    state: str
    number: int
    status: str
    created: datetime
    published: datetime | None
    scope: str | None
    stix_id: str | None


class AnswerPublic(_Read):
    item: str
    measures: str
    challenges: str
    documents: list[str]
    tlp: str
    scope: str


class DraftPublic(BaseModel):
    version: VersionPublic
    answers: list[AnswerPublic]


def draft_public(draft: Draft) -> DraftPublic:
    return DraftPublic(
        version=VersionPublic.model_validate(draft.version),
        answers=[AnswerPublic.model_validate(a) for a in draft.answers],
    )


class NormPublic(_Read):
    code: str
    title: str
    text: str
    source: str


class PartPublic(BaseModel):
    number: str
    code: str
    title: str
    items: list[str]


class FrameworkPublic(BaseModel):
    norms: list[NormPublic]
    note: str
    survey: str
    survey_source: str
    parts: list[PartPublic]


def framework_public(f: Framework) -> FrameworkPublic:
    return FrameworkPublic(
        norms=[NormPublic.model_validate(n) for n in f.norms],
        note=f.norms_note,
        survey=f.survey_name,
        survey_source=f.survey_source,
        parts=[
            PartPublic(number=p.number, code=p.code, title=p.title, items=list(p.items))
            for p in f.parts
        ],
    )


class EvidencePublic(_Read):
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


def evidence_public(e: Evidence) -> EvidencePublic:
    return EvidencePublic.model_validate(e)


class PublishedAnswerPublic(_Read):
    item: str
    measures: str
    challenges: str
    documents: list[str]
    tlp: str
    scope: str
    published: str


class StateReportPublic(BaseModel):
    state: str
    version: int | None
    versions: list[int]
    answers: list[PublishedAnswerPublic]
    evidence: EvidencePublic


def state_report_public(
    report: StateReport, version: int | None, evidence: Evidence
) -> StateReportPublic:
    answers = report.versions.get(version, {}) if version is not None else {}
    return StateReportPublic(
        state=report.state,
        version=version,
        versions=sorted(report.versions),
        answers=[PublishedAnswerPublic.model_validate(a) for _, a in sorted(answers.items())],
        evidence=evidence_public(evidence),
    )


class MatrixRowPublic(BaseModel):
    state: str
    cells: dict[str, str] = Field(description="norm code: reported | evidence | none")


class MatrixPublic(BaseModel):
    norms: list[str]
    rows: list[MatrixRowPublic]


def matrix_public(m: Matrix) -> MatrixPublic:
    return MatrixPublic(
        norms=m.norms,
        rows=[
            MatrixRowPublic(state=s, cells={n: m.cells[(s, n)] for n in m.norms}) for s in m.states
        ],
    )


class AssessmentIn(Input):
    framework: str = Field(max_length=8, json_schema_extra=one_of(("cmm", "gci")))
    scores: dict[str, int] = Field(
        max_length=10, description="dimension or pillar code: stage 1 (start-up) to 5 (dynamic)"
    )
    target: int = Field(ge=-1000, le=1000, description="The stage aimed at, 1 to 5.")
    tlp: str = Field(default="TLP:AMBER", max_length=20)
    scope: str = Field(default="organisation", max_length=16)
    group: str | None = Field(default=None, max_length=80)


class AssessmentPublic(_Read):
    stix_id: str
    state: str
    framework: str
    scores: dict[str, int]
    target: int
    assessed: str
    tlp: str
    scope: str
    gaps: dict[str, int]


def assessment_public(a: Any) -> AssessmentPublic:
    return AssessmentPublic(
        stix_id=a.stix_id,
        state=a.state,
        framework=a.framework,
        scores=a.scores,
        target=a.target,
        assessed=a.assessed,
        tlp=a.tlp,
        scope=a.scope,
        gaps=a.gaps(),
    )


class PostingIn(Input):
    kind: str = Field(
        max_length=20, json_schema_extra=one_of(("training", "expert-mission", "tools", "funding"))
    )
    title: str = Field(max_length=300)
    tags: list[str] = Field(max_length=20, description="Dimension, pillar or norm codes.")
    tlp: str = Field(default="TLP:GREEN", max_length=20)
    scope: str = Field(default="federation", max_length=16)
    group: str | None = Field(default=None, max_length=80)


class PostingPublic(_Read):
    stix_id: str
    type: str
    state: str
    kind: str
    title: str
    tags: list[str]
    step: str
    offer_ref: str | None
    owner: str | None
    updated: str
    tlp: str
    scope: str


class MatchPublic(BaseModel):
    need: PostingPublic
    offer: PostingPublic
    shared: list[str]


class StepIn(Input):
    step: str = Field(
        max_length=12,
        json_schema_extra=one_of(("open", "matched", "agreed", "delivered", "evaluated")),
    )
    offer: str | None = Field(default=None, max_length=100)


class CourseIn(Input):
    title: str = Field(max_length=300)
    format: str = Field(max_length=12, json_schema_extra=one_of(("course", "e-learning")))
    tags: list[str] = Field(default_factory=list, max_length=20)
    tlp: str = Field(default="TLP:CLEAR", max_length=20)
    scope: str = Field(default="public", max_length=16)


class CoursePublic(_Read):
    stix_id: str
    state: str
    title: str
    format: str
    tags: list[str]
    tlp: str
    scope: str


class EnrolmentIn(Input):
    participants: int = Field(ge=-1_000_000, le=1_000_000)
    tlp: str = Field(default="TLP:GREEN", max_length=20)
    scope: str = Field(default="community", max_length=16)


class EnrolmentPublic(BaseModel):
    stix_id: str


class CompletionIn(Input):
    completed: int = Field(ge=-1_000_000, le=1_000_000)


class TrainingFiguresPublic(_Read):
    state: str
    enrolments: int
    completions: int
    participants: int
    completed_participants: int


class TrendPointPublic(BaseModel):
    version: int
    answers: int = Field(description="Answers of that version you may read.")
