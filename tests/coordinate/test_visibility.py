"""Who sees which contact, check and request: the repositories' SQL (``store.gate`` over
each table) equals the reference model (``coordinate.access``, through ``policy``), for
random worlds, on every store.

Rows are written straight through the repositories, so worlds include states and
markings the services would never produce: the gate must still answer as the rules do.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete

from accord.coordinate.access import may_see_check, may_see_contact, may_see_request
from accord.coordinate.workflow import State
from accord.domain.coordination import OPERATOR, Reader
from accord.domain.model import ANONYMOUS, Principal, Role
from accord.domain.tlp import TLP
from accord.errors import NotFound
from accord.node import Node
from accord.store import tables
from accord.store.checks import CheckRepository, NewCheck
from accord.store.contacts import ContactFields, ContactRepository
from accord.store.requests import NewRequest, RequestEvent, RequestRepository
from tests.conftest import Clock

N_ORGS = 4
N_GROUPS = 3

org_index = st.integers(0, N_ORGS - 1)


@dataclass(frozen=True)
class World:
    members: list[frozenset[int]]  # per group: member org indexes
    contacts: list[tuple[int, frozenset[int]]]  # owner, groups
    checks: list[int]  # organiser
    requests: list[tuple[int, int, State, TLP]]  # requester, recipient, state, marking


worlds = st.builds(
    World,
    members=st.lists(st.frozensets(org_index), min_size=N_GROUPS, max_size=N_GROUPS),
    contacts=st.lists(
        st.tuples(org_index, st.frozensets(st.integers(0, N_GROUPS - 1))), max_size=8
    ),
    checks=st.lists(org_index, max_size=4),
    requests=st.lists(
        st.tuples(org_index, st.integers(1, N_ORGS - 1), st.sampled_from(list(State)))
        .map(lambda t: (t[0], (t[0] + t[1]) % N_ORGS, t[2]))  # never to itself
        .flatmap(lambda t: st.sampled_from(list(TLP)).map(lambda tlp: (*t, tlp))),
        max_size=8,
    ),
)


def _reset(node: Node) -> None:
    with node.engine.begin() as conn:
        for table in reversed(tables.metadata.sorted_tables):
            conn.execute(delete(table))


def _contact(org: int, groups: tuple[int, ...]) -> ContactFields:
    return ContactFields(
        org_id=org,
        kind="technical",
        name="Desk",
        role="",
        email="desk@example.org",
        phone=None,
        messaging=None,
        languages=("en",),
        timezone="UTC",
        public_key=None,
        backups=(),
        groups=groups,
    )


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(world=worlds)
def test_visibility_sql_equals_reference_model(node: Node, clock: Clock, world: World) -> None:
    _reset(node)
    now = clock()
    orgs = [
        node.accounts.add_org(None, f"org {i}", "national-cert", "SG").id for i in range(N_ORGS)
    ]
    groups = []
    for g, members in enumerate(world.members):
        gid = node.accounts.add_group(None, f"group-{g}", f"Group {g}").id
        groups.append(gid)
        for m in members:
            node.accounts.groups.add_member(gid, orgs[m])

    # The repositories themselves are under test: built over the node's engine, not
    # reached inside the services.
    contacts = ContactRepository(node.engine)
    check_repo = CheckRepository(node.engine)
    request_repo = RequestRepository(node.engine)
    contact_rows = {
        contacts.add(_contact(orgs[o], tuple(sorted(groups[g] for g in gs))), None, now): (
            orgs[o],
            [groups[g] for g in gs],
        )
        for o, gs in world.contacts
    }
    checks = {
        check_repo.add(NewCheck(orgs[o], "ping", now, now, now), [], []): orgs[o]
        for o in world.checks
    }
    new = [
        NewRequest(
            case_id="case--x",
            kind="assistance",
            requester_org=orgs[a],
            requester_contact=None,
            recipient_org=orgs[b],
            urgency="high",
            tlp=tlp.value,
            title="help",
            details={},
            evidence=(),
            state=state.value,
            created=now,
            deadline=None,
        )
        for a, b, state, tlp in world.requests
    ]
    event = RequestEvent(now, None, None, "create", None, "draft", "")
    request_ids = request_repo.add_many(new, [event] * len(new))
    requests = dict(zip(request_ids, new, strict=True))

    def party(o: int, role: Role = Role.READER) -> Principal:
        return Principal(org=o, role=role, groups=node.accounts.groups.of_org(o))

    readers: list[Principal] = [ANONYMOUS] + [party(o) for o in orgs]
    everyone: list[Reader] = [OPERATOR, party(orgs[0], Role.ADMIN), *readers]
    for p in everyone:
        seen = {c.id for c in contacts.search(reader=p)}
        assert seen == {i for i, (o, gs) in contact_rows.items() if may_see_contact(p, o, gs)}, p
        for contact_id in contact_rows:
            assert _found(contacts.get, contact_id, p) == (contact_id in seen)
        for check_id, organiser in checks.items():
            shown = _found(check_repo.get, check_id, p)
            assert shown == may_see_check(p, organiser), (p, organiser)

    for p in everyone[1:]:
        assert p is not OPERATOR
        allowed = {
            i
            for i, r in requests.items()
            if may_see_request(p, r.requester_org, r.recipient_org, r.state, TLP(r.tlp))
        }
        for request_id in requests:
            got = _found(request_repo.get, request_id, p)
            assert got == (request_id in allowed), (p, requests[request_id])
        if p.org is None:
            continue
        for box, side in (("inbox", "recipient_org"), ("outbox", "requester_org")):
            page = request_repo.page(reader=p, box=box, state=None, before=None, limit=100)
            expected = {i for i in allowed if getattr(requests[i], side) == p.org}
            assert {r.id for r in page} == expected, (p, box)


def _found(get: Callable[..., object], record_id: int, reader: Reader) -> bool:
    """Whether ``get`` answers ``reader`` rather than NotFound (absent and hidden alike)."""
    try:
        get(record_id, reader=reader)
    except NotFound:
        return False
    return True


@pytest.mark.parametrize(
    "read",
    [
        ContactRepository.get,
        ContactRepository.search,
        CheckRepository.get,
        RequestRepository.get,
        RequestRepository.page,
    ],
)
def test_every_gated_read_names_its_reader(read: Callable[..., object]) -> None:
    # Left out, a reader used to mean "everything": now leaving it out is a TypeError.
    reader = inspect.signature(read).parameters["reader"]
    assert reader.kind is inspect.Parameter.KEYWORD_ONLY
    assert reader.default is inspect.Parameter.empty


def test_the_rules_as_stated() -> None:
    """The behaviours the visibility rules must keep, stated one by one."""
    member = Principal(org=2, role=Role.READER, groups=frozenset({7}))
    outsider = Principal(org=3, role=Role.READER)
    admin = Principal(org=3, role=Role.ADMIN)
    # Contacts: no groups, every signed-in organisation; groups, only their members.
    assert may_see_contact(outsider, 1, []) and not may_see_contact(ANONYMOUS, 1, [])
    assert may_see_contact(member, 1, [7]) and not may_see_contact(outsider, 1, [7])
    assert may_see_contact(admin, 1, [7]) and may_see_contact(OPERATOR, 1, [7])
    # Checks: the organiser's, the admins', the operator's.
    assert may_see_check(member, 2) and not may_see_check(outsider, 2)
    assert may_see_check(admin, 2) and may_see_check(OPERATOR, 2)
    # Requests: the requester always; the recipient once it is no longer a draft; no admin.
    for tlp in TLP:
        assert may_see_request(member, 2, 3, "draft", tlp)
        assert not may_see_request(outsider, 2, 3, "draft", tlp)
        assert may_see_request(outsider, 2, 3, "submitted", tlp)
        assert not may_see_request(Principal(org=4, role=Role.ADMIN), 2, 3, "submitted", tlp)
