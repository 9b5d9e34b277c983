"""RFC 9457 problem+json for every error, with stable ``type`` URIs.

``type`` is ``/api/v1/problems/{slug}`` on the node itself, where a GET explains it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from accord.errors import (
    ERROR_TYPES,
    AccordError,
    InvalidInput,
    NotAuthenticated,
    NotFound,
    TooManyAttempts,
)
from accord.exchange.taxii import MEDIA_TYPE as TAXII_MEDIA_TYPE

log = logging.getLogger("accord.api")
MEDIA_TYPE = "application/problem+json"
PREFIX = "/api/v1/problems/"


def problem_response(
    status: int,
    slug: str,
    title: str,
    detail: str,
    extra: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    body: dict[str, Any] = {
        "type": PREFIX + slug,
        "title": title,
        "status": status,
        "detail": detail,
    }
    body.update(extra or {})
    headers = dict(headers or {})
    if status == 401:
        headers["WWW-Authenticate"] = 'Bearer realm="accord"'
    return Response(orjson.dumps(body), status_code=status, media_type=MEDIA_TYPE, headers=headers)


def taxii_error(
    status: int,
    title: str,
    detail: str,
    extra: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    """A TAXII 2.1 error message (section 3.6.1), in the TAXII media type."""
    body: dict[str, Any] = {"title": title, "description": detail, "http_status": str(status)}
    if extra:
        body["details"] = extra
    headers = dict(headers or {})
    if status == 401:
        headers["WWW-Authenticate"] = 'Basic realm="accord", Bearer realm="accord"'
    return Response(
        orjson.dumps(body), status_code=status, media_type=TAXII_MEDIA_TYPE, headers=headers
    )


def _is_taxii(request: Request) -> bool:
    return request.url.path.startswith("/taxii2")


def from_error(exc: AccordError, request: Request | None = None) -> Response:
    if request is not None:
        # A console page (accord.web) answers errors with a page of its own.
        page_error: Callable[[Request, AccordError], Response] | None = getattr(
            request.state, "page_error", None
        )
        if page_error is not None:
            return page_error(request, exc)
    extra = {"problems": [p.as_dict() for p in exc.problems]} if exc.problems else None
    headers = retry_after(exc)
    if request is not None and _is_taxii(request):
        return taxii_error(exc.status, exc.title, exc.detail, extra, headers)
    return problem_response(exc.status, exc.slug, exc.title, exc.detail, extra, headers)


def retry_after(exc: AccordError) -> dict[str, str]:
    """The ``Retry-After`` header an error asks for, if any."""
    return {"Retry-After": str(exc.retry_after)} if isinstance(exc, TooManyAttempts) else {}


_HTTP = {404: NotFound, 401: NotAuthenticated}


def install(app: FastAPI) -> None:
    """Route every error the app can raise to a problem+json body."""

    @app.exception_handler(AccordError)
    async def _accord(request: Request, exc: AccordError) -> Response:
        return from_error(exc, request)

    @app.exception_handler(RequestValidationError)
    async def _request(request: Request, exc: RequestValidationError) -> Response:
        problems = [
            {"field": ".".join(str(p) for p in e.get("loc", ()) if p != "body"), "reason": e["msg"]}
            for e in exc.errors()
        ]
        if _is_taxii(request):
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
        if _is_taxii(request):
            return taxii_error(exc.status_code, str(exc.detail), str(exc.detail))
        kind = _HTTP.get(exc.status_code)
        slug = kind.slug if kind else f"http-{exc.status_code}"
        title = kind.title if kind else str(exc.detail)
        return problem_response(exc.status_code, slug, title, str(exc.detail))

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Response:
        log.exception("unexpected error on %s %s", request.method, request.url.path)
        if _is_taxii(request):
            return taxii_error(
                500, "Internal error", "an unexpected error; the node log has details"
            )
        return problem_response(
            500,
            AccordError.slug,
            AccordError.title,
            "an unexpected error; the node log has details",
        )


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
