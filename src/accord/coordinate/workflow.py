"""The request workflow as a pure state machine: states, actions, and who may take each.

Assistance requests and consultations share it. A request has one requesting and one
recipient organisation (a request to several organisations is several requests with
one case id), so every transition is decided by the actor's side and role alone::

    draft --submit--> submitted --acknowledge--> acknowledged --start--> in_progress
                          |                           |                      |
                          +--------- decline ---------+------ respond -------+--> responded
    draft|submitted|acknowledged|in_progress --withdraw--> withdrawn; responded --close--> closed

``declined``, ``withdrawn`` and ``closed`` are final. Escalation is a flag beside the
state, not a state: an overdue request stays where it is and is marked escalated.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from accord.domain.model import Role


class State(StrEnum):
    """Where a request stands. Values are persisted: never rename them."""

    DRAFT = "draft"
    SUBMITTED = "submitted"
    ACKNOWLEDGED = "acknowledged"
    IN_PROGRESS = "in_progress"
    RESPONDED = "responded"
    CLOSED = "closed"
    DECLINED = "declined"
    WITHDRAWN = "withdrawn"


class Action(StrEnum):
    """What a party does to a request. Values are persisted and appear in URLs."""

    SUBMIT = "submit"
    ACKNOWLEDGE = "acknowledge"
    START = "start"
    RESPOND = "respond"
    CLOSE = "close"
    DECLINE = "decline"
    WITHDRAW = "withdraw"


class Side(StrEnum):
    """Which party of a request an actor belongs to."""

    REQUESTER = "requester"
    RECIPIENT = "recipient"


class Urgency(StrEnum):
    CRITICAL = "critical"
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"


FINAL = frozenset({State.CLOSED, State.DECLINED, State.WITHDRAWN})
# Readers follow a request; they never move it.
ACTING_ROLES = frozenset({Role.ADMIN, Role.ANALYST, Role.LIAISON})


@dataclass(frozen=True, slots=True)
class Transition:
    action: Action
    source: State
    target: State
    side: Side


_R, _P = Side.REQUESTER, Side.RECIPIENT
TRANSITIONS: tuple[Transition, ...] = (
    Transition(Action.SUBMIT, State.DRAFT, State.SUBMITTED, _R),
    Transition(Action.WITHDRAW, State.DRAFT, State.WITHDRAWN, _R),
    Transition(Action.ACKNOWLEDGE, State.SUBMITTED, State.ACKNOWLEDGED, _P),
    Transition(Action.DECLINE, State.SUBMITTED, State.DECLINED, _P),
    Transition(Action.WITHDRAW, State.SUBMITTED, State.WITHDRAWN, _R),
    Transition(Action.START, State.ACKNOWLEDGED, State.IN_PROGRESS, _P),
    Transition(Action.RESPOND, State.ACKNOWLEDGED, State.RESPONDED, _P),
    Transition(Action.DECLINE, State.ACKNOWLEDGED, State.DECLINED, _P),
    Transition(Action.WITHDRAW, State.ACKNOWLEDGED, State.WITHDRAWN, _R),
    Transition(Action.RESPOND, State.IN_PROGRESS, State.RESPONDED, _P),
    Transition(Action.DECLINE, State.IN_PROGRESS, State.DECLINED, _P),
    Transition(Action.WITHDRAW, State.IN_PROGRESS, State.WITHDRAWN, _R),
    Transition(Action.CLOSE, State.RESPONDED, State.CLOSED, _R),
)
_BY_KEY = {(t.source, t.action): t for t in TRANSITIONS}


class IllegalTransition(Exception):
    """``action`` is not open to this actor in this state; ``allowed`` lists what is."""

    def __init__(self, state: State, action: Action, allowed: list[Action], why: str) -> None:
        super().__init__(why)
        self.state = state
        self.action = action
        self.allowed = allowed
        self.why = why


def allowed_actions(state: State, side: Side | None, role: Role | None) -> list[Action]:
    """The actions this actor may take now, in a stable order (empty for outsiders, readers)."""
    if side is None or role not in ACTING_ROLES:
        return []
    return [t.action for t in TRANSITIONS if t.source is state and t.side is side]


def decide(
    state: State, action: Action, side: Side | None, role: Role | None, reason: str = ""
) -> State:
    """The state after ``action``, or IllegalTransition saying why and what is allowed.

    Declining needs a reason; it is the one action whose text the requester must see.
    """
    allowed = allowed_actions(state, side, role)
    transition = _BY_KEY.get((state, action))
    if transition is None:
        raise IllegalTransition(state, action, allowed, f"a {state} request cannot {action}")
    if role not in ACTING_ROLES:
        raise IllegalTransition(state, action, allowed, "readers may follow requests, not act")
    if side is not transition.side:
        raise IllegalTransition(
            state, action, allowed, f"only the {transition.side} may {action} a request"
        )
    if action is Action.DECLINE and not reason.strip():
        raise IllegalTransition(state, action, allowed, "declining needs a reason")
    return transition.target


@dataclass(frozen=True, slots=True)
class Deadlines:
    """How long a recipient has to acknowledge and to respond, counted from submission."""

    acknowledge: timedelta
    respond: timedelta


def deadlines_from_hours(hours: Mapping[str, tuple[float, float]]) -> dict[Urgency, Deadlines]:
    """Deadlines per urgency from hours to acknowledge and to respond (setting
    ``request_deadlines``, the one place their values are given)."""
    return {
        Urgency(urgency): Deadlines(timedelta(hours=ack), timedelta(hours=respond))
        for urgency, (ack, respond) in hours.items()
    }


def overdue_phase(
    state: State, now: datetime, ack_due: datetime | None, respond_due: datetime | None
) -> str | None:
    """``"acknowledge"`` or ``"respond"`` when the recipient is late for that step, else None."""
    if state is State.SUBMITTED and ack_due is not None and now > ack_due:
        return "acknowledge"
    if (
        state in (State.SUBMITTED, State.ACKNOWLEDGED, State.IN_PROGRESS)
        and respond_due is not None
        and now > respond_due
    ):
        return "respond"
    return None
