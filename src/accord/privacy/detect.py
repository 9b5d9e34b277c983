"""Finding personal data in STIX objects: pure, no I/O, built to scan 20,000+ objects/s.

One combined regular expression over each scanned string finds *candidates* (anything
shaped like an e-mail address, a Singapore NRIC/FIN or a run of digits); only those are
validated, with the libraries that know each format:

- e-mail addresses: the shape alone (``local@domain.tld``);
- phone numbers: ``phonenumbers``, parsed in the owner's region (``+`` numbers in any);
- national identity numbers, with their check digits or structure checked by
  ``python-stdnum``: Malaysia MyKad (``my.nric``: birth date and birthplace code; the
  number has no check digit), Thailand's personal ID (``th.pin``, check digit), Indonesia
  NIK (``id.nik``: birth date and region), India Aadhaar (``in_.aadhaar``, Verhoeff),
  Korea RRN (``kr.rrn``: birth date and check digit). Singapore's NRIC/FIN is not in
  stdnum; its published check letter (S/T/F/G series) is checked here. Not validated,
  so not detected: the Philippines' PhilSys/UMID numbers and SG's M-series FIN (no
  library checks them), and every number without a fixed format;
- ``user-account`` objects (unless ``is_service_account``) and ``identity`` objects of
  ``identity_class`` ``individual``: their naming fields are personal as a whole;
- IP addresses only in objects the owner flags with ``x_accord_personal: true``.

Names of people in running text are not found: that needs a language model, and none
may be downloaded. A finding records where (a field path), what kind, and the span;
``Finding.value`` never leaves the node (the transfer log keeps paths and kinds only).
"""

from __future__ import annotations

import bisect
import functools
import ipaddress
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import phonenumbers
from stdnum.id import nik as _id_nik
from stdnum.in_ import aadhaar as _in_aadhaar
from stdnum.kr import rrn as _kr_rrn
from stdnum.my import nric as _my_nric
from stdnum.th import pin as _th_pin

# Kinds of personal data (the transfer log and the preview name these).
EMAIL = "email"
PHONE = "phone"
IP = "ip"
ACCOUNT = "account"
INDIVIDUAL = "individual"
NATIONAL_IDS = ("sg-nric", "my-mykad", "th-pid", "id-nik", "in-aadhaar", "kr-rrn")
KINDS = (EMAIL, PHONE, *NATIONAL_IDS, ACCOUNT, INDIVIDUAL, IP)

# Free text and observable values scanned in every object (lists of strings too).
TEXT_FIELDS = (
    "name",
    "description",
    "abstract",
    "content",
    "explanation",
    "pattern",
    "value",
    "display_name",
    "subject",
    "body",
    "contact_information",
    "aliases",
    "authors",
)
_TEXT = frozenset(TEXT_FIELDS)
# Fields personal as a whole in user-account and individual identity objects.
_ACCOUNT_FIELDS = frozenset(("user_id", "account_login", "display_name", "credential"))
_INDIVIDUAL_FIELDS = frozenset(("name", "contact_information", "description"))
_IP_TYPES = ("ipv4-addr", "ipv6-addr")
PERSONAL_FLAG = "x_accord_personal"

# E-mail addresses are found from each "@" outwards (a pattern starting at every letter
# would be tried at every position); the rest by one pattern whose first characters are rare.
_EMAIL_LEFT = re.compile(r"[A-Za-z0-9][A-Za-z0-9._%+-]{0,63}\Z")
_EMAIL_RIGHT = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}\.)+[A-Za-z]{2,24}(?![A-Za-z0-9-])")
# Starting with a character class lets the engine skip ahead to the rare characters that
# can start a candidate; what may precede one is checked after (``_GLUED``).
_CANDIDATE = re.compile(
    r"[STFG+0-9](?:(?<=[STFG])\d{7}[A-Z](?![A-Za-z0-9])|(?<=[+\d])[\d \-().]{5,22}\d(?!\w))"
)
_DATE = re.compile(r"\d{4}-\d\d-\d\d(?: \d\d)?")
_IP_CANDIDATE = re.compile(
    r"(?<![\w.:])(?:\d{1,3}(?:\.\d{1,3}){3}|[0-9A-Fa-f]{0,4}(?::[0-9A-Fa-f]{0,4}){2,7})(?![\w.:])"
)
_NON_DIGIT = re.compile(r"\D")
_MYKAD_FORM = re.compile(r"\d{6}-\d\d-\d{4}")
_AADHAAR_FORM = re.compile(r"\d{4}[ -]\d{4}[ -]\d{4}")
_RRN_FORM = re.compile(r"\d{6}-\d{7}")
_DOTTED = re.compile(r"\d{1,3}(?:\.\d{1,3}){3}")  # an IPv4 address, not a phone
_SG_WEIGHTS = (2, 7, 6, 5, 4, 3, 2)
_SG_LETTERS = {"S": "JZIHGFEDCBA", "T": "JZIHGFEDCBA", "F": "XWUTRQPNMLK", "G": "XWUTRQPNMLK"}


@dataclass(frozen=True, slots=True)
class Finding:
    """One piece of personal data: the field path, its kind, the span and the value."""

    path: str
    kind: str
    start: int
    end: int
    value: str


def sg_nric_valid(number: str) -> bool:
    """Singapore NRIC/FIN (S, T, F, G series): the published weights and check letters."""
    if len(number) != 9 or number[0] not in _SG_LETTERS or not number[1:8].isdigit():
        return False
    total = sum(int(d) * w for d, w in zip(number[1:8], _SG_WEIGHTS, strict=True))
    if number[0] in "TG":
        total += 4
    return _SG_LETTERS[number[0]][total % 11] == number[8]


@functools.lru_cache(maxsize=65536)
def _digits_kind(text: str, region: str | None) -> str | None:
    """What a run of digits is: a national id (validated), a phone number, or nothing."""
    digits = _NON_DIGIT.sub("", text)
    n = len(digits)
    plus = text.startswith("+")
    if not plus:
        # Where two formats share a length, the way it is written (MyKad 6-2-4, RRN 6-7)
        # decides which check comes first.
        if n == 12:
            if _MYKAD_FORM.fullmatch(text) or not _AADHAAR_FORM.fullmatch(text):
                order = (("my-mykad", _my_nric), ("in-aadhaar", _in_aadhaar))
            else:
                order = (("in-aadhaar", _in_aadhaar), ("my-mykad", _my_nric))
            for kind, scheme in order:
                if scheme.is_valid(digits):
                    return kind
        elif n == 13:
            if _RRN_FORM.fullmatch(text):
                order = (("kr-rrn", _kr_rrn), ("th-pid", _th_pin))
            else:
                order = (("th-pid", _th_pin), ("kr-rrn", _kr_rrn))
            for kind, scheme in order:
                if scheme.is_valid(digits):
                    return kind
        elif n == 16 and _id_nik.is_valid(digits):
            return "id-nik"
    if n < 7 or n > 15 or _DOTTED.fullmatch(text):
        return None
    try:
        number = phonenumbers.parse(text, None if plus else region)
    except phonenumbers.NumberParseException:
        return None
    return PHONE if phonenumbers.is_valid_number(number) else None


def scan_text(text: str, path: str, region: str | None, found: list[Finding]) -> None:
    """Append the personal data in ``text`` (the field at ``path``) to ``found``."""
    for start, end, kind in spans(text, region):
        found.append(Finding(path, kind, start, end, text[start:end]))


def spans(text: str, region: str | None) -> list[tuple[int, int, str]]:
    """(start, end, kind) of each piece of personal data in ``text``, in order."""
    out: list[tuple[int, int, str]] = []
    at = text.find("@")
    while at > 0:
        left = _EMAIL_LEFT.search(text, max(0, at - 64), at)
        right = _EMAIL_RIGHT.match(text, at + 1) if left else None
        # Addresses under .invalid (RFC 2606) are no one's: this module's own markers.
        if left and right and not right.group().lower().endswith(".invalid"):
            out.append((left.start(), right.end(), EMAIL))
        at = text.find("@", at + 1)
    for match in _CANDIDATE.finditer(text):
        value = match.group()
        start = match.start()
        before = text[start - 1] if start else " "
        if value[0] in "STFG":
            if before.isalnum():
                continue
            kind: str | None = "sg-nric" if sg_nric_valid(value) else None
        elif before.isalnum() or before in "_.+-" or _DATE.fullmatch(value):
            continue
        else:
            kind = _digits_kind(value, region)
        if kind is not None:
            out.append((match.start(), match.end(), kind))
    if len(out) > 1:
        out.sort()
    return out


def _ip_spans(text: str) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for match in _IP_CANDIDATE.finditer(text):
        try:
            ipaddress.ip_address(match.group())
        except ValueError:
            continue
        out.append((match.start(), match.end()))
    return out


def _strings(obj: dict[str, Any], fields: frozenset[str]) -> Iterator[tuple[str, str]]:
    for key, value in obj.items():  # an object has fewer keys than there are fields
        if key not in fields:
            continue
        if isinstance(value, str):
            yield key, value
        elif isinstance(value, list):
            for i, item in enumerate(value):
                if isinstance(item, str):
                    yield f"{key}[{i}]", item


def scan(obj: dict[str, Any], region: str | None = None) -> list[Finding]:
    """Every piece of personal data in one STIX object (``region``: the owner's state)."""
    found: list[Finding] = []
    kind = obj.get("type")
    whole: frozenset[str] = frozenset()
    whole_kind = ""
    if kind == "user-account" and obj.get("is_service_account") is not True:
        whole, whole_kind = _ACCOUNT_FIELDS, ACCOUNT
    elif kind == "identity" and obj.get("identity_class") == "individual":
        whole, whole_kind = _INDIVIDUAL_FIELDS, INDIVIDUAL
    for path, value in _strings(obj, whole):
        if value:
            found.append(Finding(path, whole_kind, 0, len(value), value))
    personal = obj.get(PERSONAL_FLAG) is True
    covered = {f.path for f in found}
    fields = [(p, v) for p, v in _strings(obj, _TEXT) if p not in covered]
    if personal and kind in _IP_TYPES:
        for path, value in fields:
            if path == "value":
                found.append(Finding(path, IP, 0, len(value), value))
        fields = [(p, v) for p, v in fields if p != "value"]
    if not fields:
        return found
    # One pass over every field joined by newlines (no candidate spans a newline), then
    # each span mapped back to its field.
    joined = "\n".join(v for _, v in fields)
    hits = spans(joined, region)
    if personal:
        hits += [(s, e, IP) for s, e in _ip_spans(joined)]
    if hits:
        offsets: list[int] = []
        at = 0
        for _, value in fields:
            offsets.append(at)
            at += len(value) + 1
        for start, end, what in hits:
            i = bisect.bisect_right(offsets, start) - 1
            path, value = fields[i]
            base = offsets[i]
            if end - base > len(value):
                continue
            found.append(
                Finding(path, what, start - base, end - base, value[start - base : end - base])
            )
    return found


def kinds_of(findings: list[Finding]) -> list[tuple[str, str]]:
    """(path, kind) of each finding, sorted and without values: what a log may keep."""
    return sorted({(f.path, f.kind) for f in findings})
