"""The node's key pair: made once, kept, and the same on every start."""

from __future__ import annotations

from accord.federation.keys import load_or_create, verify
from accord.node import Node
from accord.store.keys import KeyRepository
from tests.conftest import Clock


def test_a_node_keeps_its_first_key(node: Node, clock: Clock) -> None:
    keys = KeyRepository(node.engine)
    stored = keys.first()
    assert stored is not None and stored.public_raw == node.key.public_raw
    assert stored.created == clock()  # an aware UTC time, on both stores
    again = load_or_create(keys, clock())
    assert again.node_id == node.key.node_id
    assert verify(node.key.public_raw, again.sign(b"message"), b"message")
    # A second process racing on a new database keeps the key already there.
    kept = keys.keep_first(b"\x01" * 32, b"\x02" * 32, clock())
    assert kept.public_raw == node.key.public_raw
