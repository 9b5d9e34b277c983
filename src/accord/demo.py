"""A demo region: national CERTs of states in the 2018 statements, groups, and threat data.

Deterministic (seeded), so two demo nodes hold the same picture. Network values are
drawn from the ranges and names reserved for documentation (RFC 5737, RFC 3849,
RFC 2606), so nothing in the demo points at a real system.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from accord.domain.model import Principal, Role
from accord.domain.scope import ALLOWED_SCOPES, Scope
from accord.domain.stix import format_timestamp
from accord.domain.tlp import MARKING_IDS, TLP
from accord.exchange.service import ShareRequest
from accord.node import Node


@dataclass(frozen=True, slots=True)
class DemoOrg:
    name: str
    kind: str
    state: str | None


ORGANISATIONS = (
    DemoOrg("SingCERT", "national-cert", "SG"),
    DemoOrg("MyCERT", "national-cert", "MY"),
    DemoOrg("ID-SIRTII", "national-cert", "ID"),
    DemoOrg("ThaiCERT", "national-cert", "TH"),
    DemoOrg("CERT-PH", "national-cert", "PH"),
    DemoOrg("VNCERT", "national-cert", "VN"),
    DemoOrg("RU-CERT", "national-cert", "RU"),
    DemoOrg("US-CERT", "national-cert", "US"),
    DemoOrg("JPCERT/CC", "national-cert", "JP"),
    DemoOrg("Singapore Ministry of Foreign Affairs", "foreign-ministry", "SG"),
    DemoOrg("Straits Telecom", "private-sector", "SG"),
    DemoOrg("Kuala Lumpur Institute of Cyber Security", "academia", "MY"),
)

ASEAN = ("SingCERT", "MyCERT", "ID-SIRTII", "ThaiCERT", "CERT-PH", "VNCERT")
GROUPS: dict[str, tuple[str, tuple[str, ...]]] = {
    "asean-national-certs": ("ASEAN national CERTs", ASEAN),
    "arf-ism-ict": ("ARF ISM on ICTs", (*ASEAN, "RU-CERT", "US-CERT", "JPCERT/CC")),
    "eas": ("East Asia Summit", (*ASEAN, "RU-CERT", "US-CERT", "JPCERT/CC")),
    "asean-russia": ("ASEAN–Russia dialogue", (*ASEAN, "RU-CERT")),
    "asean-us": ("ASEAN–US dialogue", (*ASEAN, "US-CERT")),
}

_WORDS = (
    "secure",
    "login",
    "update",
    "portal",
    "mail",
    "verify",
    "cloud",
    "account",
    "bank",
    "gov",
    "service",
    "sync",
    "cdn",
    "auth",
    "office",
    "support",
    "docs",
    "vpn",
)
_FAMILIES = ("ShadowPad", "PlugX", "Cobalt Strike", "Emotet", "QakBot", "LockBit", "AsyncRAT")
_ACTORS = ("Tidal Lynx", "Monsoon Heron", "Paper Kite", "Copper Junk", "Silent Typhoon")
_SECTORS = ("energy", "finance", "telecommunications", "government", "transportation", "health")


def _address(rng: random.Random) -> str:
    net = rng.choice(("192.0.2", "198.51.100", "203.0.113"))
    return f"{net}.{rng.randrange(1, 255)}"


def _domain(rng: random.Random) -> str:
    return f"{rng.choice(_WORDS)}-{rng.choice(_WORDS)}{rng.randrange(100)}.example"


def _indicator(rng: random.Random, creator: str, when: datetime) -> dict[str, Any]:
    kind = rng.choices(("ipv4", "domain", "url", "sha256", "ipv6"), (40, 30, 10, 15, 5))[0]
    if kind == "ipv4":
        value = _address(rng)
        pattern, name = f"[ipv4-addr:value = '{value}']", f"C2 server {value}"
    elif kind == "ipv6":
        value = f"2001:db8:{rng.randrange(65536):x}::{rng.randrange(65536):x}"
        pattern, name = f"[ipv6-addr:value = '{value}']", f"Scanner {value}"
    elif kind == "domain":
        value = _domain(rng)
        pattern, name = f"[domain-name:value = '{value}']", f"Phishing domain {value}"
    elif kind == "url":
        value = f"https://{_domain(rng)}/{rng.choice(_WORDS)}/{rng.randrange(10**6)}"
        pattern, name = f"[url:value = '{value}']", "Malicious download URL"
    else:
        value = f"{rng.getrandbits(256):064x}"
        family = rng.choice(_FAMILIES)
        pattern, name = f"[file:hashes.'SHA-256' = '{value}']", f"{family} sample"
    stamp = format_timestamp(when)
    return {
        "type": "indicator",
        "spec_version": "2.1",
        "id": f"indicator--{uuid.UUID(int=rng.getrandbits(128), version=4)}",
        "created_by_ref": creator,
        "created": stamp,
        "modified": stamp,
        "name": name,
        "description": f"Observed targeting the {rng.choice(_SECTORS)} sector.",
        "indicator_types": ["malicious-activity"],
        "pattern": pattern,
        "pattern_type": "stix",
        "valid_from": stamp,
    }


def _sdo(
    rng: random.Random, kind: str, creator: str, when: datetime, **extra: Any
) -> dict[str, Any]:
    stamp = format_timestamp(when)
    return {
        "type": kind,
        "spec_version": "2.1",
        "id": f"{kind}--{uuid.UUID(int=rng.getrandbits(128), version=4)}",
        "created_by_ref": creator,
        "created": stamp,
        "modified": stamp,
        **extra,
    }


def _bundle(rng: random.Random, creator: str, when: datetime, size: int) -> list[dict[str, Any]]:
    """One incident's worth of objects: indicators, a malware or actor, a report tying them."""
    indicators = [_indicator(rng, creator, when) for _ in range(max(1, size - 3))]
    family = rng.choice(_FAMILIES)
    malware = _sdo(rng, "malware", creator, when, name=family, is_family=True)
    actor = _sdo(
        rng, "intrusion-set", creator, when, name=rng.choice(_ACTORS), description="Regional APT."
    )
    report = _sdo(
        rng,
        "report",
        creator,
        when,
        name=f"{family} activity against the {rng.choice(_SECTORS)} sector",
        published=format_timestamp(when),
        report_types=["threat-report"],
        object_refs=[o["id"] for o in (*indicators, malware, actor)],
    )
    return [*indicators, malware, actor, report][:size]


def _distribution(rng: random.Random, member_of: list[str], others: list[str]) -> ShareRequest:
    tlp = rng.choices(list(TLP), (10, 45, 25, 10, 10))[0]
    choices = sorted(ALLOWED_SCOPES[tlp] - ({Scope.GROUP} if not member_of else set()))
    scope = rng.choice(choices)
    return ShareRequest(
        tlp=tlp,
        scope=scope,
        recipients=tuple(rng.sample(others, 2)) if scope is Scope.RECIPIENTS else (),
        group=rng.choice(member_of) if scope is Scope.GROUP else None,
    )


def seed_region(node: Node, objects: int, advance: Callable[[int], None]) -> None:
    """Create the demo organisations and groups, then share ``objects`` STIX objects."""
    orgs = {o.name: node.accounts.add_org(None, o.name, o.kind, o.state) for o in ORGANISATIONS}
    for slug, (title, members) in GROUPS.items():
        node.accounts.add_group(None, slug, title, f"Demo: {title}")
        for member in members:
            node.accounts.set_member(None, slug, member, member=True)
    rng = random.Random(2018)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    names = list(orgs)
    left = objects
    while left > 0:
        sharer = orgs[rng.choice(names)]
        groups = node.accounts.groups.of_org(sharer.id)
        member_of = [g.slug for g in node.accounts.groups.all() if g.id in groups]
        principal = Principal(org=sharer.id, role=Role.ANALYST, groups=groups)
        when = start + timedelta(minutes=rng.randrange(300 * 24 * 60))
        bundle = _bundle(rng, sharer.identity_id, when, min(left, rng.randrange(4, 40)))
        request = _distribution(rng, member_of, [n for n in names if n != sharer.name])
        marked = rng.random() < 0.5 and request.tlp is not None
        for obj in bundle:
            if marked and request.tlp is not None:
                obj["object_marking_refs"] = [MARKING_IDS[request.tlp]]
        payload = {"type": "bundle", "id": f"bundle--{uuid.uuid4()}", "objects": bundle}
        node.exchange.ingest(principal, payload, request)
        left -= len(bundle)
        advance(len(bundle))
