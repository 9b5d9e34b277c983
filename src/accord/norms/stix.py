"""Published reports as STIX 2.1 objects: how they are built and read back.

A published version is one ``x-accord-norm-report`` (the header: state, version, when)
and one ``x-accord-norm-answer`` per answer. They are custom STIX objects rather than
``report``/``note``: a ``note`` must point at objects (``object_refs``) and would read
as a comment on threat data, and a ``report``'s answers would have to be ``note``s
anyway. Custom objects keep each answer's fields first-class (``item``, ``measures``,
``challenges``, ``documents``), are accepted by ``stix2-validator`` (a warning only, that
an extension definition is preferred), and each is stored under its own TLP and scope,
so the gate, TAXII and federation carry every answer exactly as far as its marking
allows. Each answer is self-contained (state, version, report key): a reader who may
see an answer but not its header still knows whose and which version it is.
Ids are uuid5 of the report key, version and item, so re-publishing is idempotent.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from accord.domain.stix import format_timestamp
from accord.domain.tlp import TLP, marking_definition

REPORT = "x-accord-norm-report"
ANSWER = "x-accord-norm-answer"
TYPES = (REPORT, ANSWER)
_NS = uuid.UUID("8f9c6a52-3f1e-4c55-9a2e-61d1b0e6c0a1")


def report_id(report_key: str, version: int) -> str:
    return f"{REPORT}--{uuid.uuid5(_NS, f'{report_key}/{version}')}"


def answer_id(report_key: str, version: int, item: str) -> str:
    return f"{ANSWER}--{uuid.uuid5(_NS, f'{report_key}/{version}/{item}')}"


def _marking(tlp: TLP) -> list[str]:
    return [str(marking_definition(tlp)["id"])]


def header(
    report_key: str, version: int, state: str, org_identity: str, tlp: TLP, now: datetime
) -> dict[str, Any]:
    stamp = format_timestamp(now)
    return {
        "type": REPORT,
        "spec_version": "2.1",
        "id": report_id(report_key, version),
        "created": stamp,
        "modified": stamp,
        "created_by_ref": org_identity,
        "object_marking_refs": _marking(tlp),
        "name": f"National implementation report of {state}, version {version}",
        "report_key": report_key,
        "state": state,
        "version": version,
        "published": stamp,
    }


def answer(
    report_key: str,
    version: int,
    state: str,
    org_identity: str,
    tlp: TLP,
    now: datetime,
    item: str,
    measures: str,
    challenges: str,
    documents: tuple[str, ...],
) -> dict[str, Any]:
    stamp = format_timestamp(now)
    obj: dict[str, Any] = {
        "type": ANSWER,
        "spec_version": "2.1",
        "id": answer_id(report_key, version, item),
        "created": stamp,
        "modified": stamp,
        "created_by_ref": org_identity,
        "object_marking_refs": _marking(tlp),
        "report_ref": report_id(report_key, version),
        "report_key": report_key,
        "state": state,
        "version": version,
        "item": item,
        "measures": measures,
        "challenges": challenges,
    }
    if documents:
        obj["documents"] = list(documents)
    return obj


@dataclass(frozen=True, slots=True)
class PublishedAnswer:
    stix_id: str
    report_key: str
    state: str
    version: int
    item: str
    measures: str
    challenges: str
    documents: tuple[str, ...]
    tlp: str
    scope: str
    published: str


def read_answer(doc: dict[str, Any], tlp: str, scope: str) -> PublishedAnswer | None:
    """An answer from a stored document; None for a malformed one (from a peer)."""
    try:
        docs = doc.get("documents", [])
        return PublishedAnswer(
            stix_id=str(doc["id"]),
            report_key=str(doc["report_key"]),
            state=str(doc["state"])[:2],
            version=int(doc["version"]),
            item=str(doc["item"]),
            measures=str(doc.get("measures", "")),
            challenges=str(doc.get("challenges", "")),
            documents=tuple(str(d) for d in docs) if isinstance(docs, list) else (),
            tlp=tlp,
            scope=scope,
            published=str(doc.get("modified", "")),
        )
    except (KeyError, TypeError, ValueError):
        return None
