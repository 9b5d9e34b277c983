"""MISP: import events (with the report of what was mapped how), export them, link
sharing groups, manage pulled feeds; and the MISP feed this node serves at ``/misp/feed/``."""

from __future__ import annotations

from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response, StreamingResponse
from pydantic import BaseModel, Field

from accord.api.deps import CurrentPrincipal, MaybePrincipal
from accord.api.fields import Input, Text
from accord.api.openapi import errors
from accord.api.routes.objects import read_body
from accord.domain.tlp import TLP
from accord.errors import InvalidInput, NotFound, Problem
from accord.exchange.misp.mapping import MispDistribution
from accord.http import NodeDep

router = APIRouter(prefix="/misp", tags=["misp"])
feed_router = APIRouter(prefix="/misp/feed", tags=["misp feed"])

JSON = "application/json"
MISP_BODY = {
    "required": True,
    "content": {
        JSON: {
            "schema": {
                "type": "object",
                "description": "A MISP event in the core format ({'Event': {...}}), "
                "or {'events': [...]} of several.",
            }
        }
    },
}


def _defaults(
    tlp: str | None, distribution: int | None
) -> tuple[TLP | None, MispDistribution | None]:
    try:
        parsed = TLP.parse(tlp) if tlp else None
    except ValueError as exc:
        raise InvalidInput(str(exc), [Problem(str(exc), field="tlp")]) from None
    if distribution is not None and distribution not in range(5):
        why = f"unknown distribution {distribution}: use 0 to 4"
        raise InvalidInput(why, [Problem(why, field="distribution")])
    return parsed, MispDistribution(distribution) if distribution is not None else None


@router.post(
    "/events",
    status_code=201,
    responses=errors(403, 404, 409, 413, 422),
    openapi_extra={"requestBody": MISP_BODY},
)
async def import_events(
    request: Request,
    node: NodeDep,
    principal: CurrentPrincipal,
    tlp: Annotated[Text | None, Query(description="TLP for events with no tlp: tag.")] = None,
    distribution: Annotated[
        int | None, Query(description="Distribution for events with none (0-4).")
    ] = None,
) -> Response:
    """Import MISP events, each stored whole or not at all; the report lists what was
    mapped how and every place where Accord chose the stricter setting."""
    body = await read_body(request, node.settings.max_body_bytes)
    default_tlp, default_distribution = _defaults(tlp, distribution)
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise InvalidInput(f"the body is not JSON (truncated?): {exc}") from None
    payloads: list[Any] = [data]
    if isinstance(data, dict) and isinstance(data.get("events"), list):
        payloads = data["events"]

    misp = node.misp
    report = await run_in_threadpool(
        lambda: misp.import_events(
            principal, payloads, tlp=default_tlp, distribution=default_distribution
        )
    )
    return Response(orjson.dumps(report.as_dict()), status_code=201, media_type=JSON)


@router.get("/events", responses=errors(404))
def export_events(node: NodeDep, principal: MaybePrincipal) -> StreamingResponse:
    """Every MISP event the caller may read, in the core format (distribution and
    sharing groups kept), as ``{"response": [...]}``."""

    misp = node.misp

    def chunks() -> Any:
        yield b'{"response":['
        for i, event in enumerate(misp.export(principal)):
            yield (b"," if i else b"") + orjson.dumps(event)
        yield b"]}"

    return StreamingResponse(chunks(), media_type=JSON)


@router.get("/events/{event_uuid}", responses=errors(404))
def export_event(event_uuid: Text, node: NodeDep, principal: MaybePrincipal) -> Response:
    """One MISP event as the caller may read it."""

    return Response(orjson.dumps(node.misp.event(principal, event_uuid)), media_type=JSON)


class GroupLink(Input):
    uuid: Annotated[str, Field(max_length=36, description="The MISP sharing group's UUID.")]
    group: Annotated[str, Field(max_length=80, description="The local sharing group's slug.")]


@router.post("/sharing-groups", status_code=204, responses=errors(403, 404, 422))
def link_group(body: GroupLink, node: NodeDep, principal: CurrentPrincipal) -> Response:
    """Link a MISP sharing group (by UUID) to a local sharing group (admins)."""

    node.misp.link_group(principal, body.uuid, body.group)
    return Response(status_code=204)


class FeedCreate(Input):
    name: Annotated[str, Field(max_length=80)]
    url: Annotated[str, Field(max_length=2000, description="A directory or an http(s) URL.")]
    distribution: Annotated[int, Field(ge=0, le=4, description="For events with none.")] = 0
    tlp: Annotated[str | None, Field(max_length=20, description="For events with no tlp: tag.")] = (
        None
    )


class FeedPublic(BaseModel):
    name: str
    url: str
    distribution: int
    tlp: str
    events: int
    last_pulled: str | None
    last_error: str | None


def _feed_public(feed: Any) -> FeedPublic:
    return FeedPublic(
        name=feed.name,
        url=feed.url,
        distribution=feed.distribution,
        tlp=feed.tlp,
        events=len(feed.cursor),
        last_pulled=feed.last_pulled.isoformat() if feed.last_pulled else None,
        last_error=feed.last_error,
    )


@router.post("/feeds", status_code=201, response_model=FeedPublic, responses=errors(403, 422))
def add_feed(body: FeedCreate, node: NodeDep, principal: CurrentPrincipal) -> FeedPublic:
    """Pull a MISP feed on schedule (admins)."""

    tlp, _ = _defaults(body.tlp, None)
    feed = node.misp.add_feed(
        principal, body.name, body.url, distribution=body.distribution, tlp=tlp
    )
    return _feed_public(feed)


@router.get("/feeds", response_model=list[FeedPublic], responses=errors(403))
def list_feeds(node: NodeDep, principal: CurrentPrincipal) -> list[FeedPublic]:
    """The feeds this node pulls (admins)."""
    from accord.errors import Forbidden

    if not principal.is_admin():
        raise Forbidden("only an admin may list MISP feeds")
    return [_feed_public(f) for f in node.misp.repo.feeds()]


@router.post("/feeds/{name}/pull", responses=errors(403, 404, 409, 422, 502))
def pull_feed(name: Text, node: NodeDep, principal: CurrentPrincipal) -> Response:
    """Pull one feed now (admins); the import report of what was new."""
    from accord.errors import Forbidden
    from accord.exchange.misp.feeds import pull_feed as pull

    if not principal.is_admin():
        raise Forbidden("only an admin may pull a MISP feed")
    misp = node.misp
    feed = misp.repo.feed(name)
    if feed is None:
        raise NotFound(f"no MISP feed {name!r}")
    result = pull(misp, feed)
    body = {"fetched": result.fetched, "up_to_date": result.up_to_date, **result.report.as_dict()}
    return Response(orjson.dumps(body), media_type=JSON)


# The feed served: what a MISP instance's ordinary feed settings read ----------------------


@feed_router.get("/manifest.json", responses=errors(404))
def feed_manifest(node: NodeDep, principal: MaybePrincipal) -> Response:
    """The events the caller may read (anonymous callers: TLP:CLEAR public data)."""

    return Response(orjson.dumps(node.misp.feed_manifest(principal)), media_type=JSON)


class CsvResponse(StreamingResponse):
    """``hashes.csv`` (the OpenAPI document names its media type)."""

    media_type = "text/csv"


@feed_router.get("/hashes.csv", response_class=CsvResponse, responses=errors(404))
def feed_hashes(node: NodeDep, principal: MaybePrincipal) -> StreamingResponse:
    """``md5(value),event uuid`` for every attribute the caller may read."""

    lines = node.misp.feed_hashes(principal)
    return CsvResponse((line.encode() for line in lines), media_type="text/csv")


@feed_router.get("/{event_file}", responses=errors(404))
def feed_event(event_file: Text, node: NodeDep, principal: MaybePrincipal) -> Response:
    """``<uuid>.json``: one event in MISP's feed format, as the caller may read it."""

    if not event_file.endswith(".json"):
        raise NotFound(f"no feed file {event_file[:80]!r}")
    event = node.misp.feed_event(principal, event_file.removesuffix(".json"))
    return Response(orjson.dumps(event), media_type=JSON)
