"""What the coordination services hand to the console, the API and the CLI.

Frozen values built once from the store's rows: organisations are named by their STIX
identity ids, times are aware UTC, and nothing here reaches back into the store.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypedDict


@dataclass(frozen=True, slots=True)
class Contact:
    """A directory entry as readers see it."""

    id: int
    organisation: str  # STIX identity id
    organisation_name: str
    state: str | None  # None: an international body
    kind: str
    name: str
    role: str
    email: str | None
    phone: str | None
    messaging: str | None
    languages: tuple[str, ...]
    timezone: str
    public_key: str | None
    backups: tuple[int, ...]
    groups: tuple[str, ...]  # sharing-group slugs; empty: everyone on the node
    last_confirmed: datetime | None
    version: int
    updated: datetime
    federation: bool = False  # travels to every peer node (else to its groups' nodes)
    home_node: str | None = None  # a read-only copy from that node; None: this node's
    remote_id: int | None = None  # its id on its home node, for a copy


@dataclass(frozen=True, slots=True)
class ContactVersion:
    """One entry of a contact's history."""

    version: int
    at: datetime
    action: str  # created | updated | confirmed | deleted
    actor: int | None  # the acting organisation's id; None: the operator or a check
    contact: dict[str, Any]  # the contact's fields after the change, as stored (JSON)


@dataclass(frozen=True, slots=True)
class IssuedToken:
    """A contact's acknowledgement token in a new check: shown this once, stored hashed."""

    contact: int
    name: str
    token: str
    link: str


@dataclass(frozen=True, slots=True)
class StartedCheck:
    id: int
    targets: tuple[IssuedToken, ...]


@dataclass(frozen=True, slots=True)
class Acknowledgement:
    """What an acknowledgement link shows: the check, the contact, and whether it is done."""

    check: int
    title: str
    contact: str  # the contact's name
    deadline: datetime
    acknowledged: datetime | None
    expired: bool


@dataclass(frozen=True, slots=True)
class Rate:
    """How many contacts of one state or kind a check reached."""

    contacts: int
    acknowledged: int
    rate: float


@dataclass(frozen=True, slots=True)
class Unanswered:
    contact: int
    name: str
    state: str | None
    home_node: str | None = None  # a contact homed on that node, which checks it


@dataclass(frozen=True, slots=True)
class CheckResults:
    """A check's response rates per state and kind, its response times, who never answered."""

    check: int
    title: str
    created: datetime
    deadline: datetime
    closed: bool
    contacts: int
    acknowledged: int
    rate: float
    by_state: dict[str, Rate]  # "international" for contacts of no state
    by_kind: dict[str, Rate]
    median_seconds: float | None
    p90_seconds: float | None
    never_answered: tuple[Unanswered, ...]
    # By home node: "this node" for its own contacts, else the home node's id.
    by_node: dict[str, Rate] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class CheckTrend:
    """One check in an organiser's trend."""

    check: int
    title: str
    created: datetime
    rate: float
    median_seconds: float | None


class RequestDetails(TypedDict, total=False):
    """The kind's own fields of a request, stored as JSON; absent keys were not asked."""

    description: str
    incident_category: str  # RSIT, e.g. availability/ddos
    sector: str  # assistance only
    asks: list[str]  # assistance only
    questions: list[str]  # consultation only
    next_steps: str  # consultation only


@dataclass(frozen=True, slots=True)
class Request:
    """A request as one of its parties sees it, with the actions open to that party now."""

    id: int
    case: str
    kind: str
    title: str
    requester: str  # STIX identity ids
    recipient: str
    requester_contact: int | None
    urgency: str
    tlp: str
    details: RequestDetails
    evidence: tuple[str, ...]
    state: str
    escalated: str | None
    overdue: str | None  # "acknowledge" or "respond" when the recipient is late for it
    allowed_actions: tuple[str, ...]
    created: datetime
    deadline: datetime | None
    submitted: datetime | None
    acknowledge_due: datetime | None
    respond_due: datetime | None
    acknowledged: datetime | None
    responded: datetime | None
    finished: datetime | None
    decline_reason: str | None
    # Between nodes: each party's home node (None: this node), and for a request filed
    # here to an organisation homed elsewhere, whether its home node has it:
    # "delivered", "undelivered" (queued, retried) or "refused: <why>".
    requester_node: str | None = None
    recipient_node: str | None = None
    delivery: str | None = None

    @property
    def next_due(self) -> datetime | None:
        """The deadline that matters now: acknowledging, then responding (or the asked date)."""
        if self.state == "submitted":
            return self.acknowledge_due
        if self.state in ("acknowledged", "in_progress"):
            return self.respond_due or self.deadline
        return None


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One transition of a request."""

    at: datetime
    actor: str | None  # identity id; None: the node (escalation)
    role: str | None
    action: str
    source: str | None  # the state before; None when created
    target: str | None
    detail: str


@dataclass(frozen=True, slots=True)
class Message:
    id: int
    at: datetime
    author: str  # identity id
    body: str
    attachments: tuple[str, ...]  # STIX ids


@dataclass(frozen=True, slots=True)
class StateMetrics:
    """Requests to one state's organisations: how fast and how often late they answer."""

    requests: int
    median_hours_to_acknowledge: float | None
    median_hours_to_respond: float | None
    share_overdue: float
