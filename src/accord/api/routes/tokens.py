"""API tokens: issued once, listed without secrets, revoked."""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter, status

from accord.accounts import TokenInfo
from accord.api.deps import CurrentPrincipal
from accord.api.fields import RowId
from accord.api.openapi import errors
from accord.api.schemas import TokenCreate, TokenIssued, TokenPublic
from accord.http import NodeDep
from accord.node import Node

router = APIRouter(prefix="/tokens", tags=["tokens"])


def token_public(node: Node, infos: list[TokenInfo]) -> list[TokenPublic]:
    identities = node.accounts.orgs.identities(t.org for t in infos if t.org is not None)
    return [
        TokenPublic(
            id=t.id,
            organisation=identities[t.org] if t.org is not None else None,
            role=t.role.value,
            name=t.name,
            created=t.created,
            expires=t.expires,
            revoked=t.revoked,
            last_used=t.last_used,
        )
        for t in infos
    ]


@router.post(
    "", response_model=TokenIssued, status_code=status.HTTP_201_CREATED, responses=errors(404)
)
def create_token(body: TokenCreate, node: NodeDep, principal: CurrentPrincipal) -> TokenIssued:
    """Issue a token (admins only). The secret is in this response and nowhere else."""
    lifetime = timedelta(days=body.expires_in_days) if body.expires_in_days else None
    issued = node.accounts.create_token(
        principal, body.organisation, body.role, body.name, lifetime
    )
    (public,) = token_public(node, [issued.info])
    return TokenIssued(**public.model_dump(), token=issued.plaintext)


@router.get("", response_model=list[TokenPublic])
def read_tokens(node: NodeDep, principal: CurrentPrincipal) -> list[TokenPublic]:
    """Every token, without secrets (admins only)."""
    return token_public(node, node.accounts.list_tokens(principal))


@router.delete("/{token_id}", status_code=status.HTTP_204_NO_CONTENT, responses=errors(404))
def delete_token(token_id: RowId, node: NodeDep, principal: CurrentPrincipal) -> None:
    """Revoke a token (admins only); it stops working at once."""
    node.accounts.revoke_token(principal, token_id)
