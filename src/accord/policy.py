"""The policy gate: the one place that decides who may read and pass on threat data.

Every read of stored threat data goes through ``readable(principal)``, a SQL
condition the store adds to each query, so the database never hands back a row the
principal may not see and a listing never loads one. ``can_read`` states the same
rules in plain Python; property tests hold the two equal on every backend.

The rules:

- the owner organisation always reads its own objects;
- otherwise an object is read through its distribution (the owner's, or an onward
  share made by a recipient within the marking): ``organisation`` nobody else,
  ``recipients`` the named organisations, ``group`` members of the sharing group,
  ``community`` and ``federation`` every organisation on the node, ``public`` anyone;
- the TLP marking caps the scope (``domain.scope.ALLOWED_SCOPES``). Combinations it
  forbids are refused at ingest, and the gate refuses them again, so a row written
  around the services still cannot leak.

Node admins manage organisations and groups; they read threat data like anyone else
of their organisation. Objects a principal may not read are reported as absent.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import ColumnElement, and_, exists, or_, select

from accord.domain.model import Principal
from accord.domain.scope import ALLOWED_SCOPES, Distribution, Scope, reshare_problem
from accord.domain.tlp import TLP
from accord.store.tables import (
    object_arrivals,
    object_recipients,
    object_shares,
    share_recipients,
    stix_objects,
)

_AUTHENTICATED_SCOPES = (Scope.COMMUNITY, Scope.FEDERATION)


def _tlps_allowing(scope: Scope) -> list[str]:
    return [t.value for t in TLP if scope in ALLOWED_SCOPES[t]]


@dataclass(frozen=True, slots=True)
class ObjectAccess:
    """What the gate needs to know of one stored object version."""

    owner: int
    distribution: Distribution
    shares: tuple[Distribution, ...] = field(default=())


def _admits(principal: Principal, d: Distribution) -> bool:
    if d.scope not in ALLOWED_SCOPES[d.tlp]:
        return False
    if d.scope is Scope.PUBLIC:
        return True
    if principal.org is None:
        return False
    if d.scope in _AUTHENTICATED_SCOPES:
        return True
    if d.scope is Scope.RECIPIENTS:
        return principal.org in d.recipients
    if d.scope is Scope.GROUP:
        return d.group is not None and d.group in principal.groups
    return False


def can_read(principal: Principal, obj: ObjectAccess) -> bool:
    """The reference model: may ``principal`` read ``obj``?"""
    if principal.org is not None and principal.org == obj.owner:
        return True
    return _admits(principal, obj.distribution) or any(_admits(principal, s) for s in obj.shares)


def share_problem(principal: Principal, obj: ObjectAccess, proposed: Distribution) -> str | None:
    """Why ``principal`` may not share ``obj`` onward as ``proposed``; None when it may."""
    if not can_read(principal, obj):
        return "no such object"
    if principal.org == obj.owner:
        return None
    return reshare_problem(obj.distribution, proposed)


def _allowed(
    scope_col: ColumnElement[str], tlp_col: ColumnElement[str], s: Scope
) -> ColumnElement[bool]:
    return and_(scope_col == s.value, tlp_col.in_(_tlps_allowing(s)))


def _admitting(
    principal: Principal,
    scope: ColumnElement[str],
    tlp: ColumnElement[str],
    group_id: ColumnElement[int | None],
    recipient_match: ColumnElement[bool] | None,
) -> list[ColumnElement[bool]]:
    """The separate ways a distribution admits ``principal``, one condition each."""
    terms = [_allowed(scope, tlp, Scope.PUBLIC)]
    if principal.org is not None:
        terms += [_allowed(scope, tlp, s) for s in _AUTHENTICATED_SCOPES]
        if recipient_match is not None:
            terms.append(and_(_allowed(scope, tlp, Scope.RECIPIENTS), recipient_match))
        if principal.groups:
            terms.append(
                and_(_allowed(scope, tlp, Scope.GROUP), group_id.in_(sorted(principal.groups)))
            )
    return terms


def readable_branches(principal: Principal) -> list[ColumnElement[bool]]:
    """The rows ``principal`` may read, as conditions whose OR is ``readable``.

    Each branch can be driven by an index of its own (owner, scope, recipient, group,
    onward share), so a listing can merge small ordered scans instead of walking the
    whole table for a reader who may see little of it.
    """
    o, s = stix_objects.c, object_shares.c
    branches: list[ColumnElement[bool]] = []
    recipient_match = None
    share_recipient_match = None
    if principal.org is not None:
        branches.append(o.owner_org == principal.org)
        recipient_match = o.pk.in_(
            select(object_recipients.c.object_pk).where(object_recipients.c.org_id == principal.org)
        )
        share_recipient_match = s.id.in_(
            select(share_recipients.c.share_id).where(share_recipients.c.org_id == principal.org)
        )
    branches += _admitting(principal, o.scope, o.tlp, o.group_id, recipient_match)
    onward = or_(*_admitting(principal, s.scope, s.tlp, s.group_id, share_recipient_match))
    branches.append(o.pk.in_(select(s.object_pk).where(onward)))
    return branches


def readable(principal: Principal) -> ColumnElement[bool]:
    """SQL condition on ``stix_objects``: the rows ``principal`` may read."""
    return or_(*readable_branches(principal))


def counted(principal: Principal) -> ColumnElement[bool]:
    """SQL condition on ``object_arrivals``: the rows that count versions ``principal`` may
    read, each version once (the owner counts base rows only; others, what admits them).

    Versions passed on to ``principal`` by an onward share are not counted: the counts
    may fall short of what the principal can list, never exceed it.
    """
    a = object_arrivals.c
    admitting = or_(
        *_admitting(principal, a.scope, a.tlp, a.group_id, a.recipient_org == principal.org)
    )
    if principal.org is None:
        return admitting
    return or_(
        and_(a.owner_org == principal.org, a.recipient_org == 0),
        and_(a.owner_org != principal.org, admitting),
    )


@dataclass(frozen=True, slots=True)
class PeerAudience:
    """A peer node as the gate sees it: its id and the organisations behind it here."""

    node_id: str
    orgs: frozenset[int]
    groups: frozenset[int]  # local groups with at least one of ``orgs`` as a member


def can_travel(obj: ObjectAccess, via: tuple[str, ...], here: str, peer: PeerAudience) -> bool:
    """The reference model: may this version go to ``peer``?

    ``federation`` (TLP:GREEN or CLEAR) and ``public`` (TLP:CLEAR) objects travel and
    may be relayed. ``group`` and ``recipients`` objects go only from their origin node,
    straight to the nodes of the organisations they name, and are never relayed, so
    TLP:RED reaches named recipients and goes no further. ``community`` and
    ``organisation`` objects never leave the node. Nothing goes back to a node it
    came through.
    """
    if peer.node_id in via:
        return False
    d = obj.distribution
    if d.scope not in ALLOWED_SCOPES[d.tlp]:
        return False
    if d.scope in (Scope.FEDERATION, Scope.PUBLIC):
        return True
    if via != (here,):
        return False
    if d.scope is Scope.GROUP:
        return d.group in peer.groups
    if d.scope is Scope.RECIPIENTS:
        return bool(d.recipients & peer.orgs)
    return False


def travels_to(here: str, peer: PeerAudience) -> ColumnElement[bool]:
    """SQL condition on ``stix_objects``: the versions that may go to ``peer``."""
    o = stix_objects.c

    def allowed(s: Scope) -> ColumnElement[bool]:
        return and_(o.scope == s.value, o.tlp.in_(_tlps_allowing(s)))

    targeted: list[ColumnElement[bool]] = []
    if peer.groups:
        targeted.append(and_(allowed(Scope.GROUP), o.group_id.in_(sorted(peer.groups))))
    if peer.orgs:
        targeted.append(
            and_(
                allowed(Scope.RECIPIENTS),
                exists().where(
                    object_recipients.c.object_pk == o.pk,
                    object_recipients.c.org_id.in_(sorted(peer.orgs)),
                ),
            )
        )
    terms = [allowed(Scope.FEDERATION), allowed(Scope.PUBLIC)]
    if targeted:
        terms.append(and_(o.via == here, or_(*targeted)))
    # Node ids are fixed-width hex, so a substring test on the path is exact.
    return and_(or_(*terms), ~o.via.contains(peer.node_id))
