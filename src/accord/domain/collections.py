"""TAXII collections as views of distribution scopes.

A node offers each principal: the community collection (scope community or
federation), the public one, one per sharing group the principal's organisation is
in, and an inbox per organisation (scope recipients naming it). Posting into a
collection stamps that scope; reading one is the scope's objects, through the gate.
Collection ids are UUIDv5 of the kind and key, so they are the same on every node.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from enum import StrEnum

_NAMESPACE = uuid.UUID("6b0c0c7e-3f2f-5d7b-9c1e-2a4d8e5f0a17")


class CollectionKind(StrEnum):
    COMMUNITY = "community"
    PUBLIC = "public"
    GROUP = "group"
    INBOX = "inbox"


@dataclass(frozen=True, slots=True)
class Collection:
    """One collection; ``key`` is the group slug or inbox owner's identity id."""

    kind: CollectionKind
    title: str
    description: str
    key: str = ""
    group_id: int | None = None
    org_id: int | None = None

    @property
    def id(self) -> str:
        return str(uuid.uuid5(_NAMESPACE, f"{self.kind.value}:{self.key}"))


# The collection peer nodes exchange signed messages through; only peers see it.
FEDERATION_COLLECTION = str(uuid.uuid5(_NAMESPACE, "federation:"))
