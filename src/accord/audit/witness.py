"""Witnessing: fetch each peer's signed tree head and check it extends the last one seen.

Any peer's head is public (``GET /api/v1/audit/head``: a size, a root, a signature),
so no token is needed; the peer's key is the one its federation record holds.
"""

from __future__ import annotations

import logging
from typing import Any

import httpx
import orjson

from accord.audit.service import AuditLog
from accord.federation.keys import parse_public_key
from accord.federation.service import Federation
from accord.periodic import Periodic
from accord.settings import Settings
from accord.store.audit import WitnessRow

log = logging.getLogger("accord.audit")
HEAD_PATH = "/api/v1/audit/head"
MAX_HEAD_BYTES = 1 << 20


def witness_peer(
    audit: AuditLog, federation: Federation, name: str, http: httpx.Client
) -> WitnessRow:
    """Fetch ``name``'s head with a consistency proof from the last head seen, and check it."""
    peer = federation.peer(name)

    def fetch(since: int) -> Any:
        response = http.get(f"{peer.url}{HEAD_PATH}", params={"from": since})
        if response.status_code != 200 or len(response.content) > MAX_HEAD_BYTES:
            raise ValueError(f"{name} answered {response.status_code}")
        return orjson.loads(response.content)

    return audit.witness(peer.node_id, parse_public_key(peer.public_key), fetch)


def witness_all(audit: AuditLog, federation: Federation, http: httpx.Client) -> list[WitnessRow]:
    seen: list[WitnessRow] = []
    for name in federation.peer_names():
        try:
            seen.append(witness_peer(audit, federation, name, http))
        except httpx.HTTPError as exc:
            log.warning("audit witness: %s unreachable: %s", name, type(exc).__name__)
    return seen


def witness_job(audit: AuditLog, federation: Federation, settings: Settings) -> Periodic:
    """Every ``sync_interval``, beside the sync: each peer's head checked against the last."""

    def run() -> None:
        with httpx.Client(timeout=settings.federation_timeout) as http:
            witness_all(audit, federation, http)

    return Periodic("audit-witness", settings.sync_interval, run)
