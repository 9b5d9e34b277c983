"""Signed messages between nodes: what may go to a peer, and checking what comes from one.

A message is a TAXII envelope (``objects``, ``more``) with Accord's own fields: each
object's distribution here (``x_accord_meta``), the identities of owners and of the
sender's organisations, the sender and receiver node ids, when it was issued and a
nonce. Its RFC 8785 canonical JSON is the body, signed with the sender's Ed25519
key; the signature travels beside it. Documents travel byte for byte as stored, so a
version has one form on every node and re-sending it is a no-op.
"""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

import orjson
import rfc8785

from accord.accounts import Accounts, require_admin
from accord.domain.access import PeerAudience
from accord.domain.clock import Clock
from accord.domain.model import OrgKind, Principal, SharingGroup
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
from accord.federation.keys import NodeKey, node_id_of, parse_public_key, verify
from accord.store.accounts import GroupRepository, OrganisationRepository
from accord.store.objects import NewVersion, ObjectBatch, TravelRow
from accord.store.peers import Peer, PeerRepository, advance_pull, forget_nonces, record_nonce

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
    ) -> None:
        self.key = key
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
    def add_peer(self, name: str, url: str, public_key: str, token: str | None) -> tuple[Peer, str]:
        """Register a peer; returns it and the token to hand to its operator (shown once)."""
        if not _URL.match(url):
            raise InvalidInput(f"{url!r} is not an http(s) URL")
        raw = parse_public_key(public_key)
        if node_id_of(raw) == self.key.node_id:
            raise InvalidInput("that is this node's own key")
        peer = self._peers.add(
            name, url.rstrip("/"), node_id_of(raw), public_key.strip(), token, self.clock()
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
        return [self.status(p) for p in self._peers.all()]

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

    def status(self, peer: Peer) -> PeerStatus:
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
        )

    def audience(self, peer: Peer, groups: list[SharingGroup] | None = None) -> PeerAudience:
        orgs = self._peers.org_ids(peer.id)
        shared = frozenset(g.id for g in groups or self._groups.all() if g.members & orgs)
        return PeerAudience(peer.node_id, orgs, shared)

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
        body = rfc8785.dumps(message)
        return Outgoing(body, self.key.sign(body), 0, False, None)

    def outgoing(self, peer: Peer, after: tuple[str, int] | None, limit: int) -> Outgoing:
        """The next signed message for ``peer``: versions after ``after`` it may receive."""
        groups = self._groups.all()
        audience = self.audience(peer, groups)
        while True:
            rows = self._exchange.travel_page(self.key.node_id, audience, after, limit + 1)
            more = len(rows) > limit
            rows = rows[:limit]
            last = (rows[-1].row.date_added, rows[-1].row.pk) if rows else after
            # Registered transforms (privacy) rewrite or withhold each object for this
            # peer; a page they withhold whole is skipped, so a message is never empty
            # while more follows, and the push cursor moves past withheld versions.
            objects: list[dict[str, Any] | None] = [orjson.loads(r.row.doc) for r in rows]
            for transform in self._transforms:
                objects = transform.outgoing(peer, rows, objects)
            kept = [(r, o) for r, o in zip(rows, objects, strict=True) if o is not None]
            if kept or not more:
                break
            after = last
        rows, docs = [r for r, _ in kept], [o for _, o in kept]
        slugs = {g.id: g.slug for g in groups}
        identities = self._orgs.identities(
            {r.row.owner for r in rows} | {o for r in rows for o in r.recipients}
        )
        owners = {r.row.owner for r in rows}
        meta = [
            {
                "date_added": r.row.date_added,
                "tlp": r.row.tlp.value,
                "scope": r.row.scope.value,
                "owner": identities[r.row.owner],
                # Only the peer's own organisations: recipients elsewhere stay private.
                "recipients": sorted(identities[o] for o in r.recipients & audience.orgs),
                "group": slugs.get(r.group_id) if r.group_id is not None else None,
                "via": r.via.split(),
            }
            for r in rows
        ]
        message = self._envelope(peer, docs, more)
        message["x_accord_meta"] = meta
        message["x_accord_identities"] = [self._orgs.get(o).identity() for o in sorted(owners)]
        body = rfc8785.dumps(message)
        return Outgoing(body, self.key.sign(body), len(rows), more, last)

    def _envelope(self, peer: Peer, objects: list[Any], more: bool) -> dict[str, Any]:
        members = [o.identity() for o in self._orgs.all() if o.peer is None]
        return {
            "more": more,
            "objects": objects,
            "x_accord_node": self.key.node_id,
            "x_accord_to": peer.node_id,
            "x_accord_issued": format_timestamp(self.clock()),
            "x_accord_nonce": uuid.uuid4().hex,
            "x_accord_members": members,
        }

    # Receiving ----------------------------------------------------------------------
    def receive(self, peer: Peer, body: bytes, signature: str | None, *, pulled: bool) -> Received:
        """Verify and store one message from ``peer``, all or nothing.

        Rejects (and logs) anything unsigned, signed by another key, addressed to another
        node, issued outside the allowed clock skew, or already accepted (replay). Every
        field is checked before anything is written, so a malformed message (even one
        correctly signed) stores nothing: no object, no organisation, no nonce.
        """
        if not signature or not verify(parse_public_key(peer.public_key), signature, body):
            log.warning("rejected a message from peer %s: bad or missing signature", peer.name)
            raise SignatureRejected(f"the message does not carry {peer.name}'s valid signature")
        try:
            message = orjson.loads(body)
        except orjson.JSONDecodeError:
            raise InvalidInput("the signed message is not JSON") from None
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
        identities = _identities(message.get("x_accord_members")) + _identities(
            message.get("x_accord_identities")
        )
        owners = {m["owner"] for m in meta}
        unknown = owners - set(self._orgs.by_identity(owners)) - {i["id"] for i in identities}
        if unknown:
            raise InvalidInput(
                f"{peer.name} sent objects owned by {min(unknown)}, an organisation it did not "
                "introduce; nothing stored"
            )
        self._register(peer, identities)
        result = Received(more=message["more"] is True)
        versions = self._stamp(peer, objects, meta, result)
        now = self.clock()
        if meta:
            result.last_added = normalise_timestamp(meta[-1]["date_added"])
        nonce: str = message["x_accord_nonce"]

        def bookkeeping(batch: ObjectBatch) -> None:
            if not record_nonce(batch.connection, peer.id, nonce, now):
                log.warning("rejected a replayed message from peer %s", peer.name)
                raise Replayed(f"this message from {peer.name} was already accepted")
            forget_nonces(batch.connection, now - 4 * self._max_skew)
            if pulled and result.last_added:
                advance_pull(batch.connection, peer.id, result.last_added, len(objects))

        report = IngestReport()
        self._exchange.store_versions(versions, None, now, report, within=bookkeeping)
        result.stored, result.duplicates = len(report.stored), len(report.duplicates)
        return result

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

    def _register(self, peer: Peer, identities: list[dict[str, str]]) -> None:
        """Learn organisations behind ``peer`` (or relayed through it) from their identities."""
        known = self._orgs.by_identity(i["id"] for i in identities)
        # Names are unique: a clash adds " @ <peer name>" (at most 120 characters) or
        # " @ <identity id>" (46), and the column holds 200.
        room = 200 - 3 - max(len(peer.name), 46)
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
                peer_id=peer.id,
                peer_name=peer.name,
                now=self.clock(),
            )
            known[ident] = -1

    def _stamp(
        self, peer: Peer, objects: list[Any], meta: list[Any], result: Received
    ) -> list[tuple[int, NewVersion]]:
        owners = self._orgs.by_identity(m["owner"] for m in meta)
        recipients = self._orgs.by_identity(r for m in meta for r in m.get("recipients", []))
        groups = {g.slug: g.id for g in self._groups.all()}
        now = format_timestamp(self.clock())
        versions: list[tuple[int, NewVersion]] = []
        for index, (obj, m) in enumerate(zip(objects, meta, strict=True)):
            try:
                tlp, scope = TLP(m["tlp"]), Scope(m["scope"])
                via = [str(v) for v in m["via"]] + [self.key.node_id]
                owner = owners[m["owner"]]
            except (KeyError, ValueError, TypeError):
                raise InvalidInput(f"object {index} has malformed x_accord_meta") from None
            dist = Distribution(
                tlp,
                scope,
                frozenset(recipients[r] for r in m.get("recipients", []) if r in recipients),
                groups.get(m.get("group") or "") if scope is Scope.GROUP else None,
            )
            if distribution_problem(dist):
                # Addressed to a group or organisations this node does not know.
                result.undeliverable += 1
                result.notes.append(f"{obj['id']}: {distribution_problem(dist)}")
                continue
            provenance = {
                "origin_node_id": via[0],
                "via": via,
                "received": now,
                "from_peer": peer.name,
            }
            record = orjson.dumps(provenance).decode()
            versions.append((index, stamp(obj, owner, dist, record, " ".join(via))))
        return versions


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
    if not isinstance(tlp, str) or tlp not in {t.value for t in TLP}:
        return "'tlp' is not a TLP 2.0 marking"
    if not isinstance(scope, str) or scope not in {s.value for s in Scope}:
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
    if group is not None and (not isinstance(group, str) or not _SLUG.match(group)):
        return "'group' is not a sharing group's slug"
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
        kept.append(record)
    return kept
