"""Writes that check and then insert stay whole when they race, on both stores."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import delete, func, select

from accord.node import Node
from accord.store.db import write
from accord.store.keys import KeyRepository
from accord.store.tables import node_keys


def test_the_same_member_added_at_once_from_many_threads_is_added_once(node: Node) -> None:
    org = node.accounts.add_org(None, "MyCERT", "national-cert", "MY")
    group = node.accounts.add_group(None, "asean-certs", "ASEAN national CERTs")
    with ThreadPoolExecutor(8) as pool:
        for done in [pool.submit(node.groups.add_member, group.id, org.id) for _ in range(16)]:
            done.result()  # an IntegrityError would surface here
    assert node.groups.of_org(org.id) == frozenset({group.id})


def test_first_starts_racing_on_a_new_database_keep_one_key(node: Node) -> None:
    with write(node.engine) as conn:
        conn.execute(delete(node_keys))  # as a database no node has started on yet
    keys = KeyRepository(node.engine)
    with ThreadPoolExecutor(8) as pool:
        answers = list(
            pool.map(lambda i: keys.keep_first(bytes([i]) * 32, b"p" * 32, node.clock()), range(8))
        )
    with node.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(node_keys)).scalar_one() == 1
    assert len({a.private_raw for a in answers}) == 1
