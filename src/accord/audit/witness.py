"""Witnessing: fetch each peer's signed tree head and check it extends the last one seen.

Any peer's head is public (``GET /api/v1/audit/head``: a size, a root, a signature),
so no token is needed; the peer's key is the one its federation record holds. Every
successful sync ends with it (``sync_step``, registered on the federation's sync), so
two peers that sync exchange heads both ways, each checking the other's against the
last it saw; ``accord audit witness`` does it on demand.
"""

from __future__ import annotations

import logging
from typing import Any

import httpx
import orjson

from accord.audit.service import AuditLog
from accord.federation.keys import parse_public_key
from accord.federation.service import Federation
from accord.federation.sync import SyncStep
from accord.store.audit import WitnessRow
from accord.store.peers import Peer

log = logging.getLogger("accord.audit")
HEAD_PATH = "/api/v1/audit/head"
MAX_HEAD_BYTES = 1 << 20


class HeadUnavailable(Exception):
    """The peer did not answer with a head this time (down, an error, no audit): nothing
    is concluded of its log, and the next sync asks again."""


def witness_peer(
    audit: AuditLog, federation: Federation, name: str, http: httpx.Client
) -> WitnessRow:
    """Fetch ``name``'s head with a consistency proof from the last head seen, and check it."""
    peer = federation.peer(name)

    def fetch(since: int) -> Any:
        response = http.get(f"{peer.url}{HEAD_PATH}", params={"from": since})
        if response.status_code != 200:
            raise HeadUnavailable(f"{name} answered {response.status_code}")
        if len(response.content) > MAX_HEAD_BYTES:
            raise ValueError(f"{name} sent a head of over {MAX_HEAD_BYTES} bytes")
        return orjson.loads(response.content)

    return audit.witness(peer.node_id, parse_public_key(peer.public_key), fetch)


def witness_all(audit: AuditLog, federation: Federation, http: httpx.Client) -> list[WitnessRow]:
    seen: list[WitnessRow] = []
    for name in federation.peer_names():
        try:
            seen.append(witness_peer(audit, federation, name, http))
        except (httpx.HTTPError, HeadUnavailable) as exc:
            log.warning("audit witness: %s unreachable: %s", name, exc)
    return seen


def sync_step(audit: AuditLog, federation: Federation) -> SyncStep:
    """The step each sync ends with: the peer's head checked against the last one seen."""

    def witness(peer: Peer, http: httpx.Client) -> None:
        try:
            witness_peer(audit, federation, peer.name, http)
        except (httpx.HTTPError, HeadUnavailable) as exc:
            log.warning("audit witness: no head from %s: %s", peer.name, exc)

    return witness


def witnessed(audit: AuditLog) -> dict[str, str]:
    """Each peer's audit log as this node last witnessed it, by the peer's node id."""
    return {w.peer: describe(w) for w in audit.witnesses()}


def describe(row: WitnessRow | None) -> str:
    """A peer's audit log as its witness saw it, in one line (peer status, the console)."""
    if row is None:
        return "not witnessed yet"
    if row.state != "ok":
        return f"FORKED: {row.problem} (last good head: size {row.size})"
    return f"consistent at size {row.size} (checked {row.checked})"
