"""What every HTTP surface shares (the REST API, TAXII, the console): the node behind a
request, where it came from, and the opaque paging cursor. The API and the console meet
nowhere else but in ``accord.app``, where the application is assembled."""

from __future__ import annotations

import base64
import binascii
from typing import Annotated

from fastapi import Depends, Path, Request

from accord.errors import InvalidInput, Problem
from accord.node import Node


async def get_node(request: Request) -> Node:
    """The node serving this request. Async (it does no I/O) so that FastAPI calls it in
    the event loop rather than handing it to a worker thread, as it does a plain def."""
    node: Node = request.app.state.node
    return node


NodeDep = Annotated[Node, Depends(get_node)]

# The largest id an ``Integer`` key holds on every store (PostgreSQL's is 32-bit).
MAX_ROW_ID = 2**31 - 1
# The id of a row (token, contact, check, request, webhook) in a path, API or console.
RowId = Annotated[int, Path(ge=1, le=MAX_ROW_ID)]


def client_address(request: Request) -> str:
    """The address a request came from, as the server reports it (uvicorn applies
    ``X-Forwarded-For`` only from proxies it trusts): what sign-in throttling counts by."""
    return request.client.host if request.client is not None else "unknown"


def encode_cursor(pk: int | None) -> str | None:
    """The opaque ``cursor`` a listing hands out for the page after ``pk``."""
    return base64.urlsafe_b64encode(str(pk).encode()).decode().rstrip("=") if pk else None


def decode_cursor(cursor: str | None) -> int | None:
    """The position behind a cursor this node handed out; InvalidInput for any other."""
    if not cursor:
        return None
    refused = InvalidInput(
        "the cursor is not one this node handed out; start again without it",
        [Problem("not a cursor of this node", field="cursor")],
    )
    try:
        position = int(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode())
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise refused from None
    # Positions are 64-bit row keys: anything else would reach the database and fail there.
    if not 0 < position < 2**63:
        raise refused
    return position
