"""A synchronous face on ``httpx.AsyncClient`` + ``ASGITransport``, for in-process API tests.

The app runs on an event loop in a helper thread (an anyio blocking portal), the way
it runs under uvicorn, while tests stay plain functions.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from functools import partial
from types import TracebackType
from typing import Any

import httpx
from anyio.from_thread import BlockingPortal, start_blocking_portal
from fastapi import FastAPI


class Client:
    def __init__(self, app: FastAPI, address: str = "127.0.0.1") -> None:
        """``address``: the source address the app sees requests come from."""
        self._portal_cm: AbstractContextManager[BlockingPortal] = start_blocking_portal()
        self._portal = self._portal_cm.__enter__()
        self._client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app, client=(address, 123)),
            base_url="http://accord.test",
        )

    def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        return self._portal.call(partial(self._client.request, method, url, **kwargs))

    def get(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("GET", url, **kwargs)

    def post(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("POST", url, **kwargs)

    def delete(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("DELETE", url, **kwargs)

    def close(self) -> None:
        self._portal.call(self._client.aclose)
        self._portal_cm.__exit__(None, None, None)

    def __enter__(self) -> Client:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
