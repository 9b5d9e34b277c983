"""The request workflow: the pure state machine, and the service over random sequences."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from accord.coordinate.requests import RequestDraft
from accord.coordinate.workflow import (
    FINAL,
    TRANSITIONS,
    Action,
    IllegalTransition,
    Side,
    State,
    allowed_actions,
    decide,
)
from accord.domain.coordination import OPERATOR
from accord.domain.model import Principal, Role
from accord.errors import AccordError, Conflict
from accord.node import Node
from accord.store.requests import RequestRepository
from tests.builders import org, principal
from tests.conftest import migrated_sqlite

REACHABLE = {State.DRAFT} | {t.target for t in TRANSITIONS}


def test_every_state_is_reachable_and_finals_are_final() -> None:
    assert REACHABLE == set(State)
    assert not [t for t in TRANSITIONS if t.source in FINAL]


@pytest.mark.parametrize(
    ("state", "action", "side", "role"),
    [
        (State.SUBMITTED, Action.ACKNOWLEDGE, Side.REQUESTER, Role.ANALYST),  # only a recipient
        (State.RESPONDED, Action.CLOSE, Side.RECIPIENT, Role.ADMIN),  # only the requester
        (State.SUBMITTED, Action.WITHDRAW, Side.RECIPIENT, Role.LIAISON),
        (State.SUBMITTED, Action.ACKNOWLEDGE, Side.RECIPIENT, Role.READER),  # readers never act
        (State.CLOSED, Action.SUBMIT, Side.REQUESTER, Role.ANALYST),
        (State.SUBMITTED, Action.DECLINE, Side.RECIPIENT, Role.ANALYST),  # no reason given
    ],
)
def test_illegal_transitions_say_what_is_allowed(
    state: State, action: Action, side: Side, role: Role
) -> None:
    with pytest.raises(IllegalTransition) as caught:
        decide(state, action, side, role)
    assert caught.value.allowed == allowed_actions(state, side, role)


@given(st.sampled_from(list(State)), st.sampled_from(list(Action)), st.sampled_from([*Side, None]))
def test_decide_agrees_with_the_table(state: State, action: Action, side: Side | None) -> None:
    legal = {(t.source, t.action, t.side): t.target for t in TRANSITIONS}
    try:
        target = decide(state, action, side, Role.LIAISON, reason="busy")
    except IllegalTransition:
        assert (state, action, side) not in legal
    else:
        assert legal[(state, action, side)] is target


@pytest.fixture
def parties(sqlite_node: Node) -> Iterator[tuple[Node, dict[str, Principal]]]:
    sg, my, th = (
        org(sqlite_node, "SingCERT"),
        org(sqlite_node, "MyCERT", state="MY"),
        org(sqlite_node, "ThaiCERT", state="TH"),
    )
    yield (
        sqlite_node,
        {
            "requester": principal(sqlite_node, sg, Role.ANALYST),
            "requester-reader": principal(sqlite_node, sg, Role.READER),
            "recipient": principal(sqlite_node, my, Role.LIAISON),
            "recipient-reader": principal(sqlite_node, my, Role.READER),
            "outsider": principal(sqlite_node, th, Role.ADMIN),
        },
    )


def _draft() -> RequestDraft:
    return RequestDraft(
        kind="assistance",
        title="Grid SCADA under attack",
        recipients=("MyCERT",),
        urgency="critical",
        incident_category="availability/ddos",
        sector="energy",
        asks=("mitigation",),
        submit=False,
    )


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(
                ["requester", "requester-reader", "recipient", "recipient-reader", "outsider"]
            ),
            st.sampled_from(list(Action)),
            st.sampled_from(["", "no capacity"]),
        ),
        max_size=12,
    )
)
def test_random_sequences_never_reach_an_illegal_state(
    parties: tuple[Node, dict[str, Principal]], steps: list[tuple[str, Action, str]]
) -> None:
    node, who = parties
    requests = node.coordination.requests
    # The stored row, as the operator reads it: the oracle the service is held to.
    repo = RequestRepository(node.engine)
    request_id = requests.create(who["requester"], _draft())[0].id
    state = State.DRAFT
    for actor, action, reason in steps:
        row = repo.get(request_id, reader=OPERATOR)
        side = requests.side(who[actor], row)
        try:
            expected: State | None = decide(state, action, side, who[actor].role, reason)
        except IllegalTransition:
            expected = None
        try:
            view = requests.act(who[actor], request_id, action, reason)
        except AccordError as exc:
            assert expected is None, exc.detail
            # Outsiders, and recipients of a draft, are told the request does not exist.
            assert isinstance(exc, Conflict) or side is None
            continue
        assert expected is not None
        state = State(view.state)
        assert state is expected
    events = repo.events(request_id)
    moves = [e for e in events if e.action != "create"]
    # The audit log replays to the current state, transition by transition.
    replay = State.DRAFT
    for e in moves:
        assert e.source == replay.value
        replay = decide(
            replay,
            Action(e.action),
            Side.REQUESTER if e.actor_org == who["requester"].org else Side.RECIPIENT,
            Role(e.actor_role),
            e.detail or "x",
        )
    assert replay is State(repo.get(request_id, reader=OPERATOR).state) is state


def test_deadlines_are_configurable_per_urgency(tmp_path: object, clock: object) -> None:
    from pydantic import ValidationError

    from accord.settings import Settings

    custom = {"critical": (1, 4), "high": (8, 72), "medium": (24, 168), "low": (72, 720)}
    node = Node.open(
        Settings(  # type: ignore[call-arg]
            database_url=migrated_sqlite(tmp_path, "d.db"), _env_file=None, request_deadlines=custom
        ),
        clock=clock,  # type: ignore[arg-type]
    )
    try:
        sg, _ = org(node, "SingCERT"), org(node, "MyCERT", state="MY")
        draft = _draft()
        filed = node.coordination.requests.create(
            principal(node, sg),
            RequestDraft(
                kind=draft.kind,
                title=draft.title,
                recipients=draft.recipients,
                urgency="critical",
                incident_category=draft.incident_category,
                sector=draft.sector,
                asks=draft.asks,
            ),
        )[0]
        assert filed.respond_due is not None and filed.acknowledge_due is not None
        assert filed.respond_due - filed.acknowledge_due == timedelta(hours=3)
    finally:
        node.close()
    with pytest.raises(ValidationError):
        Settings(request_deadlines={**custom, "critical": (5, 1)}, _env_file=None)  # type: ignore[call-arg]
    with pytest.raises(ValidationError):
        Settings(request_deadlines={"critical": (1, 2)}, _env_file=None)  # type: ignore[call-arg]
