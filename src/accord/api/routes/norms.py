"""Norms implementation reports: drafts, answers, publishing; the regional view, evidence."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, status
from fastapi.responses import Response

from accord.api.deps import CurrentPrincipal, MaybePrincipal
from accord.api.fields import RowId, Text
from accord.api.norms_schemas import (
    AnswerIn,
    AnswerPublic,
    AssessmentIn,
    AssessmentPublic,
    CompletionIn,
    CourseIn,
    CoursePublic,
    DraftCreate,
    DraftPublic,
    EnrolmentIn,
    EnrolmentPublic,
    EvidencePublic,
    FrameworkPublic,
    MatchPublic,
    MatrixPublic,
    PostingIn,
    PostingPublic,
    PublishIn,
    StateReportPublic,
    StepIn,
    TrainingFiguresPublic,
    TrendPointPublic,
    VersionPublic,
    assessment_public,
    draft_public,
    evidence_public,
    framework_public,
    matrix_public,
    state_report_public,
)
from accord.api.openapi import errors
from accord.http import NodeDep
from accord.norms.capability import NORMS
from accord.norms.capacity import Capacity, Training
from accord.norms.export import (
    matrix_csv,
    matrix_html,
    matrix_svg,
    pdf_of,
    report_html,
    report_pdf,
)
from accord.norms.service import AnswerInput

router = APIRouter(prefix="/norms", tags=["norms"])

States = Annotated[list[Text], Query(max_length=30)]


@router.get("/framework", response_model=FrameworkPublic)
def read_framework(node: NodeDep) -> FrameworkPublic:
    """The eleven norms (with their sources) and UNIDIR's survey parts."""
    return framework_public(NORMS.service(node).framework)


@router.get("/versions", response_model=list[VersionPublic])
def read_versions(node: NodeDep, principal: CurrentPrincipal) -> list[VersionPublic]:
    """Every version of your organisation's report, drafts included."""
    return [VersionPublic.model_validate(v) for v in NORMS.service(node).versions(principal)]


@router.post(
    "/versions",
    response_model=VersionPublic,
    status_code=status.HTTP_201_CREATED,
    responses=errors(403, 404, 409, 422),
)
def create_version(body: DraftCreate, node: NodeDep, principal: CurrentPrincipal) -> VersionPublic:
    """Start a draft (the first version, or the next, carrying the last one's answers)."""
    version = NORMS.service(node).start_draft(principal, body.org)
    return VersionPublic.model_validate(version)


@router.get("/versions/{version_id}", response_model=DraftPublic, responses=errors(404))
def read_version(version_id: RowId, node: NodeDep, principal: CurrentPrincipal) -> DraftPublic:
    """One version of your organisation's report, with every answer."""
    return draft_public(NORMS.service(node).draft(principal, version_id))


@router.put(
    "/versions/{version_id}/answers/{item}",
    response_model=AnswerPublic,
    responses=errors(403, 404, 409, 422),
)
def update_answer(
    version_id: RowId, item: Text, body: AnswerIn, node: NodeDep, principal: CurrentPrincipal
) -> AnswerPublic:
    """Write one answer of a draft (409 once the version is published)."""
    given = AnswerInput(
        item=item,
        measures=body.measures,
        challenges=body.challenges,
        documents=tuple(body.documents),
        tlp=body.tlp,
        scope=body.scope,
    )
    return AnswerPublic.model_validate(NORMS.service(node).answer(principal, version_id, given))


@router.post(
    "/versions/{version_id}/publish",
    response_model=VersionPublic,
    responses=errors(403, 404, 409, 422),
)
def publish_version(
    version_id: RowId, body: PublishIn, node: NodeDep, principal: CurrentPrincipal
) -> VersionPublic:
    """Publish a draft: each answer as a STIX object under its own marking and scope."""
    version = NORMS.service(node).publish(principal, version_id, body.target, body.group)
    return VersionPublic.model_validate(version)


@router.get("/reports/{state}", response_model=StateReportPublic, responses=errors(404))
def read_state_report(
    state: Text,
    node: NodeDep,
    principal: MaybePrincipal,
    version: Annotated[int | None, Query(ge=1, le=1_000_000)] = None,
) -> StateReportPublic:
    """A state's published report as you may read it, with the live evidence beside it."""
    service = NORMS.service(node)
    report, number = service.state_report(principal, state, version)
    return state_report_public(report, number, service.evidence(principal, report.state))


@router.get("/reports/{state}/html", response_class=Response, responses=errors(404))
def read_state_report_html(state: Text, node: NodeDep, principal: MaybePrincipal) -> Response:
    """The report laid out like UNIDIR's survey, as a standalone HTML document."""
    service = NORMS.service(node)
    report, number = service.state_report(principal, state)
    html = report_html(service.framework, report, number, service.evidence(principal, report.state))
    return Response(html, media_type="text/html; charset=utf-8")


@router.get("/reports/{state}/pdf", response_class=Response, responses=errors(404))
def read_state_report_pdf(state: Text, node: NodeDep, principal: MaybePrincipal) -> Response:
    """The same report as PDF (WeasyPrint)."""
    service = NORMS.service(node)
    report, number = service.state_report(principal, state)
    pdf = report_pdf(service.framework, report, number, service.evidence(principal, report.state))
    return Response(pdf, media_type="application/pdf")


@router.get("/evidence/{state}", response_model=EvidencePublic, responses=errors(404))
def read_evidence(
    state: Text,
    node: NodeDep,
    principal: MaybePrincipal,
    start: datetime | None = None,
    end: datetime | None = None,
) -> EvidencePublic:
    """Figures from this node's records for a state and period, over what you may see."""
    return evidence_public(NORMS.service(node).evidence(principal, state, start, end))


@router.get("/matrix", response_model=MatrixPublic, responses=errors(404))
def read_matrix(
    node: NodeDep,
    principal: MaybePrincipal,
    group: Text | None = None,
) -> MatrixPublic:
    """States by norms: reported, with evidence, or no report (a sharing group's states)."""
    service = NORMS.service(node)
    states = service.group_states(principal, group) if group else None
    return matrix_public(service.matrix(principal, states))


@router.get("/matrix.svg", response_class=Response, responses=errors(404))
def read_matrix_svg(
    node: NodeDep, principal: MaybePrincipal, group: Text | None = None
) -> Response:
    """The regional view drawn as SVG."""
    service = NORMS.service(node)
    states = service.group_states(principal, group) if group else None
    return Response(matrix_svg(service.matrix(principal, states)), media_type="image/svg+xml")


@router.get("/matrix.pdf", response_class=Response, responses=errors(404))
def read_matrix_pdf(
    node: NodeDep, principal: MaybePrincipal, group: Text | None = None
) -> Response:
    """The regional view as PDF."""
    service = NORMS.service(node)
    states = service.group_states(principal, group) if group else None
    pdf = pdf_of(matrix_html(service.matrix(principal, states)))
    return Response(pdf, media_type="application/pdf")


@router.get("/matrix.csv", response_class=Response, responses=errors(404))
def read_matrix_csv(
    node: NodeDep, principal: MaybePrincipal, group: Text | None = None
) -> Response:
    """The regional view as CSV."""
    service = NORMS.service(node)
    states = service.group_states(principal, group) if group else None
    return Response(matrix_csv(service.matrix(principal, states)), media_type="text/csv")


@router.get("/compare", response_model=list[StateReportPublic], responses=errors(404))
def read_comparison(
    node: NodeDep, principal: MaybePrincipal, states: States
) -> list[StateReportPublic]:
    """Up to three states side by side (their latest versions as you may read them)."""
    service = NORMS.service(node)
    return [
        state_report_public(r, r.latest, service.evidence(principal, s))
        for s, r in service.compare(principal, states).items()
    ]


def _capacity(node: Any) -> Capacity:
    capacity = NORMS.service(node).capacity
    assert capacity is not None
    return capacity


@router.post(
    "/assessments",
    response_model=AssessmentPublic,
    status_code=status.HTTP_201_CREATED,
    responses=errors(403, 404, 422),
)
def create_assessment(
    body: AssessmentIn, node: NodeDep, principal: CurrentPrincipal
) -> AssessmentPublic:
    """A capacity self-assessment (a new version of your organisation's, for that framework)."""
    a = _capacity(node).assess(
        principal, body.framework, body.scores, body.target, body.tlp, body.scope, body.group
    )
    return assessment_public(a)


@router.get("/assessments/{state}", response_model=list[AssessmentPublic])
def read_assessments(
    state: Text, node: NodeDep, principal: MaybePrincipal
) -> list[AssessmentPublic]:
    """Every version of a state's self-assessments you may read, oldest first, with gaps."""
    return [assessment_public(a) for a in _capacity(node).assessments(principal, state)]


@router.post(
    "/needs",
    response_model=PostingPublic,
    status_code=status.HTTP_201_CREATED,
    responses=errors(403, 404, 422),
)
def create_need(body: PostingIn, node: NodeDep, principal: CurrentPrincipal) -> PostingPublic:
    """Post a need (training, expert mission, tools, funding), tagged."""
    p = _capacity(node).post(
        principal, "need", body.kind, body.title, body.tags, body.tlp, body.scope, body.group
    )
    return PostingPublic.model_validate(p)


@router.post(
    "/offers",
    response_model=PostingPublic,
    status_code=status.HTTP_201_CREATED,
    responses=errors(403, 404, 422),
)
def create_offer(body: PostingIn, node: NodeDep, principal: CurrentPrincipal) -> PostingPublic:
    """Post an offer, tagged like the needs it may meet."""
    p = _capacity(node).post(
        principal, "offer", body.kind, body.title, body.tags, body.tlp, body.scope, body.group
    )
    return PostingPublic.model_validate(p)


@router.get("/postings", response_model=list[PostingPublic])
def read_postings(node: NodeDep, principal: MaybePrincipal) -> list[PostingPublic]:
    """Needs and offers you may read."""
    return [PostingPublic.model_validate(p) for p in _capacity(node).postings(principal)]


@router.get("/matches", response_model=list[MatchPublic])
def read_matches(node: NodeDep, principal: MaybePrincipal) -> list[MatchPublic]:
    """Proposed matches: each open need with the offers sharing its tags."""
    return [
        MatchPublic(
            need=PostingPublic.model_validate(m.need),
            offer=PostingPublic.model_validate(m.offer),
            shared=list(m.shared),
        )
        for m in _capacity(node).matches(principal)
    ]


@router.post(
    "/needs/{need_id}/step",
    response_model=PostingPublic,
    responses=errors(403, 404, 409, 422),
)
def create_step(
    need_id: Text, body: StepIn, node: NodeDep, principal: CurrentPrincipal
) -> PostingPublic:
    """Move your need on: matched (naming the offer), agreed, delivered, evaluated."""
    p = _capacity(node).advance(principal, need_id, body.step, body.offer)
    return PostingPublic.model_validate(p)


def _training(node: Any) -> Training:
    training = NORMS.service(node).training
    assert training is not None
    return training


@router.post(
    "/courses",
    response_model=CoursePublic,
    status_code=status.HTTP_201_CREATED,
    responses=errors(403, 404, 422),
)
def create_course(body: CourseIn, node: NodeDep, principal: CurrentPrincipal) -> CoursePublic:
    """Add a course or e-learning module to the catalogue, shared by its scope."""
    c = _training(node).add_course(
        principal, body.title, body.format, body.tags, body.tlp, body.scope
    )
    return CoursePublic.model_validate(c)


@router.get("/courses", response_model=list[CoursePublic])
def read_courses(node: NodeDep, principal: MaybePrincipal) -> list[CoursePublic]:
    """The catalogue: courses you may read."""
    return [CoursePublic.model_validate(c) for c in _training(node).courses(principal)]


@router.post(
    "/courses/{course_id}/enrolments",
    response_model=EnrolmentPublic,
    status_code=status.HTTP_201_CREATED,
    responses=errors(403, 404, 422),
)
def create_enrolment(
    course_id: Text, body: EnrolmentIn, node: NodeDep, principal: CurrentPrincipal
) -> EnrolmentPublic:
    """Enrol participants of your organisation in a course."""
    record = _training(node).enrol(principal, course_id, body.participants, body.tlp, body.scope)
    return EnrolmentPublic(stix_id=record)


@router.post(
    "/enrolments/{record_id}/completion",
    response_model=EnrolmentPublic,
    responses=errors(403, 404, 409, 422),
)
def create_completion(
    record_id: Text, body: CompletionIn, node: NodeDep, principal: CurrentPrincipal
) -> EnrolmentPublic:
    """Record how many of an enrolment's participants completed the course."""
    _training(node).complete(principal, record_id, body.completed)
    return EnrolmentPublic(stix_id=record_id)


@router.get("/training", response_model=list[TrainingFiguresPublic])
def read_training(node: NodeDep, principal: MaybePrincipal) -> list[TrainingFiguresPublic]:
    """Enrolments and completions per state, over the records you may read."""
    return [TrainingFiguresPublic.model_validate(f) for f in _training(node).figures(principal)]


@router.get("/reports/{state}/trend", response_model=list[TrendPointPublic], responses=errors(404))
def read_trend(state: Text, node: NodeDep, principal: MaybePrincipal) -> list[TrendPointPublic]:
    """How many answers you may read in each published version of a state's report."""
    return [
        TrendPointPublic(version=v, answers=n)
        for v, n in NORMS.service(node).trend(principal, state)
    ]
