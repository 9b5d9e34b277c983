"""This node's Ed25519 identity: created once, kept in the node's database.

The node id is the first 32 hex digits of the SHA-256 of the raw public key, so
anyone holding the key can check the id, and the id names the node in provenance.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from datetime import datetime

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from accord.errors import InvalidInput
from accord.store.keys import KeyRepository


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

    @property
    def node_id(self) -> str:
        return node_id_of(self.public_raw)

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
    return NodeKey(Ed25519PrivateKey.from_private_bytes(stored.private_raw), stored.public_raw)
