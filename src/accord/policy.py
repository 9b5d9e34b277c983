"""The policy gate: the one place that decides who may read and pass on threat data.

This module states the rules in plain Python, with no I/O. The store applies the same
rules as SQL conditions (``accord.store.gate``) on every query, so the database never
hands back a row the principal may not see; property tests hold the two equal on
every backend.

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

from accord.domain.access import ObjectAccess, PeerAudience
from accord.domain.model import Principal
from accord.domain.scope import (
    ALLOWED_SCOPES,
    AUTHENTICATED_SCOPES,
    Distribution,
    Scope,
    distribution_problem,
    reshare_problem,
)

__all__ = [
    "ObjectAccess",
    "PeerAudience",
    "can_read",
    "can_travel",
    "received",
    "share_problem",
]


def _admits(principal: Principal, d: Distribution) -> bool:
    if d.scope not in ALLOWED_SCOPES[d.tlp]:
        return False
    if d.scope is Scope.PUBLIC:
        return True
    if principal.org is None:
        return False
    if d.scope in AUTHENTICATED_SCOPES:
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


def received(principal: Principal, obj: ObjectAccess) -> Distribution | None:
    """The marking and scope under which ``principal`` holds ``obj``: the owner's own
    distribution for the owner; for anyone else the least strict of the distributions
    that admit it (the owner's, or an onward share made to it), since that is what it
    may act on. None when it may not read ``obj``."""
    if principal.org is not None and principal.org == obj.owner:
        return obj.distribution
    admitting = [d for d in (obj.distribution, *obj.shares) if _admits(principal, d)]
    return min(admitting, key=lambda d: (d.tlp.rank, -d.scope.breadth)) if admitting else None


def share_problem(principal: Principal, obj: ObjectAccess, proposed: Distribution) -> str | None:
    """Why ``principal`` may not share ``obj`` onward as ``proposed``; None when it may.

    A recipient is bound by what it received: the proposal is judged against each
    distribution that admits it (the owner's, or an onward share made to it), and is
    allowed when one of them allows it. Whoever received an object only as TLP:RED or
    TLP:AMBER+STRICT, however many hands it passed through, may not pass it on.
    """
    if not can_read(principal, obj):
        return "no such object"
    if principal.org == obj.owner:
        return distribution_problem(proposed)
    received = [d for d in (obj.distribution, *obj.shares) if _admits(principal, d)]
    problems = [reshare_problem(d, proposed) for d in received]
    return None if None in problems else problems[0]


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
