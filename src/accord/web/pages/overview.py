"""The overview: what arrived since the last visit, requests waiting, checks, peers."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from accord.coordinate.workflow import FINAL, State
from accord.domain.scope import Scope
from accord.domain.tlp import TLP
from accord.http import NodeDep
from accord.node import Node
from accord.store.objects import Arrival
from accord.web.pages import ViewerDep
from accord.web.pages.requests import next_due
from accord.web.render import page
from accord.web.session import VISIT_COOKIE, Viewer, set_cookie

router = APIRouter()

CHART_DAYS = 14
FIRST_VISIT = timedelta(days=7)
INBOX_SHOWN = 50


def _last_visit(request: Request, now: datetime) -> datetime:
    try:
        seen = datetime.fromisoformat(request.cookies.get(VISIT_COOKIE, ""))
    except ValueError:
        return now - FIRST_VISIT
    if seen.tzinfo is None or seen > now:
        return now - FIRST_VISIT
    return seen


def _hour(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H")


def summarise(arrivals: list[Arrival], since: datetime, now: datetime) -> dict[str, Any]:
    """Counts by TLP and scope from the hour of ``since``, and versions per day (chart)."""
    since_hour = _hour(since)
    by_tlp: Counter[TLP] = Counter()
    by_scope: Counter[Scope] = Counter()
    per_day: Counter[str] = Counter()
    for a in arrivals:
        per_day[a.hour[:10]] += a.versions
        if a.hour >= since_hour:
            by_tlp[a.tlp] += a.versions
            by_scope[a.scope] += a.versions
    days = [(now - timedelta(days=n)).strftime("%Y-%m-%d") for n in range(CHART_DAYS - 1, -1, -1)]
    return {
        "total": sum(by_tlp.values()),
        "since_hour": datetime.strptime(since_hour, "%Y-%m-%dT%H").replace(tzinfo=UTC),
        "by_tlp": [(t, by_tlp[t]) for t in TLP if by_tlp[t]],
        "by_scope": [(s, by_scope[s]) for s in Scope if by_scope[s]],
        "per_day": [(d[5:], float(per_day[d])) for d in days],
    }


def _open_requests(node: Node, viewer: Viewer) -> list[dict[str, Any]]:
    items = node.coordination.requests.box(viewer.principal, "inbox", None, None, INBOX_SHOWN)
    waiting = [r for r in items if State(r["state"]) not in FINAL and r["state"] != "draft"]
    for r in waiting:
        r["due"] = next_due(r)
    return waiting


@router.get("/")
def read_overview(request: Request, node: NodeDep, viewer: ViewerDep) -> Response:
    now = node.clock()
    since = _last_visit(request, now)
    start = min(since, now - timedelta(days=CHART_DAYS - 1))
    summary = summarise(node.exchange.arrivals(viewer.principal, start), since, now)
    org = viewer.principal.org
    trend = node.coordination.checks.trend(viewer.principal, org) if org is not None else []
    peers = (
        [node.federation.status(p) for p in node.federation.peers.all()]
        if viewer.principal.is_admin()
        else []
    )
    response = page(
        request,
        "overview.html",
        viewer,
        title="Overview",
        since=since,
        summary=summary,
        requests=_open_requests(node, viewer),
        latest_check=trend[-1] if trend else None,
        response_times=[(f"#{c['check']}", (c["median_seconds"] or 0) / 60) for c in trend[-12:]],
        peers=peers,
    )
    set_cookie(request, response, VISIT_COOKIE, now.isoformat(), max_age=400 * 86_400)
    return response
