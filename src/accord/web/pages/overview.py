"""The overview: what arrived since the last visit, requests waiting, checks, peers.

Each panel belongs to a capability and shows only on a node that runs it.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from accord.coordinate.capability import COORDINATE
from accord.domain.model import Principal
from accord.domain.scope import Scope
from accord.domain.tlp import TLP
from accord.exchange.capability import EXCHANGE
from accord.federation.capability import FEDERATION
from accord.http import NodeDep
from accord.node import Node
from accord.store.objects import Arrival
from accord.web.pages import ViewerDep
from accord.web.render import page
from accord.web.session import VISIT_COOKIE, set_cookie

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


def across_nodes(node: Node, principal: Principal) -> dict[str, Any]:
    """What the viewer has with other nodes: remote contacts it may see, open cases with a
    party homed elsewhere, and contacts elsewhere its open checks still wait for."""
    coordination = node.coordination
    return {
        "contacts": sum(c.home_node is not None for c in coordination.directory.search(principal)),
        "cases": coordination.requests.across_nodes(principal, INBOX_SHOWN),
        "checks": coordination.checks.awaiting_other_nodes(principal),
    }


@router.get("/")
def read_overview(request: Request, node: NodeDep, viewer: ViewerDep) -> Response:
    now = node.clock()
    since = _last_visit(request, now)
    start = min(since, now - timedelta(days=CHART_DAYS - 1))
    principal = viewer.principal
    panels: dict[str, Any] = {}
    if EXCHANGE.runs_on(node):
        panels["summary"] = summarise(node.exchange.arrivals(principal, start), since, now)
    if COORDINATE.runs_on(node):
        trend = node.coordination.checks.trend(principal) if principal.org is not None else []
        panels["requests"] = node.coordination.requests.waiting(principal, INBOX_SHOWN)
        panels["latest_check"] = trend[-1] if trend else None
        panels["response_times"] = [
            (f"#{c.check}", (c.median_seconds or 0) / 60) for c in trend[-12:]
        ]
        panels["across"] = across_nodes(node, principal) if FEDERATION.runs_on(node) else None
    if FEDERATION.runs_on(node):
        panels["peers"] = node.federation.statuses_visible_to(principal)
    response = page(
        request,
        "overview.html",
        viewer,
        title="Overview",
        since=since,
        runs={c.name for c in node.capabilities},
        **panels,
    )
    set_cookie(request, response, VISIT_COOKIE, now.isoformat(), max_age=400 * 86_400)
    return response
