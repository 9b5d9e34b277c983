"""The privacy API's shapes: rules, previews, transfers, access requests."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from accord.api.fields import Input, one_of
from accord.domain.model import OrgKind
from accord.privacy.rules import Action, Basis


class RuleCreate(Input):
    state: str = Field(max_length=2, description="ISO 3166-1 alpha-2, or '*' for any state.")
    kind: str = Field(
        default="*",
        max_length=40,
        description="A kind of organisation, or '*' for any.",
        json_schema_extra=one_of(["*", *(k.value for k in OrgKind)]),
    )
    action: str = Field(max_length=16, json_schema_extra=one_of(a.value for a in Action))
    basis: str = Field(
        default=Basis.NONE.value, max_length=40, json_schema_extra=one_of(b.value for b in Basis)
    )
    note: str = Field(default="", max_length=500)


class RulePublic(BaseModel):
    id: int
    state: str
    kind: str
    action: str
    basis: str
    note: str
    created: datetime


class FindingPublic(BaseModel):
    """Where personal data is and what kind; the value itself is the owner's to read."""

    path: str
    kind: str
    start: int
    end: int


class PreviewPublic(BaseModel):
    id: str
    state: str | None
    kind: str | None
    action: str
    basis: str
    rule: int | None
    findings: list[FindingPublic]
    object: dict[str, Any] | None = Field(description="What would leave; null: withheld.")


class RedactionPublic(BaseModel):
    path: str
    kind: str


class TransferPublic(BaseModel):
    id: int
    destination: str
    object_id: str
    modified: str
    action: str
    basis: str
    rule: int | None
    redactions: list[RedactionPublic]
    sent: datetime


class AccessRequest(Input):
    identifier: str = Field(min_length=1, max_length=300)


class AccessMatchPublic(BaseModel):
    id: str
    type: str
    modified: str
    owner: int
    tlp: str


class RetentionCreate(Input):
    type: str = Field(default="*", max_length=62, description="A STIX type, or '*'.")
    tlp: str = Field(default="*", max_length=20, description="A TLP 2.0 marking, or '*'.")
    days: int = Field(ge=1, le=36_500, description="Kept this long after it was added.")


class RetentionPublic(BaseModel):
    id: int
    type: str
    tlp: str
    days: int


class PurgePublic(BaseModel):
    id: int
    object_id: str
    type: str
    tlp: str
    versions: int
    reason: str
    purged: datetime


class ErasureCreate(Input):
    object_id: str = Field(min_length=1, max_length=100)


class ErasurePeerPublic(BaseModel):
    peer: str
    status: str = Field(description="confirmed, or late (no signed receipt yet).")
    confirmed: datetime | None
    versions: int | None = Field(description="Versions the peer deleted, by its receipt.")
    last_error: str | None


class ErasurePublic(BaseModel):
    id: int
    object_id: str
    requested: datetime
    peers: list[ErasurePeerPublic]
