"""Detection and rewriting of personal data: pure functions, no node."""

from __future__ import annotations

from typing import Any

import pytest

from accord.privacy.detect import kinds_of, scan, sg_nric_valid
from accord.privacy.redact import pseudonym, rewrite

REPORT: dict[str, Any] = {
    "type": "report",
    "id": "report--2f7b5b8e-8c4e-4b8e-9a57-3c8f1f9d1a01",
    "name": "Phishing wave against ministry staff",
    "description": (
        "Mails from Alice.Tan@Example.com reached staff; the caller used +65 6123 4567 "
        "and 012-345 6789. Leaked IDs: S1234567D, 770305-02-1234, 1101700230708, "
        "3171011505900001, 2341 2341 2346, 971013-9019902. Not ids: S1234567A, "
        "1101700230709, 2024-01-15, 10.0.0.1."
    ),
}


def test_every_kind_in_free_text_is_found_and_malformed_ones_are_not() -> None:
    found = scan(REPORT, region="MY")
    assert sorted(f.kind for f in found) == sorted(
        [
            "email",
            "phone",
            "phone",
            "sg-nric",
            "my-mykad",
            "th-pid",
            "id-nik",
            "in-aadhaar",
            "kr-rrn",
        ]
    )
    values = {f.value for f in found}
    assert "S1234567A" not in values and "1101700230709" not in values
    assert all(f.path == "description" for f in found)


def test_phone_numbers_are_read_in_the_owners_region() -> None:
    obj = {"type": "note", "content": "call 012-345 6789"}
    assert [f.kind for f in scan(obj, region="MY")] == ["phone"]
    assert scan(obj, region=None) == []


@pytest.mark.parametrize(
    ("obj", "expected"),
    [
        (
            {"type": "user-account", "user_id": "1001", "account_login": "atan"},
            [("account_login", "account"), ("user_id", "account")],
        ),
        ({"type": "user-account", "user_id": "svc", "is_service_account": True}, []),
        (
            {"type": "identity", "identity_class": "individual", "name": "Alice Tan"},
            [("name", "individual")],
        ),
        ({"type": "identity", "identity_class": "organization", "name": "CERT"}, []),
        ({"type": "ipv4-addr", "value": "198.51.100.7"}, []),
        (
            {"type": "ipv4-addr", "value": "198.51.100.7", "x_accord_personal": True},
            [("value", "ip")],
        ),
        ({"type": "email-addr", "value": "bob@example.org"}, [("value", "email")]),
        (
            {"type": "indicator", "pattern": "[email-addr:value = 'bob@example.org']"},
            [("pattern", "email")],
        ),
        ({"type": "grouping", "aliases": ["x", "bob@example.org"]}, [("aliases[1]", "email")]),
    ],
)
def test_observables_and_objects_of_individuals(
    obj: dict[str, Any], expected: list[tuple[str, str]]
) -> None:
    assert kinds_of(scan(obj)) == expected


def test_sg_nric_check_letter() -> None:
    assert sg_nric_valid("S1234567D") and sg_nric_valid("T1234567J")
    assert not sg_nric_valid("S1234567E") and not sg_nric_valid("X1234567D")


def test_redaction_replaces_values_and_keeps_the_rest() -> None:
    found = scan(REPORT, region="MY")
    out = rewrite(REPORT, found, None)
    assert out["id"] == REPORT["id"] and out["name"] == REPORT["name"]
    for f in found:
        assert f.value not in out["description"]
    assert "redacted@redacted.invalid" in out["description"]
    assert "[redacted sg-nric]" in out["description"]
    assert "Alice.Tan@Example.com" in REPORT["description"]  # the input is untouched


def test_pseudonyms_correlate_within_a_key_and_differ_across_keys() -> None:
    a = {"type": "email-addr", "value": "Bob@Example.org"}
    b = {"type": "note", "content": "seen bob@example.org again"}
    one, two = b"k" * 32, b"j" * 32
    fa, fb = scan(a)[0], scan(b)[0]
    assert pseudonym(one, fa) == pseudonym(one, fb) != pseudonym(two, fa)
    out = rewrite(a, [fa], one)
    assert out["value"] == f"{pseudonym(one, fa)}@pseudonym.invalid"
    pattern = {"type": "indicator", "pattern": "[email-addr:value = 'bob@example.org']"}
    assert rewrite(pattern, scan(pattern), one)["pattern"] == (
        f"[email-addr:value = '{pseudonym(one, fa)}@pseudonym.invalid']"
    )


def test_markers_and_pseudonyms_are_not_found_again() -> None:
    once = rewrite(REPORT, scan(REPORT, region="MY"), b"k" * 32)
    assert scan(once, region="MY") == []
    assert scan(rewrite(REPORT, scan(REPORT, region="MY"), None), region="MY") == []
