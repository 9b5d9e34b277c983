"""Request and response bodies of the REST API (distinct from table rows and domain objects)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from accord.accounts import MIN_PASSWORD
from accord.api.fields import Input
from accord.domain.model import OrgKind, Role

# The longest token lifetime an admin may issue (ten years).
MAX_TOKEN_DAYS = 3650
# The longest password taken; hashing a longer one would only cost the node time.
MAX_PASSWORD = 1024


# An organisation as anyone on the node sees it.
class OrganisationPublic(BaseModel):
    id: str = Field(description="The organisation's STIX identity id.")
    name: str
    kind: str
    state: str | None


# What an admin sends to add an organisation.
class OrganisationCreate(Input):
    name: str = Field(min_length=1, max_length=200)
    kind: OrgKind
    state: str | None = Field(
        default=None, max_length=2, description="ISO 3166-1 alpha-2; null: international."
    )


# A sharing group; members are listed only to members and admins.
class GroupPublic(BaseModel):
    slug: str
    name: str
    description: str
    members: list[str] = Field(description="STIX identity ids of the member organisations.")


# What an admin sends to add a sharing group.
class GroupCreate(Input):
    slug: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{1,78}[a-z0-9]$")
    name: str = Field(max_length=200)
    description: str = Field(default="", max_length=2000)


# What an admin sends to add or remove a group member.
class MemberChange(Input):
    organisation: str = Field(max_length=200, description="STIX identity id or exact name.")


# What an admin sends to issue a token.
class TokenCreate(Input):
    organisation: str = Field(max_length=200, description="STIX identity id or exact name.")
    role: Role
    name: str = Field(min_length=1, max_length=200)
    expires_in_days: float | None = Field(default=None, gt=0, le=MAX_TOKEN_DAYS)


# A token as admins see it; never the secret.
class TokenPublic(BaseModel):
    id: int
    organisation: str | None = Field(description="Identity id; null for a peer node's token.")
    role: str
    name: str
    created: datetime
    expires: datetime | None
    revoked: datetime | None
    last_used: datetime | None = Field(
        default=None, description="When it last signed a request in, to the minute."
    )


# The one response that carries a token's secret: shown once, never again.
class TokenIssued(TokenPublic):
    token: str


# What happened to a posted bundle.
class IngestResult(BaseModel):
    stored: int
    duplicates: int
    stored_ids: list[str]
    detail: str


# How a recipient passes an object on.
class ShareCreate(Input):
    tlp: str | None = Field(default=None, max_length=20)
    scope: str = Field(max_length=20)
    recipients: list[str] = Field(default=[], max_length=1000)
    group: str | None = Field(default=None, max_length=80)


# The distribution an onward share was recorded with.
class SharePublic(BaseModel):
    tlp: str
    scope: str


class Health(BaseModel):
    status: str
    node: str
    state: str
    version: str
    database: str


# A username and password, exchanged for a short-lived token.
class LoginRequest(Input):
    username: str = Field(max_length=120)
    password: str = Field(max_length=MAX_PASSWORD)


# What an admin sends to add a user.
class UserCreate(Input):
    username: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._@-]{1,118}[A-Za-z0-9]$")
    organisation: str = Field(max_length=200, description="STIX identity id or exact name.")
    role: Role
    password: str = Field(min_length=MIN_PASSWORD, max_length=MAX_PASSWORD)


# A user as admins see it.
class UserPublic(BaseModel):
    username: str
    organisation: str
    role: str
    created: datetime
    disabled: datetime | None


# A key of sign-in throttling that must wait now.
class ThrottledPublic(BaseModel):
    kind: str = Field(description="pair (account from address), address, or account.")
    username: str | None
    address: str | None
    failures: int = Field(description="Failed sign-ins in a row.")
    until: datetime


# Failed sign-ins lately and who must wait now, for node admins.
class SigninReportPublic(BaseModel):
    failures_24h: int = Field(description="Failed sign-ins in the last 24 hours, by the hour.")
    throttled: list[ThrottledPublic]
