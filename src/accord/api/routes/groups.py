"""Sharing groups. A group and its members are visible only to members and admins."""

from __future__ import annotations

from fastapi import APIRouter, status

from accord.api.deps import CurrentPrincipal
from accord.api.fields import Text
from accord.api.openapi import errors
from accord.api.schemas import GroupCreate, GroupPublic, MemberChange
from accord.domain.model import SharingGroup
from accord.http import NodeDep
from accord.node import Node

router = APIRouter(prefix="/groups", tags=["groups"])


def _public(node: Node, group: SharingGroup) -> GroupPublic:
    identities = node.accounts.orgs.identities(group.members)
    return GroupPublic(
        slug=group.slug,
        name=group.name,
        description=group.description,
        members=sorted(identities[m] for m in group.members),
    )


@router.get("", response_model=list[GroupPublic])
def read_groups(node: NodeDep, principal: CurrentPrincipal) -> list[GroupPublic]:
    """The groups the caller's organisation is in (every group, for admins)."""
    return [_public(node, g) for g in node.accounts.visible_groups(principal)]


@router.post(
    "", response_model=GroupPublic, status_code=status.HTTP_201_CREATED, responses=errors(409)
)
def create_group(body: GroupCreate, node: NodeDep, principal: CurrentPrincipal) -> GroupPublic:
    """Add a sharing group (admins only)."""
    return _public(node, node.accounts.add_group(principal, body.slug, body.name, body.description))


@router.get("/{slug}", response_model=GroupPublic, responses=errors(404))
def read_group(slug: Text, node: NodeDep, principal: CurrentPrincipal) -> GroupPublic:
    """One group; 404 to anyone outside it."""
    return _public(node, node.accounts.group(principal, slug))


@router.post("/{slug}/members", response_model=GroupPublic, responses=errors(404))
def create_group_member(
    slug: Text, body: MemberChange, node: NodeDep, principal: CurrentPrincipal
) -> GroupPublic:
    """Add an organisation to a group (admins only; adding a member twice is a no-op)."""
    node.accounts.set_member(principal, slug, body.organisation, member=True)
    return _public(node, node.accounts.group(principal, slug))


@router.delete("/{slug}/members/{identity_id}", response_model=GroupPublic, responses=errors(404))
def delete_group_member(
    slug: Text, identity_id: Text, node: NodeDep, principal: CurrentPrincipal
) -> GroupPublic:
    """Remove an organisation from a group (admins only)."""
    node.accounts.set_member(principal, slug, identity_id, member=False)
    return _public(node, node.accounts.group(principal, slug))
