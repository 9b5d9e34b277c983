"""The federation gate: its SQL answer equals ``policy.can_travel``, for random worlds."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete

from accord.domain.scope import Distribution, Scope
from accord.domain.tlp import TLP
from accord.node import Node
from accord.policy import ObjectAccess, PeerAudience, can_travel
from accord.store import tables
from accord.store.objects import SQLObjectStore
from tests.builders import version

HERE, PEER, OTHER = "a" * 32, "b" * 32, "c" * 32
N_ORGS = 4

worlds = st.lists(
    st.tuples(
        st.sampled_from(list(TLP)),
        st.sampled_from(list(Scope)),
        st.frozensets(st.integers(0, N_ORGS - 1), max_size=3),
        st.booleans(),  # group 0 (some peer orgs are members) or group 1 (none)
        st.sampled_from([(HERE,), (OTHER, HERE), (PEER, HERE), (OTHER, PEER, HERE)]),
    ),
    min_size=1,
    max_size=15,
)


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(world=worlds, peer_orgs=st.frozensets(st.integers(0, N_ORGS - 1)))
def test_travel_sql_equals_reference(node: Node, world: list, peer_orgs: frozenset[int]) -> None:
    with node.engine.begin() as conn:
        for table in reversed(tables.metadata.sorted_tables):
            conn.execute(delete(table))
    orgs = [
        node.accounts.add_org(None, f"org {i}", "national-cert", "SG").id for i in range(N_ORGS)
    ]
    groups = [node.accounts.add_group(None, f"group-{i}", f"G{i}").id for i in range(2)]
    for i in peer_orgs:
        node.accounts.groups.add_member(groups[0], orgs[i])
    node.accounts.groups.add_member(groups[1], orgs[0] if 0 not in peer_orgs else orgs[-1])
    audience = PeerAudience(
        PEER,
        frozenset(orgs[i] for i in peer_orgs),
        frozenset(
            g.id for g in node.accounts.groups.all() if g.members & {orgs[i] for i in peer_orgs}
        ),
    )
    expected = set()
    versions = []
    for tlp, scope, recipients, in_group0, via in world:
        d = Distribution(
            tlp, scope, frozenset(orgs[r] for r in recipients), groups[0 if in_group0 else 1]
        )
        v = version(orgs[0], d, via=" ".join(via))
        versions.append(v)
        if can_travel(ObjectAccess(orgs[0], d), via, HERE, audience):
            expected.add(v.stix_id)
    store = SQLObjectStore(node.engine)
    with store.batch() as batch:
        stamps = [f"2026-01-01T00:00:00.{i:06d}Z" for i in range(len(versions))]
        batch.insert(versions, stamps, [True] * len(versions), [])
    got = {r.row.stix_id for r in store.travel_page(HERE, audience, None, 1000)}
    assert got == expected


def test_examples_of_what_travels() -> None:
    peer = PeerAudience(PEER, frozenset({2}), frozenset({7}))

    def travels(tlp: TLP, scope: Scope, via: tuple[str, ...] = (HERE,), **kw: object) -> bool:
        return can_travel(ObjectAccess(1, Distribution(tlp, scope, **kw)), via, HERE, peer)  # type: ignore[arg-type]

    assert travels(TLP.GREEN, Scope.FEDERATION)
    assert travels(TLP.GREEN, Scope.FEDERATION, via=(OTHER, HERE))  # relayed
    assert not travels(TLP.GREEN, Scope.FEDERATION, via=(PEER, HERE))  # no echo
    assert not travels(TLP.GREEN, Scope.COMMUNITY)
    assert travels(TLP.CLEAR, Scope.PUBLIC)
    assert travels(TLP.RED, Scope.RECIPIENTS, recipients=frozenset({2}))
    assert not travels(TLP.RED, Scope.RECIPIENTS, via=(OTHER, HERE), recipients=frozenset({2}))
    assert not travels(TLP.RED, Scope.RECIPIENTS, recipients=frozenset({3}))
    assert travels(TLP.AMBER, Scope.GROUP, group=7)
    assert not travels(TLP.AMBER, Scope.GROUP, group=8)
    assert not travels(TLP.RED, Scope.ORGANISATION)
