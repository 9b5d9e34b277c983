"""Clusters of peered nodes for federation tests: in one process, or as real node processes.

Federation policy (what travels to whom, forged and replayed messages, cursors) is
tested on ``local_cluster``: every node is an app in this process, and one HTTP client
reaches each at its own address (``http://<name>.test``) through the app's ASGI
interface, so a sync runs the same code and the same HTTP exchange as between
servers, without starting any. What is about processes (a sync killed midway, the
scheduled sync inside ``accord serve``) uses ``cluster``, which starts real servers.

In one process, the SQLite nodes share ``store.db.write``'s writer lock: a sync that
called its peer from inside a write transaction would hang here, where between
processes it would only slow the peer. Sync never does; these tests would show it.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from anyio.from_thread import BlockingPortal, start_blocking_portal
from fastapi import FastAPI
from sqlalchemy import select

from accord.app import create_app
from accord.domain.model import Principal, Role
from accord.federation.sync import SyncReport, peer_http, sync_peer
from accord.node import Node
from accord.settings import Settings
from accord.store.tables import stix_objects
from tests.conftest import MIGRATED
from tests.server import running_node


@dataclass
class Member:
    name: str
    url: str
    node: Node  # this test's own handle on the node's database
    http: httpx.Client  # reaches every member of the cluster at its url
    env: dict[str, str] = field(default_factory=dict)  # a real process's CLI environment

    def sync(self, peer: str) -> SyncReport:
        return sync_peer(self.node.federation, peer, self.http, page=50, max_bytes=64 << 20)


def stored_ids(node: Node) -> set[str]:
    """Every STIX id the node holds, whoever may see it."""
    with node.engine.connect() as conn:
        return set(conn.execute(select(stix_objects.c.stix_id)).scalars())


def analyst(node: Node, org: str) -> Principal:
    o = node.accounts.orgs.find(org)
    return Principal(org=o.id, role=Role.ANALYST, groups=node.accounts.groups.of_org(o.id))


class AppTransport(httpx.BaseTransport):
    """Synchronous HTTP onto an ASGI app served on an event loop in a helper thread.

    The app runs as under uvicorn (its sync routes in a thread pool), while the
    syncing side stays the plain ``httpx.Client`` code that talks to real peers.
    """

    def __init__(self, app: FastAPI, portal: BlockingPortal) -> None:
        self._asgi = httpx.ASGITransport(app=app)
        self._portal = portal

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        async def send() -> httpx.Response:
            response = await self._asgi.handle_async_request(request)
            content = await response.aread()
            return httpx.Response(response.status_code, headers=response.headers, content=content)

        return self._portal.call(send)


def _settings(database_url: str, name: str) -> Settings:
    return Settings(database_url=database_url, node_name=name, _env_file=None)  # type: ignore[call-arg]


def _database(stack: ExitStack, work: Path, first: bool) -> str:
    """The first node on PostgreSQL when configured, so both stores meet in every cluster.

    Each starts migrated: a copy of the test process's template (``tests.conftest``)."""
    if first and os.environ.get("ACCORD_TEST_POSTGRES_URL"):
        return stack.enter_context(contextmanager(MIGRATED.postgres_lease)())
    return MIGRATED.sqlite_copy(work / "node.db")


def _peer(members: dict[str, Member], edges: list[tuple[str, str]]) -> None:
    """Peer each edge both ways, each side holding the token the other issued for it."""
    for a, b in edges:
        ma, mb = members[a], members[b]
        _, token_for_b = ma.node.federation.add_peer(b, mb.url, mb.node.key.public_b64, None)
        _, token_for_a = mb.node.federation.add_peer(a, ma.url, ma.node.key.public_b64, token_for_b)
        ma.node.federation.set_peer_token(b, token_for_a)


@contextmanager
def local_cluster(
    tmp: Path, names: list[str], edges: list[tuple[str, str]]
) -> Iterator[dict[str, Member]]:
    """One in-process node per name, each reachable at ``http://<name>.test``."""
    with ExitStack() as stack:
        portal = stack.enter_context(start_blocking_portal())
        nodes: dict[str, Node] = {}
        mounts: dict[str, httpx.BaseTransport] = {}
        for i, name in enumerate(names):
            work = tmp / name
            work.mkdir()
            node = Node.open(_settings(_database(stack, work, i == 0), name))
            stack.callback(node.close)
            nodes[name] = node
            mounts[f"http://{name}.test"] = AppTransport(create_app(node=node), portal)
        http = stack.enter_context(httpx.Client(mounts=mounts, timeout=30))
        members = {n: Member(n, f"http://{n}.test", node, http) for n, node in nodes.items()}
        _peer(members, edges)
        yield members


@contextmanager
def cluster(
    tmp: Path,
    names: list[str],
    edges: list[tuple[str, str]],
    sync_interval: str = "3600",
    **settings: str,
) -> Iterator[dict[str, Member]]:
    """Start one node process per name on a loopback port, and peer the edges.

    A node's scheduler reads its peers afresh on every round, so peering after start works.
    ``settings`` are more ``ACCORD_*`` values for every node (``federation_push="false"``).
    """
    with ExitStack() as stack:
        http = stack.enter_context(peer_http(30))
        members: dict[str, Member] = {}
        for i, name in enumerate(names):
            work = tmp / name
            work.mkdir()
            url = _database(stack, work, i == 0)
            node = Node.open(_settings(url, name))
            stack.callback(node.close)
            base, env = stack.enter_context(
                running_node(
                    work, database_url=url, node_name=name, sync_interval=sync_interval, **settings
                )
            )
            members[name] = Member(name, base, node, http, env)
        _peer(members, edges)
        yield members
