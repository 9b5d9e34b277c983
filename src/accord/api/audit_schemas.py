"""What the audit API answers."""

from __future__ import annotations

from pydantic import BaseModel, Field


class TreeHeadPublic(BaseModel):
    """A signed tree head, and the consistency proof from the size asked for (``from``)."""

    node_id: str
    public_key: str = Field(description="The node's Ed25519 public key, base64.")
    size: int
    root: str = Field(description="RFC 9162 Merkle Tree Hash, hex.")
    at: str
    signature: str = Field(description="Ed25519 over the head message, base64.")
    consistency: list[str] = Field(description="RFC 9162 consistency proof from 'from', hex.")


class AuditEntryPublic(BaseModel):
    seq: int
    at: str
    action: str
    decision: str
    actor: str | None
    object_ref: str | None
    version: str | None
    detail: str | None
    erased: bool
    commitment: str


class EntryInProof(BaseModel):
    seq: int
    at: str
    action: str
    decision: str
    commitment: str


class HeadInProof(BaseModel):
    node_id: str
    public_key: str
    size: int
    root: str
    at: str
    signature: str


class InclusionProofPublic(BaseModel):
    """RFC 9162 inclusion proof of one entry in the node's current signed tree head."""

    entry: EntryInProof
    leaf_data: str
    leaf_index: int
    tree_size: int
    leaf_hash: str
    audit_path: list[str]
    head: HeadInProof
    head_message: str


class WitnessPublic(BaseModel):
    """The last signed head seen from a peer and whether it was consistent."""

    peer: str
    size: int
    root: str
    state: str
    problem: str | None
    checked: str
