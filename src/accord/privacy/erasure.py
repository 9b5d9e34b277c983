"""Erasure across the federation: signed requests to every peer that received an object,
and signed receipts back.

A request is RFC 8785 canonical JSON signed with the owner's node key (the signature
travels in ``X-Accord-Signature``, as federation messages' do), addressed to one peer,
with a nonce and the time it was issued. The peer checks, before deleting anything,
that it comes from the node its token belongs to, under that node's key, addressed to
itself, within the clock skew, never seen before, and for an object owned by an
organisation of that node; then deletes every version (with every index) and answers
with a receipt signed by its own key. The owner accepts a receipt only from a peer it
sent the object to, for a request it made.
"""

from __future__ import annotations

import logging
import re
import secrets
from datetime import timedelta
from typing import Any

import httpx
import orjson
import rfc8785

from accord.domain.clock import Clock
from accord.domain.model import Principal
from accord.domain.stix import format_timestamp, parse_timestamp
from accord.errors import (
    AccordError,
    Forbidden,
    InvalidInput,
    NotAuthenticated,
    NotFound,
    Replayed,
    SignatureRejected,
)
from accord.exchange.service import Exchange
from accord.federation.keys import NodeKey, parse_public_key, verify
from accord.federation.sync import SIGNATURE
from accord.store.accounts import OrganisationRepository
from accord.store.peers import Peer, PeerRepository
from accord.store.privacy import Erasure, PrivacyRepository

log = logging.getLogger("accord.privacy")
REQUEST = "accord-erasure-request"
RECEIPT = "accord-erasure-receipt"
INCOMING = "/api/v1/privacy/erasures/incoming"
_NONCE = re.compile(r"\A[0-9a-f]{32}\Z")
_NODE = re.compile(r"\A[0-9a-f]{32}\Z")
_ID = re.compile(r"\A[a-z0-9-]{1,62}--[0-9a-fA-F-]{36}\Z")


class Erasures:
    def __init__(
        self,
        repo: PrivacyRepository,
        exchange: Exchange,
        orgs: OrganisationRepository,
        peers: PeerRepository,
        key: NodeKey,
        clock: Clock,
        max_skew: timedelta,
    ) -> None:
        self._repo = repo
        self._exchange = exchange
        self._orgs = orgs
        self._peers = peers
        self._key = key
        self._clock = clock
        self._max_skew = max_skew

    # The owner's side --------------------------------------------------------------
    def request(self, actor: Principal, stix_id: str, http: httpx.Client) -> Erasure:
        """Erase ``stix_id`` here and ask every peer it was sent to to erase it too."""
        if actor.org is None or not actor.can_write():
            raise Forbidden("only the owner organisation's analysts may ask for erasure")
        owner = self._repo.owner_of(stix_id) if _ID.match(stix_id) else None
        if owner is None:
            raise NotFound(f"no object {stix_id[:100]!r}")
        if owner != actor.org:
            raise Forbidden("only the organisation that owns the object may ask for erasure")
        recipients = self._repo.recipients(stix_id)
        nonce = secrets.token_hex(16)
        erasure_id = self._repo.add_erasure(stix_id, owner, nonce, recipients, self._clock())
        self._exchange.erase(stix_id)
        self._repo.forget_sent(stix_id)
        self.send(erasure_id, http)
        return self._repo.erasure(erasure_id)

    def status(self, actor: Principal, erasure_id: int) -> Erasure:
        """An erasure's peers, confirmed or late (the owner organisation, or an admin)."""
        erasure = self._repo.erasure(erasure_id)
        if actor.org != erasure.owner and not actor.is_admin():
            raise NotFound(f"no erasure #{erasure_id}")
        return erasure

    def body(self, erasure: Erasure, peer: Peer) -> bytes:
        return rfc8785.dumps(
            {
                "type": REQUEST,
                "object": erasure.stix_id,
                "from": self._key.node_id,
                "to": peer.node_id,
                "issued": format_timestamp(self._clock()),
                "nonce": erasure.nonce,
            }
        )

    def send(self, erasure_id: int, http: httpx.Client) -> None:
        """(Re)send the request to every peer that has not confirmed yet."""
        erasure = self._repo.erasure(erasure_id)
        for held in erasure.peers:
            if held.confirmed is not None:
                continue
            peer = self._peers.by_id(held.peer_id)
            if peer.token is None:
                self._repo.erasure_failed(erasure_id, peer.id, "no token for this peer")
                continue
            body = self.body(erasure, peer)
            headers = {
                "Authorization": f"Bearer {peer.token}",
                "Content-Type": "application/json",
                SIGNATURE: self._key.sign(body),
            }
            try:
                answer = http.post(peer.url + INCOMING, content=body, headers=headers)
                if answer.status_code != 200:
                    raise InvalidInput(f"{peer.name} answered {answer.status_code}")
                self.accept_receipt(peer, answer.content, answer.headers.get(SIGNATURE))
            except (httpx.HTTPError, AccordError) as exc:
                why = exc.detail if isinstance(exc, AccordError) else type(exc).__name__
                log.warning("erasure #%d at %s: %s", erasure_id, peer.name, why)
                self._repo.erasure_failed(erasure_id, peer.id, why)

    def resend_pending(self, http: httpx.Client) -> None:
        for erasure_id in self._repo.pending_erasures():
            self.send(erasure_id, http)

    def accept_receipt(self, peer: Peer, body: bytes, signature: str | None) -> None:
        """Record ``peer``'s signed receipt; a forged one, or one for an erasure the peer
        was never asked for (it never held the object), is refused and logged."""
        if not signature or not verify(parse_public_key(peer.public_key), signature, body):
            log.warning("rejected an erasure receipt from %s: bad signature", peer.name)
            raise SignatureRejected(f"the receipt does not carry {peer.name}'s valid signature")
        receipt = _json(body)
        if (
            receipt.get("type") != RECEIPT
            or receipt.get("from") != peer.node_id
            or receipt.get("to") != self._key.node_id
        ):
            log.warning("rejected an erasure receipt from %s: not addressed to us", peer.name)
            raise SignatureRejected("the receipt is not from that peer to this node")
        nonce, versions = receipt.get("nonce"), receipt.get("versions")
        if not isinstance(nonce, str) or not isinstance(versions, int) or versions < 0:
            raise InvalidInput("the receipt has no nonce or version count")
        erasure = self._repo.erasure_by_nonce(nonce)
        if erasure is None or peer.id not in {p.peer_id for p in erasure.peers}:
            log.warning(
                "rejected an erasure receipt from %s: it was never sent the object", peer.name
            )
            raise Forbidden(f"{peer.name} was never sent that object: its receipt is refused")
        if receipt.get("object") != erasure.stix_id:
            raise InvalidInput("the receipt names another object")
        self._repo.confirm(erasure.id, peer.id, versions, body.decode(), self._clock())

    # A peer's side -----------------------------------------------------------------
    def erase_on_request(
        self, principal: Principal, body: bytes, signature: str | None
    ) -> tuple[bytes, str]:
        """Check and carry out a peer's signed request; the signed receipt to answer."""
        if principal.peer is None:
            raise NotAuthenticated("erasure requests come from peer nodes, with their token")
        peer = self._peers.by_id(principal.peer)
        if not signature or not verify(parse_public_key(peer.public_key), signature, body):
            log.warning("rejected an erasure request from %s: bad signature", peer.name)
            raise SignatureRejected(f"the request does not carry {peer.name}'s valid signature")
        request = _json(body)
        stix_id, nonce = request.get("object"), request.get("nonce")
        if request.get("type") != REQUEST or request.get("from") != peer.node_id:
            log.warning("rejected an erasure request from %s: not from its node", peer.name)
            raise SignatureRejected(f"the request does not come from {peer.name}'s node")
        if request.get("to") != self._key.node_id:
            raise SignatureRejected("the request is addressed to another node")
        if not isinstance(stix_id, str) or not _ID.match(stix_id):
            raise InvalidInput("the request's 'object' is not a STIX id")
        if not isinstance(nonce, str) or not _NONCE.match(nonce):
            raise InvalidInput("the request's 'nonce' is not 32 hex digits")
        issued = request.get("issued")
        try:
            if not isinstance(issued, str) or len(issued) > 40:
                raise ValueError
            skew = abs(self._clock() - parse_timestamp(issued))
        except ValueError:
            raise InvalidInput("the request has no valid 'issued' time") from None
        if skew > self._max_skew:
            raise InvalidInput(
                f"the request was issued {skew.total_seconds():.0f} s from our clock"
            )
        if self._repo.received(peer.node_id, nonce):
            log.warning("rejected a replayed erasure request from %s", peer.name)
            raise Replayed(f"this erasure request from {peer.name} was already carried out")
        owner = self._repo.owner_of(stix_id)
        versions = 0
        if owner is not None:
            if self._orgs.get(owner).peer != peer.id:
                log.warning(
                    "rejected an erasure request from %s for %s: not its object", peer.name, stix_id
                )
                raise Forbidden(f"{stix_id} is not owned by an organisation of {peer.name}")
            versions = len(self._exchange.erase(stix_id))
            self._repo.forget_sent(stix_id)
        self._repo.record_received(peer.node_id, nonce, stix_id, versions, self._clock())
        receipt = rfc8785.dumps(
            {
                "type": RECEIPT,
                "object": stix_id,
                "nonce": nonce,
                "from": self._key.node_id,
                "to": peer.node_id,
                "versions": versions,
                "held": owner is not None,
                "issued": format_timestamp(self._clock()),
            }
        )
        return receipt, self._key.sign(receipt)


def _json(body: bytes) -> dict[str, Any]:
    try:
        found = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise InvalidInput("the body is not JSON") from None
    if not isinstance(found, dict):
        raise InvalidInput("the body is not a JSON object")
    return found
