"""Schemas of the hash-list API: hashes in, never content."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from accord.api.fields import Input, one_of


# One hash: its signal type, its hex value and, for PDQ, its quality score (0-100).
class HashIn(Input):
    signal: str = Field(json_schema_extra=one_of(("pdq", "md5", "sha256")), max_length=16)
    value: str = Field(max_length=128)
    quality: int | None = Field(default=None)


# Hashes to match against every list the caller may read.
class HashMatchRequest(Input):
    hashes: list[HashIn] = Field(min_length=1, max_length=10_000)
    threshold: int | None = Field(default=None, description="PDQ Hamming threshold (default 31).")
    sightings: bool = Field(default=False, description="Report hits to the owners as sightings.")


class HashHitPublic(BaseModel):
    index: int
    entry: str
    list_id: str
    list_name: str
    owner: str
    signal: str
    distance: int
    labels: dict[str, Any]
    criterion: str
    state: str
    held: bool
    sighting: str | None


class HashMatchPublic(BaseModel):
    hits: list[HashHitPublic]
    suppressed: list[int]


class CriterionIn(Input):
    id: str = Field(max_length=32)
    text: str = Field(max_length=2000)


class HashListCreate(Input):
    name: str = Field(max_length=250)
    description: str = Field(default="", max_length=2000)
    criteria: list[CriterionIn] = Field(min_length=1, max_length=50)
    polarity: str = Field(default="positive", json_schema_extra=one_of(("positive", "negative")))
    tlp: str | None = Field(default=None, max_length=32)
    scope: str | None = Field(default=None, max_length=32)
    group: str | None = Field(default=None, max_length=100)
    recipients: list[str] = Field(default_factory=list, max_length=100)


class HashListPublic(BaseModel):
    id: str
    name: str
    description: str
    criteria: list[dict[str, str]]
    polarity: str
    owner: str
    tlp: str
    scope: str
    modified: str


class EntryIn(Input):
    signal: str = Field(json_schema_extra=one_of(("pdq", "md5", "sha256")), max_length=16)
    value: str = Field(max_length=128)
    quality: int | None = None
    criterion: str = Field(max_length=32)
    labels: dict[str, Any] = Field(default_factory=dict)


class EntriesCreate(Input):
    entries: list[EntryIn] = Field(min_length=1, max_length=10_000)


class EntriesCreated(BaseModel):
    ids: list[str]


class OpinionPublic(BaseModel):
    id: str
    opiner: str
    verdict: str
    explanation: str
    modified: str


class EntryPublic(BaseModel):
    id: str
    list_id: str
    signal: str
    value: str
    labels: dict[str, Any]
    criterion: str
    disabled: str | None
    state: str
    held: bool
    opinions: list[OpinionPublic]
    modified: str


class OpinionCreate(Input):
    verdict: str = Field(
        json_schema_extra=one_of(
            ("true-positive", "false-positive", "disputed", "investigation-seed")
        ),
        max_length=32,
    )
    explanation: str = Field(default="", max_length=2000)
    tlp: str | None = Field(default=None, max_length=32)


class DisableRequest(Input):
    reason: str = Field(min_length=1, max_length=500)


# Whom the owner lets look a list up: an organisation (here or homed on a peer node), or
# a peer node, whose organisations then look it up from their own node. One of the two.
class GrantCreate(Input):
    organisation: str | None = Field(
        default=None, max_length=200, description="Identity id or name."
    )
    node: str | None = Field(
        default=None, max_length=200, description="A peer node's id, or its name here."
    )


class GrantsPublic(BaseModel):
    organisations: list[str]  # identity ids
    nodes: list[str]  # node ids


class HashLookupRequest(Input):
    hashes: list[HashIn] = Field(min_length=1, max_length=10_000)
    node: str | None = Field(
        default=None,
        max_length=200,
        description="The peer node (its name here, or its id) holding the list; "
        "omitted: this node.",
    )


class LookupAnswerPublic(BaseModel):
    index: int
    hit: bool
    labels: list[dict[str, Any]]
    distance: int | None
