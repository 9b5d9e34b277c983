"""People who sign in with a password, and the exchange of a password for a token."""

from __future__ import annotations

from fastapi import APIRouter, status

from accord.accounts import require_admin
from accord.api.deps import CurrentPrincipal, NodeDep
from accord.api.routes.tokens import token_public
from accord.api.schemas import LoginRequest, TokenIssued, UserCreate, UserPublic

router = APIRouter(tags=["users"])


@router.post("/auth/token", response_model=TokenIssued, status_code=status.HTTP_201_CREATED)
def create_session_token(body: LoginRequest, node: NodeDep) -> TokenIssued:
    """Exchange a username and password for a token valid twelve hours."""
    issued = node.accounts.login(body.username, body.password)
    return TokenIssued(**token_public(node, issued.info).model_dump(), token=issued.plaintext)


@router.post("/users", response_model=UserPublic, status_code=status.HTTP_201_CREATED)
def create_user(body: UserCreate, node: NodeDep, principal: CurrentPrincipal) -> UserPublic:
    """Add a user (admins only)."""
    node.accounts.add_user(principal, body.username, body.organisation, body.role, body.password)
    return next(u for u in read_users(node, principal) if u.username == body.username)


@router.get("/users", response_model=list[UserPublic])
def read_users(node: NodeDep, principal: CurrentPrincipal) -> list[UserPublic]:
    """Every user (admins only); never a password hash."""
    require_admin(principal)
    identities = node.accounts.orgs.identities(u.org_id for u in node.accounts.users.list())
    return [
        UserPublic(
            username=u.username,
            organisation=identities[u.org_id],
            role=u.role,
            created=u.created,
            disabled=u.disabled,
        )
        for u in node.accounts.users.list()
    ]
