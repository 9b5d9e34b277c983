"""The node's own administration: organisations, sharing groups and API tokens."""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter, Request
from fastapi.responses import Response

from accord.domain.model import OrgKind, Role
from accord.domain.states import states
from accord.errors import InvalidInput
from accord.http import NodeDep, RowId
from accord.web.pages import AdminDep, FormDep, ViewerDep, field
from accord.web.render import page, redirect

router = APIRouter()


@router.get("/organisations")
def read_organisations(request: Request, node: NodeDep, viewer: ViewerDep) -> Response:
    return page(
        request,
        "organisations.html",
        viewer,
        title="Organisations",
        orgs=node.accounts.orgs.all(),
        kinds=list(OrgKind),
        states=sorted(states().items(), key=lambda item: item[1]),
    )


@router.post("/organisations")
def create_organisation(
    request: Request, node: NodeDep, viewer: AdminDep, form: FormDep
) -> Response:
    node.accounts.add_org(
        viewer.principal, field(form, "name"), field(form, "kind"), field(form, "state") or None
    )
    return redirect(request, "/organisations")


@router.get("/groups")
def read_groups(request: Request, node: NodeDep, viewer: ViewerDep) -> Response:
    orgs = {o.id: o for o in node.accounts.orgs.all()}
    groups = [
        (g, sorted((orgs[m] for m in g.members if m in orgs), key=lambda o: o.name))
        for g in node.accounts.visible_groups(viewer.principal)
    ]
    return page(
        request,
        "groups.html",
        viewer,
        title="Sharing groups",
        groups=groups,
        orgs=sorted(orgs.values(), key=lambda o: o.name),
    )


@router.post("/groups")
def create_group(request: Request, node: NodeDep, viewer: AdminDep, form: FormDep) -> Response:
    node.accounts.add_group(
        viewer.principal, field(form, "slug"), field(form, "name"), field(form, "description")
    )
    return redirect(request, "/groups")


@router.post("/groups/{slug}/members")
def create_member(
    request: Request, node: NodeDep, viewer: AdminDep, slug: str, form: FormDep
) -> Response:
    member = field(form, "change") != "remove"
    node.accounts.set_member(viewer.principal, slug, field(form, "organisation"), member)
    return redirect(request, "/groups")


@router.get("/tokens")
def read_tokens(request: Request, node: NodeDep, viewer: AdminDep) -> Response:
    return _tokens(request, node, viewer, None)


def _tokens(request: Request, node: NodeDep, viewer: AdminDep, created: str | None) -> Response:
    orgs = {o.id: o for o in node.accounts.orgs.all()}
    return page(
        request,
        "tokens.html",
        viewer,
        status=201 if created else 200,
        title="API tokens",
        tokens=node.accounts.list_tokens(viewer.principal),
        orgs=orgs,
        roles=list(Role),
        created=created,
    )


@router.post("/tokens")
def create_token(request: Request, node: NodeDep, viewer: AdminDep, form: FormDep) -> Response:
    days = field(form, "days")
    try:
        lifetime = timedelta(days=float(days)) if days else None
    except ValueError:
        raise InvalidInput("the lifetime is a number of days") from None
    new = node.accounts.create_token(
        viewer.principal,
        field(form, "organisation"),
        field(form, "role"),
        field(form, "name"),
        lifetime,
    )
    # Shown once, on this response only: never in a URL or a redirect.
    return _tokens(request, node, viewer, new.plaintext)


@router.post("/tokens/{token_id}/revoke")
def create_revocation(
    request: Request, node: NodeDep, viewer: AdminDep, token_id: RowId, form: FormDep
) -> Response:
    node.accounts.revoke_token(viewer.principal, token_id)
    return redirect(request, "/tokens")


@router.get("/signins")
def read_signins(request: Request, node: NodeDep, viewer: AdminDep) -> Response:
    return page(
        request,
        "signins.html",
        viewer,
        title="Sign-ins",
        report=node.accounts.signin_report(viewer.principal),
    )
