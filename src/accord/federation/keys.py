"""This node's Ed25519 identity: created once, kept in the node's database, rotatable.

The node id is the first 32 hex digits of the SHA-256 of the node's first raw public
key, so anyone holding that key can check the id, and the id names the node in
provenance for good. A node rotates its key with a statement signed by the key before
(``rotate``); it sends the chain of statements with its messages, and a peer that
knew any key in the chain follows it to the newest (``follow``).
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
import rfc8785
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from accord.domain.stix import format_timestamp
from accord.errors import InvalidInput, SignatureRejected
from accord.store.keys import KeyRepository, StoredKey
from accord.store.peers import Peer


def node_id_of(public_key: bytes) -> str:
    return hashlib.sha256(public_key).hexdigest()[:32]


def parse_public_key(text: str) -> bytes:
    """A raw 32-byte Ed25519 public key from its base64 form, or InvalidInput."""
    try:
        raw = base64.b64decode(text.strip(), validate=True)
    except ValueError:
        raise InvalidInput("the public key is not base64") from None
    if len(raw) != 32:
        raise InvalidInput("an Ed25519 public key is 32 bytes (44 base64 characters)")
    return raw


@dataclass(frozen=True)
class NodeKey:
    private: Ed25519PrivateKey
    public_raw: bytes
    node_id: str  # of the first key, whichever key signs now
    genesis_b64: str  # the first public key, which the node id names
    rotations: tuple[dict[str, Any], ...] = ()  # each handover, first to newest

    @property
    def public_b64(self) -> str:
        return base64.b64encode(self.public_raw).decode()

    def sign(self, data: bytes) -> str:
        return base64.b64encode(self.private.sign(data)).decode()


def verify(public_raw: bytes, signature_b64: str, data: bytes) -> bool:
    try:
        signature = base64.b64decode(signature_b64, validate=True)
        Ed25519PublicKey.from_public_bytes(public_raw).verify(signature, data)
    except (InvalidSignature, ValueError):
        return False
    return True


_MAX_ROTATIONS = 64


def rotation_statement(node_id: str, old: str, new: str, issued: str) -> bytes:
    """What the old key signs to hand over to the new one (RFC 8785 canonical JSON)."""
    statement = {
        "type": "x-accord-key-rotation",
        "node": node_id,
        "old": old,
        "new": new,
        "issued": issued,
    }
    return rfc8785.dumps(statement)


def follow(node_id: str, known: str, chain: Any) -> str | None:
    """The newest key of node ``node_id`` reachable from the key ``known`` along
    ``chain`` (each handover signed by the key before it); None if the chain is
    malformed or a handover from a key on the path is not validly signed."""
    if not isinstance(chain, list) or len(chain) > _MAX_ROTATIONS:
        return None
    key = known
    for record in chain:
        if not isinstance(record, dict):
            return None
        values = [record.get(name) for name in ("old", "new", "issued", "sig")]
        if not all(isinstance(v, str) for v in values):
            return None
        old, new, issued, sig = (str(v) for v in values)
        if old != key:
            continue  # a handover before the key we knew
        try:
            raw = parse_public_key(key)
            parse_public_key(new)
        except InvalidInput:
            return None
        if not verify(raw, sig, rotation_statement(node_id, old, new, issued)):
            return None
        key = new
    return key


def open_signed(
    peer: Peer, body: bytes, signature: str | None, *, chain: str, what: str
) -> tuple[Any, str]:
    """What ``peer`` signed, read: ``body`` parsed as JSON (None if it is not JSON) and
    the key that signed it, the one held for ``peer`` or the newest the body's own
    handover chain (its field ``chain``) leads to from there.

    Raises SignatureRejected when the chain or the signature does not hold; ``what``
    names the body in the reason ("message", "request")."""
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError:
        document = None
    key = peer.public_key
    handovers = document.get(chain) if isinstance(document, dict) else None
    if handovers:
        followed = follow(peer.node_id, key, handovers)
        if followed is None:
            raise SignatureRejected(f"{peer.name}'s key rotations are not validly signed")
        key = followed
    if not signature or not verify(parse_public_key(key), signature, body):
        raise SignatureRejected(f"the {what} does not carry {peer.name}'s valid signature")
    return document, key


def load_or_create(keys: KeyRepository, now: datetime) -> NodeKey:
    """The node's key pair, generated on first use."""
    stored = keys.first()
    if stored is None:
        raw = serialization.Encoding.Raw
        private = Ed25519PrivateKey.generate()
        stored = keys.keep_first(
            private.private_bytes(
                raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
            ),
            private.public_key().public_bytes(raw, serialization.PublicFormat.Raw),
            now,
        )
    return _node_key(keys.all())


def _node_key(stored: list[StoredKey]) -> NodeKey:
    first, newest = stored[0], stored[-1]
    rotations = tuple(orjson.loads(k.rotation) for k in stored[1:] if k.rotation)
    return NodeKey(
        Ed25519PrivateKey.from_private_bytes(newest.private_raw),
        newest.public_raw,
        node_id_of(first.public_raw),
        base64.b64encode(first.public_raw).decode(),
        rotations,
    )


def rotate(keys: KeyRepository, current: NodeKey, now: datetime) -> NodeKey:
    """A new key pair for this node, handed over by a statement the current key signs."""
    raw = serialization.Encoding.Raw
    private = Ed25519PrivateKey.generate()
    public = private.public_key().public_bytes(raw, serialization.PublicFormat.Raw)
    new = base64.b64encode(public).decode()
    issued = format_timestamp(now)
    statement = rotation_statement(current.node_id, current.public_b64, new, issued)
    record = {"old": current.public_b64, "new": new, "issued": issued}
    record["sig"] = current.sign(statement)
    keys.add_rotated(
        private.private_bytes(raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()),
        public,
        orjson.dumps(record).decode(),
        now,
    )
    return _node_key(keys.all())
