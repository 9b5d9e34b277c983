"""Who is signed in to the console, and the CSRF token every form carries.

The session cookie holds a session token (never an API token: signing in with one
trades it for a session, see ``Accounts.open_session``). Each request turns it back
into a principal with ``Accounts.authenticate``, so an expired session stops working at
once, and a revoked one (signing out) at once in the worker that revoked it and within
``accounts.TOKEN_CACHE`` (seconds) in the others. Forms carry a CSRF token: for a
session, an HMAC keyed by the session token; before sign-in (and on the public
acknowledgement page), a random value that must match a cookie of the same name
(double submit).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

from fastapi import Request
from fastapi.responses import Response

from accord.domain.model import Principal
from accord.errors import Forbidden, NotAuthenticated
from accord.node import Node

SESSION_COOKIE = "accord_session"
CSRF_COOKIE = "accord_csrf"
VISIT_COOKIE = "accord_last_visit"
CSRF_FIELD = "csrf"


@dataclass(frozen=True, slots=True)
class Viewer:
    """The signed-in person: their principal, organisation and session token."""

    principal: Principal
    org_name: str
    org_identity: str
    token: str

    @property
    def csrf(self) -> str:
        return hmac.new(self.token.encode(), b"accord-csrf", hashlib.sha256).hexdigest()


class SignInNeeded(NotAuthenticated):
    """A page needs a signed-in viewer; the console sends the browser to sign in."""


def viewer(request: Request, node: Node) -> Viewer | None:
    """The signed-in viewer, or None when the cookie is missing or no longer valid.

    Looked up once per request: a form's CSRF check and its page share the answer.
    """
    if "viewer" not in request.state.__dict__:
        request.state.viewer = _lookup(request, node)
    found: Viewer | None = request.state.viewer
    return found


def _lookup(request: Request, node: Node) -> Viewer | None:
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        return None
    try:
        principal = node.accounts.authenticate(token)
    except NotAuthenticated:
        return None
    if principal.org is None:
        return None
    org = node.accounts.orgs.get(principal.org)
    return Viewer(principal, org.name, org.identity_id, token)


def require(request: Request, node: Node) -> Viewer:
    found = viewer(request, node)
    if found is None:
        raise SignInNeeded("sign in to see this page")
    return found


def require_admin(request: Request, node: Node) -> Viewer:
    found = require(request, node)
    if not found.principal.is_admin():
        raise Forbidden("only a node admin may see this page")
    return found


def anonymous_csrf(request: Request) -> str:
    """The double-submit token for forms shown before sign-in (set by ``remember_csrf``)."""
    return request.cookies.get(CSRF_COOKIE) or request.state.__dict__.setdefault(
        "new_csrf", secrets.token_urlsafe(32)
    )


def remember_csrf(request: Request, response: Response) -> None:
    """Set the double-submit cookie when this response handed out a new token."""
    token = request.state.__dict__.get("new_csrf")
    if token:
        set_cookie(request, response, CSRF_COOKIE, token, max_age=None)


def check_csrf(request: Request, sent: str, found: Viewer | None) -> None:
    """Refuse a form whose CSRF token does not match (constant-time comparison)."""
    if found is not None:
        expected = found.csrf
    else:
        expected = request.cookies.get(CSRF_COOKIE, "")
    if not sent or not expected or not hmac.compare_digest(sent, expected):
        raise Forbidden("the form expired or came from another site; reload the page and retry")


def set_cookie(
    request: Request, response: Response, name: str, value: str, max_age: int | None
) -> None:
    """A cookie only this site's pages send back: HttpOnly, SameSite=Strict, Secure on TLS."""
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        path="/",
    )
