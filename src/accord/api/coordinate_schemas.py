"""Request and response bodies of the coordination endpoints (contacts, checks, requests)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import AwareDatetime, BaseModel, Field


# What a liaison sends to add or replace a point of contact.
class ContactCreate(BaseModel):
    organisation: str | None = Field(default=None, description="Identity id; omit: your own.")
    kind: str = Field(description="diplomatic, technical, policy, law-enforcement, 24-7-desk")
    name: str
    role: str = ""
    email: str | None = None
    phone: str | None = Field(default=None, description="E.164, e.g. +6561234567.")
    messaging: str | None = Field(default=None, description="Secure-messaging handle.")
    languages: list[str] = Field(description="ISO 639-1 codes.")
    timezone: str = Field(default="UTC", description="IANA time zone.")
    public_key: str | None = None
    groups: list[str] = Field(default=[], description="Sharing groups that may see it; []: all.")
    backups: list[int] = []


# A point of contact as readers see it.
class ContactPublic(BaseModel):
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


# What a requester sends to file an assistance request or a consultation.
class RequestCreate(BaseModel):
    kind: str = Field(description="assistance or consultation.")
    title: str
    recipients: list[str] = Field(description="Identity ids or names of recipient organisations.")
    urgency: str = Field(description="critical, high, medium or low.")
    tlp: str = "TLP:AMBER"
    description: str = ""
    incident_category: str | None = Field(default=None, description="RSIT, e.g. availability/ddos")
    sector: str | None = Field(default=None, description="Critical-infrastructure sector slug.")
    asks: list[str] = Field(default=[], description="information, technical-assistance, …")
    questions: list[str] = []
    next_steps: str = ""
    evidence: list[str] = Field(default=[], description="STIX ids you may read.")
    requester_contact: int | None = None
    deadline: AwareDatetime | None = None
    submit: bool = Field(default=True, description="False: keep it a draft.")


# A transition asked for on a request.
class RequestAction(BaseModel):
    action: str = Field(description="submit, acknowledge, start, respond, close, decline, withdraw")
    reason: str = Field(default="", description="Required to decline.")


# Requests of one box, newest first, with the cursor of the next page.
class RequestsPublic(BaseModel):
    items: list[dict[str, Any]]
    next_before: int | None


# A message on a request's thread.
class MessageCreate(BaseModel):
    body: str
    attachments: list[str] = Field(default=[], description="STIX ids you may read.")


# What an organiser sends to start a communication check.
class CheckCreate(BaseModel):
    title: str
    deadline: AwareDatetime
    group: str | None = Field(default=None, description="Only contacts of this group's members.")
    states: list[str] | None = Field(default=None, description="Only contacts of these states.")
    kind: str | None = None


# A started check: each contact's token and link, shown this once.
class CheckStarted(BaseModel):
    id: int
    targets: list[dict[str, Any]]


# What an organisation sends to register a webhook.
class WebhookCreate(BaseModel):
    url: str = Field(description="An http(s) URL the node posts signed notifications to.")
    secret: str = Field(min_length=16, max_length=128)
