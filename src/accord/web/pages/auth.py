"""Sign in with a username and password or an API token; sign out."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from accord.accounts import SESSION, NewToken
from accord.errors import NotAuthenticated, TooManyAttempts
from accord.http import NodeDep, client_address
from accord.web.pages import FormDep, MaybeViewerDep, ViewerDep, field
from accord.web.render import page, redirect
from accord.web.session import SESSION_COOKIE, set_cookie

router = APIRouter()


def _local(target: str) -> str:
    """Only a path on this node: never an open redirect to another site."""
    if target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/"


@router.get("/signin")
def read_signin(request: Request, viewer: MaybeViewerDep, next: str = "/") -> Response:
    if viewer is not None:
        return redirect(request, _local(next))
    return page(request, "signin.html", None, title="Sign in", next=_local(next), error=None)


@router.post("/signin")
def create_signin(request: Request, node: NodeDep, form: FormDep) -> Response:
    target = _local(field(form, "next") or "/")
    try:
        if field(form, "method") == "token":
            session: NewToken = node.accounts.open_session(field(form, "token"))
        else:
            session = node.accounts.login(
                field(form, "username"), field(form, "password"), client_address(request)
            )
    except (NotAuthenticated, TooManyAttempts) as exc:
        refused = page(
            request,
            "signin.html",
            None,
            status=exc.status,
            title="Sign in",
            next=target,
            error=exc.detail,
            username=field(form, "username"),
        )
        if isinstance(exc, TooManyAttempts):
            refused.headers["Retry-After"] = str(exc.retry_after)
        return refused
    response = redirect(request, target)
    max_age = int(SESSION.total_seconds())
    set_cookie(request, response, SESSION_COOKIE, session.plaintext, max_age=max_age)
    return response


@router.post("/signout")
def create_signout(request: Request, node: NodeDep, viewer: ViewerDep, form: FormDep) -> Response:
    node.accounts.end_session(viewer.principal)
    response = redirect(request, "/signin")
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response
