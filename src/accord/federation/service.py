"""Signed messages between nodes: what may go to a peer, and checking what comes from one.

A message is a TAXII envelope (``objects``, ``more``) with Accord's own fields: each
object's distribution here (``x_accord_meta``), the identities of owners and of the
sender's organisations, the sender and receiver node ids, when it was issued and a
nonce. Its RFC 8785 canonical JSON is the body, signed with the sender's Ed25519
key; the signature travels beside it. Documents travel byte for byte as stored, so a
version has one form on every node and re-sending it is a no-op.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

import orjson

from accord.accounts import Accounts, require_admin
from accord.domain.access import PeerAudience
from accord.domain.clock import Clock
from accord.domain.model import Organisation, OrgKind, Principal, SharingGroup
from accord.domain.scope import Distribution, Scope, distribution_problem
from accord.domain.stix import (
    format_timestamp,
    normalise_timestamp,
    parse_timestamp,
)
from accord.domain.text import printable
from accord.domain.tlp import TLP
from accord.errors import InvalidInput, NotAuthenticated, Problem, Replayed, SignatureRejected
from accord.exchange.service import Exchange, IngestReport, stamp
from accord.exchange.validation import validate_objects
from accord.federation.keys import (
    NodeKey,
    follow,
    node_id_of,
    open_signed,
    parse_public_key,
    rotate,
    verify,
)
from accord.store.accounts import GroupRepository, OrganisationRepository
from accord.store.keys import KeyRepository
from accord.store.objects import NewVersion, ObjectBatch, TravelRow
from accord.store.peers import (
    Peer,
    PeerRepository,
    advance_pull,
    drop_pending,
    forget_nonces,
    keep_pending,
    record_nonce,
)

log = logging.getLogger("accord.federation")
_URL = re.compile(r"^https?://[^\s/$.?#][^\s]*$")
# A feed read ``added_after`` a time starts after every version of that time: date_added
# values are distinct on a node, so the highest pk stands for all of them.
_PAST_EVERY_PK = 2**63 - 1
# What a message's own fields may hold: anything else is refused before anything is stored.
_IDENTITY = re.compile(
    r"\Aidentity--[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\Z"
)
_NODE_ID = re.compile(r"\A[0-9a-f]{32}\Z")
_NONCE = re.compile(r"\A[A-Za-z0-9_-]{1,64}\Z")
_SLUG = re.compile(r"\A[a-z0-9-]{1,80}\Z")
_STATE = re.compile(r"\A[A-Z]{2}\Z")
_MAX_HOPS = 64  # node ids in a version's "via": far more than any real chain of peers
_MAX_RECIPIENTS = 10_000
_MAX_ERROR = 1000  # characters of a sync error kept on the peer
_MAX_GROUPS = 10_000
_UUID = re.compile(r"\A[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\Z")
# Scopes whose versions may be relayed, each with its home node's seal.
_RELAYABLE = frozenset({Scope.FEDERATION, Scope.PUBLIC})
_RELAYABLE_VALUES = frozenset(s.value for s in _RELAYABLE)
_TLP_VALUES = frozenset(t.value for t in TLP)
_SCOPE_VALUES = frozenset(s.value for s in Scope)


@dataclass(frozen=True, slots=True)
class Outgoing:
    body: bytes
    signature: str
    count: int
    more: bool
    last: tuple[str, int] | None


@dataclass(frozen=True, slots=True)
class PeerStatus:
    """What an operator needs to see of a peer: counts, last success, lag, last error.

    Never its token: only whether this node holds one.
    """

    name: str
    url: str
    node_id: str
    has_token: bool
    pushed: int
    pulled: int
    last_attempt: datetime | None
    last_success: datetime | None
    lag_seconds: float | None
    last_error: str | None
    refused: int = 0  # objects of ours the peer refused (its answers said why)
    last_refusal: str | None = None
    rejected: int = 0  # messages of the peer's this node rejected (forgeries, replays ...)
    last_rejection: str | None = None
    fingerprint: str = ""
    pending: int = 0  # the peer's versions waiting here for a group or an organisation
    pending_reason: str | None = None


class Transform(Protocol):
    """Rewrites what leaves for a peer (privacy: redaction per destination), registered
    at wiring with ``Federation.add_transform``. Given the versions bound for ``peer``
    and their documents, it returns each document as it may leave, or None to withhold
    it; the message (and so its signature) carries what it returns."""

    def outgoing(
        self, peer: Peer, rows: Sequence[TravelRow], objects: list[dict[str, Any] | None]
    ) -> list[dict[str, Any] | None]: ...


@dataclass(slots=True)
class Received:
    stored: int = 0
    duplicates: int = 0
    undeliverable: int = 0
    more: bool = False
    last_added: str | None = None
    notes: list[str] = field(default_factory=list)
    # Undeliverable versions kept pending: (stix id, modified, doc, meta, reason).
    held: list[tuple[str, str, str, str, str]] = field(default_factory=list)


class Federation:
    def __init__(
        self,
        key: NodeKey,
        peers: PeerRepository,
        exchange: Exchange,
        accounts: Accounts,
        orgs: OrganisationRepository,
        groups: GroupRepository,
        clock: Clock,
        max_skew: timedelta,
        keys: KeyRepository,
    ) -> None:
        self.key = key
        self._keys = keys
        self._peers = peers
        self._exchange = exchange
        self._accounts = accounts
        self._orgs = orgs
        self._groups = groups
        self.clock = clock
        self._max_skew = max_skew
        self._transforms: list[Transform] = []

    def add_transform(self, transform: Transform) -> None:
        """Pass every object bound for a peer through ``transform`` from now on."""
        self._transforms.append(transform)

    # Peers --------------------------------------------------------------------------
    def rotate_key(self, actor: Principal | None) -> NodeKey:
        """Hand this node's identity over to a new Ed25519 key, by a statement the current
        key signs; peers follow it from the next message. The node id stays the same."""
        require_admin(actor)
        self.key = rotate(self._keys, self.key, self.clock())
        log.warning("this node's key was rotated; its fingerprint is now %s", self.fingerprint)
        return self.key

    @property
    def fingerprint(self) -> str:
        """This node's current key's fingerprint, to read out to peers' operators."""
        return fingerprint(self.key.public_raw)

    def peer_fingerprint(self, url: str, public_key: str) -> str:
        """The fingerprint of a would-be peer's key, to confirm with its operator before
        ``add_peer``; InvalidInput for a URL or key ``add_peer`` would refuse."""
        if not _URL.match(url):
            raise InvalidInput(f"{url!r} is not an http(s) URL")
        raw = parse_public_key(public_key)
        if node_id_of(raw) == self.key.node_id:
            raise InvalidInput("that is this node's own key")
        return fingerprint(raw)

    def add_peer(
        self,
        name: str,
        url: str,
        public_key: str,
        token: str | None,
        node_id: str | None = None,
    ) -> tuple[Peer, str]:
        """Register a peer; returns it and the token to hand to its operator (shown once).

        ``node_id`` is needed only for a node that has rotated its key (its id stays
        that of its first key); otherwise it is the key's."""
        self.peer_fingerprint(url, public_key)
        raw = parse_public_key(public_key)
        if node_id is not None and not _NODE_ID.match(node_id):
            raise InvalidInput(f"{node_id!r} is not a node id (32 hex digits)")
        peer = self._peers.add(
            name,
            url.rstrip("/"),
            node_id or node_id_of(raw),
            public_key.strip(),
            token,
            self.clock(),
        )
        return peer, self._accounts.issue_peer_token(peer.id, name)

    def peer_names(self, *, with_token: bool = False) -> list[str]:
        """Every peer's name, or only those this node can sync with (it holds their token)."""
        return [p.name for p in self._peers.all() if p.token is not None or not with_token]

    def set_peer_token(self, name: str, token: str) -> None:
        """Keep the token the peer ``name`` issued for this node, to present when syncing."""
        self._peers.set_token(self._peers.get(name).id, token)

    def statuses(self, actor: Principal | None) -> list[PeerStatus]:
        """Every peer's ``status``, for a node admin (``None``: the operator, at the console)."""
        require_admin(actor)
        pending = self._peers.pending_counts()
        return [self.status(p, pending.get(p.id)) for p in self._peers.all()]

    def statuses_visible_to(self, principal: Principal) -> list[PeerStatus]:
        """Every peer's ``status`` for a node admin; nothing for anyone else (the overview)."""
        return self.statuses(principal) if principal.is_admin() else []

    def peer(self, name: str) -> Peer:
        """The peer registered as ``name``, as stored now (``NotFound`` if there is none)."""
        return self._peers.get(name)

    def record_attempt(self, peer: Peer, error: str | None) -> None:
        """Record a sync with ``peer`` ending now: its error, or ``None`` for a success.

        The error may quote what the peer sent; it is kept storable and short."""
        kept = printable(error)[:_MAX_ERROR] if error is not None else None
        self._peers.attempt(peer.id, self.clock(), kept)

    def advance_push(self, peer: Peer, after: tuple[str, int], count: int) -> None:
        """Move ``peer``'s push cursor past ``count`` versions it accepted, up to ``after``."""
        self._peers.advance_push(peer.id, after, count)

    def status(self, peer: Peer, pending: tuple[int, str] | None = None) -> PeerStatus:
        now = self.clock()
        lag = (now - peer.last_success).total_seconds() if peer.last_success else None
        return PeerStatus(
            name=peer.name,
            url=peer.url,
            node_id=peer.node_id,
            has_token=peer.token is not None,
            pushed=peer.pushed,
            pulled=peer.pulled,
            last_attempt=peer.last_attempt,
            last_success=peer.last_success,
            lag_seconds=lag,
            last_error=peer.last_error,
            refused=peer.refused,
            last_refusal=peer.last_refusal,
            rejected=peer.rejected,
            last_rejection=peer.last_rejection,
            fingerprint=fingerprint(parse_public_key(peer.public_key)),
            pending=pending[0] if pending else 0,
            pending_reason=pending[1] if pending else None,
        )

    def audience(self, peer: Peer, groups: list[SharingGroup] | None = None) -> PeerAudience:
        """Whom ``peer`` speaks for: the organisations homed on it, and the groups (by this
        node's membership, which for a group owned elsewhere is its owner's) they are in."""
        orgs = self._orgs.homed_on(peer.node_id)
        shared = frozenset(g.id for g in groups or self._groups.all() if g.members & orgs)
        return PeerAudience(peer.node_id, orgs, shared)

    def push_start(self, peer: Peer) -> tuple[tuple[str, int] | None, bool]:
        """Where pushing to ``peer`` resumes, and whether its audience changed since the
        last push: then the start, so a new member (or a newly introduced organisation)
        receives the backlog it may now read (resent versions are no-ops on arrival), and
        the caller sends the groups' memberships first."""
        groups = self._groups.all()
        audience = self.audience(peer, groups)
        versions = sorted((g.id, g.version) for g in groups if g.id in audience.groups)
        digest = _audience_digest(audience, versions)
        if digest == peer.audience:
            return peer.push_after, False
        self._peers.set_audience(peer.id, digest)
        return None, True

    def record_refusals(self, peer: Peer, answer: dict[str, Any]) -> None:
        """Keep what ``peer`` said it refused of a message of ours (counted, last reason)."""
        refused = answer.get("refused")
        count = answer.get("undeliverable")
        if not isinstance(count, int) or count <= 0:
            return
        reasons = (
            [printable(r)[:300] for r in refused if isinstance(r, str)]
            if isinstance(refused, list)
            else []
        )
        last = reasons[-1] if reasons else f"{count} objects undeliverable"
        log.warning("peer %s refused %d objects, e.g. %s", peer.name, count, last)
        self._peers.refused(peer.id, count, last[:_MAX_ERROR])

    def calling_peer(self, principal: Principal) -> Peer:
        """The peer node whose token ``principal`` presented; no one else uses the feed."""
        if principal.peer is None:
            raise NotAuthenticated("the federation feed is for peer nodes' tokens")
        return self._peers.by_id(principal.peer)

    # The feed: what peers pull from this node and push to it -------------------------
    def feed(self, principal: Principal, added_after: str | None, limit: int) -> Outgoing:
        """The next signed message for the calling peer, after its ``added_after`` time."""
        peer = self.calling_peer(principal)
        after = None
        if added_after:
            try:
                if len(added_after) > 40:  # far longer than any timestamp: not echoed
                    raise ValueError
                after = (normalise_timestamp(added_after), _PAST_EVERY_PK)
            except ValueError:
                raise InvalidInput(
                    "'added_after' is not a STIX timestamp (YYYY-MM-DDTHH:MM:SS[.s+]Z)",
                    [Problem("not a STIX timestamp", field="added_after")],
                ) from None
        return self.outgoing(peer, after, limit)

    def accept(self, peer: Peer, body: bytes, signature: str | None) -> Received:
        """Verify and store one message ``peer`` pushed (``calling_peer``), all or nothing."""
        return self.receive(peer, body, signature, pulled=False)

    # Sending ------------------------------------------------------------------------
    def hello(self, peer: Peer) -> Outgoing:
        """A signed message with no objects: introduces this node's organisations."""
        message = self._envelope(peer, [], more=False)
        message["x_accord_meta"] = []
        groups = self._groups.all()
        message["x_accord_groups"] = self._membership_docs(
            peer, groups, self.audience(peer, groups)
        )
        body = orjson.dumps(message)  # signed as sent: the receiver verifies these bytes
        return Outgoing(body, self.key.sign(body), 0, False, None)

    def outgoing(self, peer: Peer, after: tuple[str, int] | None, limit: int) -> Outgoing:
        """The next signed message for ``peer``: versions after ``after`` it may receive.

        Each version names its owner's home node; one that may be relayed (``federation``
        or ``public``) carries its home node's seal, made here for our own organisations'
        versions and passed on unchanged for others', so a relay can neither alter nor
        originate what it forwards."""
        groups = self._groups.all()
        audience = self.audience(peer, groups)
        uuids = {g.id: g.uuid for g in groups}
        while True:
            rows = self._exchange.travel_page(self.key.node_id, audience, after, limit + 1)
            more = len(rows) > limit
            rows = rows[:limit]
            last = (rows[-1].row.date_added, rows[-1].row.pk) if rows else after
            owners = {r.row.owner for r in rows}
            orgs = {o: self._orgs.get(o) for o in sorted(owners)}
            docs = self._transformed(peer, rows, orgs)
            kept = [(r, d) for r, d in zip(rows, docs, strict=True) if d is not None]
            # A page withheld whole is skipped, so a message is never empty while more
            # follows, and the push cursor moves past withheld versions.
            if kept or not more:
                break
            after = last
        identities = self._orgs.identities(
            {r.row.owner for r, _ in kept} | {o for r, _ in kept for o in r.recipients}
        )
        objects, meta = [], []
        for r, obj in kept:
            entry: dict[str, Any] = {
                "date_added": r.row.date_added,
                "tlp": r.row.tlp.value,
                "scope": r.row.scope.value,
                "owner": identities[r.row.owner],
                # Only the peer's own organisations: recipients elsewhere stay private.
                "recipients": sorted(identities[o] for o in r.recipients & audience.orgs),
                "group": uuids.get(r.group_id) if r.group_id is not None else None,
                "via": r.via.split(),
            }
            if r.row.scope in _RELAYABLE:
                seal = self._seal_of(r.row.provenance, orgs[r.row.owner], obj, entry)
                if seal is None:
                    continue  # received before seals: its home node sends it itself
                entry["seal"] = seal
            objects.append(obj)
            meta.append(entry)
        orgs = {o: org for o, org in orgs.items() if o in {r.row.owner for r, _ in kept}}
        message = self._envelope(peer, objects, more)
        message["x_accord_meta"] = meta
        message["x_accord_identities"] = [self._identity(o) for o in orgs.values()]
        message["x_accord_groups"] = self._membership_docs(peer, groups, audience)
        body = orjson.dumps(message)  # signed as sent: the receiver verifies these bytes
        return Outgoing(body, self.key.sign(body), len(rows), more, last)

    def _transformed(
        self, peer: Peer, rows: list[TravelRow], orgs: dict[int, Organisation]
    ) -> list[dict[str, Any] | None]:
        """Each version's document as it leaves for ``peer``, or None to withhold it.

        Registered transforms (privacy) rewrite or withhold the versions of this node's
        own organisations; a relayed version leaves exactly as its home node sent it,
        since the home node's rules already applied and its seal covers that form."""
        docs: list[dict[str, Any] | None] = [orjson.loads(r.row.doc) for r in rows]
        own = [i for i, r in enumerate(rows) if orgs[r.row.owner].local]
        if not self._transforms or not own:
            return docs
        mine: list[dict[str, Any] | None] = [docs[i] for i in own]
        for transform in self._transforms:
            mine = transform.outgoing(peer, [rows[i] for i in own], mine)
        for i, doc in zip(own, mine, strict=True):
            docs[i] = doc
        return docs

    def _identity(self, org: Organisation) -> dict[str, Any]:
        """``org``'s STIX identity with the node id of its home node."""
        identity = org.identity()
        identity["x_accord_home"] = org.home or self.key.node_id
        return identity

    def _seal_of(
        self, provenance: str, owner: Organisation, obj: Any, entry: dict[str, Any]
    ) -> dict[str, Any] | None:
        if owner.local:
            payload = _seal_payload(obj, entry, self.key.node_id)
            seal: dict[str, Any] = {"node": self.key.node_id, "key": self.key.public_b64}
            if self.key.rotations:  # how the first key, which names the node, led to this
                seal["genesis"] = self.key.genesis_b64
                seal["rotations"] = list(self.key.rotations)
            seal["sig"] = self.key.sign(payload)
            return seal
        try:
            seal = orjson.loads(provenance).get("seal")
        except (orjson.JSONDecodeError, AttributeError):
            return None
        if not isinstance(seal, dict) or owner.home is None:
            return None
        # Checked here, by the relay that relies on it, not on arrival from the home node
        # (whose message signature was the authority there): a node that never relays
        # never pays for it, and a bad seal a home node sent is withheld, never passed on
        # to poison the relay's whole message at the next node.
        why = self._seal_problem(seal, owner.home, obj, entry)
        if why:
            log.warning("withholding %s from relays: %s", obj.get("id"), why)
            return None
        return seal

    def _membership_docs(
        self, peer: Peer, groups: list[SharingGroup], audience: PeerAudience
    ) -> list[dict[str, Any]]:
        """The membership of each group this node owns with a member homed on ``peer``:
        membership stays confidential to the members' nodes."""
        docs = []
        for group in groups:
            if not group.owned or not group.members & audience.orgs:
                continue
            members = self._orgs.identities(group.members)
            docs.append(
                {
                    "id": group.uuid,
                    "slug": group.slug,
                    "name": group.name,
                    "owner_node": self.key.node_id,
                    "version": group.version,
                    "members": sorted(members.values()),
                }
            )
        return docs

    def _envelope(self, peer: Peer, objects: list[Any], more: bool) -> dict[str, Any]:
        members = [self._identity(o) for o in self._orgs.all() if o.local]
        return {
            "more": more,
            "objects": objects,
            "x_accord_node": self.key.node_id,
            "x_accord_to": peer.node_id,
            "x_accord_issued": format_timestamp(self.clock()),
            "x_accord_nonce": uuid.uuid4().hex,
            "x_accord_members": members,
            # How this node's key was handed over, so a peer that knew an older key follows.
            "x_accord_rotations": list(self.key.rotations),
        }

    # Receiving ----------------------------------------------------------------------
    def receive(self, peer: Peer, body: bytes, signature: str | None, *, pulled: bool) -> Received:
        """Verify and store one message from ``peer``, all or nothing.

        Rejects anything unsigned, signed by another key, addressed to another node,
        issued outside the allowed clock skew, or already accepted (replay); anything
        that speaks for an organisation ``peer`` does not home without its home node's
        seal, or claims an organisation another node holds; and a group's membership
        from any node but its owner, or older than the one held. Every field is checked
        before anything is written, so a rejected message stores nothing: no object, no
        organisation, no nonce. Each rejection is logged and counted on the peer.
        """
        try:
            return self._receive(peer, body, signature, pulled=pulled)
        except (SignatureRejected, Replayed, InvalidInput) as exc:
            log.warning("rejected a message from peer %s: %s", peer.name, exc.detail)
            self._peers.rejected(peer.id, printable(exc.detail)[:_MAX_ERROR])
            raise

    def _receive(self, peer: Peer, body: bytes, signature: str | None, *, pulled: bool) -> Received:
        message, key = open_signed(
            peer, body, signature, chain="x_accord_rotations", what="message"
        )
        if message is None:
            raise InvalidInput("the signed message is not JSON")
        if key != peer.public_key:
            log.warning(
                "peer %s rotated its key; its fingerprint is now %s",
                peer.name,
                fingerprint(parse_public_key(key)),
            )
            self._peers.set_key(peer.id, key)
        self._check_envelope(peer, message)
        objects, meta = message["objects"], message["x_accord_meta"]
        issues = validate_objects(objects)
        if issues:
            first = issues[0]
            where = f"{first.object_id}: " if first.object_id else f"object {first.index}: "
            field = f"'{first.field}' " if first.field else ""
            raise InvalidInput(
                f"{peer.name} sent invalid STIX ({where}{field}{first.reason}); nothing stored"
            )
        identities = {
            i["id"]: i
            for i in _identities(message.get("x_accord_members"))
            + _identities(message.get("x_accord_identities"))
        }
        claims = self._claims(peer, message)
        homes = self._check_authority(peer, objects, meta, claims)
        docs = self._check_groups(peer, message.get("x_accord_groups"))
        # Checked: from here on only what passed is written.
        learnt = self._register(peer, [identities[i] for i in homes if i in identities], homes)
        self._keep_groups(docs, refresh=learnt)
        result = Received(more=message["more"] is True)
        versions = self._stamp(peer, objects, meta, result)
        now = self.clock()
        if meta:
            result.last_added = normalise_timestamp(meta[-1]["date_added"])
        nonce: str = message["x_accord_nonce"]

        def bookkeeping(batch: ObjectBatch) -> None:
            if not record_nonce(batch.connection, peer.id, nonce, now):
                raise Replayed(f"this message from {peer.name} was already accepted")
            forget_nonces(batch.connection, now - 4 * self._max_skew)
            keep_pending(batch.connection, peer.id, result.held, now)
            if pulled and result.last_added:
                advance_pull(batch.connection, peer.id, result.last_added, len(objects))

        report = IngestReport()
        self._exchange.store_versions(versions, None, now, report, within=bookkeeping)
        result.stored, result.duplicates = len(report.stored), len(report.duplicates)
        if learnt or docs:
            self.deliver_pending()
        return result

    def deliver_pending(self) -> int:
        """Deliver the versions kept pending that this node can now place (their group or
        organisations became known); how many were stored."""
        waiting = self._peers.pending()
        delivered = 0
        for peer_id in sorted({p.peer_id for p in waiting}):
            items = [p for p in waiting if p.peer_id == peer_id]
            peer = self._peers.by_id(peer_id)
            objects = [orjson.loads(p.doc) for p in items]
            meta = [orjson.loads(p.meta) for p in items]
            versions = self._stamp(peer, objects, meta, Received())
            if not versions:
                continue
            ready = [items[index].id for index, _ in versions]

            def delivered_now(batch: ObjectBatch, ready: list[int] = ready) -> None:
                drop_pending(batch.connection, ready)

            report = IngestReport()
            self._exchange.store_versions(
                versions, None, self.clock(), report, within=delivered_now
            )
            delivered += len(report.stored)
        return delivered

    def _claims(self, peer: Peer, message: dict[str, Any]) -> dict[str, str]:
        """The home node each introduced organisation claims, checked against what this
        node holds: ``peer``'s own members are homed on it; owners it relays name theirs."""
        claims: dict[str, str] = {}
        for identity in _identities(message.get("x_accord_members")):
            if identity.get("x_accord_home", peer.node_id) != peer.node_id:
                raise SignatureRejected(
                    f"{peer.name} lists {identity['id']} among its members but homes it elsewhere"
                )
            claims[identity["id"]] = peer.node_id
        for identity in _identities(message.get("x_accord_identities")):
            home = identity.get("x_accord_home", peer.node_id)
            if claims.setdefault(identity["id"], home) != home:
                raise SignatureRejected(f"{peer.name} gives {identity['id']} two home nodes")
        held = self._orgs.homes(claims)
        for ident, home in sorted(claims.items()):
            if ident not in held:
                continue
            mine = held[ident]
            if mine is None:
                raise SignatureRejected(
                    f"{peer.name} claims {ident}, an organisation homed on this node; "
                    "nothing stored"
                )
            if mine != home:
                raise SignatureRejected(
                    f"{peer.name} claims {ident} for node {home}, but it is homed on node {mine}; "
                    "nothing stored"
                )
        return claims

    def _check_authority(
        self, peer: Peer, objects: list[Any], meta: list[Any], claims: dict[str, str]
    ) -> dict[str, str]:
        """Check that every version speaks for its owner with the owner's home node's
        authority: sent by that node, or relayed with its seal intact. Returns the
        home of every organisation this message may introduce: ``peer``'s own, and
        those whose seal checked."""
        held = self._orgs.homes({m["owner"] for m in meta})
        homes = {i: h for i, h in claims.items() if h == peer.node_id}
        for index, (obj, m) in enumerate(zip(objects, meta, strict=True)):
            owner = m["owner"]
            home = held[owner] if owner in held else claims.get(owner)
            label = f"{obj.get('id', f'object {index}')} (owned by {owner})"
            if owner in held and home is None:
                raise SignatureRejected(
                    f"{peer.name} sent {label}, an organisation homed on this node; nothing stored"
                )
            if home is None:
                raise InvalidInput(
                    f"{peer.name} sent {label}, an organisation it did not introduce; "
                    "nothing stored"
                )
            if home != peer.node_id:
                # Relayed: only a relayable scope, and only with its home node's seal intact.
                # (Sent by the home node itself, the message's signature is the authority,
                # and a seal it carries for onward relays is checked by whoever relays it on.)
                if m["scope"] not in _RELAYABLE_VALUES:
                    raise SignatureRejected(
                        f"{peer.name} relayed {label} of scope {m['scope']}, which only its "
                        "home node sends; nothing stored"
                    )
                why = self._seal_problem(m.get("seal"), home, obj, m)
                if why:
                    raise SignatureRejected(f"{peer.name} sent {label}: {why}; nothing stored")
            if owner not in held:
                homes[owner] = home
        return homes

    def _seal_problem(self, seal: Any, home: str, obj: Any, m: dict[str, Any]) -> str | None:
        if not isinstance(seal, dict):
            return f"it is not sealed by its home node {home}"
        node, key, sig = seal.get("node"), seal.get("key"), seal.get("sig")
        if node != home or not isinstance(key, str) or not isinstance(sig, str):
            return f"its seal is not its home node {home}'s"
        try:
            raw = parse_public_key(key)
        except InvalidInput:
            return "its seal's key is not an Ed25519 key"
        genesis = seal.get("genesis")
        if (
            node_id_of(raw) != home
            and not any(p.node_id == home and p.public_key == key for p in self._peers.all())
            and not (
                isinstance(genesis, str)
                and node_id_of(parse_public_key(genesis)) == home
                and follow(home, genesis, seal.get("rotations")) == key
            )
        ):
            return f"its seal's key is not node {home}'s"
        if not verify(raw, sig, _seal_payload(obj, m, home)):
            return "its seal does not match it (altered on the way)"
        return None

    def _check_groups(self, peer: Peer, found: Any) -> list[dict[str, Any]]:
        """The membership documents ``peer`` sent that change what this node holds:
        each for a group ``peer`` owns, newer than the copy held here."""
        if found is None:
            return []
        if not isinstance(found, list) or len(found) > _MAX_GROUPS:
            raise InvalidInput(f"'x_accord_groups' is not a list of at most {_MAX_GROUPS} groups")
        held = {g.uuid: g for g in self._groups.all()}
        changed = []
        for doc in found:
            why = _group_problem(doc)
            if why:
                raise InvalidInput(f"a membership document from {peer.name} is malformed: {why}")
            if doc["owner_node"] != peer.node_id:
                raise SignatureRejected(
                    f"{peer.name} sent the membership of group {doc['id']}, owned by node "
                    f"{doc['owner_node']}: only a group's owner sends it"
                )
            group = held.get(doc["id"])
            if group is not None and group.owner_node != peer.node_id:
                owner = "this node" if group.owned else f"node {group.owner_node}"
                raise SignatureRejected(
                    f"{peer.name} sent members for group {group.slug!r}, owned by {owner}: "
                    "only the owner changes its membership"
                )
            if group is not None and doc["version"] < group.version:
                raise Replayed(
                    f"{peer.name} sent version {doc['version']} of group {group.slug!r}'s "
                    f"membership; version {group.version} is held here (a replay)"
                )
            if group is None or doc["version"] > group.version:
                changed.append(doc)
        return changed

    def _keep_groups(self, docs: list[dict[str, Any]], *, refresh: bool) -> None:
        """Store the owners' membership documents; with ``refresh``, apply every held one
        again, since organisations they name may just have become known here."""
        if refresh:
            docs = [orjson.loads(doc) for _, doc in self._groups.copies() if doc] + docs
        for doc in docs:
            members = self._orgs.by_identity(doc["members"])
            self._groups.keep_copy(
                group_uuid=doc["id"],
                owner_node=doc["owner_node"],
                slug=doc["slug"],
                name=printable(doc["name"]),
                version=doc["version"],
                doc=orjson.dumps(doc).decode(),
                members=frozenset(members.values()),
            )
        if docs:
            self._accounts.forget_principals()

    def _check_envelope(self, peer: Peer, message: Any) -> None:
        if not isinstance(message, dict):
            raise InvalidInput("the message is not a JSON object")
        if message.get("x_accord_node") != peer.node_id:
            raise SignatureRejected(f"the message does not come from {peer.name}'s node")
        if message.get("x_accord_to") != self.key.node_id:
            raise SignatureRejected("the message is addressed to another node")
        objects, meta = message.get("objects"), message.get("x_accord_meta", [])
        if not isinstance(objects, list) or not isinstance(meta, list) or len(meta) != len(objects):
            raise InvalidInput("the message's objects and x_accord_meta do not match")
        nonce = message.get("x_accord_nonce")
        if not isinstance(nonce, str) or not _NONCE.match(nonce):
            raise InvalidInput("the message has no nonce (1 to 64 letters, digits, '-' or '_')")
        issued_at = message.get("x_accord_issued")
        try:
            if not isinstance(issued_at, str):
                raise ValueError
            issued = parse_timestamp(issued_at)
        except ValueError:
            raise InvalidInput("the message has no valid x_accord_issued time") from None
        skew = abs(self.clock() - issued)
        if skew > self._max_skew:
            raise InvalidInput(
                f"the message was issued {skew.total_seconds():.0f} s from our clock "
                f"(at most {self._max_skew.total_seconds():.0f} s allowed); check both clocks"
            )
        for index, m in enumerate(meta):
            why = _meta_problem(m)
            if why:
                raise InvalidInput(f"object {index} has malformed x_accord_meta: {why}")
        message["x_accord_meta"] = meta  # present from here on, even where it was left out

    def _register(
        self, peer: Peer, identities: list[dict[str, str]], homes: dict[str, str]
    ) -> bool:
        """Learn organisations homed elsewhere, each with its checked home node; whether
        any was new here."""
        known = self._orgs.by_identity(i["id"] for i in identities)
        # Names are unique: a clash adds " @ <peer name>" (at most 120 characters) or
        # " @ <identity id>" (46), and the column holds 200.
        room = 200 - 3 - max(len(peer.name), 46)
        learnt = False
        for identity in identities:
            ident = identity["id"]
            if ident in known:
                continue
            kind = identity.get("x_accord_kind")
            state = identity.get("x_accord_state")
            self._orgs.add_remote(
                name=identity.get("name", ident)[:room],
                kind=OrgKind(kind) if kind in {k.value for k in OrgKind} else OrgKind.CYBER_AGENCY,
                state=state if state is not None and _STATE.match(state) else None,
                identity_id=ident,
                home_node=homes[ident],
                peer_id=peer.id,
                peer_name=peer.name,
                now=self.clock(),
            )
            known[ident] = -1
            learnt = True
        return learnt

    def _stamp(
        self, peer: Peer, objects: list[Any], meta: list[Any], result: Received
    ) -> list[tuple[int, NewVersion]]:
        owners = self._orgs.by_identity(m["owner"] for m in meta)
        recipients = self._orgs.by_identity(r for m in meta for r in m.get("recipients", []))
        groups = {g.uuid: g for g in self._groups.all()}
        now = format_timestamp(self.clock())
        versions: list[tuple[int, NewVersion]] = []
        for index, (obj, m) in enumerate(zip(objects, meta, strict=True)):
            try:
                tlp, scope = TLP(m["tlp"]), Scope(m["scope"])
                via = [str(v) for v in m["via"]] + [self.key.node_id]
                owner = owners[m["owner"]]
            except (KeyError, ValueError, TypeError):
                raise InvalidInput(f"object {index} has malformed x_accord_meta") from None
            group = groups.get(m.get("group") or "") if scope is Scope.GROUP else None
            dist = Distribution(
                tlp,
                scope,
                frozenset(recipients[r] for r in m.get("recipients", []) if r in recipients),
                group.id if group is not None else None,
            )
            why = distribution_problem(dist)
            if why is None and group is not None and owner not in group.members:
                why = f"its owner is not a member of group {group.slug!r} here"
            if why:
                # Addressed to a group or organisations this node does not know (yet):
                # kept, and delivered when it learns them (``deliver_pending``).
                result.undeliverable += 1
                result.notes.append(f"{obj['id']}: {why} (kept pending)")
                modified = str(obj.get("modified") or obj.get("created") or "")[:27]
                result.held.append(
                    (obj["id"], modified, orjson.dumps(obj).decode(), orjson.dumps(m).decode(), why)
                )
                continue
            provenance: dict[str, Any] = {
                "origin_node_id": via[0],
                "via": via,
                "received": now,
                "from_peer": peer.name,
            }
            if "seal" in m:
                provenance["seal"] = m["seal"]
            record = orjson.dumps(provenance).decode()
            versions.append((index, stamp(obj, owner, dist, record, " ".join(via))))
        return versions


def _seal_payload(obj: Any, entry: dict[str, Any], home: str) -> bytes:
    """What a home node's seal signs: the object and the distribution its owner gave it,
    as JSON with sorted keys (any deterministic form serves: both ends make it from the
    same parsed value; orjson's is many times faster than a pure-Python RFC 8785)."""
    sealed = {
        "object": obj,
        "owner": entry["owner"],
        "home": home,
        "tlp": entry["tlp"],
        "scope": entry["scope"],
    }
    return orjson.dumps(sealed, option=orjson.OPT_SORT_KEYS)


def _audience_digest(audience: PeerAudience, versions: list[tuple[int, int]]) -> str:
    text = f"{sorted(audience.orgs)}|{versions}"
    return hashlib.sha256(text.encode()).hexdigest()


def fingerprint(public_raw: bytes) -> str:
    """A key's fingerprint as SSH shows one (``SHA256:`` and unpadded base64), to read
    out to a peer's operator before trusting it."""
    digest = base64.b64encode(hashlib.sha256(public_raw).digest()).decode().rstrip("=")
    return f"SHA256:{digest}"


def _group_problem(doc: Any) -> str | None:
    if not isinstance(doc, dict):
        return "not a JSON object"
    if not isinstance(doc.get("id"), str) or not _UUID.match(doc["id"]):
        return "'id' is not a UUID"
    if not isinstance(doc.get("slug"), str) or not _SLUG.match(doc["slug"]):
        return "'slug' is not a group slug"
    if not isinstance(doc.get("name"), str) or not 0 < len(doc["name"]) <= 200:
        return "'name' is not 1 to 200 characters"
    if not isinstance(doc.get("owner_node"), str) or not _NODE_ID.match(doc["owner_node"]):
        return "'owner_node' is not a node id"
    version = doc.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or not 1 <= version < 2**31:
        return "'version' is not a positive integer"
    members = doc.get("members")
    if (
        not isinstance(members, list)
        or len(members) > _MAX_RECIPIENTS
        or not all(isinstance(i, str) and _IDENTITY.match(i) for i in members)
    ):
        return "'members' is not a list of identity ids"
    return None


def _meta_problem(m: Any) -> str | None:
    """What is wrong with one object's ``x_accord_meta`` entry, or None."""
    if not isinstance(m, dict):
        return "not a JSON object"
    added = m.get("date_added")
    try:
        if not isinstance(added, str) or len(added) > 40:
            raise ValueError
        normalise_timestamp(added)
    except ValueError:
        return "'date_added' is not a STIX timestamp"
    tlp, scope = m.get("tlp"), m.get("scope")
    if not isinstance(tlp, str) or tlp not in _TLP_VALUES:
        return "'tlp' is not a TLP 2.0 marking"
    if not isinstance(scope, str) or scope not in _SCOPE_VALUES:
        return "'scope' is not a distribution scope"
    owner = m.get("owner")
    if not isinstance(owner, str) or not _IDENTITY.match(owner):
        return "'owner' is not an identity id"
    recipients = m.get("recipients", [])
    if (
        not isinstance(recipients, list)
        or len(recipients) > _MAX_RECIPIENTS
        or not all(isinstance(r, str) and _IDENTITY.match(r) for r in recipients)
    ):
        return "'recipients' is not a list of identity ids"
    group = m.get("group")
    if group is not None and (not isinstance(group, str) or not _UUID.match(group)):
        return "'group' is not a sharing group's id (a UUID)"
    via = m.get("via")
    if (
        not isinstance(via, list)
        or len(via) > _MAX_HOPS
        or not all(isinstance(v, str) and _NODE_ID.match(v) for v in via)
    ):
        return f"'via' is not a list of at most {_MAX_HOPS} node ids"
    return None


def _identities(found: Any) -> list[dict[str, str]]:
    """The well-formed organisation identities in a message field, as storable text.

    Anything else there is left out, as a peer's extra fields are: only identities with
    an ``identity--UUID`` id are learnt, with a name (NUL and unpaired surrogates
    written as escapes), a kind and a state when they have them.
    """
    if not isinstance(found, list):
        return []
    kept: list[dict[str, str]] = []
    for identity in found:
        if not isinstance(identity, dict) or identity.get("type") != "identity":
            continue
        ident = identity.get("id")
        if not isinstance(ident, str) or not _IDENTITY.match(ident):
            continue
        record = {"id": ident}
        for key in ("name", "x_accord_kind", "x_accord_state"):
            value = identity.get(key)
            if isinstance(value, str) and value.strip():
                record[key] = printable(value.strip())
        home = identity.get("x_accord_home")
        if home is not None:
            if not isinstance(home, str) or not _NODE_ID.match(home):
                raise InvalidInput(f"identity {ident}'s 'x_accord_home' is not a node id")
            record["x_accord_home"] = home
        kept.append(record)
    return kept
