"""Push on publish: a share reaches the peers at once, the scheduled sync is the safety net.

One test with real node processes (the watcher runs in ``accord serve``'s main process,
the POST lands in one of its worker processes); the rest in this process.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from accord.domain.scope import Scope
from accord.domain.tlp import TLP
from accord.errors import PeerUnavailable
from accord.exchange.service import ShareRequest
from accord.federation.push import PeerPusher
from accord.node import Node
from accord.periodic import Periodic
from accord.store.changes import latest_change
from accord.store.tables import stix_objects
from tests.builders import indicator, org, principal
from tests.federation.cluster import _database, _settings, stored_ids
from tests.server import free_port, running_node

DEADLINE = 90.0  # seconds; generous for a loaded machine, far below the 3600 s schedule


def _until(done: Callable[[], bool], what: str, deadline: float = DEADLINE) -> None:
    end = time.monotonic() + deadline
    while not done():
        assert time.monotonic() < end, f"timed out waiting until {what}"
        time.sleep(0.05)


# In this process ---------------------------------------------------------------------
def test_wakeups_during_a_push_coalesce_into_one_more_push() -> None:
    release = threading.Event()
    calls: list[int] = []

    def push() -> int:
        calls.append(1)
        release.wait(10)
        return 1

    worker = PeerPusher("p", push, lambda: None, gather=0, backoff=1, backoff_max=1)
    worker.start()
    try:
        worker.poke()
        _until(lambda: len(calls) == 1, "the first push started", 10)
        for _ in range(20):  # a burst while the first push is in flight
            worker.poke()
        release.set()
        _until(lambda: len(calls) == 2, "the burst was pushed", 10)
        time.sleep(0.2)
        assert len(calls) == 2  # the burst went in one more push, not twenty
    finally:
        worker.stop(5)


def test_a_failing_peer_backs_off_and_retries_without_holding_up_another() -> None:
    failed: list[int] = []
    healthy: list[int] = []

    def down() -> int:
        failed.append(1)
        raise PeerUnavailable("down unreachable")

    def up() -> int:
        healthy.append(1)
        return 1

    a = PeerPusher("down", down, lambda: None, gather=0, backoff=0.05, backoff_max=0.1)
    b = PeerPusher("up", up, lambda: None, gather=0, backoff=1, backoff_max=1)
    a.start()
    b.start()
    try:
        a.poke()
        _until(lambda: len(failed) >= 1, "the first push failed", 10)
        for n in range(1, 4):
            b.poke()
            _until(lambda n=n: len(healthy) == n, f"healthy push {n}", 10)  # type: ignore[misc]
        # Never poked again, the failing peer is retried after each wait.
        _until(lambda: len(failed) >= 3, "the failed push was retried", 10)
    finally:
        a.stop(5)
        b.stop(5)


def test_a_woken_job_runs_without_waiting_out_its_interval() -> None:
    runs: list[int] = []
    job = Periodic("woken", 3600, lambda: runs.append(1))
    job.start()
    try:
        job.wake()
        _until(lambda: runs == [1], "the woken job ran", 10)
        job.wake()
        _until(lambda: runs == [1, 1], "it ran again", 10)
    finally:
        job.stop()


def test_a_commit_tells_listeners_and_moves_the_change_marker(node: Node) -> None:
    told: list[int] = []
    node.exchange.on_commit(lambda: told.append(1))
    sharer = principal(node, org(node, "sharer"))
    before = latest_change(node.engine)
    obj = indicator(tlp=TLP.GREEN)
    node.exchange.ingest(sharer, obj, ShareRequest(scope=Scope.FEDERATION))
    after = latest_change(node.engine)
    assert told == [1] and after != before
    node.exchange.ingest(sharer, obj, ShareRequest(scope=Scope.FEDERATION))  # a duplicate
    assert told == [1] and latest_change(node.engine) == after
    # A membership change (a peer's audience) moves it too: memberships travel at once.
    node.accounts.add_group(None, "ops", "Operations")
    node.accounts.set_member(None, "ops", "sharer", member=True)
    assert latest_change(node.engine) != after


# Real node processes -----------------------------------------------------------------
def _count(node: Node) -> int:
    with node.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(stix_objects)).scalar_one())


@pytest.mark.server
def test_a_share_is_pushed_at_once_exactly_once_and_reaches_a_peer_that_was_down(
    tmp_path: Path,
) -> None:
    names = ["alpha", "bravo", "charlie"]
    # The schedule is an hour away: whatever arrives in this test was pushed.
    common = {"sync_interval": "3600", "federation_push_backoff_max": "2"}
    with ExitStack() as stack:
        nodes: dict[str, Node] = {}
        urls: dict[str, str] = {}
        ports = {n: free_port() for n in names}
        for i, name in enumerate(names):
            (tmp_path / name).mkdir()
            url = _database(stack, tmp_path / name, i == 0)
            urls[name] = url
            nodes[name] = Node.open(_settings(url, name))
            stack.callback(nodes[name].close)
        alpha, bravo, charlie = (nodes[n] for n in names)

        def serve(name: str, **extra: str) -> None:
            stack.enter_context(
                running_node(
                    tmp_path / name,
                    database_url=urls[name],
                    port=str(ports[name]),
                    node_name=name,
                    **common,
                    **extra,
                )
            )

        serve("alpha", workers="2")  # the POST lands in a worker, the watcher is apart
        serve("bravo")
        # charlie is down: its address is known, nothing answers there yet.
        for other in ("bravo", "charlie"):
            peer = nodes[other]
            base = f"http://127.0.0.1:{ports[other]}"
            _, token_for_peer = alpha.federation.add_peer(other, base, peer.key.public_b64, None)
            _, token_for_alpha = peer.federation.add_peer(
                "alpha", f"http://127.0.0.1:{ports['alpha']}", alpha.key.public_b64, token_for_peer
            )
            alpha.federation.set_peer_token(other, token_for_alpha)

        org(alpha, "alpha-cert")
        token = alpha.accounts.create_token(None, "alpha-cert", "analyst", "push", None).plaintext
        org(bravo, "bravo-cert")
        reader = bravo.accounts.create_token(None, "bravo-cert", "analyst", "read", None).plaintext
        api = stack.enter_context(
            httpx.Client(
                base_url=f"http://127.0.0.1:{ports['alpha']}",
                headers={"Authorization": f"Bearer {token}"},
                timeout=30,
            )
        )
        params = {"tlp": "TLP:GREEN", "scope": "federation"}

        def publish(value: str) -> str:
            obj = indicator(value, tlp=TLP.GREEN)
            response = api.post("/api/v1/objects", params=params, json=obj)
            assert response.status_code == 201, response.text
            return str(obj["id"])

        first = publish("192.0.2.1")
        _until(lambda: first in stored_ids(bravo), "bravo holds the share")
        read = httpx.get(
            f"http://127.0.0.1:{ports['bravo']}/api/v1/objects/{first}",
            headers={"Authorization": f"Bearer {reader}"},
        )
        assert read.status_code == 200, read.text
        _until(
            lambda: alpha.federation.peer("charlie").last_error is not None,
            "alpha recorded that charlie is down",
        )

        burst = [publish(f"198.51.100.{i}") for i in range(20)]
        _until(lambda: set(burst) <= stored_ids(bravo), "bravo holds the burst")
        # Exactly once each, and nothing went back to alpha. (alpha counts a message
        # once bravo has accepted it: a moment after bravo stored it.)
        _until(lambda: alpha.federation.peer("bravo").pushed >= 21, "alpha counted its pushes")
        assert _count(bravo) == 21 == alpha.federation.peer("bravo").pushed
        assert _count(alpha) == 21
        assert bravo.federation.peer("alpha").pushed == 0
        assert bravo.federation.peer("alpha").pulled == 0
        # bravo looked (nothing of alpha's goes back) and will not read those again.
        _until(
            lambda: bravo.federation.peer("alpha").push_after is not None,
            "bravo's push cursor for alpha passed what it received",
        )

        serve("charlie")  # back: alpha's retries deliver what it missed
        _until(lambda: _count(charlie) == 21, "charlie holds every share")
        _until(
            lambda: alpha.federation.peer("charlie").last_error is None,
            "alpha recorded its push to charlie",
        )
        assert stored_ids(charlie) == stored_ids(alpha)
        _until(lambda: alpha.federation.peer("charlie").pushed >= 21, "alpha counted them")
        assert alpha.federation.peer("charlie").pushed == 21
        assert _count(alpha) == 21
