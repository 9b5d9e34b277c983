"""Organisations, sharing groups and principals: who holds data and who asks for it."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from accord.domain.stix import format_timestamp


class OrgKind(StrEnum):
    """What an organisation is. Values are persisted: never rename them."""

    NATIONAL_CERT = "national-cert"
    CYBER_AGENCY = "cyber-agency"
    FOREIGN_MINISTRY = "foreign-ministry"
    LAW_ENFORCEMENT = "law-enforcement"
    DATA_PROTECTION_AUTHORITY = "data-protection-authority"
    CRITICAL_INFRASTRUCTURE = "critical-infrastructure-operator"
    PRIVATE_SECTOR = "private-sector"
    ACADEMIA = "academia"
    CIVIL_SOCIETY = "civil-society"


# STIX identity ``sectors`` vocabulary values closest to each kind.
_SECTORS: dict[OrgKind, str] = {
    OrgKind.NATIONAL_CERT: "government",
    OrgKind.CYBER_AGENCY: "government",
    OrgKind.FOREIGN_MINISTRY: "government",
    OrgKind.LAW_ENFORCEMENT: "law-enforcement",
    OrgKind.DATA_PROTECTION_AUTHORITY: "government",
    OrgKind.CRITICAL_INFRASTRUCTURE: "infrastructure",
    OrgKind.PRIVATE_SECTOR: "technology",
    OrgKind.ACADEMIA: "education",
    OrgKind.CIVIL_SOCIETY: "non-profit",
}


class Role(StrEnum):
    """What a principal may do for its organisation."""

    ADMIN = "admin"
    ANALYST = "analyst"
    LIAISON = "liaison"
    READER = "reader"


WRITER_ROLES = frozenset({Role.ADMIN, Role.ANALYST})


@dataclass(frozen=True, slots=True)
class Organisation:
    """An organisation of one state (``state`` None: international) with its STIX identity."""

    id: int
    name: str
    kind: OrgKind
    state: str | None
    identity_id: str
    created: datetime
    peer: int | None = None  # the peer node it was learnt through; None: this node
    home: str | None = None  # the node id of its home node, which alone speaks for it

    @property
    def local(self) -> bool:
        """Whether this node is the organisation's home (and so issues its credentials)."""
        return self.home is None

    def identity(self) -> dict[str, Any]:
        """The organisation as a STIX 2.1 ``identity`` object."""
        stamp = format_timestamp(self.created)
        obj: dict[str, Any] = {
            "type": "identity",
            "spec_version": "2.1",
            "id": self.identity_id,
            "created": stamp,
            "modified": stamp,
            "name": self.name,
            "identity_class": "organization",
            "sectors": [_SECTORS[self.kind]],
            "x_accord_kind": self.kind.value,
        }
        if self.state:
            obj["x_accord_state"] = self.state
        return obj


def new_identity_id() -> str:
    return f"identity--{uuid.uuid4()}"


@dataclass(frozen=True, slots=True)
class SharingGroup:
    """A named set of organisations, e.g. "ASEAN national CERTs"; membership is confidential.

    A group is owned by the node that created it (``owner_node`` None: this node) and
    known across the federation by ``uuid``; another node holds a read-only copy of the
    owner's membership at ``version``.
    """

    id: int
    slug: str
    name: str
    description: str
    members: frozenset[int] = field(default_factory=frozenset)
    uuid: str = ""
    owner_node: str | None = None
    version: int = 1

    @property
    def owned(self) -> bool:
        return self.owner_node is None


@dataclass(frozen=True, slots=True)
class Principal:
    """Someone acting for one organisation with one role; ``org`` None is the anonymous public.

    A peer node presenting its token is a principal with ``peer`` set and no ``org``:
    to the policy gate it is the public, and only the federation feed serves it more.
    """

    org: int | None
    role: Role | None = None
    groups: frozenset[int] = field(default_factory=frozenset)
    token_id: int | None = None
    peer: int | None = None  # a peer node's token: reads the federation feed, nothing else

    def can_write(self) -> bool:
        return self.role in WRITER_ROLES

    def is_admin(self) -> bool:
        return self.role is Role.ADMIN


ANONYMOUS = Principal(org=None)
