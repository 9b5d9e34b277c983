"""What the policy gate needs to know of a stored thing and of a peer node: plain values."""

from __future__ import annotations

from dataclasses import dataclass, field

from accord.domain.scope import Distribution


@dataclass(frozen=True, slots=True)
class ObjectAccess:
    """What the gate needs to know of one stored object version (or any gated record)."""

    owner: int | None
    distribution: Distribution
    shares: tuple[Distribution, ...] = field(default=())


@dataclass(frozen=True, slots=True)
class PeerAudience:
    """A peer node as the gate sees it: its id and the organisations behind it here."""

    node_id: str
    orgs: frozenset[int]
    groups: frozenset[int]  # local groups with at least one of ``orgs`` as a member
