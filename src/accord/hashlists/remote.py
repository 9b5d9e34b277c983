"""Lookups by peer nodes: a signed request to the list owner's node, a signed answer back.

An organisation on one node looks hashes up in a list held on another node that it may
not download, when the owner granted lookups to its node (by node id) or to it. Its node
sends the owner's node a request: RFC 8785 canonical JSON naming the list, the
requesting organisation (by identity id), the hashes, both node ids, when it was issued
and a nonce, signed with the requesting node's Ed25519 key (the signature travels in
``X-Accord-Signature``, as federation messages' do) and carried with the token the owner's
node issued it. The owner's node checks, before it looks anything up, that the request
comes from the node its token belongs to, under that node's key (followed along its
signed key rotations), addressed to itself, within the allowed clock skew and never seen
before, for an organisation homed on that node; then the grant, the rate limit of the
requesting organisation, and the hashes. It records the lookup (node and organisation)
in the list's activity, which the transparency report counts, and answers hit or no hit
with labels for each hash: never an entry, its value or anything else of the list. The
answer is signed by the owner's node and names the request's nonce, so the requesting
node takes only the answer to its own request from the node it asked.
"""

from __future__ import annotations

import logging
import re
import secrets
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import httpx
import orjson
import rfc8785

from accord.domain.clock import Clock
from accord.domain.model import Principal
from accord.domain.stix import format_timestamp, parse_timestamp
from accord.domain.text import printable
from accord.errors import (
    AccordError,
    Conflict,
    Forbidden,
    InvalidInput,
    NotAuthenticated,
    NotFound,
    PeerUnavailable,
    Problem,
    Replayed,
    SignatureRejected,
    TooManyAttempts,
)
from accord.federation.keys import open_signed
from accord.federation.sync import SIGNATURE
from accord.hashlists.service import MAX_ITEMS, Item, LookupAnswer, check_items
from accord.store.accounts import OrganisationRepository
from accord.store.peers import Peer, PeerRepository

if TYPE_CHECKING:
    from accord.federation.keys import NodeKey
    from accord.hashlists.service import HashLists

log = logging.getLogger("accord.hashlists")
REQUEST = "accord-hash-lookup"
ANSWER = "accord-hash-lookup-answer"
ENDPOINT = "/api/v1/federation/hash-lookups"
_NONCE = re.compile(r"\A[0-9a-f]{32}\Z")
_NODE = re.compile(r"\A[0-9a-f]{32}\Z")
_IDENTITY = re.compile(
    r"\Aidentity--[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\Z"
)
_MAX_ERROR = 1000  # characters of a rejection kept on the peer


@dataclass(frozen=True, slots=True)
class LookupRequest:
    """A peer's request, checked: who asks (node and organisation), for which list, what."""

    peer: Peer
    org: str  # identity id
    list_id: str
    items: list[Item]
    nonce: str


def _invalid(why: str, where: str) -> InvalidInput:
    return InvalidInput(f"the request's {where}: {why}", [Problem(why, field=where)])


def _one_line(text: str, limit: int = 300) -> str:
    return " ".join(printable(text).split())[:limit]


class PeerLookups:
    """Both ends of lookups by peer nodes: ``ask`` on the requesting node, ``answer`` on
    the owner's."""

    def __init__(
        self,
        lists: HashLists,
        key: Callable[[], NodeKey],
        peers: PeerRepository,
        orgs: OrganisationRepository,
        clock: Clock,
        max_skew: timedelta,
        max_bytes: int,
        http: Callable[[], AbstractContextManager[httpx.Client]],
    ) -> None:
        self._lists = lists
        self._key = key  # the node's key as it is now (it may be rotated while running)
        self._peers = peers
        self._orgs = orgs
        self._clock = clock
        self._max_skew = max_skew
        self._max_bytes = max_bytes
        self.http = http  # an HTTP client for real peers; tests hand in one of their own

    # The requesting node ------------------------------------------------------------
    def request_body(self, peer: Peer, org: str, list_id: str, items: Sequence[Item]) -> bytes:
        """The canonical JSON of a request to ``peer`` (what the node's key signs)."""
        key = self._key()
        request: dict[str, Any] = {
            "type": REQUEST,
            "from": key.node_id,
            "to": peer.node_id,
            "issued": format_timestamp(self._clock()),
            "nonce": secrets.token_hex(16),
            "list": list_id,
            "org": org,
            "hashes": [
                {"signal": i.signal, "value": i.value}
                | ({"quality": i.quality} if i.quality is not None else {})
                for i in items
            ],
        }
        if key.rotations:  # how the first key, which names the node, led to this one
            request["rotations"] = list(key.rotations)
        return rfc8785.dumps(request)

    def ask(
        self,
        principal: Principal,
        peer_ref: str,
        list_id: str,
        items: Sequence[Item],
        http: httpx.Client | None = None,
    ) -> list[LookupAnswer]:
        """Look ``items`` up in the list ``list_id`` held on the peer node ``peer_ref`` (its
        name or node id), for the principal's organisation; each hash's answer."""
        if principal.org is None:
            raise Forbidden("sign in to look hashes up")
        checked = check_items(items, minimum_quality=self._lists.quality)
        if not 0 < len(list_id) <= 128:
            raise _invalid("1 to 128 characters", "list")
        peer = self._lists.peer_of(peer_ref)
        if peer.token is None:
            raise PeerUnavailable(
                f"no token for {peer.name} yet; `accord peer token {peer.name} TOKEN` sets it"
            )
        org = self._orgs.get(principal.org).identity_id
        body = self.request_body(peer, org, list_id, checked)
        if http is None:
            with self.http() as client:
                return self._send(peer, body, len(checked), client)
        return self._send(peer, body, len(checked), http)

    def _send(self, peer: Peer, body: bytes, count: int, http: httpx.Client) -> list[LookupAnswer]:
        headers = {
            "Authorization": f"Bearer {peer.token}",
            "Content-Type": "application/json",
            SIGNATURE: self._key().sign(body),
        }
        try:
            response = http.post(peer.url + ENDPOINT, content=body, headers=headers)
        except httpx.HTTPError as exc:
            raise PeerUnavailable(f"{peer.name} unreachable: {type(exc).__name__}") from None
        if response.status_code != 200:
            raise _refusal(peer, response)
        if len(response.content) > self._max_bytes:
            raise PeerUnavailable(f"{peer.name} sent more than {self._max_bytes} bytes")
        return self._check_answer(peer, orjson.loads(body), response, count)

    def _check_answer(
        self, peer: Peer, request: dict[str, Any], response: httpx.Response, count: int
    ) -> list[LookupAnswer]:
        try:
            answer, _ = open_signed(
                peer,
                response.content,
                response.headers.get(SIGNATURE),
                chain="rotations",
                what="answer",
            )
        except SignatureRejected:
            raise PeerUnavailable(
                f"{peer.name}'s answer does not carry its valid signature"
            ) from None
        nonsense = PeerUnavailable(f"{peer.name} answered with something else than the answer")
        if not isinstance(answer, dict) or (
            answer.get("type"),
            answer.get("from"),
            answer.get("to"),
            answer.get("nonce"),
            answer.get("list"),
        ) != (ANSWER, peer.node_id, request["from"], request["nonce"], request["list"]):
            raise nonsense
        found = answer.get("answers")
        if not isinstance(found, list) or len(found) != count:
            raise nonsense
        answers: list[LookupAnswer] = []
        for index, a in enumerate(found):
            if not isinstance(a, dict) or a.get("index") != index:
                raise nonsense
            hit, labels, distance = a.get("hit"), a.get("labels"), a.get("distance")
            if (
                not isinstance(hit, bool)
                or not isinstance(labels, list)
                or not all(isinstance(label, dict) for label in labels)
                or not (distance is None or (isinstance(distance, int) and 0 <= distance <= 256))
            ):
                raise nonsense
            answers.append(LookupAnswer(index, hit, labels, distance))
        return answers

    # The owner's node -----------------------------------------------------------------
    def answer(self, principal: Principal, body: bytes, signature: str | None) -> tuple[bytes, str]:
        """Check a peer node's signed request and answer it: the signed answer's body and
        its signature. A forged, misaddressed or replayed request is logged and counted
        on the peer, and looks nothing up."""
        if principal.peer is None:
            raise NotAuthenticated("hash lookups by peer nodes come with the token issued to them")
        peer = self._peers.by_id(principal.peer)
        try:
            request = self._check_request(peer, body, signature)
        except (SignatureRejected, Replayed, InvalidInput) as exc:
            log.warning("rejected a hash lookup from peer %s: %s", peer.name, exc.detail)
            self._peers.rejected(peer.id, printable(exc.detail)[:_MAX_ERROR])
            self._lists.audit_refusal(f"peer-node:{peer.node_id}", "", printable(exc.detail))
            raise
        answers = self._lists.peer_lookup(peer, request.org, request.list_id, request.items)
        key = self._key()
        answer: dict[str, Any] = {
            "type": ANSWER,
            "from": key.node_id,
            "to": peer.node_id,
            "issued": format_timestamp(self._clock()),
            "nonce": request.nonce,
            "list": request.list_id,
            "answers": [
                {"index": a.query, "hit": a.hit, "labels": a.labels, "distance": a.distance}
                for a in answers
            ],
        }
        if key.rotations:
            answer["rotations"] = list(key.rotations)
        out = rfc8785.dumps(answer)
        return out, key.sign(out)

    def _check_request(self, peer: Peer, body: bytes, signature: str | None) -> LookupRequest:
        request, _ = open_signed(peer, body, signature, chain="rotations", what="request")
        if not isinstance(request, dict):
            raise InvalidInput("the signed request is not a JSON object")
        if request.get("type") != REQUEST:
            raise _invalid(f"must be {REQUEST!r}", "type")
        if request.get("from") != peer.node_id:
            raise SignatureRejected(f"the request does not come from {peer.name}'s node")
        if request.get("to") != self._key().node_id:
            raise SignatureRejected("the request is addressed to another node")
        nonce = request.get("nonce")
        if not isinstance(nonce, str) or not _NONCE.match(nonce):
            raise _invalid("32 hex digits", "nonce")
        issued = request.get("issued")
        try:
            if not isinstance(issued, str) or len(issued) > 40:
                raise ValueError
            skew = abs(self._clock() - parse_timestamp(issued))
        except ValueError:
            raise _invalid("a STIX timestamp", "issued") from None
        if skew > self._max_skew:
            raise Replayed(
                f"the request was issued {skew.total_seconds():.0f} s from this node's clock "
                f"(at most {self._max_skew.total_seconds():.0f} s allowed): a replay, "
                "or a clock to set right"
            )
        list_id, org = request.get("list"), request.get("org")
        if not isinstance(list_id, str) or not 0 < len(list_id) <= 128:
            raise _invalid("a hash list's id", "list")
        if not isinstance(org, str) or not _IDENTITY.match(org):
            raise _invalid("the requesting organisation's identity id", "org")
        items = _items(request.get("hashes"))
        now = self._clock()
        if not self._lists.remember_nonce(peer.id, nonce, now, now - 4 * self._max_skew):
            raise Replayed(f"this lookup request from {peer.name} was already answered")
        return LookupRequest(peer, org, list_id, items, nonce)


def _items(found: Any) -> list[Item]:
    """The request's hashes as items (their values are checked by the lookup itself)."""
    if not isinstance(found, list) or not 0 < len(found) <= MAX_ITEMS:
        raise _invalid(f"a list of 1 to {MAX_ITEMS} hashes", "hashes")
    items: list[Item] = []
    for i, h in enumerate(found):
        if not isinstance(h, dict):
            raise _invalid("an object with 'signal', 'value' and (PDQ) 'quality'", f"hashes[{i}]")
        signal, value, quality = h.get("signal"), h.get("value"), h.get("quality")
        if not isinstance(signal, str) or len(signal) > 16:
            raise _invalid("a signal type: pdq, md5 or sha256", f"hashes[{i}].signal")
        if not isinstance(value, str) or len(value) > 128:
            raise _invalid("a hex hash", f"hashes[{i}].value")
        if quality is not None and (isinstance(quality, bool) or not isinstance(quality, int)):
            raise _invalid("a whole number from 0 to 100", f"hashes[{i}].quality")
        items.append(Item(signal, value, quality))
    return items


_STATUS: dict[int, type[AccordError]] = {
    400: InvalidInput,
    403: Forbidden,
    404: NotFound,
    409: Conflict,
    413: InvalidInput,
    422: InvalidInput,
}


def _refusal(peer: Peer, response: httpx.Response) -> AccordError:
    """The owner's problem+json as an error here, in one line that names the peer."""
    try:
        problem = orjson.loads(response.content[:65536])
    except orjson.JSONDecodeError:
        problem = None
    detail = problem.get("detail") if isinstance(problem, dict) else None
    if not isinstance(detail, str) or not detail.strip():
        detail = response.text[:300] or "no body"
    said = f"{peer.name} answered {response.status_code}: {_one_line(detail)}"
    problems: list[Problem] = []
    if isinstance(problem, dict) and isinstance(problem.get("problems"), list):
        for p in problem["problems"][:20]:
            if isinstance(p, dict) and isinstance(p.get("reason"), str):
                where = p.get("field")
                problems.append(
                    Problem(
                        _one_line(p["reason"]),
                        field=_one_line(where, 100) if isinstance(where, str) else None,
                    )
                )
    if response.status_code == 429:
        try:
            wait = int(response.headers.get("retry-after", "60"))
        except ValueError:
            wait = 60
        return TooManyAttempts(said, max(1, min(wait, 3600)))
    if response.status_code == 401:
        return PeerUnavailable(f"{said} (its token for this node: `accord peer token`)")
    error = _STATUS.get(response.status_code, PeerUnavailable)
    return error(said, problems)
