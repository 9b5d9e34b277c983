"""The policy gate as SQL: the conditions every store query adds, so the database never
hands back a row the principal may not read and a listing never loads one.

``accord.policy`` states the rules in plain Python; this module states them again as
SQL over any table that carries the gate's inputs (an owner, a scope, a TLP marking, a
group, named recipients), whether as columns or as SQL expressions. A table describes
itself once as a ``Gated``; ``readable`` and ``readable_branches`` then work for it.
Property tests hold each table's SQL equal to ``policy.can_read`` on every backend.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from sqlalchemy import ColumnElement, and_, exists, false, or_, select

from accord.domain.access import PeerAudience
from accord.domain.model import Principal
from accord.domain.scope import ALLOWED_SCOPES, AUTHENTICATED_SCOPES, Scope
from accord.domain.tlp import TLP
from accord.store.tables import (
    object_arrivals,
    object_recipients,
    object_shares,
    share_recipients,
    stix_objects,
)


@functools.cache
def _tlps_allowing(scope: Scope) -> tuple[str, ...]:
    return tuple(t.value for t in TLP if scope in ALLOWED_SCOPES[t])


@dataclass(frozen=True, slots=True)
class Gated:
    """How one table carries the gate's inputs, as SQL expressions over its rows.

    ``in_groups(ids)`` is true where the row's group is one of ``ids``; ``names(org)``
    where the row names ``org`` as a recipient. Either is None where the table has no
    such notion (its rows then never admit through that scope).
    """

    owner: ColumnElement[int] | None
    scope: ColumnElement[str]
    tlp: ColumnElement[str]
    in_groups: Callable[[Sequence[int]], ColumnElement[bool]] | None = None
    names: Callable[[int], ColumnElement[bool]] | None = None


def _allowed(gated: Gated, s: Scope) -> ColumnElement[bool]:
    return and_(gated.scope == s.value, gated.tlp.in_(_tlps_allowing(s)))


def admitting(principal: Principal, gated: Gated) -> list[ColumnElement[bool]]:
    """The separate ways a row's distribution admits ``principal``, one condition each."""
    terms = [_allowed(gated, Scope.PUBLIC)]
    if principal.org is None:
        return terms
    terms += [_allowed(gated, s) for s in AUTHENTICATED_SCOPES]
    if gated.names is not None:
        terms.append(and_(_allowed(gated, Scope.RECIPIENTS), gated.names(principal.org)))
    if gated.in_groups is not None and principal.groups:
        terms.append(and_(_allowed(gated, Scope.GROUP), gated.in_groups(sorted(principal.groups))))
    return terms


def owned(principal: Principal, gated: Gated) -> list[ColumnElement[bool]]:
    """The owner reads its own rows: one branch, or none for the public."""
    if principal.org is None or gated.owner is None:
        return []
    return [gated.owner == principal.org]


def readable_rows(principal: Principal, gated: Gated) -> ColumnElement[bool]:
    """SQL condition on ``gated``'s table: the rows ``principal`` may read."""
    return _readable_rows(principal.org, principal.groups, gated)


# The conditions depend on the organisation and its groups only, and SQL expressions are
# immutable: each reader's are built once per process (building them cost about as much
# as running a small query). Bounded, so new organisations and groups cannot grow them.
@functools.lru_cache(maxsize=1024)
def _readable_rows(org: int | None, groups: frozenset[int], gated: Gated) -> ColumnElement[bool]:
    principal = Principal(org=org, groups=groups)
    branches = owned(principal, gated) + admitting(principal, gated)
    return or_(*branches) if branches else false()


# Threat data ----------------------------------------------------------------------------
_o, _s = stix_objects.c, object_shares.c

OBJECTS = Gated(
    owner=_o.owner_org,
    scope=_o.scope,
    tlp=_o.tlp,
    in_groups=lambda ids: _o.group_id.in_(ids),
    names=lambda org: _o.pk.in_(
        select(object_recipients.c.object_pk).where(object_recipients.c.org_id == org)
    ),
)
ONWARD_SHARES = Gated(
    owner=None,
    scope=_s.scope,
    tlp=_s.tlp,
    in_groups=lambda ids: _s.group_id.in_(ids),
    names=lambda org: _s.id.in_(
        select(share_recipients.c.share_id).where(share_recipients.c.org_id == org)
    ),
)


def readable_branches(principal: Principal) -> list[ColumnElement[bool]]:
    """The ``stix_objects`` rows ``principal`` may read, as conditions whose OR is
    ``readable``.

    Each branch can be driven by an index of its own (owner, scope, recipient, group,
    onward share), so a listing can merge small ordered scans instead of walking the
    whole table for a reader who may see little of it.
    """
    return list(_branches(principal.org, principal.groups))


def readable(principal: Principal) -> ColumnElement[bool]:
    """SQL condition on ``stix_objects``: the rows ``principal`` may read."""
    return _readable(principal.org, principal.groups)


@functools.lru_cache(maxsize=1024)  # as _readable_rows
def _branches(org: int | None, groups: frozenset[int]) -> tuple[ColumnElement[bool], ...]:
    principal = Principal(org=org, groups=groups)
    onward = or_(*admitting(principal, ONWARD_SHARES))
    return (
        *owned(principal, OBJECTS),
        *admitting(principal, OBJECTS),
        _o.pk.in_(select(_s.object_pk).where(onward)),
    )


@functools.lru_cache(maxsize=1024)  # as _readable_rows
def _readable(org: int | None, groups: frozenset[int]) -> ColumnElement[bool]:
    return or_(*_branches(org, groups))


_a = object_arrivals.c
ARRIVALS = Gated(
    owner=_a.owner_org,
    scope=_a.scope,
    tlp=_a.tlp,
    in_groups=lambda ids: _a.group_id.in_(ids),
    names=lambda org: _a.recipient_org == org,
)


def counted(principal: Principal) -> ColumnElement[bool]:
    """SQL condition on ``object_arrivals``: the rows that count versions ``principal`` may
    read, each version once (the owner counts base rows only; others, what admits them).

    Versions passed on to ``principal`` by an onward share are not counted: the counts
    may fall short of what the principal can list, never exceed it.
    """
    return _counted(principal.org, principal.groups)


@functools.lru_cache(maxsize=1024)  # as _readable_rows
def _counted(org: int | None, groups: frozenset[int]) -> ColumnElement[bool]:
    admitted = or_(*admitting(Principal(org=org, groups=groups), ARRIVALS))
    if org is None:
        return admitted
    return or_(
        and_(_a.owner_org == org, _a.recipient_org == 0),
        and_(_a.owner_org != org, admitted),
    )


def travels_to(here: str, peer: PeerAudience) -> ColumnElement[bool]:
    """SQL condition on ``stix_objects``: the versions that may go to ``peer``
    (``policy.can_travel``)."""

    def allowed(s: Scope) -> ColumnElement[bool]:
        return _allowed(OBJECTS, s)

    targeted: list[ColumnElement[bool]] = []
    if peer.groups:
        targeted.append(and_(allowed(Scope.GROUP), _o.group_id.in_(sorted(peer.groups))))
    if peer.orgs:
        targeted.append(
            and_(
                allowed(Scope.RECIPIENTS),
                exists().where(
                    object_recipients.c.object_pk == _o.pk,
                    object_recipients.c.org_id.in_(sorted(peer.orgs)),
                ),
            )
        )
    terms = [allowed(Scope.FEDERATION), allowed(Scope.PUBLIC)]
    if targeted:
        terms.append(and_(_o.via == here, or_(*targeted)))
    # Node ids are fixed-width hex, so a substring test on the path is exact.
    return and_(or_(*terms), ~_o.via.contains(peer.node_id))
