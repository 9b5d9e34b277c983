"""Several real node processes on loopback ports, peered with each other, for federation tests."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

from accord.federation.sync import SyncReport, sync_peer
from accord.node import Node
from accord.settings import Settings
from tests.conftest import postgres_database
from tests.server import running_node


@dataclass
class Member:
    name: str
    url: str
    database_url: str
    env: dict[str, str]
    node: Node  # this test's own handle on the node's database

    def sync(self, peer: str) -> SyncReport:
        return sync_peer(self.node.federation, peer, page=50, timeout=30, max_bytes=64 << 20)


def _settings(database_url: str, name: str) -> Settings:
    return Settings(database_url=database_url, node_name=name, _env_file=None)  # type: ignore[call-arg]


@contextmanager
def cluster(
    tmp: Path, names: list[str], edges: list[tuple[str, str]], sync_interval: str = "3600"
) -> Iterator[dict[str, Member]]:
    """Start one node per name (the first on PostgreSQL when configured) and peer the edges.

    A node's scheduler reads its peers afresh on every round, so peering after start works.
    """
    with ExitStack() as stack:
        members: dict[str, Member] = {}
        for i, name in enumerate(names):
            work = tmp / name
            work.mkdir()
            url = f"sqlite:///{work}/node.db"
            if i == 0 and os.environ.get("ACCORD_TEST_POSTGRES_URL"):
                url = stack.enter_context(contextmanager(postgres_database)())
            node = Node.open(_settings(url, name))
            stack.callback(node.close)
            base, env = stack.enter_context(
                running_node(work, database_url=url, node_name=name, sync_interval=sync_interval)
            )
            members[name] = Member(name, base, url, env, node)
        for a, b in edges:
            ma, mb = members[a], members[b]
            _, token_for_b = ma.node.federation.add_peer(b, mb.url, mb.node.key.public_b64, None)
            _, token_for_a = mb.node.federation.add_peer(
                a, ma.url, ma.node.key.public_b64, token_for_b
            )
            peer = ma.node.federation.peers.get(b)
            ma.node.federation.peers.set_token(peer.id, token_for_a)
        yield members
