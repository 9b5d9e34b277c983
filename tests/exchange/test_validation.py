"""``validate_objects`` must give the same verdict as the OASIS stix2-validator.

The reference verdict is ``stix2validator.validate_instance(obj,
ValidationOptions(version="2.1")).is_valid``; when stix2-validator raises on an input (it
does for non-objects, objects without ``id``/``type`` and a few malformed shapes) the
object counts as rejected, which is what a node relying on it would do.  Three kinds of
input are refused on purpose although stix2-validator accepts them (see the module
docstring of ``accord.exchange.validation``); ``reference_valid`` applies that policy
explicitly so every other disagreement still fails a test.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from stix2validator import ValidationOptions, validate_instance
from stix2validator.v21 import enums

from accord.exchange.validation import ValidationIssue, validate_objects

OPTIONS = ValidationOptions(version="2.1")

# Policy refusals: stix2-validator would accept these (if otherwise well formed).
FRAGMENT_TYPES = {
    "binary",
    "dictionary",
    "extension",
    "external-reference",
    "granular-marking",
    "hashes-type",
    "hex",
    "identifier",
    "kill-chain-phase",
    "properties",
    "timestamp",
    "url-regex",
}


def refused_by_policy(obj: Any) -> bool:
    if not isinstance(obj, dict):
        return False
    otype = obj.get("type")
    spec = obj.get("spec_version")
    return (
        otype == "bundle"
        or (isinstance(otype, str) and otype in FRAGMENT_TYPES)
        or (isinstance(spec, str) and spec != "2.1")
    )


def stix2_validator_says_valid(obj: Any) -> bool:
    try:
        return bool(validate_instance(obj, OPTIONS).is_valid)
    except Exception:
        return False


def reference_valid(obj: Any) -> bool:
    return stix2_validator_says_valid(obj) and not refused_by_policy(obj)


def ours_valid(obj: Any) -> bool:
    return validate_objects([obj]) == []


# --------------------------------------------------------------------------------------
# Builders

CREATED = "2024-03-01T10:00:00.000Z"
MODIFIED = "2024-03-02T11:30:00.000Z"
IDENTITY_ID = "identity--311b2d2d-f010-4473-83ec-1edf84858f4c"
TLP = {
    "white": "marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc9",
    "green": "marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da",
    "amber": "marking-definition--f88d31f6-486f-44da-b317-01333bde0b82",
    "red": "marking-definition--5e57c739-391a-4eb3-b6be-7d15ca92d5ed",
}
SHA256 = "4bac27393bdd9777ce02453256c5577cd02275510b2227f473d03f533924f877"


def new_id(otype: str, version: int = 4) -> str:
    value = uuid.uuid4() if version == 4 else uuid.uuid5(uuid.NAMESPACE_URL, otype)
    return f"{otype}--{value}"


def sdo(otype: str, **props: Any) -> dict[str, Any]:
    obj: dict[str, Any] = {
        "type": otype,
        "spec_version": "2.1",
        "id": new_id(otype),
        "created": CREATED,
        "modified": MODIFIED,
    }
    obj.update(props)
    return obj


def sco(otype: str, **props: Any) -> dict[str, Any]:
    obj: dict[str, Any] = {"type": otype, "spec_version": "2.1", "id": new_id(otype)}
    obj.update(props)
    return obj


def indicator(pattern: Any = "[ipv4-addr:value = '198.51.100.1']", **props: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "name": "C2 address",
        "indicator_types": ["malicious-activity"],
        "pattern": pattern,
        "pattern_type": "stix",
        "valid_from": "2024-03-01T00:00:00Z",
    }
    base.update(props)
    return sdo("indicator", **base)


def without(obj: dict[str, Any], *keys: str) -> dict[str, Any]:
    return {k: v for k, v in obj.items() if k not in keys}


def tlp_marking(colour: str, **changes: Any) -> dict[str, Any]:
    obj: dict[str, Any] = {
        "type": "marking-definition",
        "spec_version": "2.1",
        "id": TLP[colour],
        "created": "2017-01-20T00:00:00.000Z",
        "definition_type": "tlp",
        "name": f"TLP:{colour.upper()}",
        "definition": {"tlp": colour},
    }
    obj.update(changes)
    return obj


def statement_marking(**changes: Any) -> dict[str, Any]:
    obj: dict[str, Any] = {
        "type": "marking-definition",
        "spec_version": "2.1",
        "id": new_id("marking-definition"),
        "created": CREATED,
        "definition_type": "statement",
        "definition": {"statement": "Copyright 2024, Regional CERT"},
    }
    obj.update(changes)
    return obj


EXTENSION_ID = "extension-definition--d83fce45-ef58-4c6c-a3f4-1fbc32e98c6e"

Case = tuple[str, Callable[[], Any], bool]

GOOD: list[Case] = [
    ("indicator-ipv4", lambda: indicator(), True),
    ("indicator-domain", lambda: indicator("[domain-name:value = 'evil.example.com']"), True),
    ("indicator-url", lambda: indicator("[url:value = 'http://evil.example.com/x?a=1&b=2']"), True),
    ("indicator-sha256", lambda: indicator(f"[file:hashes.'SHA-256' = '{SHA256}']"), True),
    (
        "indicator-md5",
        lambda: indicator("[file:hashes.MD5 = 'd41d8cd98f00b204e9800998ecf8427e']"),
        True,
    ),
    (
        "indicator-and-or",
        lambda: indicator(
            "[ipv4-addr:value = '203.0.113.5' OR ipv4-addr:value = '203.0.113.6' "
            "AND domain-name:value != 'ok.example']"
        ),
        True,
    ),
    (
        "indicator-followedby",
        lambda: indicator(
            "[email-addr:value = 'a@example.com'] FOLLOWEDBY [url:value LIKE 'http://%']"
        ),
        True,
    ),
    (
        "indicator-qualified",
        lambda: indicator(
            "([network-traffic:dst_port = 443 AND network-traffic:dst_ref.value = '10.0.0.1']"
            " REPEATS 5 TIMES) WITHIN 300 SECONDS"
        ),
        True,
    ),
    (
        "indicator-matches-escape",
        lambda: indicator(r"[file:name MATCHES '^evil\\.exe$' AND file:name = 'it\'s']"),
        True,
    ),
    ("indicator-custom-sco", lambda: indicator("[x-acme-widget:serial = 'W-1']"), True),
    (
        "indicator-full",
        lambda: indicator(
            created_by_ref=IDENTITY_ID,
            valid_until="2025-03-01T00:00:00Z",
            kill_chain_phases=[{"kill_chain_name": "lockheed-martin", "phase_name": "c2"}],
            external_references=[{"source_name": "acme", "url": "https://acme.example/r/1"}],
            object_marking_refs=[TLP["amber"]],
            labels=["apt"],
            confidence=80,
            lang="en",
            description="Seen in phishing wave.",
            revoked=False,
        ),
        True,
    ),
    (
        "indicator-sigma",
        lambda: indicator("title: x\ndetection: {}", pattern_type="sigma"),
        True,
    ),
    # pattern_type is case-sensitive: only "stix" patterns are parsed.
    ("indicator-STIX-type-unparsed", lambda: indicator("not a pattern", pattern_type="STIX"), True),
    ("indicator-pattern-version", lambda: indicator(pattern_version="2.1"), True),
    # jsonschema counts 80.0 as an integer.
    ("indicator-float-confidence", lambda: indicator(confidence=80.0), True),
    ("malware", lambda: sdo("malware", name="BlackEnergy", is_family=True), True),
    (
        "malware-seen",
        lambda: sdo(
            "malware",
            is_family=False,
            first_seen="2024-01-01T00:00:00Z",
            last_seen="2024-01-01T00:00:00Z",
        ),
        True,
    ),
    (
        "report",
        lambda: sdo(
            "report",
            name="Q1",
            published="2024-03-05T00:00:00Z",
            object_refs=[new_id("indicator"), new_id("malware")],
            report_types=["threat-report"],
        ),
        True,
    ),
    (
        "identity",
        lambda: sdo("identity", name="Regional CERT", identity_class="organization"),
        True,
    ),
    (
        "sighting",
        lambda: sdo(
            "sighting",
            sighting_of_ref=new_id("indicator"),
            where_sighted_refs=[IDENTITY_ID],
            count=3,
            first_seen="2024-03-01T00:00:00Z",
            last_seen="2024-03-02T00:00:00Z",
        ),
        True,
    ),
    (
        "relationship",
        lambda: sdo(
            "relationship",
            relationship_type="indicates",
            source_ref=new_id("indicator"),
            target_ref=new_id("malware"),
            start_time="2024-03-01T00:00:00Z",
            stop_time="2024-03-02T00:00:00Z",
        ),
        True,
    ),
    ("tlp-white", lambda: tlp_marking("white"), True),
    ("tlp-green", lambda: tlp_marking("green"), True),
    ("tlp-amber", lambda: tlp_marking("amber"), True),
    ("tlp-red", lambda: tlp_marking("red"), True),
    ("statement-marking", lambda: statement_marking(), True),
    (
        "observed-data-refs",
        lambda: sdo(
            "observed-data",
            first_observed="2024-03-01T00:00:00Z",
            last_observed="2024-03-01T01:00:00Z",
            number_observed=4,
            object_refs=[new_id("ipv4-addr")],
        ),
        True,
    ),
    (
        "observed-data-embedded-with-ids",
        lambda: sdo(
            "observed-data",
            first_observed="2024-03-01T00:00:00Z",
            last_observed="2024-03-01T01:00:00Z",
            number_observed=1,
            objects={"0": {"type": "ipv4-addr", "id": new_id("ipv4-addr"), "value": "10.1.1.1"}},
        ),
        True,
    ),
    (
        "attack-pattern",
        lambda: sdo(
            "attack-pattern",
            name="Spearphishing",
            external_references=[{"source_name": "capec", "external_id": "CAPEC-163"}],
        ),
        True,
    ),
    (
        "vulnerability",
        lambda: sdo(
            "vulnerability",
            name="CVE-2021-44228",
            external_references=[{"source_name": "cve", "external_id": "CVE-2021-44228"}],
        ),
        True,
    ),
    ("campaign", lambda: sdo("campaign", name="Winter", objective="espionage"), True),
    (
        "threat-actor",
        lambda: sdo("threat-actor", name="APT-X", threat_actor_types=["nation-state"]),
        True,
    ),
    ("intrusion-set", lambda: sdo("intrusion-set", name="Set-1", aliases=["S1"]), True),
    ("tool", lambda: sdo("tool", name="mimikatz", tool_types=["credential-exploitation"]), True),
    ("course-of-action", lambda: sdo("course-of-action", name="Block the address"), True),
    ("note", lambda: sdo("note", content="Seen twice.", object_refs=[new_id("indicator")]), True),
    ("opinion", lambda: sdo("opinion", opinion="agree", object_refs=[new_id("report")]), True),
    (
        "grouping",
        lambda: sdo("grouping", context="suspicious-activity", object_refs=[new_id("indicator")]),
        True,
    ),
    ("incident", lambda: sdo("incident", name="Ransomware at hospital"), True),
    ("location", lambda: sdo("location", region="northern-europe"), True),
    ("location-coordinates", lambda: sdo("location", latitude=59.4, longitude=24.7), True),
    (
        "infrastructure",
        lambda: sdo("infrastructure", name="C2 farm", infrastructure_types=["command-and-control"]),
        True,
    ),
    ("ipv4-addr", lambda: sco("ipv4-addr", value="198.51.100.7"), True),
    ("ipv4-addr-cidr", lambda: sco("ipv4-addr", value="198.51.100.0/24"), True),
    ("ipv6-addr", lambda: sco("ipv6-addr", value="2001:db8::1"), True),
    ("domain-name", lambda: sco("domain-name", value="evil.example.com"), True),
    ("url", lambda: sco("url", value="https://evil.example.com/login"), True),
    ("email-addr", lambda: sco("email-addr", value="phisher@example.com"), True),
    ("file", lambda: sco("file", name="dropper.exe", hashes={"SHA-256": SHA256}, size=1024), True),
    (
        "network-traffic",
        lambda: sco(
            "network-traffic",
            protocols=["tcp"],
            dst_ref=new_id("ipv4-addr"),
            dst_port=443,
            start="2024-03-01T00:00:00Z",
            end="2024-03-01T00:01:00Z",
        ),
        True,
    ),
    (
        "software-cpe",
        lambda: sco("software", name="x", cpe="cpe:2.3:a:acme:x:1.0:*:*:*:*:*:*:*"),
        True,
    ),
    ("process-uuid4", lambda: sco("process", pid=42), True),
    ("custom-sdo", lambda: sdo("x-acme-campaign-note", x_acme_text="hello"), True),
    ("custom-sco", lambda: sco("x-acme-widget", serial="W-1"), True),
    (
        "file-extensions",
        lambda: sco(
            "file",
            name="setup.exe",
            name_enc="UTF-8",
            ctime="2024-03-01T00:00:00Z",
            extensions={
                "windows-pebinary-ext": {
                    "pe_type": "exe",
                    "time_date_stamp": "2024-02-29T12:00:00Z",
                    "sections": [{"name": ".text", "hashes": {"SHA-256": SHA256}}],
                },
                "ntfs-ext": {"alternate_data_streams": [{"name": "zone", "size": 26}]},
            },
        ),
        True,
    ),
    (
        "x509-certificate",
        lambda: sco(
            "x509-certificate",
            serial_number="36:f7:d4:32:f4:ab:70:ea",
            validity_not_before="2024-01-01T00:00:00Z",
            validity_not_after="2025-01-01T00:00:00Z",
            x509_v3_extensions={
                "private_key_usage_period_not_before": "2024-01-01T00:00:00Z",
                "private_key_usage_period_not_after": "2024-12-31T00:00:00Z",
            },
        ),
        True,
    ),
    (
        "user-account",
        lambda: sco(
            "user-account",
            user_id="1001",
            account_login="jdoe",
            account_type="unix",
            account_created="2024-01-01T00:00:00Z",
            account_last_login="2024-03-01T00:00:00Z",
        ),
        True,
    ),
    (
        "email-message",
        lambda: sco(
            "email-message",
            is_multipart=True,
            subject="Invoice",
            date="2024-03-01T08:00:00Z",
            body_multipart=[{"content_type": "text/plain", "body": "Pay now"}],
        ),
        True,
    ),
    (
        "artifact",
        lambda: sco("artifact", mime_type="application/zip", payload_bin="UEsDBBQ="),
        True,
    ),
    ("directory", lambda: sco("directory", path="C:\\Temp", path_enc="UTF-8"), True),
    (
        "network-traffic-http",
        lambda: sco(
            "network-traffic",
            src_ref=new_id("ipv4-addr"),
            protocols=["ipv4", "tcp", "http"],
            extensions={
                "http-request-ext": {
                    "request_method": "get",
                    "request_value": "/download",
                    "request_header": {"Host": ["evil.example.com"]},
                }
            },
        ),
        True,
    ),
    (
        "extension-definition",
        lambda: sdo(
            "extension-definition",
            id=EXTENSION_ID,
            created_by_ref=IDENTITY_ID,
            name="acme-score",
            schema="https://acme.example/schema.json",
            version="1.0",
            extension_types=["property-extension"],
        ),
        True,
    ),
    (
        "indicator-with-extension",
        lambda: indicator(
            extensions={EXTENSION_ID: {"extension_type": "property-extension", "score": 7}}
        ),
        True,
    ),
    (
        "language-content",
        lambda: sdo(
            "language-content",
            object_ref=new_id("report"),
            object_modified=MODIFIED,
            contents={"fr": {"name": "Rapport"}},
        ),
        True,
    ),
    (
        "granular-marking",
        lambda: indicator(granular_markings=[{"marking_ref": TLP["red"], "selectors": ["name"]}]),
        True,
    ),
    # stix2-validator's regexes end in "$", which also matches before a final newline.
    ("quirk-id-trailing-newline", lambda: indicator(id=new_id("indicator") + "\n"), True),
    ("quirk-modified-trailing-newline", lambda: indicator(modified=MODIFIED + "\n"), True),
]

BAD: list[Case] = [
    ("not-an-object-list", lambda: ["indicator"], False),
    ("not-an-object-string", lambda: "indicator", False),
    ("not-an-object-null", lambda: None, False),
    ("empty-object", dict, False),
    ("missing-type", lambda: without(indicator(), "type"), False),
    ("missing-id", lambda: without(indicator(), "id"), False),
    ("missing-pattern", lambda: without(indicator(), "pattern"), False),
    ("missing-pattern-type", lambda: without(indicator(), "pattern_type"), False),
    ("missing-valid-from", lambda: without(indicator(), "valid_from"), False),
    ("missing-spec-version", lambda: without(indicator(), "spec_version"), False),
    ("missing-created", lambda: without(indicator(), "created"), False),
    ("malware-missing-is-family", lambda: sdo("malware", name="x"), False),
    (
        "relationship-missing-target",
        lambda: sdo("relationship", relationship_type="uses", source_ref=new_id("malware")),
        False,
    ),
    ("identity-missing-name", lambda: sdo("identity"), False),
    ("bad-id-short-uuid", lambda: indicator(id="indicator--1234"), False),
    ("bad-id-single-dash", lambda: indicator(id="indicator-" + str(uuid.uuid4())), False),
    (
        "bad-id-uuid-variant",
        lambda: indicator(id="indicator--8e2e2d2b-17d4-4cbf-c38f-98ee46b3cd3f"),
        False,
    ),
    ("bad-id-type-mismatch", lambda: indicator(id=new_id("malware")), False),
    ("bad-id-number", lambda: indicator(id=12), False),
    ("bad-created-by-ref", lambda: indicator(created_by_ref="identity"), False),
    ("bad-timestamp-month", lambda: indicator(valid_from="2024-13-01T00:00:00Z"), False),
    ("bad-timestamp-feb-30", lambda: indicator(valid_from="2024-02-30T00:00:00Z"), False),
    ("bad-timestamp-feb-29-2023", lambda: indicator(valid_from="2023-02-29T00:00:00Z"), False),
    ("bad-timestamp-leap-second", lambda: indicator(valid_from="2024-03-01T23:59:60Z"), False),
    ("bad-timestamp-year-zero", lambda: indicator(valid_from="0000-03-01T00:00:00Z"), False),
    ("bad-timestamp-no-z", lambda: indicator(valid_from="2024-03-01T00:00:00"), False),
    ("bad-timestamp-offset", lambda: indicator(valid_from="2024-03-01T00:00:00+01:00"), False),
    ("bad-created-no-millis", lambda: indicator(created="2024-03-01T10:00:00Z"), False),
    ("bad-created-april-31", lambda: indicator(created="2024-04-31T10:00:00.000Z"), False),
    ("modified-before-created", lambda: indicator(modified="2024-02-01T00:00:00.000Z"), False),
    (
        "modified-before-created-precision",
        lambda: indicator(created="2024-03-01T10:00:00.5Z", modified="2024-03-01T10:00:00.4999Z"),
        False,
    ),
    ("valid-until-equal", lambda: indicator(valid_until="2024-03-01T00:00:00Z"), False),
    ("valid-until-before", lambda: indicator(valid_until="2023-03-01T00:00:00Z"), False),
    (
        "last-seen-before-first",
        lambda: sdo(
            "campaign",
            name="c",
            first_seen="2024-02-01T00:00:00Z",
            last_seen="2024-01-01T00:00:00Z",
        ),
        False,
    ),
    (
        "stop-before-start",
        lambda: sdo(
            "relationship",
            relationship_type="uses",
            source_ref=new_id("malware"),
            target_ref=new_id("tool"),
            start_time="2024-03-01T00:00:00Z",
            stop_time="2024-03-01T00:00:00Z",
        ),
        False,
    ),
    (
        "network-traffic-end-before-start",
        lambda: sco(
            "network-traffic",
            protocols=["tcp"],
            start="2024-03-01T00:01:00Z",
            end="2024-03-01T00:00:00Z",
        ),
        False,
    ),
    ("wrong-type-name", lambda: indicator(name=5), False),
    ("wrong-type-indicator-types", lambda: indicator(indicator_types="malicious-activity"), False),
    ("confidence-too-high", lambda: indicator(confidence=101), False),
    ("confidence-fraction", lambda: indicator(confidence=5.5), False),
    ("confidence-boolean", lambda: indicator(confidence=True), False),
    ("revoked-string", lambda: indicator(revoked="yes"), False),
    ("labels-empty", lambda: indicator(labels=[]), False),
    ("custom-property-null", lambda: indicator(x_acme_score=None), False),
    ("custom-property-bad-name", lambda: {**indicator(), "X-Score": 1}, False),
    ("type-uppercase", lambda: indicator(type="Indicator"), False),
    (
        "object-marking-ref-bad",
        lambda: indicator(object_marking_refs=["marking-definition--bad"]),
        False,
    ),
    ("object-marking-refs-empty", lambda: indicator(object_marking_refs=[]), False),
    ("tlp-wrong-name", lambda: tlp_marking("white", name="TLP:GREEN"), False),
    ("tlp-wrong-id", lambda: tlp_marking("white", id=TLP["red"]), False),
    ("tlp-extra-property", lambda: tlp_marking("green", x_note="hi"), False),
    ("tlp-unknown-colour", lambda: tlp_marking("amber", definition={"tlp": "purple"}), False),
    (
        "marking-marks-itself",
        lambda: (lambda m: {**m, "object_marking_refs": [m["id"]]})(statement_marking()),
        False,
    ),
    ("statement-missing-definition", lambda: without(statement_marking(), "definition"), False),
    ("lang-unknown", lambda: indicator(lang="xx"), False),
    (
        "granular-bad-selector",
        lambda: indicator(granular_markings=[{"marking_ref": TLP["red"], "selectors": ["nope"]}]),
        False,
    ),
    ("pattern-syntax-missing-value", lambda: indicator("[ipv4-addr:value = ]"), False),
    ("pattern-unbalanced", lambda: indicator("[ipv4-addr:value = '1.2.3.4'"), False),
    ("pattern-unbalanced-extra", lambda: indicator("[ipv4-addr:value = '1.2.3.4']]"), False),
    ("pattern-no-brackets", lambda: indicator("ipv4-addr:value = '1.2.3.4'"), False),
    ("pattern-empty", lambda: indicator(""), False),
    ("pattern-bad-type-format", lambda: indicator("[Ipv4_Addr:value = '1.2.3.4']"), False),
    ("pattern-type-too-short", lambda: indicator("[ab:value = 'x']"), False),
    ("pattern-bad-property", lambda: indicator("[ipv4-addr:Value = '1.2.3.4']"), False),
    ("pattern-short-property", lambda: indicator("[x-acme-widget:ab = 'x']"), False),
    ("pattern-bad-sha256", lambda: indicator("[file:hashes.'SHA-256' = 'abc']"), False),
    ("pattern-bad-md5", lambda: indicator(f"[file:hashes.MD5 = '{SHA256}']"), False),
    (
        "pattern-bad-qualifier",
        lambda: indicator("[ipv4-addr:value = '1.2.3.4'] WITHIN -5 SECONDS"),
        False,
    ),
    (
        "pattern-duplicate-qualifier",
        lambda: indicator("[ipv4-addr:value = '1.2.3.4'] REPEATS 2 TIMES REPEATS 3 TIMES"),
        False,
    ),
    ("pattern-bad-operator", lambda: indicator("[ipv4-addr:value ~ '1.2.3.4']"), False),
    ("pattern-unterminated-string", lambda: indicator("[ipv4-addr:value = '1.2.3.4]"), False),
    ("pattern-keyword-as-property", lambda: indicator("[file:IN = 'x']"), False),
    ("pattern-hyphen-property", lambda: indicator("[file:file-name = 'x']"), False),
    (
        "pattern-version-2.0-syntax",
        lambda: indicator("[file:name = 'x'] AND", pattern_version="2.0"),
        False,
    ),
    ("pattern-not-a-string", lambda: indicator(["[ipv4-addr:value = '1.2.3.4']"]), False),
    ("pattern-type-number", lambda: indicator(pattern_type=1), False),
    (
        "relationship-bad-type",
        lambda: sdo(
            "relationship",
            relationship_type="Uses Heavily",
            source_ref=new_id("malware"),
            target_ref=new_id("tool"),
        ),
        False,
    ),
    ("sighting-of-marking", lambda: sdo("sighting", sighting_of_ref=TLP["red"]), False),
    ("sco-bad-ipv4", lambda: sco("ipv4-addr", value="999.1.1.1"), False),
    ("sco-bad-email", lambda: sco("email-addr", value="not an address"), False),
    ("sco-bad-domain", lambda: sco("domain-name", value="bad domain!"), False),
    ("sco-bad-url", lambda: sco("url", value="not a url"), False),
    ("sco-created-number", lambda: sco("ipv4-addr", value="10.0.0.1", created=5), False),
    ("sco-bad-hash", lambda: sco("file", hashes={"SHA-256": "xyz"}), False),
    ("process-uuid5", lambda: sco("process", id=new_id("process", 5)), False),
    (
        "file-extension-bad-timestamp",
        lambda: sco(
            "file",
            name="x",
            extensions={"windows-pebinary-ext": {"time_date_stamp": "2023-02-29T00:00:00Z"}},
        ),
        False,
    ),
    (
        "x509-extension-bad-timestamp",
        lambda: sco(
            "x509-certificate",
            serial_number="1",
            x509_v3_extensions={"private_key_usage_period_not_before": "2024-04-31T00:00:00Z"},
        ),
        False,
    ),
    ("directory-bad-charset", lambda: sco("directory", path="/tmp", path_enc="NOT-A-SET"), False),
    (
        "artifact-bad-mime",
        lambda: sco("artifact", mime_type="application/x-nope", payload_bin="AA=="),
        False,
    ),
    (
        "artifact-uuid5-no-contributing",
        lambda: sco(
            "artifact",
            id=new_id("artifact", 5),
            url="https://x.example/a",
            hashes={"MD5": "d41d8cd98f00b204e9800998ecf8427e"},
        ),
        True,
    ),
    (
        "email-message-uuid5-bare",
        lambda: sco("email-message", id=new_id("email-message", 5), is_multipart=False),
        False,
    ),
    ("software-bad-language", lambda: sco("software", name="x", languages=["klingon"]), False),
    ("software-iso-639-2", lambda: sco("software", name="x", languages=["eng"]), True),
    ("software-bad-cpe", lambda: sco("software", name="x", cpe="cpe:/a:acme"), False),
    (
        "custom-sco-objects-property",
        lambda: sco("ipv4-addr", value="10.0.0.1", objects={"0": {"type": "file"}}),
        False,
    ),
    (
        "extension-bad-type",
        lambda: indicator(extensions={EXTENSION_ID: {"extension_type": "other"}}),
        False,
    ),
    (
        "language-content-bad-lang",
        lambda: sdo(
            "language-content", object_ref=new_id("report"), contents={"xx": {"name": "n"}}
        ),
        False,
    ),
    (
        "observed-data-embedded-without-id",
        lambda: sdo(
            "observed-data",
            first_observed="2024-03-01T00:00:00Z",
            last_observed="2024-03-01T01:00:00Z",
            number_observed=1,
            objects={"0": {"type": "ipv4-addr", "value": "10.1.1.1"}},
        ),
        False,
    ),
    (
        "nested-stix-object-bad-pattern",
        lambda: indicator(
            x_acme_related=[
                {
                    "type": "indicator",
                    "id": new_id("indicator"),
                    "pattern_type": "stix",
                    "pattern": "[bad",
                }
            ]
        ),
        False,
    ),
]

# Deliberate refusals: stix2-validator accepts these.
POLICY: list[Case] = [
    (
        "bundle",
        lambda: {"type": "bundle", "id": new_id("bundle"), "objects": [indicator()]},
        True,
    ),
    ("spec-version-2.0", lambda: indicator(spec_version="2.0"), True),
    ("fragment-type", lambda: {"type": "dictionary", "id": "x", "abc": 1}, True),
]

ALL_CASES = GOOD + BAD


@pytest.mark.parametrize(
    ("build", "expected"),
    [pytest.param(build, expected, id=name) for name, build, expected in ALL_CASES],
)
def test_verdict_matches_stix2_validator(build: Callable[[], Any], expected: bool) -> None:
    obj = build()
    assert stix2_validator_says_valid(obj) is expected, "corpus case mislabelled"
    assert ours_valid(obj) is expected, validate_objects([obj])


@pytest.mark.parametrize(
    "build",
    [pytest.param(build, id=name) for name, build, _ in POLICY],
)
def test_policy_refusals_are_the_only_intended_disagreements(build: Callable[[], Any]) -> None:
    obj = build()
    assert stix2_validator_says_valid(obj)
    assert not ours_valid(obj)


def test_corpus_is_large_and_mixed() -> None:
    assert len(ALL_CASES) >= 80
    assert sum(1 for *_, ok in ALL_CASES if ok) >= 30
    assert sum(1 for *_, ok in ALL_CASES if not ok) >= 40


def test_batch_issues_carry_index_and_id() -> None:
    good = indicator()
    bad = indicator(modified="2020-01-01T00:00:00.000Z")
    issues = validate_objects([good, bad, 7])
    assert {i.index for i in issues} == {1, 2}
    first = next(i for i in issues if i.index == 1)
    assert first.object_id == bad["id"]
    assert all(isinstance(i, ValidationIssue) for i in issues)


def _fields(obj: Any) -> list[str | None]:
    return [i.field for i in validate_objects([obj])]


def test_issue_names_missing_required_property() -> None:
    assert "pattern" in _fields(without(indicator(), "pattern"))
    assert "spec_version" in _fields(without(indicator(), "spec_version"))
    issues = validate_objects([without(indicator(), "valid_from")])
    assert "valid_from" in issues[0].reason


def test_issue_names_bad_timestamp() -> None:
    assert _fields(indicator(valid_from="2024-02-30T00:00:00Z")) == ["valid_from"]
    assert _fields(indicator(valid_from="yesterday")) == ["valid_from"]
    assert _fields(indicator(modified="2020-01-01T00:00:00.000Z")) == ["modified"]


def test_issue_names_bad_pattern() -> None:
    assert _fields(indicator("[ipv4-addr:value = ]")) == ["pattern"]
    assert _fields(indicator("[Bad_Type:value = 'x']")) == ["pattern"]
    issues = validate_objects([indicator("[file:hashes.'SHA-256' = 'abc']")])
    assert issues and all(i.field == "pattern" for i in issues)


def test_issue_names_marking_ref_position() -> None:
    fields = _fields(indicator(object_marking_refs=[TLP["red"], "nope"]))
    assert fields == ["object_marking_refs[1]"]


def test_non_list_input_is_an_issue_not_an_exception() -> None:
    for value in (None, 5, "abc", {"type": "indicator"}):
        issues = validate_objects(value)  # type: ignore[arg-type]
        assert len(issues) == 1


# --------------------------------------------------------------------------------------
# Property tests

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20)
)
TRICKY_STRINGS = [
    "2024-03-01T00:00:00Z",
    "2024-03-01T00:00:00.000Z",
    "1999-01-01T00:00:00.000Z",
    "2030-02-29T00:00:00.000Z",
    "2024-03-01T00:00:00.000Z\n",
    "2024-03-01T00:00:60Z",
    "indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f",
    "identity--311b2d2d-f010-4473-83ec-1edf84858f4c",
    TLP["green"],
    "stix",
    "2.1",
    "en",
    "",
    "[ipv4-addr:value = '10.0.0.1']",
    "[file:hashes.MD5 = 'abc']",
    "[x-y:zz = 'a']",
    "[domain-name:value = 'a.b' AND url:value = 'http://a']",
    "[bad",
]
json_values = st.recursive(
    json_scalars | st.sampled_from(TRICKY_STRINGS),
    lambda children: (
        st.lists(children, max_size=3)
        | st.dictionaries(
            st.text(max_size=8) | st.sampled_from(["type", "id"]), children, max_size=3
        )
    ),
    max_leaves=6,
)
SEEDS = [build for _, build, expected in GOOD if expected]
KEYS = [
    "type",
    "id",
    "spec_version",
    "created",
    "modified",
    "pattern",
    "pattern_type",
    "pattern_version",
    "valid_from",
    "valid_until",
    "name",
    "lang",
    "confidence",
    "labels",
    "object_marking_refs",
    "granular_markings",
    "external_references",
    "extensions",
    "x_acme_field",
    "value",
    "objects",
    "kill_chain_phases",
    "hashes",
    "country",
    "region",
    "product",
    "protocols",
    "ipfix",
    "languages",
    "mime_type",
    "name_enc",
    "start",
    "end",
    "first_seen",
    "last_seen",
    "definition_type",
    "definition",
    "object_refs",
    "cpe",
    "contents",
]


@st.composite
def mutated_objects(draw: st.DrawFn) -> Any:
    obj = draw(st.sampled_from(SEEDS))()
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        action = draw(st.sampled_from(["drop", "replace", "add", "tricky"]))
        keys = sorted(obj)
        if action == "drop" and keys:
            del obj[draw(st.sampled_from(keys))]
        elif action == "replace" and keys:
            obj[draw(st.sampled_from(keys))] = draw(json_values)
        elif action == "add":
            obj[draw(st.sampled_from(KEYS))] = draw(json_values)
        else:
            obj[draw(st.sampled_from(KEYS))] = draw(st.sampled_from(TRICKY_STRINGS))
    return obj


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated_objects())
def test_mutations_agree_with_stix2_validator(obj: Any) -> None:
    assert ours_valid(obj) is reference_valid(obj), validate_objects([obj])


@settings(max_examples=150, deadline=None)
@given(st.lists(json_values | mutated_objects(), max_size=4))
def test_never_raises(objects: list[Any]) -> None:
    issues = validate_objects(objects)
    assert all(0 <= i.index < len(objects) for i in issues)
    assert all(isinstance(i.reason, str) and i.reason for i in issues)


# Patterns: the fast path must only ever accept what stix2-validator accepts.  The
# generator builds well-formed simple patterns (the fast path's territory) and then often
# damages them a little: one odd token or a one-character edit, which must fall through
# to stix2-validator's own verdict.
HEX = "0123456789abcdefABCDEF"
SIMPLE_TESTS: list[tuple[str, st.SearchStrategy[str]]] = [
    ("ipv4-addr:value", st.from_regex(r"[0-9./]{1,18}", fullmatch=True)),
    ("domain-name:value", st.from_regex(r"[a-z0-9.-]{1,20}", fullmatch=True)),
    ("url:value", st.from_regex(r"[a-z0-9./:?=&%_-]{0,24}", fullmatch=True)),
    ("email-addr:value", st.from_regex(r"[a-z0-9.@]{1,20}", fullmatch=True)),
    # Without NUL: Accord refuses it in any value (storable text), where the reference
    # validator has no opinion; that refusal has its own tests.
    ("file:name", st.text(st.characters(exclude_characters="\x00"), max_size=10)),
    (
        "x-acme-widget:x_acme_serial",
        st.text(st.characters(codec="utf-8", exclude_characters="\x00"), max_size=10),
    ),
    ("file:hashes.MD5", st.text(HEX, min_size=32, max_size=32)),
    ("file:hashes.'SHA-1'", st.text(HEX, min_size=40, max_size=40)),
    ("file:hashes.'SHA-256'", st.text(HEX, min_size=64, max_size=64)),
    ("file:hashes.SHA256", st.text(HEX, min_size=64, max_size=64)),
    ("file:hashes.'SHA3-512'", st.text(HEX, min_size=128, max_size=128)),
]
ODD_TOKENS = [
    "true:value",
    "Ipv4-addr:value",
    "ab:value",
    "x_y:value",
    "x-a:IN",
    "file:true",
    "file:Value",
    "file:a-b",
    "file:hashes.AND",
    "file:hashes.'SHA 1'",
    "file:name[0]",
    "file:hashes.t",
    " == ",
    " NOT = ",
    " < ",
    " IN ",
    " like ",
    "LIKE",
    " LIKE 5",
    " and ",
    "AND",
    "\x0b",
    "\u00a0",
    "\x1c",
    "\r",
    "h'00'",
    "05",
    "'\\q'",
]


def quote(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


@st.composite
def stix_patterns(draw: st.DrawFn) -> str:
    def ws() -> str:
        return draw(st.sampled_from([" ", " ", "", "  ", "\n", "\t"]))

    def comparison() -> str:
        path, values = draw(st.sampled_from(SIMPLE_TESTS))
        op = draw(st.sampled_from(["=", "=", "!=", " LIKE ", " MATCHES "]))
        if path == "file:name" and op in ("=", "!=") and draw(st.booleans()):
            return f"network-traffic:dst_port{ws()}{op}{ws()}{draw(st.integers(-5, 70000))}"
        return f"{path}{ws() if op.strip() in '=!=' else ''}{op}{ws()}{quote(draw(values))}"

    def observation() -> str:
        parts = [comparison()]
        for _ in range(draw(st.sampled_from([0, 0, 1, 2]))):
            parts += [draw(st.sampled_from([" AND ", " OR ", "\nAND\n"])), comparison()]
        return f"[{ws()}{''.join(parts)}{ws()}]"

    text = ws() + observation()
    for _ in range(draw(st.sampled_from([0, 0, 1]))):
        text += draw(st.sampled_from([" AND ", " OR ", " FOLLOWEDBY "])) + observation()
    text += ws()
    damage = draw(st.sampled_from(["none", "none", "token", "insert", "delete", "qualifier"]))
    position = draw(st.integers(min_value=0, max_value=len(text)))
    if damage == "token":
        odd = draw(st.sampled_from(ODD_TOKENS))
        text = text[:position] + odd + text[position + len(odd) :]
    elif damage == "insert":
        text = text[:position] + draw(st.sampled_from(list("[]()'\\:.= -_aZ0\n"))) + text[position:]
    elif damage == "delete":
        text = text[:position] + text[position + 1 :]
    elif damage == "qualifier":
        text += draw(
            st.sampled_from([" WITHIN 5 SECONDS", " REPEATS 2 TIMES", " WITHIN -1 SECONDS"])
        )
    return text


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(stix_patterns())
def test_patterns_agree_with_stix2_validator(pattern: str) -> None:
    obj = indicator(pattern)
    assert ours_valid(obj) is reference_valid(obj), validate_objects([obj])


@st.composite
def timestamps(draw: st.DrawFn) -> str:
    def two(low: int, high: int) -> str:
        return f"{draw(st.integers(min_value=low, max_value=high)):02d}"

    year = f"{draw(st.sampled_from([0, 1, 1900, 2000, 2023, 2024, 2100, 9999])):04d}"
    fraction = draw(st.sampled_from(["", ".", ".1", ".12", ".123", ".123456", ".1234567", ".000"]))
    tail = draw(st.sampled_from(["Z", "Z", "Z\n", "z", ""]))
    return (
        f"{year}-{two(1, 12)}-{two(1, 31)}T{two(0, 23)}:{two(0, 59)}:{two(0, 60)}{fraction}{tail}"
    )


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(timestamps(), timestamps(), timestamps())
def test_timestamps_agree_with_stix2_validator(
    valid_from: str, created: str, modified: str
) -> None:
    obj = indicator(valid_from=valid_from, valid_until=modified, created=created, modified=modified)
    assert ours_valid(obj) is reference_valid(obj), validate_objects([obj])


def test_never_raises_on_python_values_json_cannot_produce() -> None:
    loop: dict[str, Any] = indicator()
    loop["x_self"] = [loop]
    weird: list[Any] = [
        float("nan"),
        float("inf"),
        b"bytes",
        {1, 2},
        (1, 2),
        object(),
        loop,
        indicator(confidence=float("nan")),
        indicator(confidence=float("inf")),
        indicator(confidence=10**400),
        indicator(x_tuple=(1, 2), x_set={3}, x_bytes=b"x"),
        {**indicator(), 5: "non-string key"},
        sco("ipv4-addr", value=("10.0.0.1",)),
        indicator(pattern="[" * 5000),
    ]
    issues = validate_objects(weird)
    flagged = {i.index for i in issues}
    assert {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 11, 13} <= flagged


def test_every_bundled_schema_translates() -> None:
    # A stix2-validator upgrade bringing a schema construct the translation does not
    # handle must fail here, not on the first object of that type in production.
    for otype in [*enums.TYPES, *enums.OBSERVABLE_TYPES, "x-acme-thing"]:
        for obj in ({"type": otype, "id": new_id(otype)}, sdo(otype)):
            reasons = [i.reason for i in validate_objects([obj])]
            assert not any("could not be validated" in r for r in reasons), reasons


def test_issue_messages_are_sentences() -> None:
    issues = validate_objects(
        [
            indicator(confidence=5.5),
            indicator(created="2024-03-01T10:00:00Z"),
            indicator(id=new_id("malware")),
            {**indicator(), "X-Score": 1},
        ]
    )
    reasons = [i.reason for i in issues]
    assert "must be an integer" in reasons[0]
    assert "precise to the millisecond" in reasons[1]
    assert "must start with 'indicator--'" in reasons[2]
    assert [i.field for i in issues] == ["confidence", "created", "id", "X-Score"]
