"""People who sign in with a password, and the exchange of a password for a token."""

from __future__ import annotations

from fastapi import APIRouter, Request, status

from accord.accounts import UserInfo
from accord.api.deps import CurrentPrincipal
from accord.api.openapi import SIGN_IN, errors
from accord.api.routes.tokens import token_public
from accord.api.schemas import (
    LoginRequest,
    SigninReportPublic,
    ThrottledPublic,
    TokenIssued,
    UserCreate,
    UserPublic,
)
from accord.http import NodeDep, client_address
from accord.node import Node

router = APIRouter(tags=["users"])


@router.post(
    "/auth/token",
    response_model=TokenIssued,
    status_code=status.HTTP_201_CREATED,
    responses=errors(401, SIGN_IN),
)
def create_session_token(body: LoginRequest, node: NodeDep, request: Request) -> TokenIssued:
    """Exchange a username and password for a token valid twelve hours.

    Failed attempts back off: past a few in a row, the answer is 429 with
    ``Retry-After`` until the wait is over, whether the password is right or not.
    """
    issued = node.accounts.login(body.username, body.password, client_address(request))
    (public,) = token_public(node, [issued.info])
    return TokenIssued(**public.model_dump(), token=issued.plaintext)


@router.get("/auth/failures", response_model=SigninReportPublic)
def read_signin_failures(node: NodeDep, principal: CurrentPrincipal) -> SigninReportPublic:
    """Failed sign-ins over the last 24 hours and who must wait now (admins only)."""
    report = node.accounts.signin_report(principal)
    return SigninReportPublic(
        failures_24h=report.failures_24h,
        throttled=[
            ThrottledPublic(
                kind=t.kind.value,
                username=t.username or None,
                address=t.address or None,
                failures=t.failures,
                until=t.blocked_until,
            )
            for t in report.throttled
        ],
    )


def _public(node: Node, users: list[UserInfo]) -> list[UserPublic]:
    identities = node.accounts.orgs.identities(u.org for u in users)
    return [
        UserPublic(
            username=u.username,
            organisation=identities[u.org],
            role=u.role.value,
            created=u.created,
            disabled=u.disabled,
        )
        for u in users
    ]


@router.post(
    "/users",
    response_model=UserPublic,
    status_code=status.HTTP_201_CREATED,
    responses=errors(404, 409),
)
def create_user(body: UserCreate, node: NodeDep, principal: CurrentPrincipal) -> UserPublic:
    """Add a user (admins only)."""
    user = node.accounts.add_user(
        principal, body.username, body.organisation, body.role, body.password
    )
    (public,) = _public(node, [user])
    return public


@router.get("/users", response_model=list[UserPublic])
def read_users(node: NodeDep, principal: CurrentPrincipal) -> list[UserPublic]:
    """Every user (admins only); never a password hash."""
    return _public(node, node.accounts.list_users(principal))
