"""Schemas of the match API (SIEM and SOAR integration)."""

from __future__ import annotations

from pydantic import BaseModel, Field

from accord.api.fields import Input


# A batch of observable values (addresses, domains, URLs, e-mail addresses, hashes) to check.
class MatchRequest(Input):
    observables: list[str] = Field(min_length=1, max_length=10_000)
    subdomains: bool = False
    sightings: bool = Field(
        default=False,
        description="Report a sighting of each matched indicator back to its owner "
        "(as `accord match --sightings` does); needs an analyst or admin token.",
    )


# One indicator matched by one submitted observable.
class MatchPublic(BaseModel):
    index: int
    observable: str
    indicator_id: str
    value: str | None
    field: str | None


# The matches of a batch, and how many indicators took part.
class MatchesPublic(BaseModel):
    matches: list[MatchPublic]
    indicators: int
    fallback: int
    sightings: dict[str, str] = Field(
        default_factory=dict, description="The sighting reported, by indicator id."
    )


# Another object the caller may read that carries one of the same observable values.
class CorrelationPublic(BaseModel):
    kind: str
    value: str
    id: str
    type: str
    owner: str
