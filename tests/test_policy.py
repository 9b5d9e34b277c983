"""The policy gate: its SQL answer equals the reference model, for random worlds.

Rows are written straight into the store, bypassing the ingest checks, so worlds
include distributions the services would refuse: the gate must refuse them too.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete

from accord.domain.model import ANONYMOUS, Principal, Role
from accord.domain.scope import ALLOWED_SCOPES, Distribution, Scope
from accord.domain.tlp import TLP
from accord.errors import NotFound, PolicyViolation
from accord.exchange.service import ShareRequest
from accord.node import Node
from accord.policy import ObjectAccess, can_read, received, share_problem
from accord.store import tables
from accord.store.objects import ObjectQuery, SQLObjectStore
from tests.builders import version

N_ORGS = 4
N_GROUPS = 3


@dataclass(frozen=True)
class World:
    members: list[frozenset[int]]  # per group: member org indexes
    objects: list[tuple[int, Distribution, tuple[tuple[int, Distribution], ...]]]


def distributions(org_ids: st.SearchStrategy[int]) -> st.SearchStrategy[Distribution]:
    return st.builds(
        Distribution,
        tlp=st.sampled_from(list(TLP)),
        scope=st.sampled_from(list(Scope)),
        recipients=st.frozensets(org_ids, max_size=3),
        group=st.one_of(st.none(), st.integers(0, N_GROUPS - 1)),
    )


orgs_idx = st.integers(0, N_ORGS - 1)
worlds = st.builds(
    World,
    members=st.lists(st.frozensets(orgs_idx), min_size=N_GROUPS, max_size=N_GROUPS),
    objects=st.lists(
        st.tuples(
            orgs_idx,
            distributions(orgs_idx),
            st.lists(st.tuples(orgs_idx, distributions(orgs_idx)), max_size=2).map(tuple),
        ),
        min_size=1,
        max_size=12,
    ),
)


def _reset(node: Node) -> None:
    with node.engine.begin() as conn:
        for table in reversed(tables.metadata.sorted_tables):
            conn.execute(delete(table))


def _populate(node: Node, members: list[frozenset[int]]) -> tuple[list[int], list[int]]:
    """An empty node with N_ORGS organisations and a group per ``members`` entry; their ids."""
    _reset(node)
    orgs = [
        node.accounts.add_org(None, f"org {i}", "national-cert", "SG").id for i in range(N_ORGS)
    ]
    groups = []
    for g, in_group in enumerate(members):
        gid = node.accounts.add_group(None, f"group-{g}", f"Group {g}").id
        groups.append(gid)
        for m in in_group:
            node.accounts.groups.add_member(gid, orgs[m])
    return orgs, groups


def _map(d: Distribution, orgs: list[int], groups: list[int]) -> Distribution:
    return Distribution(
        d.tlp,
        d.scope,
        frozenset(orgs[r] for r in d.recipients),
        groups[d.group] if d.group is not None else None,
    )


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(world=worlds)
def test_gate_sql_equals_reference_model(node: Node, world: World) -> None:
    orgs, groups = _populate(node, world.members)

    expected: dict[str, ObjectAccess] = {}
    store = SQLObjectStore(node.engine)
    with store.batch() as batch:
        versions = []
        for owner, dist, _shares in world.objects:
            versions.append(version(orgs[owner], _map(dist, orgs, groups)))
        stamps = [f"2026-01-01T00:00:00.{i:06d}Z" for i in range(len(versions))]
        batch.insert(versions, stamps, [True] * len(versions), [])
    pks = {}
    for v, (_owner, _dist, shares) in zip(versions, world.objects, strict=True):
        row_access = store.access(Principal(org=v.owner, role=Role.ADMIN), v.stix_id)
        assert row_access is not None  # the owner always reads its own
        pk = row_access[0].pk
        pks[v.stix_id] = pk
        mapped_shares = []
        for sharer, sd in shares:
            mapped = _map(sd, orgs, groups)
            store.add_share(pk, orgs[sharer], mapped, node.clock())
            mapped_shares.append(mapped)
        expected[v.stix_id] = ObjectAccess(v.owner, v.distribution, tuple(mapped_shares))

    principals = [ANONYMOUS] + [
        Principal(org=o, role=Role.READER, groups=node.accounts.groups.of_org(o)) for o in orgs
    ]
    for p in principals:
        listed = {r.stix_id for r in store.list_latest(p, ObjectQuery(limit=1000))}
        allowed = {i for i, access in expected.items() if can_read(p, access)}
        assert listed == allowed, p
        for stix_id in expected:
            visible = store.latest(p, stix_id) is not None
            assert visible == (stix_id in allowed)
            assert bool(store.versions(p, stix_id)) == (stix_id in allowed)
        # The overview's hourly counts: each version once, as the owner's distribution
        # admits it (onward shares are not counted, so counts never exceed the listing).
        counted = sum(a.versions for a in store.arrivals(p, "2000-01-01T00"))
        direct = [
            i for i, a in expected.items() if can_read(p, ObjectAccess(a.owner, a.distribution))
        ]
        assert counted == len(direct), p

    # Deleting a version takes it out of the counts.
    gone = versions[0]
    deleter = Principal(org=gone.owner, role=Role.ANALYST)
    assert node.exchange.delete_versions(deleter, gone.stix_id, ("all",)) == 1
    owner = Principal(
        org=gone.owner, role=Role.READER, groups=node.accounts.groups.of_org(gone.owner)
    )
    counted = sum(a.versions for a in store.arrivals(owner, "2000-01-01T00"))
    direct = [
        i
        for i, a in expected.items()
        if i != gone.stix_id and can_read(owner, ObjectAccess(a.owner, a.distribution))
    ]
    assert counted == len(direct)


def _access(tlp: TLP, scope: Scope, **kw: object) -> ObjectAccess:
    return ObjectAccess(owner=1, distribution=Distribution(tlp, scope, **kw))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("obj", "reader", "readable"),
    [
        (_access(TLP.RED, Scope.RECIPIENTS, recipients=frozenset({2})), 2, True),
        (_access(TLP.RED, Scope.RECIPIENTS, recipients=frozenset({2})), 3, False),
        (_access(TLP.RED, Scope.COMMUNITY), 2, False),  # forbidden combination: nobody else
        (_access(TLP.RED, Scope.COMMUNITY), 1, True),  # ... but the owner still reads it
        (_access(TLP.AMBER, Scope.GROUP, group=7), 2, True),
        (_access(TLP.AMBER, Scope.GROUP, group=8), 2, False),
        (_access(TLP.GREEN, Scope.FEDERATION), 3, True),
        (_access(TLP.GREEN, Scope.PUBLIC), None, False),
        (_access(TLP.CLEAR, Scope.PUBLIC), None, True),
        (_access(TLP.CLEAR, Scope.COMMUNITY), None, False),
        (_access(TLP.CLEAR, Scope.ORGANISATION), 2, False),
    ],
)
def test_reference_model_examples(obj: ObjectAccess, reader: int | None, readable: bool) -> None:
    who = Principal(org=reader, role=Role.READER, groups=frozenset({7})) if reader else ANONYMOUS
    assert can_read(who, obj) is readable


def test_recipient_may_raise_but_never_lower_or_widen() -> None:
    green = _access(TLP.GREEN, Scope.COMMUNITY)
    reader = Principal(org=2, role=Role.ANALYST)
    amber_group = Distribution(TLP.AMBER, Scope.GROUP, group=7)
    assert share_problem(reader, green, amber_group) is None
    lowered = Distribution(TLP.CLEAR, Scope.COMMUNITY)
    assert "lower" in (share_problem(reader, green, lowered) or "")
    wider = Distribution(TLP.GREEN, Scope.FEDERATION)
    assert "more widely" in (share_problem(reader, green, wider) or "")
    red = _access(TLP.RED, Scope.RECIPIENTS, recipients=frozenset({2}))
    assert "forbids onward" in (
        share_problem(reader, red, Distribution(TLP.RED, Scope.ORGANISATION)) or ""
    )
    hidden = _access(TLP.AMBER, Scope.ORGANISATION)
    assert share_problem(reader, hidden, amber_group) == "no such object"


@dataclass(frozen=True)
class Chain:
    members: list[frozenset[int]]  # per group: member org indexes
    owner: int
    distribution: Distribution
    steps: list[tuple[int, Distribution]]  # (sharer, proposed onward share), in order


@st.composite
def valid_distributions(draw: st.DrawFn) -> Distribution:
    """Distributions the services accept, so chains grow long instead of being refused."""
    tlp = draw(st.sampled_from(list(TLP)))
    scope = draw(st.sampled_from(sorted(ALLOWED_SCOPES[tlp], key=lambda s: s.value)))
    recipients = draw(st.frozensets(orgs_idx, min_size=1, max_size=3))
    return Distribution(
        tlp,
        scope,
        recipients if scope is Scope.RECIPIENTS else frozenset(),
        draw(st.integers(0, N_GROUPS - 1)) if scope is Scope.GROUP else None,
    )


chains = st.builds(
    Chain,
    members=st.lists(st.frozensets(orgs_idx), min_size=N_GROUPS, max_size=N_GROUPS),
    owner=orgs_idx,
    distribution=st.one_of(valid_distributions(), distributions(orgs_idx)),
    steps=st.lists(
        st.tuples(orgs_idx, st.one_of(valid_distributions(), distributions(orgs_idx))),
        min_size=1,
        max_size=12,
    ),
)


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(chain=chains)
def test_onward_share_chains_never_pass_on_more_than_was_received(node: Node, chain: Chain) -> None:
    """Onward shares of any length through the service: each is judged against what the
    sharer received, TLP:RED or AMBER+STRICT received is never passed on, and the gate
    reads the resulting chain as the reference model does."""
    orgs, groups = _populate(node, chain.members)
    store = SQLObjectStore(node.engine)
    origin = version(orgs[chain.owner], _map(chain.distribution, orgs, groups))
    with store.batch() as batch:
        batch.insert([origin], ["2026-01-01T00:00:00.000000Z"], [True], [])

    def who(org: int) -> Principal:
        return Principal(org=org, role=Role.ANALYST, groups=node.accounts.groups.of_org(org))

    access = ObjectAccess(origin.owner, origin.distribution)
    for sharer_idx, proposal in chain.steps:
        sharer = who(orgs[sharer_idx])
        mapped = _map(proposal, orgs, groups)
        # As the service records it: recipients only for 'recipients', a group for 'group'.
        proposed = Distribution(
            mapped.tlp,
            mapped.scope,
            mapped.recipients if mapped.scope is Scope.RECIPIENTS else frozenset(),
            mapped.group if mapped.scope is Scope.GROUP else None,
        )
        request = ShareRequest(
            tlp=proposed.tlp,
            scope=proposed.scope,
            recipients=tuple(f"org {orgs.index(r)}" for r in sorted(proposed.recipients))
            if proposed.scope is Scope.RECIPIENTS
            else (),
            group=f"group-{groups.index(proposed.group)}"
            if proposed.scope is Scope.GROUP and proposed.group is not None
            else None,
        )
        try:
            node.exchange.reshare(sharer, origin.stix_id, request)
            accepted = True
        except (PolicyViolation, NotFound):
            accepted = False
        in_group = proposed.scope is not Scope.GROUP or proposed.group in sharer.groups
        assert accepted == (share_problem(sharer, access, proposed) is None and in_group)
        if not accepted:
            continue
        if sharer.org != access.owner:
            # Some distribution that reached the sharer allowed exactly this.
            reached = [
                d
                for d in (access.distribution, *access.shares)
                if can_read(sharer, ObjectAccess(-1, d))
            ]
            assert any(
                d.tlp not in (TLP.RED, TLP.AMBER_STRICT)
                and proposed.tlp.at_least(d.tlp)
                and proposed.scope.breadth <= d.scope.breadth
                for d in reached
            ), (reached, proposed)
        access = ObjectAccess(access.owner, access.distribution, (*access.shares, proposed))

    for org in orgs:
        reader = who(org)
        assert (store.latest(reader, origin.stix_id) is not None) == can_read(reader, access)
        if can_read(reader, access):
            # Each reader sees the marking under which it received the object.
            held = received(reader, access)
            latest, _ = node.exchange.get(reader, origin.stix_id)
            assert held is not None and (latest.tlp, latest.scope) == (held.tlp, held.scope)


def test_a_red_onward_share_is_not_passed_on_again() -> None:
    """The chain testers found: rB passes a GREEN group object on to rC as RED; rC may
    not pass it on to rD, at any marking."""
    green_group = ObjectAccess(1, Distribution(TLP.GREEN, Scope.GROUP, group=7))
    rb = Principal(org=2, role=Role.ANALYST, groups=frozenset({7}))
    to_rc = Distribution(TLP.RED, Scope.RECIPIENTS, recipients=frozenset({3}))
    assert share_problem(rb, green_group, to_rc) is None
    chain = ObjectAccess(1, green_group.distribution, (to_rc,))
    rc = Principal(org=3, role=Role.ANALYST)
    for onward in (
        Distribution(TLP.RED, Scope.RECIPIENTS, recipients=frozenset({4})),
        Distribution(TLP.GREEN, Scope.RECIPIENTS, recipients=frozenset({4})),
        Distribution(TLP.GREEN, Scope.GROUP, group=7),
    ):
        assert "forbids onward" in (share_problem(rc, chain, onward) or "")
    # A member of the group still passes it on as the owner's GREEN allows.
    assert (
        share_problem(
            rb, chain, Distribution(TLP.AMBER, Scope.RECIPIENTS, recipients=frozenset({4}))
        )
        is None
    )
    # rC holds it as the RED share it received, not as the owner's GREEN.
    assert received(rc, chain) == to_rc
    assert received(rb, chain) == green_group.distribution
