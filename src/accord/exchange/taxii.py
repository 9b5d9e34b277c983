"""TAXII 2.1 over the node's store: collections, paging, posting and deleting.

Collections are views of distribution scopes (``domain.collections``); every read is
a ``VersionQuery`` through the policy gate, so a TAXII client sees exactly what the
REST API would show it. ``next`` tokens are keysets on (date_added, pk): stable,
never expiring, and never skipping or repeating an object while a client pages.
"""

from __future__ import annotations

import base64
import binascii
import re
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from typing import Any

import orjson

from accord.domain.clock import Clock
from accord.domain.collections import Collection, CollectionKind
from accord.domain.model import Principal
from accord.domain.scope import Scope
from accord.domain.stix import format_timestamp, normalise_timestamp
from accord.domain.text import printable
from accord.errors import AccordError, Forbidden, InvalidInput, NotFound, Problem
from accord.exchange.service import Exchange, ShareRequest
from accord.store.accounts import GroupRepository, OrganisationRepository
from accord.store.objects import ObjectRow, VersionQuery
from accord.store.statuses import StatusRepository

MEDIA_TYPE = "application/taxii+json;version=2.1"
STIX_MEDIA_TYPE = "application/stix+json;version=2.1"
DEFAULT_LIMIT = 1000


@dataclass(frozen=True, slots=True)
class CollectionView:
    collection: Collection
    can_read: bool
    can_write: bool

    def resource(self) -> dict[str, Any]:
        c = self.collection
        return {
            "id": c.id,
            "title": c.title,
            "description": c.description,
            "can_read": self.can_read,
            "can_write": self.can_write,
            "media_types": [STIX_MEDIA_TYPE],
        }


@dataclass(frozen=True, slots=True)
class Page:
    rows: list[ObjectRow]
    more: bool
    next: str | None

    def headers(self) -> dict[str, str]:
        if not self.rows:
            return {}
        return {
            "X-TAXII-Date-Added-First": self.rows[0].date_added,
            "X-TAXII-Date-Added-Last": self.rows[-1].date_added,
        }


def _encode_next(row: ObjectRow) -> str:
    raw = f"{row.date_added}|{row.pk}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_next(token: str) -> tuple[str, int]:
    refused = _bad("next", "is not a token this server handed out; start again without it")
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
        added, pk = raw.split("|")
        position = normalise_timestamp(added), int(pk)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise refused from None
    # Positions are 64-bit row keys: anything else would reach the database and fail there.
    if not 0 < position[1] < 2**63:
        raise refused
    return position


# Bounds on query parameters, so a request never reaches the database with what it cannot
# take: a value of at most MAX_PARAMETER characters, a filter of at most MAX_TERMS values,
# each of the form its filter names (what a stored object can have; anything else is 400).
MAX_PARAMETER = 8192
MAX_TERMS = 100
_LIMIT = re.compile(r"\A[0-9]{1,19}\Z")
_TYPE = re.compile(r"\A[a-z0-9][a-z0-9-]{1,248}[a-z0-9]\Z")
_IDENTIFIER = re.compile(
    r"\A[a-z0-9][a-z0-9-]{1,248}[a-z0-9]--"
    r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\Z"
)
_SPEC_VERSION = re.compile(r"\A[0-9]{1,3}\.[0-9]{1,3}\Z")
_TERMS = {
    "match[id]": (_IDENTIFIER, "a STIX identifier (type--UUID)"),
    "match[type]": (_TYPE, "a STIX type (lowercase letters, digits and hyphens)"),
    "match[spec_version]": (_SPEC_VERSION, "a STIX version such as 2.1"),
}


def _bad(name: str, reason: str) -> InvalidInput:
    """The 400 for query parameter ``name``, naming it."""
    return InvalidInput(f"'{printable(name)}' {reason}", [Problem(reason, field=printable(name))])


def _split(value: str | None) -> tuple[str, ...]:
    return tuple(v.strip() for v in value.split(",") if v.strip()) if value else ()


def _terms(params: Mapping[str, str], name: str) -> tuple[str, ...]:
    terms = _split(params.get(name))
    if len(terms) > MAX_TERMS:
        raise _bad(name, f"names {len(terms)} values; a filter takes at most {MAX_TERMS}")
    if name in _TERMS:
        form, what = _TERMS[name]
        for term in terms:
            if not form.match(term):
                shown = term if len(term) <= 80 else term[:80] + "…"
                raise _bad(name, f"has {shown!r}, which is not {what}")
    return terms


def check_identifier(object_id: str) -> None:
    """InvalidInput (naming ``object_id``) unless it has the form of a STIX identifier."""
    if not _IDENTIFIER.match(object_id):
        raise _bad("object_id", "is not a STIX identifier (type--UUID)")


def parse_filters(params: Mapping[str, str], page_size_max: int) -> VersionQuery:
    """A ``VersionQuery`` from TAXII query parameters, or InvalidInput naming the bad one."""
    known = {"added_after", "limit", "next"} | {
        f"match[{k}]" for k in ("id", "type", "version", "spec_version")
    }
    unknown = sorted(set(params) - known)
    if unknown:
        names = ", ".join(printable(n[:80]) for n in unknown[:10])
        raise InvalidInput(
            f"unsupported query parameter(s): {names}",
            [Problem("not a TAXII 2.1 parameter", field=printable(n[:80])) for n in unknown[:10]],
        )
    for name, value in params.items():
        if len(value) > MAX_PARAMETER:
            raise _bad(name, f"is {len(value)} characters long; at most {MAX_PARAMETER}")
    limit_text = params.get("limit", "") or "0"
    if not _LIMIT.match(limit_text) or int(limit_text) >= 2**63:
        raise _bad("limit", "must be a whole number of objects (0 or more, below 2^63)")
    versions = []
    for v in _terms(params, "match[version]") or ("last",):
        if v in ("last", "first", "all"):
            versions.append(v)
        else:
            versions.append(_timestamp("match[version]", v))
    added_after = params.get("added_after")
    return VersionQuery(
        ids=_terms(params, "match[id]"),
        types=_terms(params, "match[type]"),
        versions=tuple(versions),
        spec_versions=_terms(params, "match[spec_version]"),
        added_after=_timestamp("added_after", added_after) if added_after else None,
        after=_decode_next(params["next"]) if params.get("next") else None,
        limit=min(int(limit_text) or DEFAULT_LIMIT, page_size_max),
    )


def _timestamp(name: str, value: str) -> str:
    try:
        return normalise_timestamp(value)
    except ValueError:
        shown = value if len(value) <= 80 else value[:80] + "…"
        raise _bad(
            name, f"has {shown!r}, which is not a STIX timestamp (YYYY-MM-DDTHH:MM:SS[.s+]Z)"
        ) from None


class Taxii:
    def __init__(
        self,
        exchange: Exchange,
        orgs: OrganisationRepository,
        groups: GroupRepository,
        statuses: StatusRepository,
        clock: Clock,
    ) -> None:
        self._exchange = exchange
        self._orgs = orgs
        self._groups = groups
        self._statuses = statuses
        self._clock = clock

    # Collections ----------------------------------------------------------------------
    def collections(self, principal: Principal) -> list[CollectionView]:
        """Every collection ``principal`` may know of, with its read and write rights."""
        return list(self._views(principal))

    def collection(self, principal: Principal, collection_id: str) -> CollectionView:
        for view in self._views(principal):
            if view.collection.id == collection_id:
                return view
        raise NotFound(f"no collection {collection_id!r}")

    def _views(self, principal: Principal) -> Iterator[CollectionView]:
        """The collections ``principal`` may know of, the public and community ones first:
        finding one of those (most reads) needs no query."""
        writer = principal.can_write()
        yield CollectionView(
            Collection(CollectionKind.PUBLIC, "Public", "TLP:CLEAR information for anyone."),
            can_read=True,
            can_write=writer,
        )
        if principal.org is None:
            return
        yield CollectionView(
            Collection(
                CollectionKind.COMMUNITY,
                "Community",
                "Shared with every organisation on this node (and federated peers).",
            ),
            can_read=True,
            can_write=writer,
        )
        for group in self._groups.all():
            if principal.org in group.members:
                collection = Collection(
                    CollectionKind.GROUP, group.name, group.description, group.slug, group.id
                )
                yield CollectionView(collection, can_read=True, can_write=writer)
        for org in self._orgs.all():
            inbox = Collection(
                CollectionKind.INBOX,
                f"Inbox of {org.name}",
                f"Objects shared with {org.name} by name.",
                org.identity_id,
                org_id=org.id,
            )
            yield CollectionView(inbox, can_read=org.id == principal.org, can_write=writer)

    def _readable(self, principal: Principal, collection_id: str) -> Collection:
        view = self.collection(principal, collection_id)
        if not view.can_read:
            raise Forbidden("this collection is not readable by your organisation")
        return view.collection

    # Reading --------------------------------------------------------------------------
    def page(self, principal: Principal, collection_id: str, query: VersionQuery) -> Page:
        """One page of object versions in the collection, by ``date_added``."""
        collection = self._readable(principal, collection_id)
        window = self._exchange.version_window(principal, replace(query, collection=collection))
        last = window.last
        return Page(window.rows, window.more, _encode_next(last) if window.more and last else None)

    def object_page(
        self, principal: Principal, collection_id: str, object_id: str, query: VersionQuery
    ) -> Page:
        check_identifier(object_id)
        page = self.page(principal, collection_id, replace(query, ids=(object_id,)))
        if not page.rows and query.after is None:
            raise NotFound(f"no object {object_id!r} in this collection")
        return page

    # Writing --------------------------------------------------------------------------
    def add(self, principal: Principal, collection_id: str, body: bytes) -> dict[str, Any]:
        """Store an envelope all or nothing; the status resource says what happened."""
        view = self.collection(principal, collection_id)
        if not view.can_write:
            raise Forbidden("your role may not add objects to this collection")
        objects = _envelope_objects(body)
        request = _share_request(view.collection)
        status_id = str(uuid.uuid4())
        now = self._clock()
        bundle = {"type": "bundle", "id": f"bundle--{status_id}", "objects": objects}
        try:
            self._exchange.ingest(principal, bundle, request)
            successes = [_outcome(o) for o in objects]
            failures: list[dict[str, Any]] = []
        except AccordError as exc:
            if exc.status in (401, 403, 404):
                raise
            successes = []
            bad = {p.index: f"{p.field}: {p.reason}" if p.field else p.reason for p in exc.problems}
            failures = [
                _outcome(
                    o, bad.get(i, f"not stored: envelopes are stored all or nothing ({exc.detail})")
                )
                for i, o in enumerate(objects)
            ]
        status = {
            "id": status_id,
            "status": "complete",
            "request_timestamp": format_timestamp(now),
            "total_count": len(objects),
            "success_count": len(successes),
            "successes": successes,
            "failure_count": len(failures),
            "failures": failures,
            "pending_count": 0,
            "pendings": [],
        }
        if principal.org is not None:  # writers always act for an organisation
            self._statuses.add(status_id, principal.org, status, now)
        return status

    def status(self, principal: Principal, status_id: str) -> dict[str, Any]:
        try:
            uuid.UUID(status_id)  # status ids are UUIDs; the store is asked for no other
        except ValueError:
            raise NotFound(f"no status {status_id[:80]!r}") from None
        found = self._statuses.get(status_id, principal.org) if principal.org else None
        if found is None:
            raise NotFound(f"no status {status_id!r}")
        return found

    def delete(
        self, principal: Principal, collection_id: str, object_id: str, query: VersionQuery
    ) -> None:
        """Delete the matching versions (all, unless match[version] says) of an object.

        Only analysts or admins of the owner organisation may; to others an object they
        can read answers 403, one they cannot read 404.
        """
        page = self.object_page(principal, collection_id, object_id, replace(query, limit=1))
        if (
            principal.org is None
            or not principal.can_write()
            or page.rows[0].owner != principal.org
        ):
            raise Forbidden("only the owner organisation's analysts may delete an object")
        self._exchange.delete_versions(principal, object_id, query.versions)


def _share_request(collection: Collection) -> ShareRequest:
    if collection.kind is CollectionKind.PUBLIC:
        return ShareRequest(scope=Scope.PUBLIC)
    if collection.kind is CollectionKind.COMMUNITY:
        return ShareRequest(scope=Scope.COMMUNITY)
    if collection.kind is CollectionKind.GROUP:
        return ShareRequest(scope=Scope.GROUP, group=collection.key)
    return ShareRequest(scope=Scope.RECIPIENTS, recipients=(collection.key,))


def _envelope_objects(body: bytes) -> list[Any]:
    try:
        envelope = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise InvalidInput(f"the body is not JSON: {exc}") from None
    if not isinstance(envelope, dict) or not isinstance(envelope.get("objects", []), list):
        raise InvalidInput('send a TAXII envelope: {"objects": [...]}')
    objects: list[Any] = envelope.get("objects", [])
    return objects


def _outcome(obj: Any, message: str | None = None) -> dict[str, Any]:
    result: dict[str, Any] = {}
    if isinstance(obj, dict):
        if isinstance(obj.get("id"), str):
            result["id"] = obj["id"]
        version = obj.get("modified") or obj.get("created")
        if isinstance(version, str):
            result["version"] = version
    if message:
        result["message"] = message
    return result
