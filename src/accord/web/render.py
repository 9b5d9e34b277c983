"""Templates, the headers every page carries, and the small formatting helpers pages use."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup

from accord.coordinate.capability import COORDINATE
from accord.domain.tlp import TLP
from accord.errors import AccordError, NotAuthenticated
from accord.web import charts
from accord.web.session import CSRF_FIELD, Viewer, anonymous_csrf, remember_csrf, viewer

# No inline script or style anywhere: htmx and the stylesheet come from /static.
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    # Acknowledgement links carry their token in the path: never leak it onward.
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}
_TLP_CLASS = {
    TLP.RED: "red",
    TLP.AMBER_STRICT: "amber",
    TLP.AMBER: "amber",
    TLP.GREEN: "green",
    TLP.CLEAR: "clear",
}


def tlp_label(value: TLP | str | None) -> Markup:
    """A TLP label as FIRST shows it: capitals, TLP colour on black."""
    if value is None:
        return Markup("")
    tlp = value if isinstance(value, TLP) else TLP.parse(value)
    return Markup('<span class="tlp tlp-{}">{}</span>').format(_TLP_CLASS[tlp], tlp.value)


def when(moment: datetime | str | None) -> Markup:
    """A time as a <time> element, in UTC to the minute."""
    if moment is None:
        return Markup("")
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment.replace("Z", "+00:00"))
    utc = moment.astimezone(UTC)
    return Markup('<time datetime="{}">{}</time>').format(
        utc.isoformat(timespec="seconds"), utc.strftime("%Y-%m-%d %H:%M UTC")
    )


def duration(seconds: float) -> str:
    """``2 d 3 h``, ``3 h 12 min``, ``45 min``, ``30 s``."""
    seconds = abs(seconds)
    days, rest = divmod(int(seconds), 86_400)
    hours, rest = divmod(rest, 3_600)
    minutes = rest // 60
    if days:
        return f"{days} d {hours} h"
    if hours:
        return f"{hours} h {minutes} min"
    if minutes:
        return f"{minutes} min"
    return f"{int(seconds)} s"


def time_left(due: datetime | None, now: datetime) -> Markup:
    """A countdown to ``due``: "3 h 12 min left", or "overdue by 20 min"."""
    if due is None:
        return Markup("")
    seconds = (due - now) / timedelta(seconds=1)
    if seconds >= 0:
        return Markup('<span class="left">{} left</span>').format(duration(seconds))
    return Markup('<span class="overdue">overdue by {}</span>').format(duration(seconds))


def _environment() -> Environment:
    env = Environment(
        loader=PackageLoader("accord.web", "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals.update(
        tlp=tlp_label, when=when, time_left=time_left, duration=duration, bars=charts.bars
    )
    return env


ENV = _environment()


def page(
    request: Request,
    template: str,
    who: Viewer | None,
    *,
    status: int = 200,
    **context: Any,
) -> HTMLResponse:
    """Render ``template`` with the console's headers and the viewer's CSRF token."""
    csrf = who.csrf if who is not None else anonymous_csrf(request)
    node = request.app.state.node
    names = {o.identity_id: o.name for o in node.accounts.orgs.all()}
    nodes = _node_names(node)
    html = ENV.get_template(template).render(
        org_name=lambda identity: names.get(identity, identity),
        node_label=lambda node_id: (
            f"{nodes[node_id]} ({node_id[:8]})" if node_id in nodes else node_id
        ),
        request=request,
        viewer=who,
        csrf=csrf,
        csrf_field=CSRF_FIELD,
        node_name=node.settings.node_name,
        nav=request.app.state.nav,
        now=node.clock(),
        **context,
    )
    response = HTMLResponse(html, status_code=status, headers=headers(request))
    remember_csrf(request, response)
    return response


def _node_names(node: Any) -> dict[str, str]:
    """Peer nodes' names by node id, where this node coordinates with peers."""
    if not COORDINATE.runs_on(node):
        return {}
    link = node.coordination.link
    return link.node_names() if link is not None else {}


def headers(request: Request) -> dict[str, str]:
    return dict(SECURITY_HEADERS)


def redirect(request: Request, url: str) -> RedirectResponse:
    """See other: after a form, the browser GETs ``url`` (post/redirect/get)."""
    return RedirectResponse(url, status_code=303, headers=headers(request))


def error_page(request: Request, exc: AccordError) -> Response:
    """An error on a page: sign-in for a missing session, otherwise a page saying what to do."""
    if isinstance(exc, NotAuthenticated) and request.method == "GET":
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return redirect(request, f"/signin?next={quote(target, safe='')}")
    return page(
        request,
        "error.html",
        viewer(request, request.app.state.node),
        status=exc.status,
        title=exc.title,
        detail=exc.detail,
        problems=[p.as_dict() for p in exc.problems],
    )
