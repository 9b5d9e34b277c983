"""Norms implementation reports in the console: the regional view, a state's report with
the live evidence beside it, comparisons, and drafting one's own organisation's report."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from markupsafe import Markup

from accord.errors import InvalidInput, Problem
from accord.http import NodeDep, RowId
from accord.norms.capability import NORMS
from accord.norms.capacity import FORMATS, KINDS, OFFER, Assessment, Capacity, Training
from accord.norms.export import (
    STATUS_LABEL,
    assessment_svg,
    matrix_svg,
    report_body,
    report_pdf,
)
from accord.norms.service import ANSWER_SCOPES, TARGETS, AnswerInput
from accord.web.pages import FormDep, ViewerDep, field, fields
from accord.web.render import page, redirect

router = APIRouter()


@router.get("/norms")
def read_norms(
    request: Request, node: NodeDep, viewer: ViewerDep, group: str | None = None
) -> Response:
    service = NORMS.service(node)
    principal = viewer.principal
    states = service.group_states(principal, group) if group else None
    m = service.matrix(principal, states)
    groups = [g for g in node.accounts.visible_groups(principal) if g.id in principal.groups]
    return page(
        request,
        "norms.html",
        viewer,
        title="Norms implementation",
        svg=Markup(matrix_svg(m)),  # every text in it is escaped by matrix_svg
        m=m,
        labels=STATUS_LABEL,
        groups=groups,
        group=group,
        versions=service.versions(principal),
        framework=service.framework,
    )


@router.post("/norms/drafts")
def create_draft(request: Request, node: NodeDep, viewer: ViewerDep, form: FormDep) -> Response:
    version = NORMS.service(node).start_draft(viewer.principal)
    return redirect(request, f"/norms/drafts/{version.id}")


@router.get("/norms/drafts/{version_id}")
def read_draft(request: Request, node: NodeDep, viewer: ViewerDep, version_id: RowId) -> Response:
    service = NORMS.service(node)
    draft = service.draft(viewer.principal, version_id)
    return page(
        request,
        "norms_draft.html",
        viewer,
        title=f"Report version {draft.version.number}",
        draft=draft,
        answers={a.item: a for a in draft.answers},
        framework=service.framework,
        scopes=[s.value for s in ANSWER_SCOPES],
        targets=[s.value for s in TARGETS],
        groups=[
            g
            for g in node.accounts.visible_groups(viewer.principal)
            if g.id in viewer.principal.groups
        ],
    )


@router.post("/norms/drafts/{version_id}/answers")
def update_answer(
    request: Request, node: NodeDep, viewer: ViewerDep, version_id: RowId, form: FormDep
) -> Response:
    documents = tuple(d.strip() for d in field(form, "documents").splitlines() if d.strip())
    NORMS.service(node).answer(
        viewer.principal,
        version_id,
        AnswerInput(
            item=field(form, "item"),
            measures=field(form, "measures"),
            challenges=field(form, "challenges"),
            documents=documents,
            tlp=field(form, "tlp") or "TLP:GREEN",
            scope=field(form, "scope") or "community",
        ),
    )
    return redirect(request, f"/norms/drafts/{version_id}")


@router.post("/norms/drafts/{version_id}/publish")
def publish_draft(
    request: Request, node: NodeDep, viewer: ViewerDep, version_id: RowId, form: FormDep
) -> Response:
    NORMS.service(node).publish(
        viewer.principal, version_id, field(form, "target"), field(form, "group") or None
    )
    return redirect(request, "/norms")


@router.get("/norms/reports/{state}")
def read_report(request: Request, node: NodeDep, viewer: ViewerDep, state: str) -> Response:
    service = NORMS.service(node)
    report, number = service.state_report(viewer.principal, state)
    evidence = service.evidence(viewer.principal, report.state)
    body = Markup(report_body(service.framework, report, number, evidence))  # escaped inside
    return page(
        request,
        "norms_report.html",
        viewer,
        title=f"Norms report: {report.state}",
        body=body,
        state=report.state,
        trend=service.trend(viewer.principal, report.state),
    )


@router.get("/norms/reports/{state}/pdf")
def read_report_pdf(request: Request, node: NodeDep, viewer: ViewerDep, state: str) -> Response:
    service = NORMS.service(node)
    report, number = service.state_report(viewer.principal, state)
    pdf = report_pdf(
        service.framework, report, number, service.evidence(viewer.principal, report.state)
    )
    return Response(
        pdf,
        media_type="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="norms-{report.state}.pdf"'},
    )


@router.get("/norms/compare")
def read_compare(request: Request, node: NodeDep, viewer: ViewerDep) -> Response:
    service = NORMS.service(node)
    states = [
        s for v in request.query_params.getlist("states") for s in v.replace(",", " ").split()
    ]
    if not states:
        raise InvalidInput("name one to three states to compare (states=SG,MY)")
    compared = service.compare(viewer.principal, states)
    return page(
        request,
        "norms_compare.html",
        viewer,
        title="Compare norms reports",
        compared=compared,
        framework=service.framework,
    )


def _capacity(node: Any) -> Capacity:
    capacity = NORMS.service(node).capacity
    assert capacity is not None
    return capacity


@router.get("/norms/capacity")
def read_capacity(
    request: Request, node: NodeDep, viewer: ViewerDep, state: str | None = None
) -> Response:
    capacity = _capacity(node)
    principal = viewer.principal
    own = node.accounts.orgs.get(principal.org).state if principal.org is not None else None
    shown = (state or own or "").strip().upper()[:2]
    f = capacity.framework
    titles = {d.code: d.title for d in (*f.dimensions, *f.pillars)}
    latest: dict[str, Assessment] = {}
    postings = capacity.postings(principal)
    for a in capacity.assessments(principal, shown) if shown else []:
        latest[a.framework] = a
    charts = [
        (a, Markup(assessment_svg(a, titles, f.stages)))  # escaped inside
        for a in latest.values()
    ]
    return page(
        request,
        "norms_capacity.html",
        viewer,
        title="Capacity building",
        state=shown,
        charts=charts,
        titles=titles,
        framework=f,
        postings=postings,
        offers=[p for p in postings if p.type == OFFER],
        matches=capacity.matches(principal),
        next_steps=capacity.next_steps(principal, postings),
        kinds=KINDS,
    )


@router.post("/norms/capacity/assessments")
def create_assessment(
    request: Request, node: NodeDep, viewer: ViewerDep, form: FormDep
) -> Response:
    framework = field(form, "framework") or "cmm"
    scores: dict[str, int] = {}
    for code in [d.code for d in _capacity(node).framework.dimensions] + [
        p.code for p in _capacity(node).framework.pillars
    ]:
        value = field(form, f"score-{code}")
        if value:
            if not value.isdigit():
                raise InvalidInput(f"the stage of {code} is a number from 1 to 5")
            scores[code] = int(value)
    target = field(form, "target")
    if not target.isdigit():
        raise InvalidInput("the target stage is a number from 1 to 5")
    _capacity(node).assess(
        viewer.principal,
        framework,
        scores,
        int(target),
        field(form, "tlp") or "TLP:AMBER",
        field(form, "scope") or "organisation",
    )
    return redirect(request, "/norms/capacity")


@router.post("/norms/capacity/postings")
def create_posting(request: Request, node: NodeDep, viewer: ViewerDep, form: FormDep) -> Response:
    _capacity(node).post(
        viewer.principal,
        field(form, "what"),
        field(form, "kind"),
        field(form, "title"),
        fields(form, "tags"),
        field(form, "tlp") or "TLP:GREEN",
        field(form, "scope") or "federation",
    )
    return redirect(request, "/norms/capacity")


@router.post("/norms/capacity/needs/{need_id}/step")
def create_step(
    request: Request, node: NodeDep, viewer: ViewerDep, need_id: str, form: FormDep
) -> Response:
    _capacity(node).advance(
        viewer.principal, need_id, field(form, "step"), field(form, "offer") or None
    )
    return redirect(request, "/norms/capacity")


def _training(node: Any) -> Training:
    training = NORMS.service(node).training
    assert training is not None
    return training


def _count(form: Any, name: str) -> int:
    """A whole number the form gives (the service checks its range)."""
    value = field(form, name)
    if not (value.isascii() and value.isdigit() and len(value) <= 9):
        why = "a whole number"
        raise InvalidInput(f"'{name}': {why}", [Problem(why, field=name)])
    return int(value)


@router.get("/norms/training")
def read_training(request: Request, node: NodeDep, viewer: ViewerDep) -> Response:
    training = _training(node)
    principal = viewer.principal
    courses = training.courses(principal)
    titles = {c.stix_id: c.title for c in courses}
    return page(
        request,
        "norms_training.html",
        viewer,
        title="Training",
        courses=courses,
        titles=titles,
        figures=training.figures(principal),
        enrolments=training.enrolments(principal),
        formats=FORMATS,
    )


@router.post("/norms/training/courses")
def create_course(request: Request, node: NodeDep, viewer: ViewerDep, form: FormDep) -> Response:
    _training(node).add_course(
        viewer.principal,
        field(form, "title"),
        field(form, "format"),
        fields(form, "tags"),
        field(form, "tlp") or "TLP:CLEAR",
        field(form, "scope") or "public",
    )
    return redirect(request, "/norms/training")


@router.post("/norms/training/enrolments")
def create_enrolment(request: Request, node: NodeDep, viewer: ViewerDep, form: FormDep) -> Response:
    _training(node).enrol(viewer.principal, field(form, "course"), _count(form, "participants"))
    return redirect(request, "/norms/training")


@router.post("/norms/training/completions")
def create_completion(
    request: Request, node: NodeDep, viewer: ViewerDep, form: FormDep
) -> Response:
    _training(node).complete(viewer.principal, field(form, "enrolment"), _count(form, "completed"))
    return redirect(request, "/norms/training")
