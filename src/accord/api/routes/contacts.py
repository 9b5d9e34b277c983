"""The directory of points of contact: search, edit, history, export, import."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, status
from fastapi.responses import Response

from accord.api.coordinate_schemas import ContactCreate, ContactPublic, ContactVersionPublic
from accord.api.deps import CurrentPrincipal
from accord.api.fields import RowId, Text, storable
from accord.api.openapi import errors
from accord.coordinate.contacts import ContactInput
from accord.coordinate.directory import to_csv, to_json, to_vcard
from accord.coordinate.model import Contact
from accord.errors import InvalidInput, Problem
from accord.http import NodeDep

router = APIRouter(prefix="/contacts", tags=["contacts"])


def _public(contact: Contact) -> ContactPublic:
    return ContactPublic.model_validate(contact, from_attributes=True)


def _input(body: ContactCreate) -> ContactInput:
    return ContactInput(
        kind=body.kind,
        name=body.name,
        role=body.role,
        email=body.email,
        phone=body.phone,
        messaging=body.messaging,
        languages=tuple(body.languages),
        timezone=body.timezone,
        public_key=body.public_key,
        groups=tuple(body.groups),
        backups=tuple(body.backups),
        federation=body.federation,
    )


@router.get("", response_model=list[ContactPublic])
def read_contacts(
    node: NodeDep,
    principal: CurrentPrincipal,
    state: Annotated[list[Text] | None, Query(description="ISO 3166-1 alpha-2; repeat.")] = None,
    kind: Text | None = None,
    language: Annotated[Text | None, Query(description="ISO 639-1.")] = None,
) -> list[ContactPublic]:
    """Search the contacts you may see by state, kind and operational language."""
    found = node.coordination.directory.search(
        principal, states=state, kind=kind, language=language
    )
    return [_public(c) for c in found]


@router.post(
    "", response_model=ContactPublic, status_code=status.HTTP_201_CREATED, responses=errors(404)
)
def create_contact(
    body: ContactCreate, node: NodeDep, principal: CurrentPrincipal
) -> ContactPublic:
    """Add a point of contact (liaisons of the organisation, or admins)."""
    return _public(node.coordination.directory.add(principal, body.organisation, _input(body)))


@router.get(
    "/export",
    response_class=Response,
    responses={
        200: {
            "description": "The contacts as a file.",
            "content": {
                "application/json": {},
                "text/csv": {"schema": {"type": "string"}},
                "text/vcard": {"schema": {"type": "string"}},
            },
        }
    },
)
def read_contacts_export(
    node: NodeDep,
    principal: CurrentPrincipal,
    format: Annotated[str, Query(pattern="^(json|csv|vcard)$")] = "json",
    state: Annotated[list[Text] | None, Query()] = None,
    kind: Text | None = None,
    language: Text | None = None,
) -> Response:
    """Export the contacts you may see as JSON, CSV or vCard 4.0."""
    found = node.coordination.directory.search(
        principal, states=state, kind=kind, language=language
    )
    if format == "csv":
        return Response(to_csv(found), media_type="text/csv; charset=utf-8")
    if format == "vcard":
        return Response(to_vcard(found), media_type="text/vcard; charset=utf-8")
    return Response(to_json(found), media_type="application/json")


@router.post(
    "/import",
    response_model=list[ContactPublic],
    status_code=status.HTTP_201_CREATED,
    responses=errors(404),
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"text/csv": {"schema": {"type": "string"}}},
            "description": "UTF-8 CSV with the export's columns.",
        }
    },
)
async def create_contacts_import(
    request: Request, node: NodeDep, principal: CurrentPrincipal, organisation: Text | None = None
) -> list[ContactPublic]:
    """Import contacts from CSV (the export's columns): every row, or none with each error."""
    try:
        text = storable((await request.body()).decode("utf-8-sig"))
    except UnicodeDecodeError:
        raise InvalidInput("the CSV must be UTF-8", [Problem("not UTF-8", field="body")]) from None
    except ValueError as exc:
        raise InvalidInput("the CSV cannot be stored", [Problem(str(exc), field="body")]) from None
    imported = node.coordination.directory.import_csv(principal, organisation, text)
    return [_public(c) for c in imported]


@router.get("/{contact_id}", response_model=ContactPublic, responses=errors(404))
def read_contact(contact_id: RowId, node: NodeDep, principal: CurrentPrincipal) -> ContactPublic:
    """One contact; 404 when it is restricted to groups you are not in."""
    return _public(node.coordination.directory.get(principal, contact_id))


@router.put("/{contact_id}", response_model=ContactPublic, responses=errors(404))
def update_contact(
    contact_id: RowId, body: ContactCreate, node: NodeDep, principal: CurrentPrincipal
) -> ContactPublic:
    """Replace a contact's fields; the old version stays in its history."""
    return _public(node.coordination.directory.update(principal, contact_id, _input(body)))


@router.post("/{contact_id}/confirm", response_model=ContactPublic, responses=errors(404))
def create_contact_confirmation(
    contact_id: RowId, node: NodeDep, principal: CurrentPrincipal
) -> ContactPublic:
    """Mark a contact as confirmed current now."""
    return _public(node.coordination.directory.confirm(principal, contact_id))


@router.delete("/{contact_id}", status_code=status.HTTP_204_NO_CONTENT, responses=errors(404))
def delete_contact(contact_id: RowId, node: NodeDep, principal: CurrentPrincipal) -> Response:
    """Retire a contact (its history is kept)."""
    node.coordination.directory.delete(principal, contact_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get(
    "/{contact_id}/history", response_model=list[ContactVersionPublic], responses=errors(404)
)
def read_contact_history(
    contact_id: RowId, node: NodeDep, principal: CurrentPrincipal
) -> list[ContactVersionPublic]:
    """Every version of a contact, oldest first."""
    return [
        ContactVersionPublic.model_validate(v)
        for v in node.coordination.directory.history(principal, contact_id)
    ]
