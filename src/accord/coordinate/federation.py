"""Requests and consultations between organisations homed on different nodes.

A request keeps one shared id (``uid``) and case id on both parties' home nodes. Every
action is taken on the acting organisation's home node, which applies it there and
queues a *coordination message* for the other party's home node in the same
transaction (``store.coordfed``: an outbox, so a crash loses nothing and a rolled-back
action sends nothing). The courier sends each destination's queue in order, each message
in its own envelope signed with the node's Ed25519 key (the federation's own key and
peer registry; header ``X-Accord-Signature``), to ``POST /api/v1/federation/coordination``
with the token the peer issued. A down node keeps its queue waiting: retried with a
doubling wait, in order, until it answers.

The receiving node checks, before it writes anything:

- the envelope: signed by the calling peer's key (or a key its rotations lead to),
  addressed to this node, issued within ``federation_max_skew``;
- authority, as for objects: the acting organisation must be homed on the sending node
  (a node forging an action for an organisation it does not home is refused, 403), and
  the organisation must be the party the workflow gives that action to; a filed request
  must be addressed to an organisation this node homes; receipts and escalations come
  only from the recipient's home node;
- the workflow: the transition must be open in the state held here (409 otherwise).

A message is applied once: its id is recorded with it (``coord_fed_seen``), and a
message sent again is answered 409 ``replayed``, which the sender takes as delivered.

Message kinds (``kind``): ``transition`` (submit carries the request itself; every
action, with the actor's identity, role, time and reason), ``message`` (a thread
message with its attachments' STIX ids, which the recipient reads through its own
gate: what it is entitled to and has received, nothing more), ``receipt`` (the
recipient's home node took the request: its deadlines, counted from filing, by its own
rules) and ``escalate`` (the recipient's home node escalated it).
"""

from __future__ import annotations

import logging
import re
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import httpx
import orjson
import rfc8785

from accord.coordinate.contacts import ContactInput
from accord.coordinate.directory import contact_fields
from accord.coordinate.workflow import Action, IllegalTransition, Side, State, decide
from accord.domain.model import OrgKind, Role
from accord.domain.stix import format_timestamp, parse_timestamp
from accord.domain.text import printable, unstorable
from accord.errors import Conflict, InvalidInput, NotFound, Replayed, SignatureRejected
from accord.federation.keys import NodeKey, open_signed
from accord.federation.sync import SIGNATURE
from accord.periodic import Periodic
from accord.store.accounts import GroupRepository, OrganisationRepository
from accord.store.checks import remote_acknowledgements_in
from accord.store.contacts import ContactFields, ContactRepository, ContactRow
from accord.store.coordfed import (
    OutboxRepository,
    Outgoing,
    contact_versions,
    enqueue,
    is_seen,
    mark_seen,
    queued_check_acks,
)
from accord.store.db import write
from accord.store.peers import Peer, PeerRepository
from accord.store.requests import NewRequest, RequestEvent, RequestRepository, RequestRow

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

    from accord.coordinate.checks import Checks
    from accord.coordinate.directory import Directory
    from accord.coordinate.model import Contact
    from accord.coordinate.requests import Requests
    from accord.store.checks import CheckRepository

log = logging.getLogger("accord.coordinate.federation")

PATH = "/api/v1/federation/coordination"
KINDS = ("transition", "message", "receipt", "escalate", "contact", "check", "check-ack")
_NODE_ID = re.compile(r"\A[0-9a-f]{32}\Z")
_UID = re.compile(r"\A[a-z-]{1,20}--[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\Z")
_IDENTITY = re.compile(
    r"\Aidentity--[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\Z"
)
_STATE = re.compile(r"\A[A-Z]{2}\Z")
_MAX_TEXT = 20_000
_MAX_ERROR = 1000


def new_uid(prefix: str) -> str:
    return f"{prefix}--{uuid.uuid4()}"


@dataclass(frozen=True, slots=True)
class Applied:
    kind: str
    request: str  # the request's uid


class Link:
    """Both ends of coordination between nodes: what to queue, and applying what arrives."""

    def __init__(
        self,
        *,
        outbox: OutboxRepository,
        peers: PeerRepository,
        repo: RequestRepository,
        orgs: OrganisationRepository,
        contacts: ContactRepository,
        groups: GroupRepository,
        key: Callable[[], NodeKey],
        clock: Callable[[], datetime],
        max_skew: timedelta,
    ) -> None:
        self.outbox = outbox
        self._peers = peers
        self._repo = repo
        self._orgs = orgs
        self._contacts = contacts
        self._groups = groups
        self._key = key
        self._clock = clock
        self._max_skew = max_skew
        self.requests: Requests | None = None  # set by ``Coordination``
        self.checks: Checks | None = None
        self.directory: Directory | None = None
        self.check_repo: CheckRepository | None = None
        self._listeners: list[Callable[[], None]] = []

    def now(self) -> datetime:
        return self._clock()

    def on_queued(self, listener: Callable[[], None]) -> None:
        """Call ``listener`` after a message is queued in this process (the courier's wake)."""
        self._listeners.append(listener)

    def queued(self) -> None:
        for listener in self._listeners:
            listener()

    # Queuing (inside the transaction of the action) ---------------------------------
    def home(self, org_id: int) -> str | None:
        """The node id of ``org_id``'s home node, or None when it is this node."""
        return self._orgs.get(org_id).home

    def queue(
        self, conn: Connection, node: str, kind: str, uid: str | None, payload: dict[str, Any]
    ) -> None:
        msg_id = new_uid("coordmsg")
        message = {"id": msg_id, "kind": kind, **payload}
        if uid is not None:
            message["request"] = uid
        enqueue(
            conn,
            node=node,
            msg_id=msg_id,
            kind=kind,
            request_uid=uid,
            body=orjson.dumps(message).decode(),
            now=self._clock(),
        )

    def transition_payload(
        self,
        row: RequestRow,
        action: str,
        event: RequestEvent,
        values: dict[str, Any],
    ) -> dict[str, Any]:
        """What travels of one transition: the actor, and for a submission the request."""
        identities = self._orgs.identities([row.requester_org, row.recipient_org])
        payload: dict[str, Any] = {
            "action": action,
            "source": event.source,
            "target": event.target,
            "actor": self._identity(event.actor_org) if event.actor_org is not None else None,
            "role": event.actor_role,
            "at": format_timestamp(event.at),
            "detail": event.detail,
        }
        if action == Action.SUBMIT.value:
            payload["filed"] = {
                "case": row.case_id,
                "kind": row.kind,
                "title": row.title,
                "urgency": row.urgency,
                "tlp": row.tlp,
                "details": row.details,
                "evidence": list(row.evidence),
                "created": format_timestamp(row.created),
                "deadline": format_timestamp(row.deadline) if row.deadline else None,
                "submitted": format_timestamp(values["submitted"]),
                "requester": identities[row.requester_org],
                "recipient": identities[row.recipient_org],
            }
        return payload

    def _identity(self, org_id: int) -> dict[str, Any]:
        org = self._orgs.get(org_id)
        identity: dict[str, Any] = {"id": org.identity_id, "name": org.name, "kind": org.kind.value}
        if org.state:
            identity["state"] = org.state
        return identity

    # The regional directory ---------------------------------------------------------
    def contact_changed(self, conn: Connection, contact_id: int) -> None:
        """Queue a changed contact of this node's for the nodes entitled to it, inside the
        change's transaction: every peer for a contact marked for the federation, else the
        home nodes of its groups' members. Other peers are told only that it is withdrawn
        (its id and version, nothing of it), so a copy kept before its marking narrowed
        is retired there."""
        row = self._contacts.row_in(conn, contact_id)
        if row.home_node is not None or not self._orgs.get(row.org_id).local:
            return  # a copy, or a contact kept here for an organisation homed elsewhere
        peers = {p.node_id for p in self._peers.all()}
        entitled = self._entitled(row, peers)
        identity = self._identity(row.org_id)
        for node in sorted(peers):
            if node in entitled and row.deleted is None:
                document = _contact_document(row, entitled[node])
            elif row.version == 1:
                continue  # new, and not for that node: it holds no copy to withdraw
            else:
                document = {"id": row.id, "version": row.version, "withdrawn": True}
            self.queue(conn, node, "contact", None, {"actor": identity, "contact": document})
        if peers:
            # The courier's look may come before the commit: its next poll finds it.
            self.queued()

    def backfill(self) -> int:
        """Queue each of this node's live contacts for every node entitled to it that was
        never sent its current version: a node peered since the contact last changed, or
        homing an organisation that joined one of its groups since. (A change travels
        at once, from ``contact_changed``; this catches up with changes of audience.)
        A version the receiver holds already is a no-op there. Also queues any
        acknowledgement of another node's check that was recorded here but never
        queued back. How many messages were queued."""
        peers = {p.node_id for p in self._peers.all()}
        if not peers:
            return 0
        queued = 0
        with write(self.outbox.engine) as conn:
            sent = contact_versions(conn)
            for row in self._contacts.own_live_in(conn):
                if not self._orgs.get(row.org_id).local:
                    continue
                identity: dict[str, Any] | None = None
                for node, uuids in sorted(self._entitled(row, peers).items()):
                    if sent.get((node, row.id), 0) >= row.version:
                        continue
                    identity = identity or self._identity(row.org_id)
                    document = _contact_document(row, uuids)
                    payload = {"actor": identity, "contact": document}
                    self.queue(conn, node, "contact", None, payload)
                    queued += 1
            # An acknowledgement is queued for the organiser's node just after it commits;
            # one a crash lost in between is queued here (the courier's first pass).
            acks = queued_check_acks(conn)
            for node, uid, contact_id, at in remote_acknowledgements_in(conn):
                if (node, uid, contact_id) not in acks:
                    ack: dict[str, Any] = {
                        "check": uid,
                        "contact": contact_id,
                        "at": format_timestamp(at),
                    }
                    self.queue(conn, node, "check-ack", None, ack)
                    queued += 1
        if queued:
            log.info("queued %d contacts for nodes newly entitled to them", queued)
            self.queued()
        return queued

    def audience(self) -> tuple[object, ...]:
        """What decides who is entitled to this node's contacts: the peers, and every
        group's members (a change of either may call for ``backfill``)."""
        peers = tuple(sorted(p.node_id for p in self._peers.all()))
        groups = tuple(sorted((g.uuid, tuple(sorted(g.members))) for g in self._groups.all()))
        homes = tuple(sorted((o.id, o.home or "") for o in self._orgs.all()))
        return peers, groups, homes

    def _entitled(self, row: ContactRow, peers: set[str]) -> dict[str, list[str]]:
        """The peers entitled to contact ``row``, each with the uuids of the groups that
        entitle it: every peer for a contact marked for the federation, else the home
        nodes of its groups' members."""
        entitled: dict[str, list[str]] = {}
        for group in self._groups.all():
            if group.id not in row.groups:
                continue
            for member in group.members:
                home = self._orgs.get(member).home
                if home is not None and home in peers:
                    entitled.setdefault(home, []).append(group.uuid)
        if row.federation:
            for node in peers:
                entitled.setdefault(node, [])
        return {node: sorted(set(uuids)) for node, uuids in entitled.items()}

    def _contact(self, peer: Peer, msg_id: str, message: dict[str, Any]) -> str:
        """Keep (or retire) the read-only copy of a contact homed on ``peer``."""
        org = self._actor(peer, message)
        doc = message.get("contact")
        if not isinstance(doc, dict):
            raise InvalidInput("'message.contact' is not a JSON object")
        remote_id, version = doc.get("id"), doc.get("version")
        for name, value in (("id", remote_id), ("version", version)):
            if not isinstance(value, int) or isinstance(value, bool) or not 0 < value < 2**31:
                raise InvalidInput(f"'contact.{name}' is not a positive integer")
        assert isinstance(remote_id, int) and isinstance(version, int)
        label = f"contact {remote_id} of node {peer.node_id}"
        now = self._clock()

        def within(conn: Connection) -> None:
            mark_seen(conn, peer.node_id, msg_id, now)

        if doc.get("withdrawn") is True:
            held = self._contacts.copy_of(peer.node_id, remote_id)
            if held is not None:
                self._contacts.keep_copy(
                    _fields_of(held, org),
                    home_node=peer.node_id,
                    remote_id=remote_id,
                    version=version,
                    last_confirmed=held.last_confirmed,
                    updated=now,
                    deleted=now,
                    within=within,
                )
            return label
        uuids = doc.get("groups", [])
        if not isinstance(uuids, list) or not all(isinstance(u, str) for u in uuids):
            raise InvalidInput("'contact.groups' is not a list of group ids")
        held_groups = {g.uuid: g for g in self._groups.all()}
        local_members = {o.id for o in self._orgs.all() if o.local}
        groups = [held_groups[u] for u in uuids if u in held_groups]
        federation = doc.get("federation") is True
        if not federation and not any(g.members & local_members for g in groups):
            raise SignatureRejected(
                f"{peer.name} sent {label}, for groups this node has no member of; nothing stored"
            )
        try:
            clean = ContactInput(
                kind=str(doc.get("kind")),
                name=_text(doc, "name"),
                role=_text(doc, "role"),
                email=_optional(doc, "email"),
                phone=_optional(doc, "phone"),
                messaging=_optional(doc, "messaging"),
                languages=tuple(str(x) for x in doc.get("languages") or ()),
                timezone=_text(doc, "timezone") or "UTC",
                public_key=_optional(doc, "public_key"),
            ).clean()
        except InvalidInput as exc:
            raise InvalidInput(f"{peer.name} sent {label} with bad fields: {exc.detail}") from None
        # For the federation: everyone on this node; else its groups' members here.
        fields = contact_fields(
            org,
            clean,
            groups=() if federation else tuple(sorted(g.id for g in groups)),
            federation=federation,
        )
        last = _time(doc, "last_confirmed") if doc.get("last_confirmed") else None
        self._contacts.keep_copy(
            fields,
            home_node=peer.node_id,
            remote_id=remote_id,
            version=version,
            last_confirmed=last,
            updated=_time(doc, "updated"),
            deleted=None,
            within=within,
        )
        return label

    # Communication checks across nodes ----------------------------------------------
    def check_payload(
        self, uid: str, organiser: int, title: str, deadline: datetime
    ) -> dict[str, Any]:
        return {
            "check": uid,
            "actor": self._identity(organiser),
            "title": title,
            "deadline": format_timestamp(deadline),
        }

    def check_acknowledged(self, node: str, uid: str, contact_id: int, at: datetime) -> None:
        """Queue an acknowledgement of this node's contact for the check's organiser node."""
        payload = {"check": uid, "contact": contact_id, "at": format_timestamp(at)}
        msg_id = new_uid("coordmsg")
        body = {"id": msg_id, "kind": "check-ack", **payload}
        self.outbox.add(node, msg_id, "check-ack", orjson.dumps(body).decode(), self._clock())
        self.queued()

    def _check(self, peer: Peer, msg_id: str, message: dict[str, Any]) -> str:
        """Run here the part of ``peer``'s check that reaches this node's own contacts."""
        assert self.checks is not None and self.directory is not None
        assert self.check_repo is not None
        organiser = self._actor(peer, message)
        uid, title, ids = message.get("check"), message.get("title"), message.get("contacts")
        if not isinstance(uid, str) or not _UID.match(uid):
            raise InvalidInput("'message.check' is not a check id (check--UUID)")
        if not isinstance(title, str) or not 0 < len(title) <= 300 or unstorable(title):
            raise InvalidInput("'message.title' is not a title")
        if (
            not isinstance(ids, list)
            or not 0 < len(ids) <= 100_000
            or not all(isinstance(i, int) and not isinstance(i, bool) for i in ids)
        ):
            raise InvalidInput("'message.contacts' is not a list of contact ids")
        deadline = _time(message, "deadline")
        if self.check_repo.by_uid(uid) is not None:
            raise Replayed(f"check {uid} is already running here")
        held = {c.id: c for c in self.directory.search(None) if c.home_node is None}
        wanted = sorted(set(ids))
        missing = [i for i in wanted if i not in held or not self._travels_to(held[i], peer)]
        if missing:
            raise SignatureRejected(
                f"{peer.name} asked to check contact {missing[0]}, which this node does not "
                "hold for it; nothing stored"
            )

        def within(conn: Connection, check_id: int) -> None:
            mark_seen(conn, peer.node_id, msg_id, self._clock())

        self.checks.start_for(
            organiser, uid, peer.node_id, title, deadline, [held[i] for i in wanted], within
        )
        return uid

    def _travels_to(self, contact: Contact, peer: Peer) -> bool:
        """Whether ``contact`` (this node's) is one ``peer``'s node is entitled to."""
        if contact.federation:
            return True
        slugs = set(contact.groups)
        homes = {o.id: o.home for o in self._orgs.all()}
        return any(
            homes.get(m) == peer.node_id
            for g in self._groups.all()
            if g.slug in slugs
            for m in g.members
        )

    def _check_ack(self, peer: Peer, msg_id: str, message: dict[str, Any]) -> str:
        """An acknowledgement made at a contact's home node, for a check organised here."""
        assert self.check_repo is not None
        uid, contact = message.get("check"), message.get("contact")
        if not isinstance(uid, str) or not _UID.match(uid):
            raise InvalidInput("'message.check' is not a check id (check--UUID)")
        if not isinstance(contact, int) or isinstance(contact, bool):
            raise InvalidInput("'message.contact' is not a contact id")
        check = self.check_repo.by_uid(uid)
        if check is None or check.origin_node is not None:
            raise InvalidInput(f"no check {uid} was organised here")
        copy = self._contacts.copy_of(peer.node_id, contact)
        if copy is None:
            raise SignatureRejected(
                f"{peer.name} acknowledged contact {contact}, which it does not hold for "
                "this node; nothing stored"
            )
        at = _time(message, "at")

        def within(conn: Connection) -> None:
            mark_seen(conn, peer.node_id, msg_id, self._clock())

        if not self.check_repo.acknowledge_remote(check.id, copy.id, at, within):
            raise Conflict(f"contact {contact} is not in check {uid}, or acknowledged it already")
        return uid

    # Sending ------------------------------------------------------------------------
    def node_names(self) -> dict[str, str]:
        """Each peer node's name here, by node id (how the console names home nodes)."""
        return {p.node_id: p.name for p in self._peers.all()}

    def peer_for(self, node: str) -> Peer | None:
        return next((p for p in self._peers.all() if p.node_id == node), None)

    def seal(self, peer: Peer, item: Outgoing) -> tuple[bytes, str]:
        """The signed envelope of one queued message, made as it leaves (so a message
        queued while its destination was down is issued now, within the skew)."""
        key = self._key()
        envelope = {
            "type": "accord-coordination",
            "from": key.node_id,
            "to": peer.node_id,
            "issued": format_timestamp(self._clock()),
            "nonce": uuid.uuid4().hex,
            "rotations": list(key.rotations),
            "message": orjson.loads(item.body),
        }
        body = rfc8785.dumps(envelope)
        return body, key.sign(body)

    def delivered(self, item: Outgoing) -> None:
        self.outbox.sent(item, self._clock())
        if item.request_uid and _is_submission(item):
            self._repo.set_delivery(item.request_uid, self._clock(), None)

    def refused(self, item: Outgoing, reason: str) -> None:
        """The destination refused ``item`` for good (4xx): kept with the reason, and for a
        submission shown on the request ("refused: ..."); the node log says it too."""
        log.warning("node refused coordination message %s: %s", item.msg_id, reason)
        self.outbox.refused(item, reason[:_MAX_ERROR])
        if item.request_uid and _is_submission(item):
            self._repo.set_delivery(item.request_uid, None, reason[:_MAX_ERROR])

    # Receiving ----------------------------------------------------------------------
    def receive(self, peer: Peer, body: bytes, signature: str | None) -> Applied:
        """Verify and apply one message ``peer`` sent, all or nothing; every rejection is
        logged and counted on the peer (its status shows the last reason)."""
        try:
            return self._receive(peer, body, signature)
        except (SignatureRejected, InvalidInput, Conflict, NotFound) as exc:
            log.warning("rejected a coordination message from %s: %s", peer.name, exc.detail)
            if not isinstance(exc, Replayed):
                self._peers.rejected(peer.id, printable(exc.detail)[:_MAX_ERROR])
            raise

    def _receive(self, peer: Peer, body: bytes, signature: str | None) -> Applied:
        envelope, _ = open_signed(peer, body, signature, chain="rotations", what="message")
        if not isinstance(envelope, dict) or envelope.get("type") != "accord-coordination":
            raise InvalidInput("the body is not a coordination message")
        if envelope.get("from") != peer.node_id:
            raise SignatureRejected(f"the message does not come from {peer.name}'s node")
        if envelope.get("to") != self._key().node_id:
            raise SignatureRejected("the message is addressed to another node")
        issued = _time(envelope, "issued")
        skew = abs(self._clock() - issued)
        if skew > self._max_skew:
            raise InvalidInput(
                f"the message was issued {skew.total_seconds():.0f} s from our clock "
                f"(at most {self._max_skew.total_seconds():.0f} s allowed); check both clocks"
            )
        message = envelope.get("message")
        if not isinstance(message, dict):
            raise InvalidInput("'message' is not a JSON object")
        msg_id, kind, uid = message.get("id"), message.get("kind"), message.get("request")
        if not isinstance(msg_id, str) or not _UID.match(msg_id):
            raise InvalidInput("'message.id' is not a message id (coordmsg--UUID)")
        if kind not in KINDS:
            raise InvalidInput(f"'message.kind' must be one of: {', '.join(KINDS)}")
        if is_seen(self.outbox.engine, peer.node_id, msg_id):
            raise Replayed(f"message {msg_id} from {peer.name} was already applied")
        if kind == "contact":
            return Applied("contact", self._contact(peer, msg_id, message))
        if kind == "check":
            return Applied("check", self._check(peer, msg_id, message))
        if kind == "check-ack":
            return Applied("check-ack", self._check_ack(peer, msg_id, message))
        if not isinstance(uid, str) or not _UID.match(uid):
            raise InvalidInput("'message.request' is not a request id (request--UUID)")
        if kind == "transition" and message.get("action") == Action.SUBMIT.value:
            self._filed(peer, msg_id, uid, message)
        elif kind == "transition":
            self._transition(peer, msg_id, self._request(uid), message)
        elif kind == "message":
            self._message(peer, msg_id, self._request(uid), message)
        elif kind == "receipt":
            self._receipt(peer, msg_id, self._request(uid), message)
        else:
            self._escalate(peer, msg_id, self._request(uid), message)
        return Applied(str(kind), uid)

    def _request(self, uid: str) -> RequestRow:
        row = self._repo.by_uid(uid)
        if row is None:
            raise InvalidInput(f"no request {uid} is known here")
        return row

    def _service(self) -> Requests:
        assert self.requests is not None, "Coordination sets the requests service"
        return self.requests

    def _actor(self, peer: Peer, message: dict[str, Any]) -> int:
        """The acting organisation, which must be homed on ``peer`` (learnt if new)."""
        actor = message.get("actor")
        if not isinstance(actor, dict) or not isinstance(actor.get("id"), str):
            raise InvalidInput("'message.actor' is not an organisation's identity")
        ident = actor["id"]
        if not _IDENTITY.match(ident):
            raise InvalidInput("'message.actor.id' is not an identity id")
        homes = self._orgs.homes([ident])
        if ident in homes:
            home = homes[ident]
            if home != peer.node_id:
                where = "this node" if home is None else f"node {home}"
                raise SignatureRejected(
                    f"{peer.name} acted for {ident}, an organisation homed on {where}: "
                    "only an organisation's home node takes its actions; nothing stored"
                )
            return self._orgs.by_identity([ident])[ident]
        name, kind, state = actor.get("name"), actor.get("kind"), actor.get("state")
        if not isinstance(name, str) or not 0 < len(name) <= 150 or unstorable(name):
            raise InvalidInput("'message.actor.name' is not a name")
        self._orgs.add_remote(
            name=name,
            kind=OrgKind(kind) if kind in {k.value for k in OrgKind} else OrgKind.CYBER_AGENCY,
            state=state if isinstance(state, str) and _STATE.match(state) else None,
            identity_id=ident,
            home_node=peer.node_id,
            peer_id=peer.id,
            peer_name=peer.name,
            now=self._clock(),
        )
        return self._orgs.by_identity([ident])[ident]

    def _event(
        self, message: dict[str, Any], actor: int | None, source: str, target: str
    ) -> RequestEvent:
        role = message.get("role")
        detail = message.get("detail", "")
        if not isinstance(detail, str) or len(detail) > _MAX_TEXT or unstorable(detail):
            raise InvalidInput("'message.detail' is not text")
        return RequestEvent(
            at=_time(message, "at"),
            actor_org=actor,
            actor_role=role if isinstance(role, str) and role in {r.value for r in Role} else None,
            action=str(message.get("action", "escalate")),
            source=source,
            target=target,
            detail=detail,
        )

    def _filed(self, peer: Peer, msg_id: str, uid: str, message: dict[str, Any]) -> None:
        filed = message.get("filed")
        if not isinstance(filed, dict):
            raise InvalidInput("a submission carries the request ('message.filed')")
        recipient = filed.get("recipient")
        if not isinstance(recipient, str) or not _IDENTITY.match(recipient):
            raise InvalidInput("'filed.recipient' is not an identity id")
        homes = self._orgs.homes([recipient])
        if recipient not in homes:
            raise InvalidInput(
                f"{peer.name} addressed a request to {recipient}, an organisation this node "
                "does not know; nothing stored"
            )
        if homes[recipient] is not None:
            raise InvalidInput(
                f"{peer.name} addressed a request to {recipient}, which is homed on node "
                f"{homes[recipient]}, not here; nothing stored"
            )
        requester = self._actor(peer, message)
        if filed.get("requester") != message["actor"]["id"]:
            raise SignatureRejected("a request is submitted by its requester only")
        if self._repo.by_uid(uid) is not None:
            raise Replayed(f"request {uid} is already held here")
        self._check_role(message)
        new = self._new_request(uid, filed, requester, self._orgs.by_identity([recipient]))
        events = [
            RequestEvent(new.created, requester, None, "create", None, State.DRAFT.value, ""),
            self._event(message, requester, State.DRAFT.value, State.SUBMITTED.value),
        ]
        service = self._service()

        def within(conn: Connection, ids: list[int]) -> None:
            mark_seen(conn, peer.node_id, msg_id, self._clock())
            row = self._repo.get_in(conn, ids[0])
            service.queue_notices(conn, row, Action.SUBMIT, State.SUBMITTED)
            self.queue(
                conn,
                peer.node_id,
                "receipt",
                uid,
                {
                    "received": format_timestamp(self._clock()),
                    "ack_due": format_timestamp(row.ack_due) if row.ack_due else None,
                    "respond_due": format_timestamp(row.respond_due) if row.respond_due else None,
                },
            )

        self._repo.add_received(new, events, within)
        self.queued()

    def _new_request(
        self, uid: str, filed: dict[str, Any], requester: int, recipient: dict[str, int]
    ) -> NewRequest:
        service = self._service()
        text: dict[str, str] = {}
        for name, limit in (
            ("case", 64),
            ("kind", 20),
            ("title", 300),
            ("urgency", 10),
            ("tlp", 20),
        ):
            value = filed.get(name)
            if not isinstance(value, str) or not 0 < len(value) <= limit or unstorable(value):
                raise InvalidInput(f"'filed.{name}' is not text of at most {limit} characters")
            text[name] = value
        if text["kind"] not in ("assistance", "consultation"):
            raise InvalidInput("'filed.kind' is not assistance or consultation")
        if text["urgency"] not in {"critical", "high", "medium", "low"}:
            raise InvalidInput("'filed.urgency' is not an urgency")
        details, evidence = filed.get("details"), filed.get("evidence")
        if not isinstance(details, dict) or len(orjson.dumps(details)) > _MAX_TEXT:
            raise InvalidInput("'filed.details' is not a JSON object")
        if unstorable(orjson.dumps(details).decode()):
            raise InvalidInput("'filed.details' holds text no store keeps")
        if not isinstance(evidence, list) or not all(
            isinstance(e, str) and len(e) <= 100 and not unstorable(e) for e in evidence
        ):
            raise InvalidInput("'filed.evidence' is not a list of STIX ids")
        submitted = _time(filed, "submitted")
        deadline = _time(filed, "deadline") if filed.get("deadline") is not None else None
        # Deadlines by this node's rules (the recipient's home), counted from filing.
        ack_due, respond_due = service.due_dates(text["urgency"], deadline, submitted)
        return NewRequest(
            case_id=text["case"],
            kind=text["kind"],
            requester_org=requester,
            requester_contact=None,
            recipient_org=next(iter(recipient.values())),
            urgency=text["urgency"],
            tlp=text["tlp"],
            title=text["title"],
            details=details,
            evidence=tuple(evidence),
            state=State.SUBMITTED.value,
            created=_time(filed, "created"),
            deadline=deadline,
            uid=uid,
            submitted=submitted,
            ack_due=ack_due,
            respond_due=respond_due,
        )

    @staticmethod
    def _check_role(message: dict[str, Any]) -> Role:
        try:
            return Role(str(message.get("role")))
        except ValueError:
            raise InvalidInput("'message.role' is not a role") from None

    def _transition(
        self, peer: Peer, msg_id: str, row: RequestRow, message: dict[str, Any]
    ) -> None:
        actor = self._actor(peer, message)
        try:
            action = Action(str(message.get("action")))
        except ValueError:
            raise InvalidInput("'message.action' is not a workflow action") from None
        side = (
            Side.REQUESTER
            if actor == row.requester_org
            else Side.RECIPIENT
            if actor == row.recipient_org
            else None
        )
        if side is None:
            raise SignatureRejected(
                f"{peer.name} acted on request {row.uid} for an organisation not party to it"
            )
        role = self._check_role(message)
        state = State(row.state)
        detail = message.get("detail", "")
        try:
            target = decide(state, action, side, role, detail if isinstance(detail, str) else "")
        except IllegalTransition as exc:
            raise Conflict(f"request {row.uid} is {state} here: {exc.why}") from None
        if message.get("target") != target.value:
            raise Conflict(
                f"request {row.uid}: {action} leads to {target}, not {message.get('target')}"
            )
        event = self._event(message, actor, state.value, target.value)
        values = self._service().values_after(action, target, event.at, event.detail)
        service = self._service()

        def within(conn: Connection) -> None:
            mark_seen(conn, peer.node_id, msg_id, self._clock())
            service.queue_notices(conn, row, action, target)

        self._repo.transition(row.id, state.value, values, event, (), within=within)

    def _message(self, peer: Peer, msg_id: str, row: RequestRow, message: dict[str, Any]) -> None:
        actor = self._actor(peer, message)
        if actor not in (row.requester_org, row.recipient_org):
            raise SignatureRejected(
                f"{peer.name} wrote to request {row.uid} for an organisation not party to it"
            )
        body, attachments, uid = message.get("body"), message.get("attachments"), message.get("uid")
        if not isinstance(body, str) or not 0 < len(body) <= _MAX_TEXT or unstorable(body):
            raise InvalidInput("'message.body' is not text")
        if not isinstance(attachments, list) or not all(
            isinstance(a, str) and len(a) <= 100 and not unstorable(a) for a in attachments
        ):
            raise InvalidInput("'message.attachments' is not a list of STIX ids")
        if not isinstance(uid, str) or not _UID.match(uid):
            raise InvalidInput("'message.uid' is not a message id")
        at = _time(message, "at")

        def within(conn: Connection) -> None:
            mark_seen(conn, peer.node_id, msg_id, self._clock())

        self._repo.add_message(row.id, at, actor, body, attachments, uid=uid, within=within)

    def _receipt(self, peer: Peer, msg_id: str, row: RequestRow, message: dict[str, Any]) -> None:
        self._from_recipient_home(peer, row, "a receipt")
        ack_due = _time(message, "ack_due") if message.get("ack_due") else None
        respond_due = _time(message, "respond_due") if message.get("respond_due") else None
        received = _time(message, "received")

        def within(conn: Connection) -> None:
            mark_seen(conn, peer.node_id, msg_id, self._clock())

        self._repo.update_in(
            row.id,
            {
                "ack_due": ack_due,
                "respond_due": respond_due,
                "delivered": received,
                "delivery_error": None,
            },
            within,
        )

    def _escalate(self, peer: Peer, msg_id: str, row: RequestRow, message: dict[str, Any]) -> None:
        self._from_recipient_home(peer, row, "an escalation")
        phase = message.get("phase")
        if phase not in ("acknowledge", "respond"):
            raise InvalidInput("'message.phase' is not acknowledge or respond")
        state = row.state
        event = RequestEvent(
            _time(message, "at"), None, None, "escalate", state, state, f"overdue to {phase}"
        )

        def within(conn: Connection) -> None:
            mark_seen(conn, peer.node_id, msg_id, self._clock())

        self._repo.transition(row.id, state, {"escalated": phase}, event, (), within=within)

    def _from_recipient_home(self, peer: Peer, row: RequestRow, what: str) -> None:
        home = self.home(row.recipient_org)
        if home != peer.node_id:
            raise SignatureRejected(
                f"{peer.name} sent {what} for request {row.uid}, whose recipient is not homed "
                "on it; nothing stored"
            )


def _is_submission(item: Outgoing) -> bool:
    if item.kind != "transition":
        return False
    try:
        return bool(orjson.loads(item.body).get("action") == Action.SUBMIT.value)
    except (orjson.JSONDecodeError, AttributeError):
        return False


def _text(obj: dict[str, Any], name: str) -> str:
    value = obj.get(name)
    return value if isinstance(value, str) else ""


def _optional(obj: dict[str, Any], name: str) -> str | None:
    value = obj.get(name)
    return value if isinstance(value, str) else None


def _contact_document(row: ContactRow, groups: list[str]) -> dict[str, Any]:
    """Contact ``row`` as it travels to a node entitled to it by ``groups`` (uuids)."""
    return {
        "id": row.id,
        "version": row.version,
        "kind": row.kind,
        "name": row.name,
        "role": row.role,
        "email": row.email,
        "phone": row.phone,
        "messaging": row.messaging,
        "languages": list(row.languages),
        "timezone": row.timezone,
        "public_key": row.public_key,
        "groups": groups,
        "federation": row.federation,
        "last_confirmed": format_timestamp(row.last_confirmed) if row.last_confirmed else None,
        "updated": format_timestamp(row.updated),
    }


def _fields_of(row: ContactRow, org: int) -> ContactFields:
    return ContactFields(
        org_id=org,
        kind=row.kind,
        name=row.name,
        role=row.role,
        email=row.email,
        phone=row.phone,
        messaging=row.messaging,
        languages=row.languages,
        timezone=row.timezone,
        public_key=row.public_key,
        backups=(),
        groups=row.groups,
        federation=row.federation,
    )


def _time(obj: dict[str, Any], name: str) -> datetime:
    value = obj.get(name)
    try:
        if not isinstance(value, str) or len(value) > 40:
            raise ValueError
        return parse_timestamp(value)
    except ValueError:
        raise InvalidInput(f"'{name}' is not a STIX timestamp") from None


_RESYNC = 60.0  # seconds between the courier's backfills when nothing else calls for one


class Courier(Periodic):
    """Sends every destination's queued coordination messages, in order, at once.

    Runs inside ``accord serve``: looks every ``poll`` seconds (a message queued by
    another process) and at once when this process queues one (``Link.on_queued``).
    Each destination is sent to on its own thread, so a slow or down node delays no
    other; a failure makes that destination's queue wait ``backoff`` seconds, doubling
    up to ``backoff_max``, and the order is kept. After sending, ``after`` runs (the
    coordination tick, so e-mails a received message queued leave at once).
    """

    def __init__(
        self,
        link: Link,
        *,
        poll: float,
        timeout: float,
        backoff: float,
        backoff_max: float,
        http: Callable[[], AbstractContextManager[httpx.Client]] | None = None,
        after: Callable[[], None] | None = None,
        due: Callable[[], bool] | None = None,
    ) -> None:
        super().__init__("coordinate-courier", poll, self._run_job)
        self._link = link
        self._http = http or (lambda: httpx.Client(timeout=timeout, trust_env=False))
        self._backoff = backoff
        self._backoff_max = backoff_max
        self._after = after
        self._due = due
        self._busy: set[str] = set()
        self._guard = threading.Lock()
        self._audience: tuple[object, ...] | None = None  # as last backfilled for
        self._backfilled = 0.0  # time.monotonic() of the last backfill
        link.on_queued(self.wake)

    def _run_job(self) -> None:
        self.run_once()

    def run_once(self) -> int:
        """Send what is due to every destination; how many messages were delivered.

        First, when who is entitled to this node's contacts changed (a peer added, a
        group's members), and once a minute besides (a contact confirmed by a check's
        acknowledgement, an acknowledgement a crash kept from being queued), what a node
        is entitled to and was never sent is queued for it (``Link.backfill``)."""
        audience = self._link.audience()
        if audience != self._audience or time.monotonic() - self._backfilled >= _RESYNC:
            self._link.backfill()
            self._audience, self._backfilled = audience, time.monotonic()
        nodes = self._link.outbox.due_nodes(self._link.now())
        sent = 0
        if nodes:
            with ThreadPoolExecutor(max_workers=min(len(nodes), 16)) as pool:
                sent = sum(pool.map(self.send_to, nodes))
        # A message received by any worker process may have queued e-mails: out at once.
        if self._after is not None and (self._due is None or self._due()):
            self._after()
        return sent

    def send_to(self, node: str) -> int:
        with self._guard:
            if node in self._busy:
                return 0
            self._busy.add(node)
        try:
            return self._send_to(node)
        finally:
            with self._guard:
                self._busy.discard(node)

    def _send_to(self, node: str) -> int:
        link = self._link
        peer = link.peer_for(node)
        if peer is None or not peer.token:
            self._wait(node, "no peer with a token for this node", 0)
            return 0
        sent = 0
        with self._http() as http:
            while True:
                items = link.outbox.head(node, 100)
                if not items:
                    return sent
                for item in items:
                    body, signature = link.seal(peer, item)
                    try:
                        response = http.post(
                            f"{peer.url}{PATH}",
                            content=body,
                            headers={
                                "Authorization": f"Bearer {peer.token}",
                                "Content-Type": "application/json",
                                SIGNATURE: signature,
                            },
                        )
                    except httpx.HTTPError as exc:
                        self._wait(
                            node, f"{peer.name} unreachable: {type(exc).__name__}", item.attempts
                        )
                        return sent
                    if response.status_code == 202 or _replayed(response):
                        link.delivered(item)
                        sent += 1
                    elif response.status_code in (400, 403, 404, 409, 422):
                        link.refused(item, f"{peer.name} refused it: {_detail(response)}")
                    else:
                        self._wait(
                            node, f"{peer.name} answered {response.status_code}", item.attempts
                        )
                        return sent

    def _wait(self, node: str, error: str, attempts: int) -> None:
        delay = min(self._backoff * 2 ** min(attempts, 30), self._backoff_max)
        log.warning("coordination messages to node %s wait %.0f s: %s", node, delay, error)
        self._link.outbox.retry(node, error, self._link.now() + timedelta(seconds=delay))


def _replayed(response: httpx.Response) -> bool:
    if response.status_code != 409:
        return False
    try:
        return "replayed" in str(orjson.loads(response.content).get("type", ""))
    except (orjson.JSONDecodeError, AttributeError):
        return False


def _detail(response: httpx.Response) -> str:
    try:
        detail = orjson.loads(response.content).get("detail")
    except (orjson.JSONDecodeError, AttributeError):
        detail = None
    return printable(str(detail or response.text[:300]))[:_MAX_ERROR]
