"""The edge: what every HTTP request and response passes through, in one ASGI middleware.

``Edge`` is the outermost of the app's own middleware (Starlette's last-resort handler
sits outside it and never sees an exception). On the way in it gives each request an
id (a sane incoming ``X-Request-ID``, else a new one), refuses what no route should
see (NUL, or bytes that are not UTF-8, in the path or the query string; NUL in a header:
400) and a body in a media type its endpoint does not parse (415). On the way out it
adds the security headers a response did not set itself and echoes the request id.

An exception no handler answered becomes a 500 problem (503 with ``Retry-After`` when
the database is down or overloaded) on a connection that stays open, logged as one
line: the request id, the method, the path, the exception's class and where it was
raised. Never its message, which may quote parameters, bodies or secrets.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import os
import re
import sysconfig
import traceback
import uuid
from collections.abc import Callable
from urllib.parse import quote, unquote, unquote_to_bytes

from sqlalchemy import exc as sql
from starlette.types import ASGIApp, Message, Receive, Scope, Send

import accord
from accord.api.problems import error_response
from accord.errors import AccordError, InvalidInput, Problem, Unavailable, UnsupportedMediaType
from accord.exchange.taxii import MEDIA_TYPE as TAXII_MEDIA_TYPE

log = logging.getLogger("accord.http")

RETRY_AFTER_S = 5
DOCS_PATH = "/api/docs"
# Every response: a JSON body is not a page, and nothing of ours is framed or referred on.
API_CSP = "default-src 'none'; frame-ancestors 'none'"
_ALWAYS = (
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
)
_NO_STORE = (b"cache-control", b"no-store")
# Swagger UI (FastAPI's docs page) loads from jsDelivr, boots from one inline script
# (allowed by its hash, see ``_docs_policy``), styles elements inline and draws data: icons.
_DOCS_CSP = (
    "default-src 'none'; script-src https://cdn.jsdelivr.net {hashes}; "
    "style-src https://cdn.jsdelivr.net 'unsafe-inline'; "
    "img-src data: https://fastapi.tiangolo.com; connect-src 'self'; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
_SANE_ID = re.compile(rb"[A-Za-z0-9._-]{1,64}")
_SQLITE_OUTAGES = frozenset(
    {"BUSY", "LOCKED", "NOMEM", "READONLY", "IOERR", "CORRUPT", "FULL", "CANTOPEN", "NOTADB"}
)
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
_OURS = os.path.dirname(accord.__file__) + os.sep
_LIBRARIES = tuple(
    {sysconfig.get_path(name) for name in ("stdlib", "platstdlib", "purelib", "platlib")}
)
MediaTest = Callable[[str, dict[str, str]], bool]


def _json(media: str, params: dict[str, str]) -> bool:
    return media == "application/json" or (
        media.startswith("application/") and media.endswith("+json")
    )


def _taxii(media: str, params: dict[str, str]) -> bool:
    return media == "application/taxii+json" and params.get("version", "2.1") == "2.1"


def _csv(media: str, params: dict[str, str]) -> bool:
    return media == "text/csv"


def _form(media: str, params: dict[str, str]) -> bool:
    return media in ("application/x-www-form-urlencoded", "multipart/form-data")


# Where a request body is parsed, what it must be: the first prefix that matches decides.
BODY_MEDIA: tuple[tuple[str, MediaTest, str], ...] = (
    ("/taxii2/", _taxii, TAXII_MEDIA_TYPE),  # TAXII and the federation feed
    ("/api/v1/contacts/import", _csv, "text/csv"),
    ("/api/", _json, "application/json"),
    ("/", _form, "application/x-www-form-urlencoded"),  # the console's forms
)


class Edge:
    """ASGI middleware: request ids, refused input, security headers, the last resort."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"][::-1])  # the first of repeated headers wins
        incoming = headers.get(b"x-request-id", b"")
        request_id = incoming.decode() if _SANE_ID.fullmatch(incoming) else uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id
        path: str = scope["path"]
        api = path.startswith(("/api/", "/taxii2"))
        added = [*_ALWAYS, (b"x-request-id", request_id.encode())]
        if api:
            added.append(_NO_STORE)
        docs = path == DOCS_PATH
        if not docs:
            added.append((b"content-security-policy", API_CSP.encode()))
        started = False
        held: Message | None = None

        async def send_out(message: Message) -> None:
            nonlocal started, held
            if message["type"] == "http.response.start":
                started = True
                own = {name.lower() for name, _ in message.get("headers", ())}
                message = {
                    **message,
                    "headers": [
                        *message.get("headers", ()),
                        *((n, v) for n, v in added if n not in own),
                    ],
                }
                if docs and b"content-security-policy" not in own:
                    held = message  # its policy names the hashes of the body's scripts
                    return
            elif held is not None:
                held["headers"].append(
                    (b"content-security-policy", _docs_policy(message.get("body", b"")))
                )
                await send(held)
                held = None
            await send(message)

        refused = _refusal(scope, headers)
        if refused is not None:
            await error_response(path, refused)(scope, receive, send_out)
            return
        try:
            await self.app(scope, receive, send_out)
        except Exception as exc:
            where = _log_path(scope)
            if _database_down(exc):
                log.error(
                    "request %s: %s %s: the database is unavailable (%s)",
                    request_id,
                    scope["method"],
                    where,
                    type(exc).__name__,
                )
                failure: AccordError = Unavailable(
                    f"the node's database is unavailable; retry in {RETRY_AFTER_S} seconds"
                )
                retry = {"Retry-After": str(RETRY_AFTER_S)}
            else:
                log.error(
                    "request %s: %s %s raised %s at %s",
                    request_id,
                    scope["method"],
                    where,
                    type(exc).__name__,
                    _origin(exc),
                )
                failure = AccordError(
                    f"an unexpected error; the node's log has it under request id {request_id}"
                )
                retry = {}
            if started:  # too late to answer: the client sees the response cut short
                return
            response = error_response(path, failure, request_id=request_id, headers=retry)
            await response(scope, receive, send_out)


def _refusal(scope: Scope, headers: dict[bytes, bytes]) -> AccordError | None:
    """Why the request is refused before any route sees it, if it is."""
    problem = _bad_text(scope)
    if problem is not None:
        return InvalidInput(
            "the request has a NUL character or bytes that are not UTF-8", [problem]
        )
    if scope["method"] not in _BODY_METHODS or not _has_body(headers):
        return None
    given = headers.get(b"content-type", b"").decode("latin-1")
    media, *rest = given.split(";")
    params = {}
    for param in rest:
        key, _, value = param.partition("=")
        params[key.strip().lower()] = value.strip().strip('"').lower()
    for prefix, acceptable, expected in BODY_MEDIA:
        if scope["path"].startswith(prefix):
            if acceptable(media.strip().lower(), params):
                return None
            reason = f"{given!r} is not accepted here" if given else "missing"
            return UnsupportedMediaType(
                f"send the body with 'Content-Type: {expected}'",
                [Problem(reason, field="Content-Type")],
            )
    return None


def _has_body(headers: dict[bytes, bytes]) -> bool:
    length = headers.get(b"content-length")
    return b"transfer-encoding" in headers or (length is not None and length.strip() != b"0")


def _bad_text(scope: Scope) -> Problem | None:
    """NUL or undecodable bytes in the path, the query string or a header value."""
    raw = scope.get("raw_path")
    if raw is None:
        raw = scope["path"].encode("utf-8", "surrogatepass")
    reason = _undecodable(unquote_to_bytes(raw))
    if reason is not None:
        return Problem(reason, field="path")
    for pair in scope["query_string"].split(b"&"):
        name, _, value = pair.partition(b"=")
        name, value = (unquote_to_bytes(part.replace(b"+", b" ")) for part in (name, value))
        reason = _undecodable(name)
        if reason is not None:
            return Problem(f"a parameter's name {reason}", field="query string")
        reason = _undecodable(value)
        if reason is not None:
            return Problem(reason, field=name.decode())
    for name, value in scope["headers"]:
        if b"\0" in value:
            return Problem("contains a NUL character", field=name.decode("latin-1"))
    return None


def _undecodable(data: bytes) -> str | None:
    if b"\0" in data:
        return "contains a NUL character"
    try:
        data.decode("utf-8")  # strict: unpaired surrogates are not UTF-8 either
    except UnicodeDecodeError:
        return "is not valid UTF-8"
    return None


def _database_down(exc: Exception) -> bool:
    """The database refused, dropped or could not give a connection: worth a retry.

    A DB-API ``OperationalError`` is, by PEP 249, trouble with the database's operation
    rather than the statement (a lost or refused connection, a lock or a serialisation
    that failed, a disk that failed); the pool's ``TimeoutError`` means every connection
    is busy. SQLite raises ``OperationalError`` for a missing table or a syntax error too:
    its error code tells those (``SQLITE_ERROR``, our fault: a 500) from an outage.
    """
    if isinstance(exc, sql.TimeoutError):
        return True
    if not isinstance(exc, sql.DBAPIError):
        return False
    if exc.connection_invalidated:
        return True
    if not isinstance(exc, sql.OperationalError):
        return False
    code = getattr(exc.orig, "sqlite_errorname", None)  # SQLITE_BUSY, SQLITE_IOERR_READ, …
    return not isinstance(code, str) or code.split("_")[1] in _SQLITE_OUTAGES


def _log_path(scope: Scope) -> str:
    """The path as sent, still percent-encoded (so one line), with each segment that a
    route read as a parameter shown as ``{name}``: a path can carry a secret (an
    acknowledgement link's token) as well as an id."""
    raw: bytes | None = scope.get("raw_path")
    sent = raw.decode("latin-1") if raw is not None else quote(scope["path"])
    names = {str(value): f"{{{name}}}" for name, value in scope.get("path_params", {}).items()}
    return "/".join(names.get(unquote(part), part) for part in sent.split("/"))


def _origin(exc: BaseException) -> str:
    """Where ``exc`` was raised: the innermost frame outside the standard library and the
    installed packages (Accord's own code, wherever it is installed), else the innermost."""
    frames = traceback.extract_tb(exc.__traceback__)
    ours = [
        f for f in frames if f.filename.startswith(_OURS) or not f.filename.startswith(_LIBRARIES)
    ]
    if not (ours or frames):
        return "?"
    frame = (ours or frames)[-1]
    return f"{frame.filename.removeprefix(_OURS)}:{frame.lineno} in {frame.name}"


def _docs_policy(html: bytes) -> bytes:
    """The docs page's policy: its inline scripts allowed by hash, nothing else inline."""
    hashes = " ".join(
        f"'sha256-{base64.b64encode(hashlib.sha256(script).digest()).decode()}'"
        for script in re.findall(rb"<script>(.*?)</script>", html, re.DOTALL)
    )
    return _DOCS_CSP.format(hashes=hashes).encode()
