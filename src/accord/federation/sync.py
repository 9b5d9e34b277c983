"""Syncing with a peer: pull what it offers us, push what the policy lets it receive.

Each message is stored all or nothing, and the cursor moves in the same transaction
(pull) or only after the peer accepted the message (push). A sync killed at any
point resumes where the last committed message left off; a message sent twice is a
no-op on arrival, so nothing is lost and nothing duplicated.

The HTTP client comes from the caller: ``peer_http`` builds the one for real peers,
and tests hand in one whose transport reaches other nodes in the same process.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any
from weakref import WeakKeyDictionary

import httpx
import orjson

from accord.domain.collections import FEDERATION_COLLECTION
from accord.errors import AccordError, PeerUnavailable
from accord.exchange.taxii import MEDIA_TYPE
from accord.federation.service import Federation
from accord.store.peers import Peer

log = logging.getLogger("accord.federation")
# A cursor at a date_added is past every version of that time (date_added is distinct).
PAST_EVERY_PK = 2**63 - 1
# The header beside a signed message's body, both ways; the API's feed reads and sets it.
SIGNATURE = "X-Accord-Signature"


# What else a sync does with a peer once its messages went both ways, per federation:
# the audit capability exchanges signed tree heads (``add_sync_step``).
SyncStep = Callable[[Peer, httpx.Client], None]
_STEPS: WeakKeyDictionary[Federation, list[SyncStep]] = WeakKeyDictionary()


def add_sync_step(federation: Federation, step: SyncStep) -> None:
    """Run ``step(peer, http)`` at the end of every successful sync with a peer.

    A step reports its own findings (on its own records); one that fails is logged and
    does not fail the sync, whose messages are already stored on both sides.
    """
    _STEPS.setdefault(federation, []).append(step)


def _after_sync(federation: Federation, name: str, http: httpx.Client) -> None:
    for step in _STEPS.get(federation, ()):
        try:
            step(federation.peer(name), http)
        except Exception:
            log.exception(
                "after the sync with %s: %s failed", name, getattr(step, "__name__", step)
            )


@dataclass(slots=True)
class SyncReport:
    peer: str
    pulled: int = 0
    pushed: int = 0
    undeliverable: int = 0


def _feed(peer: Peer) -> str:
    return f"{peer.url}/taxii2/api/collections/{FEDERATION_COLLECTION}/objects/"


def peer_http(timeout: float) -> httpx.Client:
    """The HTTP client for syncing with real peers; one serves every peer of a sync."""
    return httpx.Client(timeout=timeout)


class PeerClient:
    """One peer's feed over ``http``, with a size limit on what the peer may send back."""

    def __init__(self, peer: Peer, http: httpx.Client, max_bytes: int) -> None:
        if not peer.token:
            raise PeerUnavailable(
                f"no token for {peer.name} yet; `accord peer token {peer.name} TOKEN` sets it"
            )
        self.peer = peer
        self._max = max_bytes
        self._http = http
        self._headers = {"Authorization": f"Bearer {peer.token}", "Accept": MEDIA_TYPE}

    def pull(self, added_after: str | None, limit: int) -> tuple[bytes, str | None]:
        params: dict[str, str | int] = {"limit": limit}
        if added_after:
            params["added_after"] = added_after
        with self._http.stream(
            "GET", _feed(self.peer), params=params, headers=self._headers
        ) as response:
            self._check(response, 200)
            body = bytearray()
            for chunk in response.iter_bytes():
                body += chunk
                if len(body) > self._max:
                    raise PeerUnavailable(f"{self.peer.name} sent more than {self._max} bytes")
            return bytes(body), response.headers.get(SIGNATURE)

    def push(self, body: bytes, signature: str) -> dict[str, Any]:
        """Send one signed message; the peer's answer (what it stored, what it refused)."""
        response = self._http.post(
            _feed(self.peer),
            content=body,
            headers={**self._headers, "Content-Type": MEDIA_TYPE, SIGNATURE: signature},
        )
        self._check(response, 202)
        try:
            answer = orjson.loads(response.content)
        except orjson.JSONDecodeError:
            return {}
        return answer if isinstance(answer, dict) else {}

    def _check(self, response: httpx.Response, expected: int) -> None:
        if response.status_code != expected:
            if response.is_stream_consumed is False:
                response.read()
            detail = response.text[:300].replace("\n", " ")
            raise PeerUnavailable(
                f"{self.peer.name} answered {response.status_code}: {detail or 'no body'}"
            )
        media = response.headers.get("content-type", "").replace(" ", "")
        if not media.startswith("application/taxii+json"):
            raise PeerUnavailable(f"{self.peer.name} answered with media type {media!r}")


def _next_cursor(body: bytes) -> str | None:
    """The cursor after a page that says there is more, read ahead of verifying it.

    Only a guess to fetch early: the page is still verified before anything is stored,
    and a forged hint costs at most one wasted request.
    """
    try:
        message = orjson.loads(body)
        if message.get("more") is True and message["x_accord_meta"]:
            after = message["x_accord_meta"][-1]["date_added"]
            return after if isinstance(after, str) else None
    except (orjson.JSONDecodeError, KeyError, TypeError, AttributeError, IndexError):
        pass
    return None


def _push(
    federation: Federation,
    peer: Peer,
    client: PeerClient,
    page: int,
    progress: Callable[[str, int], None] | None = None,
    horizon: str | None = None,
) -> int:
    """Push what ``peer`` (as stored now) may receive after its push cursor; how many
    versions it took.

    The next message is composed and signed while the current one is in flight; the
    cursor moves only after the peer accepted each message, in order.

    ``horizon``: the newest ``date_added`` stored, read before the first page. Versions
    are stored one writer at a time, in ``date_added`` order, so once the last page is
    through, every version up to it has been considered: the cursor moves there even
    where nothing travelled (a node that only receives from this peer), and the next
    push reads only what is newer, not everything since the last version sent.
    """
    start, changed = federation.push_start(peer)
    if changed:  # memberships first, then everything from the start (backfill)
        hello = federation.hello(peer)
        federation.record_refusals(peer, client.push(hello.body, hello.signature))
    out = federation.outgoing(peer, start, page)
    pushed = 0
    cursor = start
    if out.count and out.last is not None:
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="accord-push") as sender:
            while out.count and out.last is not None:
                sending = sender.submit(client.push, out.body, out.signature)
                upcoming = federation.outgoing(peer, out.last, page) if out.more else None
                answer = sending.result()
                federation.record_refusals(peer, answer)
                # Counted as the peer stored them: a backlog sent again is no news there.
                stored = answer.get("stored")
                took = stored if isinstance(stored, int) and 0 <= stored <= out.count else out.count
                federation.advance_push(peer, out.last, took)
                cursor = out.last
                pushed += took
                if progress:
                    progress("pushed", took)
                if upcoming is None:
                    break
                out = upcoming
    if horizon is not None and not out.more and (cursor is None or cursor[0] < horizon):
        federation.advance_push(peer, (horizon, PAST_EVERY_PK), 0)
    return pushed


def push_peer(
    federation: Federation,
    name: str,
    http: httpx.Client,
    *,
    page: int,
    max_bytes: int,
    horizon: str | None = None,
) -> int:
    """Push, and only push, to the peer ``name``: what it may receive and has not yet
    accepted, in signed messages of at most ``page`` versions; how many it took.

    Push on publish (``accord.federation.push``) calls this each time shares are stored.
    With nothing to send it sends nothing and records nothing; otherwise it records the
    outcome on the peer as a sync does (a failure too, then raises PeerUnavailable).
    ``horizon``: the newest ``date_added`` stored, read before this call (see ``_push``).
    """
    peer = federation.peer(name)
    try:
        client = PeerClient(peer, http, max_bytes)
        pushed = _push(federation, peer, client, page, horizon=horizon)
    except httpx.HTTPError as exc:
        error = f"{name} unreachable: {type(exc).__name__}: {exc}"
        federation.record_attempt(peer, error)
        raise PeerUnavailable(error) from None
    except AccordError as exc:
        federation.record_attempt(peer, exc.detail)
        raise
    if pushed or peer.last_error is not None:
        federation.record_attempt(peer, None)
    return pushed


class PeerLocks:
    """One lock per peer name, so that this process never runs two pushes to one peer
    at once (the scheduled sync and push on publish share it): each would send the
    same versions and move the cursor on its own."""

    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._locks: dict[str, threading.Lock] = {}

    def __call__(self, name: str) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(name, threading.Lock())


def sync_peer(
    federation: Federation,
    name: str,
    http: httpx.Client,
    *,
    page: int,
    max_bytes: int,
    progress: Callable[[str, int], None] | None = None,
) -> SyncReport:
    """One full sync with the peer ``name`` over ``http``; records the outcome on the peer.

    ``http`` stays open: whoever made it closes it, after as many peers as it likes.
    """
    peer = federation.peer(name)
    report = SyncReport(peer=name)
    try:
        client = PeerClient(peer, http, max_bytes)
        # Memberships first, so each side knows the other's organisations
        # before it decides what they may receive.
        hello = federation.hello(peer)
        client.push(hello.body, hello.signature)
        # While one page is verified and stored, the next is already on its way: the
        # peer composes and signs it meanwhile. Only the stored page moves the cursor.
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="accord-pull") as ahead:
            pending = ahead.submit(client.pull, federation.peer(name).pull_after, page)
            while True:
                body, signature = pending.result()
                following = _next_cursor(body)
                if following is not None:
                    pending = ahead.submit(client.pull, following, page)
                got = federation.receive(federation.peer(name), body, signature, pulled=True)
                report.pulled += got.stored + got.duplicates
                report.undeliverable += got.undeliverable
                if progress:
                    progress("pulled", got.stored + got.duplicates)
                if not got.more:
                    break
        report.pushed = _push(federation, federation.peer(name), client, page, progress)
    except httpx.HTTPError as exc:
        error = f"{name} unreachable: {type(exc).__name__}: {exc}"
        federation.record_attempt(peer, error)
        log.warning("sync with %s failed: %s", name, error)
        raise PeerUnavailable(error) from None
    except AccordError as exc:
        federation.record_attempt(peer, exc.detail)
        log.warning("sync with %s failed: %s", name, exc.detail)
        raise
    federation.record_attempt(peer, None)
    _after_sync(federation, name, http)
    return report
