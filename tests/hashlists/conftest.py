"""Helpers for hash-list tests: a list with entries, owned by one organisation."""

from __future__ import annotations

import random

from accord.hashlists.capability import HASHLISTS
from accord.hashlists.service import HashLists
from accord.node import Node

CRITERIA = [{"id": "tvec", "text": "Produced by an entity on the UN SC consolidated list"}]


def service(node: Node) -> HashLists:
    return HASHLISTS.service(node)


def pdq(seed: int) -> str:
    return f"{random.Random(seed).getrandbits(256):064x}"


def flip(value: str, bits: int, seed: int = 0) -> str:
    rng = random.Random(seed)
    positions = rng.sample(range(256), bits)
    number = int(value, 16)
    for p in positions:
        number ^= 1 << p
    return f"{number:064x}"
