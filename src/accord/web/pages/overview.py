"""The overview: what arrived since the last visit, requests waiting, checks, peers."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from accord.api.deps import NodeDep
from accord.coordinate.workflow import FINAL, State
from accord.domain.scope import Scope
from accord.domain.tlp import TLP
from accord.node import Node
from accord.store.objects import Arrival
from accord.web.pages import ViewerDep
from accord.web.render import page
from accord.web.session import VISIT_COOKIE, Viewer, set_cookie

router = APIRouter()

CHART_DAYS = 14
# The overview counts at most this many recent objects, so it renders in the same time
# with a thousand objects stored or a million; beyond it, counts read "at least".
ARRIVALS_CAP = 10_000
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


def summarise(
    arrivals: list[Arrival], since: datetime, today: datetime, capped: bool
) -> dict[str, Any]:
    """Counts by TLP and scope since ``since``, and objects per day for the chart."""
    since_text = since.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    new = [a for a in arrivals if a.date_added > since_text]
    by_tlp = Counter(a.tlp for a in new)
    by_scope = Counter(a.scope for a in new)
    per_day = Counter(a.date_added[:10] for a in arrivals)
    days = [(today - timedelta(days=n)).strftime("%Y-%m-%d") for n in range(CHART_DAYS - 1, -1, -1)]
    return {
        "total": len(new),
        "at_least": capped and len(new) == len(arrivals),
        "by_tlp": [(t, by_tlp[t]) for t in TLP if by_tlp[t]],
        "by_scope": [(s, by_scope[s]) for s in Scope if by_scope[s]],
        "per_day": [(d[5:], float(per_day[d])) for d in days],
        "chart_capped": capped,
    }


def _open_requests(node: Node, viewer: Viewer) -> list[dict[str, Any]]:
    items = node.coordination.requests.box(viewer.principal, "inbox", None, None, INBOX_SHOWN)
    waiting = [r for r in items if State(r["state"]) not in FINAL and r["state"] != "draft"]
    for r in waiting:
        r["due"] = r["acknowledge_due"] if r["state"] == "submitted" else r["respond_due"]
    return waiting


@router.get("/")
def read_overview(request: Request, node: NodeDep, viewer: ViewerDep) -> Response:
    now = node.clock()
    since = _last_visit(request, now)
    start = min(since, now - timedelta(days=CHART_DAYS))
    arrivals = node.exchange.arrivals(viewer.principal, start, ARRIVALS_CAP)
    summary = summarise(arrivals, since, now, capped=len(arrivals) >= ARRIVALS_CAP)
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
