"""RFC 9457 problem+json for every error, with stable ``type`` URIs.

``type`` is ``/api/v1/problems/{slug}`` on the node itself, where a GET explains it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import BaseRoute

from accord.errors import (
    ERROR_TYPES,
    AccordError,
    InvalidInput,
    NotAuthenticated,
    NotFound,
    TooManyAttempts,
)
from accord.exchange.taxii import MEDIA_TYPE as TAXII_MEDIA_TYPE

try:
    from fastapi.routing import iter_route_contexts
except ImportError:  # FastAPI before lazily included routers: ``app.routes`` is flat

    def iter_route_contexts(routes: Sequence[BaseRoute]) -> Iterator[Any]:  # type: ignore[misc]
        return iter(routes)


MEDIA_TYPE = "application/problem+json"
PREFIX = "/api/v1/problems/"


def problem_response(
    status: int,
    slug: str,
    title: str,
    detail: str,
    extra: dict[str, Any] | None = None,
    headers: Mapping[str, str] | None = None,
) -> Response:
    body: dict[str, Any] = {
        "type": PREFIX + slug,
        "title": title,
        "status": status,
        "detail": detail,
    }
    body.update(extra or {})
    if status == 401:
        headers = {"WWW-Authenticate": 'Bearer realm="accord"', **(headers or {})}
    return Response(orjson.dumps(body), status_code=status, media_type=MEDIA_TYPE, headers=headers)


def taxii_error(
    status: int,
    title: str,
    detail: str,
    extra: dict[str, Any] | None = None,
    headers: Mapping[str, str] | None = None,
    error_id: str | None = None,
) -> Response:
    """A TAXII 2.1 error message (section 3.6.1), in the TAXII media type."""
    body: dict[str, Any] = {"title": title, "description": detail, "http_status": str(status)}
    if error_id:
        body["error_id"] = error_id
    if extra:
        body["details"] = extra
    if status == 401:
        headers = {
            "WWW-Authenticate": 'Basic realm="accord", Bearer realm="accord"',
            **(headers or {}),
        }
    return Response(
        orjson.dumps(body), status_code=status, media_type=TAXII_MEDIA_TYPE, headers=headers
    )


def is_taxii(path: str) -> bool:
    return path.startswith("/taxii2")


def error_response(
    path: str,
    exc: AccordError,
    *,
    request_id: str | None = None,
    headers: Mapping[str, str] | None = None,
) -> Response:
    """``exc`` as an answer to a request for ``path``: a TAXII error message under
    ``/taxii2``, problem+json elsewhere; ``request_id`` names the request in the log."""
    extra: dict[str, Any] = (
        {"problems": [p.as_dict() for p in exc.problems]} if exc.problems else {}
    )
    headers = {**retry_after(exc), **(headers or {})}
    if is_taxii(path):
        return taxii_error(
            exc.status, exc.title, exc.detail, extra, headers=headers, error_id=request_id
        )
    if request_id:
        extra["request_id"] = request_id
    return problem_response(exc.status, exc.slug, exc.title, exc.detail, extra, headers)


def from_error(exc: AccordError, request: Request | None = None) -> Response:
    if request is not None:
        # A console page (accord.web) answers errors with a page of its own.
        page_error: Callable[[Request, AccordError], Response] | None = getattr(
            request.state, "page_error", None
        )
        if page_error is not None:
            return page_error(request, exc)
    return error_response(request.url.path if request is not None else "", exc)


def retry_after(exc: AccordError) -> dict[str, str]:
    """The ``Retry-After`` header an error asks for, if any."""
    return {"Retry-After": str(exc.retry_after)} if isinstance(exc, TooManyAttempts) else {}


_HTTP = {404: NotFound, 401: NotAuthenticated}


def _field(error: Any) -> str:
    """The field a request-validation error is about; ``body`` for the body as a whole."""
    if error.get("type") == "json_invalid":
        return "body"
    return ".".join(str(p) for p in error.get("loc", ()) if p != "body") or "body"


def install(app: FastAPI) -> None:
    """Route every error the app can raise to a problem+json body."""

    @app.exception_handler(AccordError)
    async def _accord(request: Request, exc: AccordError) -> Response:
        return from_error(exc, request)

    @app.exception_handler(RequestValidationError)
    async def _request(request: Request, exc: RequestValidationError) -> Response:
        problems = [{"field": _field(e), "reason": e["msg"]} for e in exc.errors()]
        if is_taxii(request.url.path):
            return taxii_error(
                400, "Bad request", "the request is malformed", {"problems": problems}
            )
        return problem_response(
            400,
            InvalidInput.slug,
            InvalidInput.title,
            "the request is malformed",
            {"problems": problems},
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        headers = dict(exc.headers or {})
        if exc.status_code == 405:
            headers["Allow"] = _allowed(request, headers.get("Allow", ""))
        if is_taxii(request.url.path):
            return taxii_error(exc.status_code, str(exc.detail), str(exc.detail), headers=headers)
        kind = _HTTP.get(exc.status_code)
        slug = kind.slug if kind else f"http-{exc.status_code}"
        title = kind.title if kind else str(exc.detail)
        # FastAPI raises a bare 400 for a body it cannot parse (nested too deep).
        extra = (
            {"problems": [{"field": "body", "reason": str(exc.detail)}]}
            if exc.status_code == 400
            else None
        )
        return problem_response(
            exc.status_code, slug, title, str(exc.detail), extra, headers=headers
        )

    # Anything else is answered by accord.api.edge, outside the app's error middleware.


def _allowed(request: Request, first: str) -> str:
    """Every method some route takes at this path: Starlette's 405 names the methods of
    the first route that matched the path, and a path often has one route per method."""
    path = request.scope["path"]
    methods = {m.strip() for m in first.split(",") if m.strip()}
    for route in iter_route_contexts(request.app.routes):
        regex, declared = getattr(route, "path_regex", None), getattr(route, "methods", None)
        if declared and regex is not None and regex.match(path):
            methods |= declared
    return ", ".join(sorted(methods))


def describe(slug: str) -> dict[str, Any] | None:
    for kind in ERROR_TYPES:
        if kind.slug == slug:
            return {
                "type": PREFIX + slug,
                "title": kind.title,
                "status": kind.status,
                "description": (kind.__doc__ or kind.title).strip().splitlines()[0],
            }
    return None
