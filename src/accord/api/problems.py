"""RFC 9457 problem+json for every error, with stable ``type`` URIs.

``type`` is ``/api/v1/problems/{slug}`` on the node itself, where a GET explains it.
"""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from accord.errors import ERROR_TYPES, AccordError, InvalidInput, NotAuthenticated, NotFound

MEDIA_TYPE = "application/problem+json"
PREFIX = "/api/v1/problems/"


def problem_response(
    status: int, slug: str, title: str, detail: str, extra: dict[str, Any] | None = None
) -> Response:
    body: dict[str, Any] = {
        "type": PREFIX + slug,
        "title": title,
        "status": status,
        "detail": detail,
    }
    body.update(extra or {})
    headers = {"WWW-Authenticate": 'Bearer realm="accord"'} if status == 401 else None
    return Response(orjson.dumps(body), status_code=status, media_type=MEDIA_TYPE, headers=headers)


def from_error(exc: AccordError) -> Response:
    extra = {"problems": [p.as_dict() for p in exc.problems]} if exc.problems else None
    return problem_response(exc.status, exc.slug, exc.title, exc.detail, extra)


_HTTP = {404: NotFound, 401: NotAuthenticated}


def install(app: FastAPI) -> None:
    """Route every error the app can raise to a problem+json body."""

    @app.exception_handler(AccordError)
    async def _accord(_: Request, exc: AccordError) -> Response:
        return from_error(exc)

    @app.exception_handler(RequestValidationError)
    async def _request(_: Request, exc: RequestValidationError) -> Response:
        problems = [
            {"field": ".".join(str(p) for p in e.get("loc", ()) if p != "body"), "reason": e["msg"]}
            for e in exc.errors()
        ]
        return problem_response(
            400,
            InvalidInput.slug,
            InvalidInput.title,
            "the request is malformed",
            {"problems": problems},
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> Response:
        kind = _HTTP.get(exc.status_code)
        slug = kind.slug if kind else f"http-{exc.status_code}"
        title = kind.title if kind else str(exc.detail)
        return problem_response(exc.status_code, slug, title, str(exc.detail))

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> Response:
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
