"""People who sign in with a password, and the exchange of a password for a token."""

from __future__ import annotations

from fastapi import APIRouter, status

from accord.accounts import UserInfo
from accord.api.deps import CurrentPrincipal
from accord.api.openapi import SIGN_IN, errors
from accord.api.routes.tokens import token_public
from accord.api.schemas import LoginRequest, TokenIssued, UserCreate, UserPublic
from accord.http import NodeDep
from accord.node import Node

router = APIRouter(tags=["users"])


@router.post(
    "/auth/token",
    response_model=TokenIssued,
    status_code=status.HTTP_201_CREATED,
    responses=errors(401, SIGN_IN),
)
def create_session_token(body: LoginRequest, node: NodeDep) -> TokenIssued:
    """Exchange a username and password for a token valid twelve hours."""
    issued = node.accounts.login(body.username, body.password)
    (public,) = token_public(node, [issued.info])
    return TokenIssued(**public.model_dump(), token=issued.plaintext)


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
