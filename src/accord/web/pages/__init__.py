"""The console's pages, one module per area, and the dependencies they share."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from starlette.datastructures import FormData

from accord.domain.text import unstorable
from accord.errors import InvalidInput, Problem
from accord.http import NodeDep
from accord.web import session
from accord.web.session import CSRF_FIELD, Viewer


def _viewer(request: Request, node: NodeDep) -> Viewer:
    return session.require(request, node)


def _admin(request: Request, node: NodeDep) -> Viewer:
    return session.require_admin(request, node)


def _maybe(request: Request, node: NodeDep) -> Viewer | None:
    return session.viewer(request, node)


async def _form(request: Request, node: NodeDep) -> FormData:
    """The posted form, once its CSRF token checks out."""
    form = await request.form()
    sent = form.get(CSRF_FIELD)
    session.check_csrf(
        request, sent if isinstance(sent, str) else "", session.viewer(request, node)
    )
    refused = [
        Problem(why, field=name)
        for name, value in form.multi_items()
        if isinstance(value, str) and (why := unstorable(name + value))
    ]
    if refused:
        raise InvalidInput("the form holds text no store can keep", refused)
    return form


ViewerDep = Annotated[Viewer, Depends(_viewer)]
AdminDep = Annotated[Viewer, Depends(_admin)]
MaybeViewerDep = Annotated[Viewer | None, Depends(_maybe)]
FormDep = Annotated[FormData, Depends(_form)]


def field(form: FormData, name: str) -> str:
    """A text field of the form, stripped; empty when absent."""
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""


def fields(form: FormData, name: str) -> list[str]:
    """Every non-empty value of a repeated field, or of one comma/space separated field."""
    out: list[str] = []
    for value in form.getlist(name):
        if isinstance(value, str):
            out.extend(v for v in value.replace(",", " ").split() if v)
    return out
