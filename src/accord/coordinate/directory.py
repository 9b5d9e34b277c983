"""The directory of points of contact: who to call in each state, kept current, with history.

Visibility (``coordinate.access``, applied in SQL by the repository): an organisation may
restrict a contact to named sharing groups; anyone else on the node then finds no such
contact (absent and hidden look the same).
Editing is for the operator, node admins, and the organisation's own liaisons.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import Any

import orjson

from accord.coordinate.access import audited, reader_of, record_read
from accord.coordinate.contacts import FIELDS, CleanContact, ContactInput, ContactKind
from accord.coordinate.model import Contact, ContactVersion
from accord.coordinate.taxonomy import parse_language
from accord.domain.audit import NOT_RECORDED, Recorder
from accord.domain.coordination import OPERATOR
from accord.domain.model import Organisation, Principal, Role
from accord.domain.states import parse_state
from accord.errors import Forbidden, InvalidInput, Problem
from accord.store.accounts import GroupRepository, OrganisationRepository
from accord.store.contacts import ContactFields, ContactRepository, ContactRow

_EDITORS = frozenset({Role.ADMIN, Role.LIAISON})


def contact_fields(
    org_id: int, clean: CleanContact, *, groups: tuple[int, ...] = (), federation: bool = False
) -> ContactFields:
    """A checked contact as the columns to store for organisation ``org_id``."""
    return ContactFields(
        org_id=org_id,
        kind=clean.kind.value,
        name=clean.name,
        role=clean.role,
        email=clean.email,
        phone=clean.phone,
        messaging=clean.messaging,
        languages=clean.languages,
        timezone=clean.timezone,
        public_key=clean.public_key,
        backups=clean.backups,
        groups=groups,
        federation=federation,
    )


class Directory:
    def __init__(
        self,
        contacts: ContactRepository,
        orgs: OrganisationRepository,
        groups: GroupRepository,
        clock: Callable[[], datetime],
    ) -> None:
        self._repo = contacts
        self._orgs = orgs
        self._groups = groups
        self._clock = clock
        self.recorder: Recorder = NOT_RECORDED  # the audit capability hands in its log

    # Writing --------------------------------------------------------------------------
    def _may_edit(
        self, actor: Principal | None, org_id: int, row: ContactRow | None = None
    ) -> None:
        if row is not None and row.home_node is not None:
            raise Forbidden(
                f"this contact is a read-only copy from node {row.home_node}, its "
                "organisation's home node: it is changed there, and travels here"
            )
        if actor is None or actor.is_admin():
            return
        if actor.org != org_id or actor.role not in _EDITORS:
            raise Forbidden(
                "only the organisation's liaisons or a node admin may edit its contacts"
            )

    def _fields(self, org_id: int, data: ContactInput, index: int | None = None) -> ContactFields:
        clean = data.clean(index)
        slugs = {g.slug: g.id for g in self._groups.all()}
        unknown = [s for s in data.groups if s not in slugs]
        if unknown:
            raise InvalidInput(
                f"no sharing group {unknown[0]!r}",
                [Problem(f"no sharing group {unknown[0]!r}", index, field="groups")],
            )
        # Every contact of the organisation, whoever edits: a backup is checked, not shown.
        own = {r.id for r in self._repo.search(org_ids=[org_id], reader=OPERATOR)}
        foreign = [b for b in clean.backups if b not in own]
        if foreign:
            raise InvalidInput(
                f"backup contact {foreign[0]} is not a contact of the same organisation",
                [
                    Problem(
                        "backups must be contacts of the same organisation", index, field="backups"
                    )
                ],
            )
        groups = tuple(sorted({slugs[s] for s in data.groups}))
        return contact_fields(org_id, clean, groups=groups, federation=data.federation)

    def _organisation(self, actor: Principal | None, org_ref: str | None) -> Organisation:
        """The organisation named (name or identity id), or else the actor's own."""
        if org_ref:
            return self._orgs.find(org_ref)
        if actor is None or actor.org is None:
            raise InvalidInput("name the organisation")
        return self._orgs.get(actor.org)

    def add(self, actor: Principal | None, org_ref: str | None, data: ContactInput) -> Contact:
        """Add a contact to an organisation (None: the actor's own); InvalidInput lists every
        bad field."""
        org = self._organisation(actor, org_ref)
        self._may_edit(actor, org.id)
        contact_id = self._repo.add(self._fields(org.id, data), _org_of(actor), self._clock())
        return self.get(actor, contact_id)

    def update(self, actor: Principal | None, contact_id: int, data: ContactInput) -> Contact:
        """Replace a contact's fields; the previous version stays in its history."""
        row = self._visible_row(actor, contact_id)
        self._may_edit(actor, row.org_id, row)
        fields = self._fields(row.org_id, data)
        if contact_id in fields.backups:
            raise InvalidInput("a contact cannot be its own backup")
        self._repo.replace(contact_id, fields, _org_of(actor), self._clock())
        return self.get(actor, contact_id)

    def confirm(self, actor: Principal | None, contact_id: int) -> Contact:
        """Mark a contact as confirmed current today."""
        row = self._visible_row(actor, contact_id)
        self._may_edit(actor, row.org_id, row)
        self._repo.confirm(contact_id, _org_of(actor), self._clock())
        return self.get(actor, contact_id)

    def delete(self, actor: Principal | None, contact_id: int) -> None:
        """Retire a contact; its history is kept."""
        row = self._visible_row(actor, contact_id)
        self._may_edit(actor, row.org_id, row)
        self._repo.retire(contact_id, _org_of(actor), self._clock())

    def import_csv(self, actor: Principal | None, org_ref: str | None, text: str) -> list[Contact]:
        """Add every row of a CSV (header: the export's columns) or, if any row is bad, none.

        The organisation is ``org_ref``, or else the actor's own. Every bad row is reported
        with its row number (1 is the first data row).
        """
        org = self._organisation(actor, org_ref)
        self._may_edit(actor, org.id)
        reader = csv.DictReader(io.StringIO(text))
        missing = [f for f in ("kind", "name") if f not in (reader.fieldnames or [])]
        if missing:
            raise InvalidInput(f"the CSV needs a header row with at least: kind, name ({missing})")
        rows: list[ContactFields] = []
        problems: list[Problem] = []
        for index, record in enumerate(reader, start=1):
            try:
                rows.append(self._fields(org.id, _input(record), index))
            except InvalidInput as exc:
                problems.extend(exc.problems or [Problem(exc.detail, index)])
        if problems:
            raise InvalidInput(
                f"{len({p.index for p in problems})} rows are invalid; nothing was imported",
                problems,
            )
        if not rows:
            raise InvalidInput("the CSV has no data rows")
        added = set(self._repo.add_many(rows, _org_of(actor), self._clock()))
        # What was just added, as stored: the importer may edit them, so may see them.
        stored = self._repo.search(org_ids=[org.id], reader=OPERATOR)
        return self._contacts(r for r in stored if r.id in added)

    # Reading --------------------------------------------------------------------------
    def _visible_row(self, actor: Principal | None, contact_id: int) -> ContactRow:
        return self._repo.get(contact_id, reader=reader_of(actor))

    def get(self, actor: Principal | None, contact_id: int) -> Contact:
        with audited(self.recorder, actor, f"contact:{contact_id}"):
            row = self._visible_row(actor, contact_id)
        return self._contacts([row])[0]

    def search(
        self,
        actor: Principal | None,
        *,
        states: Sequence[str] | None = None,
        kind: str | None = None,
        language: str | None = None,
        org_ids: Sequence[int] | None = None,
    ) -> list[Contact]:
        """Contacts the actor may see, by state (ISO 3166), kind and operational language."""
        try:
            wanted_states = [parse_state(s) for s in states] if states else None
            lang = parse_language(language) if language else None
        except ValueError as exc:
            raise InvalidInput(str(exc)) from None
        rows = self._repo.search(
            org_ids=org_ids, states=wanted_states, kind=kind, reader=reader_of(actor)
        )
        found = self._contacts(r for r in rows if lang is None or lang in r.languages)
        record_read(self.recorder, actor, [f"contact:{c.id}" for c in found])
        return found

    def history(self, actor: Principal | None, contact_id: int) -> list[ContactVersion]:
        """Every version of a contact, oldest first."""
        with audited(self.recorder, actor, f"contact:{contact_id}", "read-history"):
            row = self._repo.get(contact_id, reader=reader_of(actor), deleted=True)
        return [
            ContactVersion(h.version, h.at, h.action, h.actor_org, h.snapshot)
            for h in self._repo.history(row.id)
        ]

    def _contacts(self, rows: Iterable[ContactRow]) -> list[Contact]:
        rows = list(rows)
        orgs = {o.id: o for o in self._orgs.all()}
        slugs = {g.id: g.slug for g in self._groups.all()}
        return [
            Contact(
                id=r.id,
                organisation=orgs[r.org_id].identity_id,
                organisation_name=orgs[r.org_id].name,
                state=r.state,
                kind=r.kind,
                name=r.name,
                role=r.role,
                email=r.email,
                phone=r.phone,
                messaging=r.messaging,
                languages=r.languages,
                timezone=r.timezone,
                public_key=r.public_key,
                backups=r.backups,
                groups=tuple(slugs[g] for g in r.groups if g in slugs),
                last_confirmed=r.last_confirmed,
                version=r.version,
                updated=r.updated,
                federation=r.federation,
                home_node=r.home_node,
                remote_id=r.remote_id,
            )
            for r in rows
        ]


def _org_of(actor: Principal | None) -> int | None:
    return actor.org if actor is not None else None


def _input(record: dict[str, Any]) -> ContactInput:
    def cell(name: str) -> str:
        value = record.get(name)
        return value.strip() if isinstance(value, str) else ""

    return ContactInput(
        kind=cell("kind"),
        name=cell("name"),
        role=cell("role"),
        email=cell("email") or None,
        phone=cell("phone") or None,
        messaging=cell("messaging") or None,
        languages=tuple(x for x in cell("languages").replace(",", " ").split() if x),
        timezone=cell("timezone") or "UTC",
        public_key=cell("public_key") or None,
        groups=tuple(x for x in cell("groups").replace(",", " ").split() if x),
    )


# Exports ------------------------------------------------------------------------------
def _plain(contact: Contact) -> dict[str, Any]:
    data = {k: getattr(contact, k) for k in Contact.__dataclass_fields__}
    for key in ("last_confirmed", "updated"):
        data[key] = data[key].isoformat() if data[key] else None
    return data


def to_json(contacts: Sequence[Contact]) -> bytes:
    return orjson.dumps({"contacts": [_plain(c) for c in contacts]}, option=orjson.OPT_INDENT_2)


CSV_COLUMNS = (
    "id",
    "organisation",
    "organisation_name",
    "state",
    *FIELDS,
    "groups",
    "last_confirmed",
)


def to_csv(contacts: Sequence[Contact]) -> str:
    """One row a contact; lists are space-separated, so the file re-imports as it is."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for c in contacts:
        data = _plain(c)
        writer.writerow(
            [
                " ".join(map(str, v)) if isinstance(v, tuple) else ("" if v is None else v)
                for v in (data[k] for k in CSV_COLUMNS)
            ]
        )
    return buffer.getvalue()


def _vtext(value: str) -> str:
    # RFC 6350 3.4: backslash, comma, semicolon and newline are escaped in text values.
    return value.replace("\\", "\\\\").replace(",", "\\,").replace(";", "\\;").replace("\n", "\\n")


def _fold(line: str) -> str:
    # RFC 6350 3.2: lines over 75 octets are folded with CRLF and one space.
    raw = line.encode()
    if len(raw) <= 75:
        return line
    parts, start = [], 0
    while start < len(raw):
        end = min(start + (75 if start == 0 else 74), len(raw))
        while end < len(raw) and (raw[end] & 0xC0) == 0x80:  # never split a UTF-8 character
            end -= 1
        parts.append(raw[start:end].decode())
        start = end
    return "\r\n ".join(parts)


def to_vcard(contacts: Sequence[Contact]) -> str:
    """vCard 4.0 (RFC 6350), one card a contact."""
    cards: list[str] = []
    for c in contacts:
        lines = [
            "BEGIN:VCARD",
            "VERSION:4.0",
            f"UID:urn:accord:contact:{c.id}",
            f"FN:{_vtext(c.name)}",
            f"N:{_vtext(c.name)};;;;",
            f"ORG:{_vtext(c.organisation_name)}",
            "KIND:" + ("org" if c.kind == ContactKind.DESK_24_7 else "individual"),
        ]
        if c.role:
            lines.append(f"TITLE:{_vtext(c.role)}")
        lines.append(f"CATEGORIES:{_vtext(c.kind)}")
        if c.email:
            lines.append(f"EMAIL;TYPE=work:{c.email}")
        if c.phone:
            lines.append(f"TEL;VALUE=uri;TYPE=voice,work:tel:{c.phone}")
        if c.messaging:
            lines.append(f"IMPP:{_vtext(c.messaging)}")
        for pref, lang in enumerate(c.languages, start=1):
            lines.append(f"LANG;PREF={pref}:{lang}")
        lines.append(f"TZ;VALUE=text:{_vtext(c.timezone)}")
        if c.public_key:
            lines.append(f"KEY;VALUE=text:{_vtext(c.public_key)}")
        lines.append(f"REV:{c.updated.strftime('%Y%m%dT%H%M%SZ')}")
        lines.append("END:VCARD")
        cards.append("\r\n".join(_fold(line) for line in lines) + "\r\n")
    return "".join(cards)
