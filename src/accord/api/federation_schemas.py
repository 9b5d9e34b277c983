"""Schemas of the peers API: what an operator sees of each peer's sync state."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field


# One peer's sync state, read from ``federation.service.PeerStatus``; never its token.
class PeerStatusPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    name: str = Field(description="The name this node knows the peer by.")
    url: str = Field(description="The peer's base URL.")
    node_id: str = Field(description="The peer's node id, derived from its public key.")
    has_token: bool = Field(description="Whether this node holds a token to sync with the peer.")
    pushed: int = Field(description="Object versions pushed that the peer stored, so far.")
    pulled: int = Field(description="Object versions pulled from the peer so far.")
    last_attempt: datetime | None = Field(description="When a sync last ended; null: never tried.")
    last_success: datetime | None = Field(description="When the last sync succeeded; null: never.")
    lag_seconds: float | None = Field(
        description="Seconds since the last successful sync; null: never synced."
    )
    last_error: str | None = Field(description="Why the last sync failed; null: it did not fail.")
    refused: int = Field(description="Versions of ours the peer refused or holds pending.")
    last_refusal: str | None = Field(description="The peer's latest reason for refusing one.")
    rejected: int = Field(description="Messages from the peer this node rejected.")
    last_rejection: str | None = Field(description="Why this node last rejected one.")
    pending: int = Field(
        description="The peer's versions waiting here for a group or organisation."
    )
    pending_reason: str | None = Field(description="Why the newest of them waits.")
    fingerprint: str = Field(description="The SHA-256 fingerprint of the peer's public key.")
    witness: str | None = Field(
        default=None,
        description="The peer's audit log as this node last witnessed it (signed tree heads "
        "exchanged at each sync): consistent, or FORKED with why; null: no audit here.",
    )
