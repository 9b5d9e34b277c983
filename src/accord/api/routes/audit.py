"""The audit log: signed tree heads (public, for peers), entries and proofs (admins)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query

from accord.accounts import require_admin
from accord.api.audit_schemas import (
    AuditEntryPublic,
    InclusionProofPublic,
    TreeHeadPublic,
    WitnessPublic,
)
from accord.api.deps import CurrentPrincipal
from accord.api.openapi import errors
from accord.audit.capability import AUDIT
from accord.http import NodeDep

router = APIRouter(prefix="/audit", tags=["audit"])

MAX_SEQ = 2**62
Seq = Annotated[int, Path(ge=0, le=MAX_SEQ, description="The entry's sequence number.")]


@router.get("/head", response_model=TreeHeadPublic, responses=errors(400))
def read_head(
    node: NodeDep,
    since: Annotated[
        int, Query(alias="from", ge=0, le=MAX_SEQ, description="Prove consistency from here.")
    ] = 0,
) -> TreeHeadPublic:
    """The node's signed tree head, with a consistency proof from the size ``from``."""
    log = AUDIT.service(node)
    head = log.head()
    proof = log.consistency(since, head.size)
    return TreeHeadPublic(**head.public(), consistency=[p.hex() for p in proof])


@router.get("/entries", response_model=list[AuditEntryPublic], responses=errors(401, 403))
def list_entries(
    node: NodeDep,
    principal: CurrentPrincipal,
    before: Annotated[int | None, Query(ge=0, le=MAX_SEQ)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[AuditEntryPublic]:
    """The newest entries first (admins)."""
    require_admin(principal)
    return [
        AuditEntryPublic(
            seq=e.seq,
            at=e.at,
            action=e.action,
            decision=e.decision,
            actor=e.actor,
            object_ref=e.object_ref,
            version=e.version,
            detail=e.detail,
            erased=e.salt is None,
            commitment=bytes(e.commitment).hex(),
        )
        for e in AUDIT.service(node).entries(before, limit)
    ]


@router.get(
    "/entries/{seq}/proof",
    response_model=InclusionProofPublic,
    responses=errors(401, 403, 404),
)
def read_proof(seq: Seq, node: NodeDep, principal: CurrentPrincipal) -> Any:
    """An RFC 9162 inclusion proof of entry ``seq`` in the current signed head (admins)."""
    require_admin(principal)
    return AUDIT.service(node).prove(seq)


@router.get("/witnesses", response_model=list[WitnessPublic], responses=errors(401, 403))
def list_witnesses(node: NodeDep, principal: CurrentPrincipal) -> list[WitnessPublic]:
    """Each peer's last signed head seen here, and whether it extended the one before."""
    require_admin(principal)
    return [
        WitnessPublic(
            peer=w.peer,
            size=w.size,
            root=bytes(w.root).hex(),
            state=w.state,
            problem=w.problem,
            checked=w.checked,
        )
        for w in AUDIT.service(node).witnesses()
    ]
