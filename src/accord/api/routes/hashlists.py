"""Hash lists: lists, entries, opinions, matching (hashes in, never content), lookups, reports."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Query, status
from fastapi.concurrency import run_in_threadpool

from accord.api.deps import CurrentPrincipal
from accord.api.fields import Text
from accord.api.hashlists_schemas import (
    DisableRequest,
    EntriesCreate,
    EntriesCreated,
    EntryPublic,
    GrantCreate,
    GrantsPublic,
    HashHitPublic,
    HashListCreate,
    HashListPublic,
    HashLookupRequest,
    HashMatchPublic,
    HashMatchRequest,
    LookupAnswerPublic,
    OpinionCreate,
    OpinionPublic,
)
from accord.api.openapi import errors
from accord.domain.model import Principal
from accord.errors import InvalidInput, Problem
from accord.exchange.service import ShareRequest
from accord.hashlists.capability import HASHLISTS
from accord.hashlists.service import EntryView, HashList, Item, NewEntry
from accord.http import NodeDep
from accord.node import Node

router = APIRouter(tags=["hash lists"])


def _list(h: HashList) -> HashListPublic:
    return HashListPublic(
        id=h.id,
        name=h.name,
        description=h.description,
        criteria=h.criteria,
        polarity=h.polarity.value,
        owner=h.owner,
        tlp=h.tlp.value,
        scope=h.scope.value,
        modified=h.modified,
    )


def _entry(e: EntryView) -> EntryPublic:
    return EntryPublic(
        id=e.id,
        list_id=e.list_id,
        signal=e.signal,
        value=e.value,
        labels=e.labels,
        criterion=e.criterion,
        disabled=e.disabled,
        state=e.state.value,
        held=e.held,
        opinions=[
            OpinionPublic(
                id=o.id,
                opiner=o.opiner,
                verdict=o.verdict.value,
                explanation=o.explanation,
                modified=o.modified,
            )
            for o in e.opinions
        ],
        modified=e.modified,
    )


def _match(node: Node, principal: Principal, body: HashMatchRequest) -> HashMatchPublic:
    items = [Item(h.signal, h.value, h.quality) for h in body.hashes]
    result = HASHLISTS.service(node).match(
        principal, items, threshold=body.threshold, sightings=body.sightings
    )
    return HashMatchPublic(
        hits=[
            HashHitPublic(
                index=h.query,
                entry=h.entry,
                list_id=h.list_id,
                list_name=h.list_name,
                owner=h.owner,
                signal=h.signal,
                distance=h.distance,
                labels=h.labels,
                criterion=h.criterion,
                state=h.state.value,
                held=h.held,
                sighting=h.sighting,
            )
            for h in result.hits
        ],
        suppressed=result.suppressed,
    )


@router.post("/hashes/match", response_model=HashMatchPublic, responses=errors(400, 403, 422))
async def create_hash_match(
    body: HashMatchRequest, node: NodeDep, principal: CurrentPrincipal
) -> HashMatchPublic:
    """Match hashes (never content) against every hash list the caller may read."""
    return await run_in_threadpool(_match, node, principal, body)


@router.get("/hashlists", response_model=list[HashListPublic])
def read_hashlists(node: NodeDep, principal: CurrentPrincipal) -> list[HashListPublic]:
    """The hash lists the caller may read."""
    return [_list(h) for h in HASHLISTS.service(node).lists(principal)]


@router.post(
    "/hashlists",
    response_model=HashListPublic,
    status_code=status.HTTP_201_CREATED,
    responses=errors(400, 403, 404, 422),
)
def create_hashlist(
    body: HashListCreate, node: NodeDep, principal: CurrentPrincipal
) -> HashListPublic:
    """Create a hash list owned by the caller's organisation, with its TLP and scope."""
    share = ShareRequest.parse(body.tlp or "amber", body.scope, body.recipients, body.group)
    created = HASHLISTS.service(node).create_list(
        principal,
        name=body.name,
        description=body.description,
        criteria=[c.model_dump() for c in body.criteria],
        polarity=body.polarity,
        share=share,
    )
    return _list(created)


@router.get("/hashlists/{list_id}", response_model=HashListPublic, responses=errors(404))
def read_hashlist(list_id: Text, node: NodeDep, principal: CurrentPrincipal) -> HashListPublic:
    """One hash list the caller may read."""
    return _list(HASHLISTS.service(node).get_list(principal, list_id))


@router.get("/hashlists/{list_id}/entries", response_model=list[EntryPublic], responses=errors(404))
def read_hashlist_entries(
    list_id: Text,
    node: NodeDep,
    principal: CurrentPrincipal,
    after: Annotated[str, Query(max_length=128)] = "",
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> list[EntryPublic]:
    """A page of the list's entries (by id, after ``after``) with opinions and state."""
    return [_entry(e) for e in HASHLISTS.service(node).entries(principal, list_id, after, limit)]


@router.post(
    "/hashlists/{list_id}/entries",
    response_model=EntriesCreated,
    status_code=status.HTTP_201_CREATED,
    responses=errors(400, 403, 404, 409, 422),
)
def create_hashlist_entries(
    list_id: Text, body: EntriesCreate, node: NodeDep, principal: CurrentPrincipal
) -> EntriesCreated:
    """Add entries to a list the caller's organisation owns, all or nothing."""
    entries = [NewEntry(e.signal, e.value, e.criterion, e.labels, e.quality) for e in body.entries]
    return EntriesCreated(ids=HASHLISTS.service(node).add_entries(principal, list_id, entries))


@router.get("/hashlists/entries/{entry_id}", response_model=EntryPublic, responses=errors(404))
def read_hashlist_entry(entry_id: Text, node: NodeDep, principal: CurrentPrincipal) -> EntryPublic:
    """One entry with the opinions the caller may see and its aggregate state."""
    return _entry(HASHLISTS.service(node).entry(principal, entry_id))


@router.post(
    "/hashlists/entries/{entry_id}/opinions",
    response_model=EntryPublic,
    status_code=status.HTTP_201_CREATED,
    responses=errors(400, 403, 404, 422),
)
def create_hashlist_opinion(
    entry_id: Text, body: OpinionCreate, node: NodeDep, principal: CurrentPrincipal
) -> EntryPublic:
    """Give (or change) the caller's organisation's opinion of an entry."""
    share = ShareRequest.parse(body.tlp, None, [], None)
    view = HASHLISTS.service(node).opine(
        principal, entry_id, body.verdict, body.explanation, tlp=share.tlp
    )
    return _entry(view)


@router.post(
    "/hashlists/entries/{entry_id}/disable",
    response_model=EntryPublic,
    responses=errors(400, 403, 404, 422),
)
def create_entry_disable(
    entry_id: Text, body: DisableRequest, node: NodeDep, principal: CurrentPrincipal
) -> EntryPublic:
    """Disable one entry (a new version, with the reason) without disabling its list."""
    return _entry(HASHLISTS.service(node).set_disabled(principal, entry_id, True, body.reason))


@router.post(
    "/hashlists/entries/{entry_id}/enable",
    response_model=EntryPublic,
    responses=errors(400, 403, 404, 422),
)
def create_entry_enable(entry_id: Text, node: NodeDep, principal: CurrentPrincipal) -> EntryPublic:
    """Enable a disabled entry again (a new version)."""
    return _entry(HASHLISTS.service(node).set_disabled(principal, entry_id, False))


@router.post(
    "/hashlists/entries/{entry_id}/release",
    response_model=EntryPublic,
    responses=errors(400, 403, 404),
)
def create_entry_release(entry_id: Text, node: NodeDep, principal: CurrentPrincipal) -> EntryPublic:
    """Release an entry held by flood quarantine after review."""
    return _entry(HASHLISTS.service(node).release(principal, entry_id))


@router.post(
    "/hashlists/{list_id}/grants",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=errors(400, 403, 404),
)
def create_hashlist_grant(
    list_id: Text, body: GrantCreate, node: NodeDep, principal: CurrentPrincipal
) -> None:
    """Let an organisation (here or on a peer node), or a peer node's organisations,
    look hashes up in the list without reading it."""
    if (body.organisation is None) == (body.node is None):
        why = "give 'organisation' or 'node', not both"
        raise InvalidInput(why, [Problem(why, field="organisation")])
    if body.node is not None:
        HASHLISTS.service(node).grant_node(principal, list_id, body.node)
    else:
        HASHLISTS.service(node).grant(principal, list_id, body.organisation or "")


@router.get("/hashlists/{list_id}/grants", response_model=GrantsPublic, responses=errors(403, 404))
def read_hashlist_grants(list_id: Text, node: NodeDep, principal: CurrentPrincipal) -> GrantsPublic:
    """Who may look the list up: organisations and peer nodes (the owner's analysts)."""
    orgs, nodes = HASHLISTS.service(node).grants(principal, list_id)
    return GrantsPublic(organisations=orgs, nodes=nodes)


@router.delete(
    "/hashlists/{list_id}/node-grants/{peer}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=errors(400, 403, 404),
)
def delete_hashlist_node_grant(
    list_id: Text, peer: Text, node: NodeDep, principal: CurrentPrincipal
) -> None:
    """Withdraw a peer node's lookups (its node id, or its name here)."""
    HASHLISTS.service(node).revoke_node(principal, list_id, peer)


@router.delete(
    "/hashlists/{list_id}/grants/{organisation}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=errors(400, 403, 404),
)
def delete_hashlist_grant(
    list_id: Text, organisation: Text, node: NodeDep, principal: CurrentPrincipal
) -> None:
    """Withdraw an organisation's lookups."""
    HASHLISTS.service(node).revoke(principal, list_id, organisation)


@router.post(
    "/hashlists/{list_id}/lookup",
    response_model=list[LookupAnswerPublic],
    responses=errors(400, 403, 404, 409, 422, 429, 502),
)
def create_hashlist_lookup(
    list_id: Text, body: HashLookupRequest, node: NodeDep, principal: CurrentPrincipal
) -> list[LookupAnswerPublic]:
    """Hit or no hit, with labels, in a list the caller may look up but not read: held
    here, or, with ``node``, on that peer node (which this node asks, signed)."""
    items = [Item(h.signal, h.value, h.quality) for h in body.hashes]
    lists = HASHLISTS.service(node)
    if body.node is None:
        answers = lists.lookup(principal, list_id, items)
    elif lists.remote is None:
        raise InvalidInput("this node runs without federation: it has no peer nodes")
    else:
        answers = lists.remote.ask(principal, body.node, list_id, items)
    return [
        LookupAnswerPublic(index=a.query, hit=a.hit, labels=a.labels, distance=a.distance)
        for a in answers
    ]


def _moment(value: str | None, name: str, default: datetime) -> datetime:
    if value is None:
        return default
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        why = "an ISO 8601 date or timestamp"
        raise InvalidInput(f"'{name}' is {why}", [Problem(why, field=name)]) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@router.get("/hashlists/{list_id}/report", responses=errors(400, 404))
def read_hashlist_report(
    list_id: Text,
    node: NodeDep,
    principal: CurrentPrincipal,
    start: Annotated[str | None, Query(max_length=40)] = None,
    end: Annotated[str | None, Query(max_length=40)] = None,
) -> dict[str, Any]:
    """The list's transparency report for [start, end) (default: the last 30 days)."""
    now = node.clock()
    until = _moment(end, "end", now + timedelta(seconds=1))
    since = _moment(start, "start", until - timedelta(days=30))
    return HASHLISTS.service(node).report(principal, list_id, since, until)
