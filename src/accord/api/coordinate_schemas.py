"""Request and response bodies of the coordination endpoints (contacts, checks, requests).

Response bodies are read from the coordination services' frozen values
(``from_attributes``), so the OpenAPI document describes every one of them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field
from typing_extensions import TypedDict

from accord.api.fields import MAX_ROW_ID, Input, one_of
from accord.coordinate.requests import KINDS
from accord.coordinate.workflow import Action, Urgency

# Ids of contacts named in a body.
ContactId = Annotated[int, Field(ge=1, le=MAX_ROW_ID)]


class _Read(BaseModel):
    model_config = ConfigDict(from_attributes=True)


# What a liaison sends to add or replace a point of contact.
class ContactCreate(Input):
    organisation: str | None = Field(
        default=None, max_length=200, description="Identity id; omit: your own."
    )
    kind: str = Field(
        max_length=20, description="diplomatic, technical, policy, law-enforcement, 24-7-desk"
    )
    name: str = Field(max_length=200)
    role: str = Field(default="", max_length=200)
    email: str | None = Field(default=None, max_length=320)
    phone: str | None = Field(default=None, max_length=32, description="E.164, e.g. +6561234567.")
    messaging: str | None = Field(
        default=None, max_length=200, description="Secure-messaging handle."
    )
    languages: list[str] = Field(max_length=50, description="ISO 639-1 codes.")
    timezone: str = Field(default="UTC", max_length=64, description="IANA time zone.")
    public_key: str | None = Field(default=None, max_length=20_000)
    groups: list[str] = Field(
        default=[], max_length=100, description="Sharing groups that may see it; []: all."
    )
    backups: list[ContactId] = Field(default=[], max_length=20)
    federation: bool = Field(
        default=False,
        description="Also in every peer node's directory, read-only there (the regional "
        "directory); otherwise only its groups' members' nodes receive it.",
    )


# A point of contact as readers see it.
class ContactPublic(_Read):
    id: int
    organisation: str
    organisation_name: str
    state: str | None
    kind: str
    name: str
    role: str
    email: str | None
    phone: str | None
    messaging: str | None
    languages: list[str]
    timezone: str
    public_key: str | None
    backups: list[int]
    groups: list[str]
    last_confirmed: datetime | None
    version: int
    updated: datetime
    federation: bool = Field(default=False, description="Shared with the whole federation.")
    home_node: str | None = Field(
        default=None,
        description="A read-only copy kept for the organisation's home node (its id); "
        "null: a contact of this node.",
    )


# What a requester sends to file an assistance request or a consultation.
class RequestCreate(Input):
    kind: str = Field(json_schema_extra=one_of(KINDS))
    title: str = Field(max_length=300)
    recipients: list[str] = Field(
        max_length=200, description="Identity ids or names of recipient organisations."
    )
    urgency: str = Field(json_schema_extra=one_of(Urgency))
    tlp: str = Field(default="TLP:AMBER", max_length=20)
    description: str = Field(default="", max_length=20_000)
    incident_category: str | None = Field(
        default=None, max_length=100, description="RSIT, e.g. availability/ddos"
    )
    sector: str | None = Field(
        default=None, max_length=100, description="Critical-infrastructure sector slug."
    )
    asks: list[str] = Field(
        default=[], max_length=20, description="information, technical-assistance, …"
    )
    questions: list[str] = Field(default=[], max_length=100)
    next_steps: str = Field(default="", max_length=20_000)
    evidence: list[str] = Field(default=[], max_length=1000, description="STIX ids you may read.")
    requester_contact: ContactId | None = None
    deadline: AwareDatetime | None = None
    submit: bool = Field(default=True, description="False: keep it a draft.")


# A transition asked for on a request.
class RequestAction(Input):
    action: Action
    reason: str = Field(default="", max_length=20_000, description="Required to decline.")


# The kind's own fields of a request; absent keys were not asked for.
class RequestDetailsPublic(TypedDict, total=False):
    description: str
    incident_category: str
    sector: str
    asks: list[str]
    questions: list[str]
    next_steps: str


# An assistance request or consultation as one of its parties sees it.
class RequestPublic(_Read):
    id: int
    case: str
    kind: str = Field(description="assistance or consultation.")
    title: str
    requester: str = Field(description="Identity id of the requesting organisation.")
    recipient: str = Field(description="Identity id of the recipient organisation.")
    requester_contact: int | None
    urgency: str
    tlp: str
    details: RequestDetailsPublic
    evidence: list[str]
    state: str
    escalated: str | None = Field(description="The overdue step it was escalated for.")
    overdue: str | None = Field(description="acknowledge or respond when the recipient is late.")
    allowed_actions: list[str] = Field(description="What you may do to it now.")
    created: datetime
    deadline: datetime | None = Field(description="The answer-by time the requester asked for.")
    submitted: datetime | None
    acknowledge_due: datetime | None
    respond_due: datetime | None
    acknowledged: datetime | None
    responded: datetime | None
    finished: datetime | None
    decline_reason: str | None
    requester_node: str | None = Field(
        default=None, description="The requester's home node id; null: this node."
    )
    recipient_node: str | None = Field(
        default=None, description="The recipient's home node id; null: this node."
    )
    delivery: str | None = Field(
        default=None,
        description="For a request to an organisation homed on another node: delivered, "
        "undelivered (queued, retried) or 'refused: <why>'.",
    )


# Requests of one box, newest first, with the cursor of the next page.
class RequestsPublic(BaseModel):
    items: list[RequestPublic]
    next_before: int | None


# One transition in a request's audit log.
class RequestEventPublic(_Read):
    model_config = ConfigDict(from_attributes=True, populate_by_name=True)

    at: datetime
    actor: str | None = Field(description="Identity id; null: the node (escalation).")
    role: str | None
    action: str
    source: str | None = Field(alias="from", description="The state before; null when created.")
    target: str | None = Field(alias="to", description="The state after.")
    detail: str


# A message on a request's thread, as stored.
class MessagePublic(_Read):
    id: int
    at: datetime
    author: str = Field(description="Identity id of the author's organisation.")
    body: str
    attachments: list[str]


# Per recipient state: how fast requests are answered and how often late.
class RequestMetricsPublic(_Read):
    requests: int
    median_hours_to_acknowledge: float | None
    median_hours_to_respond: float | None
    share_overdue: float


# The classifications requests use.
class TaxonomiesPublic(BaseModel):
    incident_categories: dict[str, list[str]] = Field(description="RSIT class -> types.")
    sectors: dict[str, str] = Field(description="Sector slug -> description.")


# A message on a request's thread.
class MessageCreate(Input):
    body: str = Field(max_length=100_000)
    attachments: list[str] = Field(default=[], max_length=100, description="STIX ids you may read.")


# What an organiser sends to start a communication check.
class CheckCreate(Input):
    title: str = Field(max_length=300)
    deadline: AwareDatetime
    group: str | None = Field(
        default=None, max_length=80, description="Only contacts of this group's members."
    )
    states: list[str] | None = Field(
        default=None, max_length=300, description="Only contacts of these states."
    )
    kind: str | None = Field(default=None, max_length=20)


# A contact's acknowledgement token and link in a new check.
class CheckTokenPublic(_Read):
    contact: int
    name: str
    token: str
    link: str


# A started check: each contact's token and link, shown this once.
class CheckStarted(_Read):
    id: int
    targets: list[CheckTokenPublic]


# What an acknowledgement link is for, and whether it was used.
class AcknowledgementPublic(_Read):
    check: int
    title: str
    contact: str = Field(description="The contact's name.")
    deadline: datetime
    acknowledged: datetime | None
    expired: bool


# How many contacts of one state or kind acknowledged.
class RatePublic(_Read):
    contacts: int
    acknowledged: int
    rate: float


# A contact that has not acknowledged a check.
class UnansweredPublic(_Read):
    contact: int
    name: str
    state: str | None


# A check's results: rates per state and kind, response times, who never answered.
class CheckResultsPublic(_Read):
    check: int
    title: str
    created: datetime
    deadline: datetime
    closed: bool
    contacts: int
    acknowledged: int
    rate: float
    by_state: dict[str, RatePublic] = Field(description="'international': no state.")
    by_kind: dict[str, RatePublic]
    median_seconds: float | None
    p90_seconds: float | None
    never_answered: list[UnansweredPublic]


# One check in an organiser's trend.
class CheckTrendPublic(_Read):
    check: int
    title: str
    created: datetime
    rate: float
    median_seconds: float | None


# One version of a contact, with what changed it.
class ContactVersionPublic(_Read):
    version: int
    at: datetime
    action: str = Field(description="created, updated, confirmed or deleted.")
    actor: int | None = Field(description="The acting organisation's id; null: the operator.")
    contact: dict[str, Any] = Field(description="The contact's fields after the change.")


# What an organisation sends to register a webhook.
class WebhookCreate(Input):
    url: str = Field(
        max_length=500, description="An http(s) URL the node posts signed notifications to."
    )
    secret: str = Field(min_length=16, max_length=128)


# A registered webhook, as its organisation is told.
class WebhookCreated(BaseModel):
    id: int
    url: str


# A webhook as the operator lists it; its secret is never shown.
class WebhookPublic(_Read):
    id: int
    organisation: str
    organisation_name: str
    url: str
    created: datetime


# One entry of the notification log (no body, no secret).
class NotificationPublic(_Read):
    id: int
    channel: str = Field(description="email or webhook.")
    target: str
    topic: str
    subject: str
    status: str = Field(description="pending, sent or failed.")
    attempts: int
    created: datetime
    sent: datetime | None
    next_attempt: datetime
    last_error: str | None
