"""Dependencies shared by the routers: the node and the principal behind a request."""

from __future__ import annotations

import base64
import binascii
from typing import Annotated

from fastapi import Depends, Request, Security
from fastapi.security import HTTPAuthorizationCredentials
from fastapi.security.http import HTTPBase

from accord.domain.model import ANONYMOUS, Principal
from accord.errors import NotAuthenticated
from accord.http import NodeDep, client_address

# How callers authenticate, as the OpenAPI document states it. The schemes only declare;
# the dependencies below read the header themselves, with errors of their own.
BEARER = HTTPBase(
    scheme="bearer",
    scheme_name="bearer",
    description="An API token, or a session token from POST /api/v1/auth/token.",
    auto_error=False,
)
BASIC = HTTPBase(
    scheme="basic",
    scheme_name="basic",
    description="TAXII: a username and password, or any username and an API token.",
    auto_error=False,
)
Declared = HTTPAuthorizationCredentials | None


def _bearer(request: Request) -> str | None:
    header = request.headers.get("authorization")
    if not header:
        return None
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        raise NotAuthenticated("use 'Authorization: Bearer <token>'")
    return value


def taxii_principal(
    request: Request,
    node: NodeDep,
    _basic: Annotated[Declared, Security(BASIC)],
    _bearer_scheme: Annotated[Declared, Security(BEARER)],
) -> Principal:
    """TAXII callers: HTTP Basic or Bearer; without credentials, the anonymous public."""
    header = request.headers.get("authorization")
    if not header:
        return ANONYMOUS
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "basic":
        try:
            username, sep, password = base64.b64decode(value.strip()).decode().partition(":")
        except (ValueError, binascii.Error, UnicodeDecodeError):
            raise NotAuthenticated("malformed Basic credentials") from None
        if not sep or "\x00" in username or "\x00" in password:
            raise NotAuthenticated("malformed Basic credentials")
        return node.accounts.authenticate_basic(username, password, client_address(request))
    token = _bearer(request)
    return node.accounts.authenticate(token) if token else ANONYMOUS


def optional_principal(
    request: Request, node: NodeDep, _scheme: Annotated[Declared, Security(BEARER)]
) -> Principal:
    """The caller, or the anonymous public when no credentials were sent."""
    token = _bearer(request)
    return node.accounts.authenticate(token) if token else ANONYMOUS


def current_principal(
    request: Request, node: NodeDep, _scheme: Annotated[Declared, Security(BEARER)]
) -> Principal:
    """The authenticated caller; 401 without credentials."""
    token = _bearer(request)
    if token is None:
        raise NotAuthenticated("this endpoint needs 'Authorization: Bearer <token>'")
    return node.accounts.authenticate(token)


MaybePrincipal = Annotated[Principal, Depends(optional_principal)]
TaxiiPrincipal = Annotated[Principal, Depends(taxii_principal)]
CurrentPrincipal = Annotated[Principal, Depends(current_principal)]
