"""Small builders for test data: organisations, principals, STIX objects and bundles."""

from __future__ import annotations

import uuid
from typing import Any

from accord.domain.model import Organisation, Principal, Role
from accord.domain.scope import Distribution
from accord.domain.tlp import MARKING_IDS, TLP
from accord.node import Node
from accord.store.objects import NewVersion

STAMP = "2026-11-01T10:00:00.000Z"


def org(
    node: Node, name: str, kind: str = "national-cert", state: str | None = "SG"
) -> Organisation:
    return node.accounts.add_org(None, name, kind, state)


def principal(node: Node, organisation: Organisation, role: Role = Role.ANALYST) -> Principal:
    groups = node.accounts.groups.of_org(organisation.id)
    return Principal(org=organisation.id, role=role, groups=groups)


def indicator(
    value: str = "198.51.100.7",
    *,
    creator: str | None = None,
    tlp: TLP | None = None,
    modified: str = STAMP,
    created: str = STAMP,
    stix_id: str | None = None,
    **extra: Any,
) -> dict[str, Any]:
    obj: dict[str, Any] = {
        "type": "indicator",
        "spec_version": "2.1",
        "id": stix_id or f"indicator--{uuid.uuid4()}",
        "created": created,
        "modified": modified,
        "name": f"Bad address {value}",
        "indicator_types": ["malicious-activity"],
        "pattern": f"[ipv4-addr:value = '{value}']",
        "pattern_type": "stix",
        "valid_from": created,
        **extra,
    }
    if creator:
        obj["created_by_ref"] = creator
    if tlp:
        obj["object_marking_refs"] = [MARKING_IDS[tlp]]
    return obj


def version(owner: int, distribution: Distribution, via: str = "") -> NewVersion:
    """A bare stored version (no document) for tests that write straight into the store."""
    return NewVersion(
        stix_id=f"indicator--{uuid.uuid4()}",
        type="indicator",
        spec_version="2.1",
        created=None,
        modified="2026-01-01T00:00:00.000000Z",
        owner=owner,
        revoked=False,
        distribution=distribution,
        search_text="",
        provenance="{}",
        via=via,
        doc="{}",
    )


def bundle(*objects: dict[str, Any]) -> dict[str, Any]:
    return {"type": "bundle", "id": f"bundle--{uuid.uuid4()}", "objects": list(objects)}
