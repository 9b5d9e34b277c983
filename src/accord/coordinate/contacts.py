"""A point of contact as entered, and the checks that make it usable: pure, no I/O.

Phone numbers are stored in E.164, e-mail addresses normalised, languages as ISO 639-1
and time zones as IANA names, so a directory entry works for a caller in any state.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from functools import cache
from typing import Any
from zoneinfo import available_timezones

import phonenumbers
from email_validator import EmailNotValidError, validate_email

from accord.coordinate.taxonomy import parse_language
from accord.errors import InvalidInput, Problem


class ContactKind(StrEnum):
    """Values are persisted: never rename them."""

    DIPLOMATIC = "diplomatic"
    TECHNICAL = "technical"
    POLICY = "policy"
    LAW_ENFORCEMENT = "law-enforcement"
    DESK_24_7 = "24-7-desk"


# The fields of a contact, in the order of the CSV export and import.
FIELDS = (
    "kind",
    "name",
    "role",
    "email",
    "phone",
    "messaging",
    "languages",
    "timezone",
    "public_key",
)


@dataclass(frozen=True, slots=True)
class ContactInput:
    """What a person enters; ``clean()`` checks it all and reports every problem at once."""

    kind: str
    name: str
    role: str = ""
    email: str | None = None
    phone: str | None = None
    messaging: str | None = None
    languages: tuple[str, ...] = ()
    timezone: str = "UTC"
    public_key: str | None = None
    groups: tuple[str, ...] = ()  # sharing-group slugs that may see it; empty: the whole node
    backups: tuple[int, ...] = ()
    federation: bool = False  # travels to every peer node, read-only there

    def clean(self, index: int | None = None) -> CleanContact:
        """The checked fields, or InvalidInput listing each bad one (``index``: the CSV row)."""
        problems: list[Problem] = []

        def bad(name: str, reason: str) -> None:
            problems.append(Problem(reason=reason, index=index, field=name))

        kind = ContactKind.TECHNICAL  # only read when there is no problem
        try:
            kind = ContactKind(self.kind.strip().lower())
        except ValueError:
            bad("kind", f"unknown kind {self.kind!r}; use one of: {_kinds()}")
        name = self.name.strip()
        if not name or len(name) > 200:
            bad("name", "a contact needs a person or desk name of at most 200 characters")
        email = _email(self.email, bad)
        phone = _phone(self.phone, bad)
        messaging = (self.messaging or "").strip()[:200] or None
        if not (email or phone or messaging):
            bad("email", "a contact needs at least one channel: e-mail, phone or messaging")
        langs: list[str] = []
        for code in self.languages:
            try:
                langs.append(parse_language(code))
            except ValueError as exc:
                bad("languages", str(exc))
        if not langs and not any(p.field == "languages" for p in problems):
            bad("languages", "name at least one operational language (ISO 639-1, e.g. 'en')")
        zone = self.timezone.strip()
        if zone not in _zones():
            bad("timezone", f"unknown time zone {zone!r}; use an IANA name like 'Asia/Singapore'")
        if problems:
            raise InvalidInput("the contact has invalid fields; correct them", problems)
        return CleanContact(
            kind=kind,
            name=name,
            role=self.role.strip()[:200],
            email=email,
            phone=phone,
            messaging=messaging,
            languages=tuple(sorted(set(langs))),
            timezone=zone,
            public_key=(self.public_key or "").strip() or None,
            backups=tuple(sorted(set(self.backups))),
        )


@dataclass(frozen=True, slots=True)
class CleanContact:
    """A contact's own fields, checked and normalised (its groups are the directory's)."""

    kind: ContactKind
    name: str
    role: str
    email: str | None
    phone: str | None
    messaging: str | None
    languages: tuple[str, ...]
    timezone: str
    public_key: str | None
    backups: tuple[int, ...]


def _kinds() -> str:
    return ", ".join(k.value for k in ContactKind)


@cache
def _zones() -> frozenset[str]:
    return frozenset(available_timezones())


def _email(raw: str | None, bad: Any) -> str | None:
    if raw is None or not raw.strip():
        return None
    try:
        return validate_email(raw.strip(), check_deliverability=False).normalized
    except EmailNotValidError as exc:
        bad("email", f"invalid e-mail address {raw!r}: {exc}")
        return None


def _phone(raw: str | None, bad: Any) -> str | None:
    if raw is None or not raw.strip():
        return None
    try:
        number = phonenumbers.parse(raw.strip(), None)
    except phonenumbers.NumberParseException:
        bad("phone", f"invalid phone number {raw!r}: write it in E.164, e.g. +6561234567")
        return None
    if not phonenumbers.is_valid_number(number):
        bad("phone", f"invalid phone number {raw!r}: no such number in its country's plan")
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
