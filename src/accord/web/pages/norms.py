"""Norms implementation reports in the console: the regional view, a state's report with
the live evidence beside it, comparisons, and drafting one's own organisation's report."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response
from markupsafe import Markup

from accord.errors import InvalidInput
from accord.http import NodeDep, RowId
from accord.norms.capability import NORMS
from accord.norms.export import STATUS_LABEL, matrix_svg, report_body, report_pdf
from accord.norms.service import ANSWER_SCOPES, TARGETS, AnswerInput
from accord.web.pages import FormDep, ViewerDep, field
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
