"""Organisations on this node."""

from __future__ import annotations

from fastapi import APIRouter, status

from accord.api.deps import CurrentPrincipal
from accord.api.fields import Text
from accord.api.openapi import errors
from accord.api.schemas import OrganisationCreate, OrganisationPublic
from accord.domain.model import Organisation
from accord.http import NodeDep

router = APIRouter(prefix="/organisations", tags=["organisations"])


def _public(org: Organisation) -> OrganisationPublic:
    return OrganisationPublic(
        id=org.identity_id, name=org.name, kind=org.kind.value, state=org.state
    )


@router.get("", response_model=list[OrganisationPublic])
def read_organisations(node: NodeDep, principal: CurrentPrincipal) -> list[OrganisationPublic]:
    """Every organisation on the node."""
    return [_public(o) for o in node.accounts.organisations(principal)]


@router.post(
    "",
    response_model=OrganisationPublic,
    status_code=status.HTTP_201_CREATED,
    responses=errors(409),
)
def create_organisation(
    body: OrganisationCreate, node: NodeDep, principal: CurrentPrincipal
) -> OrganisationPublic:
    """Add an organisation (admins only)."""
    return _public(node.accounts.add_org(principal, body.name, body.kind, body.state))


@router.get("/{identity_id}", response_model=OrganisationPublic, responses=errors(404))
def read_organisation(
    identity_id: Text, node: NodeDep, principal: CurrentPrincipal
) -> OrganisationPublic:
    """One organisation, by its STIX identity id."""
    return _public(node.accounts.organisation(principal, identity_id))
