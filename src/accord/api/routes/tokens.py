"""API tokens: issued once, listed without secrets, revoked."""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter, status

from accord.accounts import TokenInfo
from accord.api.deps import CurrentPrincipal, NodeDep
from accord.api.schemas import TokenCreate, TokenIssued, TokenPublic
from accord.node import Node

router = APIRouter(prefix="/tokens", tags=["tokens"])


def token_public(node: Node, info: TokenInfo) -> TokenPublic:
    return TokenPublic(
        id=info.id,
        organisation=node.accounts.orgs.get(info.org).identity_id if info.org is not None else None,
        role=info.role.value,
        name=info.name,
        created=info.created,
        expires=info.expires,
        revoked=info.revoked,
    )


@router.post("", response_model=TokenIssued, status_code=status.HTTP_201_CREATED)
def create_token(body: TokenCreate, node: NodeDep, principal: CurrentPrincipal) -> TokenIssued:
    """Issue a token (admins only). The secret is in this response and nowhere else."""
    lifetime = timedelta(days=body.expires_in_days) if body.expires_in_days else None
    issued = node.accounts.create_token(
        principal, body.organisation, body.role, body.name, lifetime
    )
    return TokenIssued(**token_public(node, issued.info).model_dump(), token=issued.plaintext)


@router.get("", response_model=list[TokenPublic])
def read_tokens(node: NodeDep, principal: CurrentPrincipal) -> list[TokenPublic]:
    """Every token, without secrets (admins only)."""
    return [token_public(node, t) for t in node.accounts.list_tokens(principal)]


@router.delete("/{token_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_token(token_id: int, node: NodeDep, principal: CurrentPrincipal) -> None:
    """Revoke a token (admins only); it stops working at once."""
    node.accounts.revoke_token(principal, token_id)
