"""Matching: check a batch of observables against the indicators the caller may read."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.concurrency import run_in_threadpool

from accord.api.deps import CurrentPrincipal
from accord.api.detect_schemas import CorrelationPublic, MatchesPublic, MatchPublic, MatchRequest
from accord.api.fields import Text
from accord.api.openapi import errors
from accord.detect.service import Tally
from accord.domain.model import Principal
from accord.http import NodeDep
from accord.node import Node

router = APIRouter(tags=["detection"])


def _match(node: Node, principal: Principal, body: MatchRequest) -> MatchesPublic:
    if body.sightings:
        node.detection.require_reporter(principal)  # before any matching work
    loaded = node.detection.load(principal, subdomains=body.subdomains)
    hits = node.detection.match_values(loaded, body.observables)
    reported: dict[str, str] = {}
    if body.sightings:
        seen = node.clock()
        tallies: dict[str, Tally] = {}
        for found in hits:
            for h in found:
                tallies.setdefault(h.indicator_id, Tally()).add(seen)
        reported = node.detection.report_sightings(principal, loaded, tallies).stored
    return MatchesPublic(
        sightings=reported,
        matches=[
            MatchPublic(
                index=i,
                observable=body.observables[i],
                indicator_id=h.indicator_id,
                value=h.value,
                field=h.field,
            )
            for i, found in enumerate(hits)
            for h in found
        ],
        indicators=len(loaded.matchers),
        fallback=loaded.matchers.stats.fallback,
    )


@router.post("/match", response_model=MatchesPublic, responses=errors(403))
async def create_match(
    body: MatchRequest, node: NodeDep, principal: CurrentPrincipal
) -> MatchesPublic:
    """Match observables against every indicator the caller may read, valid and not revoked;
    with ``sightings``, report each matched indicator's sighting back to its owner."""
    return await run_in_threadpool(_match, node, principal, body)


@router.get(
    "/objects/{stix_id}/correlations",
    response_model=list[CorrelationPublic],
    responses=errors(404),
)
def read_correlations(
    stix_id: Text, node: NodeDep, principal: CurrentPrincipal
) -> list[CorrelationPublic]:
    """Objects the caller may read that share an observable value with this one."""
    return [
        CorrelationPublic(kind=c.kind, value=c.value, id=c.stix_id, type=c.type, owner=c.owner)
        for c in node.correlations.of(principal, stix_id)
    ]
