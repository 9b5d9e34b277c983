"""The web console in a real browser against a real node process.

Every page visited is checked with axe-core (no serious or critical violation), for
Content-Security-Policy violations and for script dialogs, and photographed.
"""

from __future__ import annotations

import re
import time
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.web.conftest import Region

pytestmark = [pytest.mark.browser, pytest.mark.server, pytest.mark.xdist_group("browser")]

# A file hash: correlations skip documentation and private address ranges.
VALUE = "7dced713830fb19be297cb5bfa4c30cbfae10a79d4780087b3d27a180696de01"
HASH_PATTERN = f"[file:hashes.'SHA-256' = '{VALUE}']"
ACK_LINK = re.compile(r"(http://\S+/ack_[A-Za-z0-9_-]+)")


def _share(region: Region, org: str, obj: dict[str, Any], **params: str) -> None:
    response = httpx.post(
        f"{region.base}/api/v1/objects",
        params=params,
        json=obj,
        headers={"Authorization": f"Bearer {region.tokens[org]}"},
        timeout=10,
    )
    assert response.status_code in (200, 201), response.text


def _indicator(stix_id: str, name: str, pattern: str) -> dict[str, Any]:
    return {
        "type": "indicator",
        "spec_version": "2.1",
        "id": stix_id,
        "created": "2026-11-01T00:00:00.000Z",
        "modified": "2026-11-01T00:00:00.000Z",
        "name": name,
        "pattern": pattern,
        "pattern_type": "stix",
        "valid_from": "2026-11-01T00:00:00Z",
    }


def test_anonymous_visitors_are_sent_to_sign_in(visitor_for: Any) -> None:
    v = visitor_for()
    v.page.goto(v.base + "/objects?q=x")
    assert "/signin?next=%2Fobjects%3Fq%3Dx" in v.page.url
    v.check("signin")
    v.page.fill("#username", "sg-analyst")
    v.page.fill("#password", "not the password")
    v.page.click("button:text-is('Sign in')")
    expect(v.page.get_by_role("alert")).to_contain_text("username or password is wrong")
    v.check("signin-failed")


def test_sign_in_with_a_token_then_sign_out_ends_the_session(
    visitor_for: Any, region: Region
) -> None:
    v = visitor_for()
    v.page.goto(v.base + "/signin")
    v.page.fill("#token", region.tokens["SingCERT"])
    v.page.click("text=Sign in with token")
    expect(v.page.locator("header .who")).to_contain_text("SingCERT")
    cookies = {c["name"]: c for c in v.context.cookies()}
    session = cookies["accord_session"]
    assert session["httpOnly"] and session["sameSite"] == "Strict"
    assert session["value"] != region.tokens["SingCERT"]  # the API token stays out of it
    v.page.click("text=Sign out")
    v.page.wait_for_url(re.compile(r".*/signin$"))
    # The session was revoked, not only forgotten by this browser.
    stale = httpx.get(
        f"{region.base}/", cookies={"accord_session": session["value"]}, follow_redirects=False
    )
    assert stale.status_code == 303 and stale.headers["location"].startswith("/signin")
    # The API token itself still works.
    api = httpx.get(
        f"{region.base}/api/v1/objects",
        headers={"Authorization": f"Bearer {region.tokens['SingCERT']}"},
    )
    assert api.status_code == 200


def test_amber_indicator_shared_to_a_group_reaches_members_only(
    visitor_for: Any, region: Region
) -> None:
    sg = visitor_for("sg-analyst")
    sg.visit("/", "overview")
    page = sg.visit("/objects/new", "share")
    page.fill("#value", VALUE)
    page.fill("#name", "Bilateral C2 server")
    # Choosing a TLP (even the one shown: Playwright always fires "change") makes htmx
    # fetch that TLP's scopes and swap them in, resetting the scope: wait for the swap
    # before choosing one, or a late swap undoes the choice.
    choose_tlp(page, "TLP:AMBER")
    expect(page.locator("#scope-value option")).to_have_text(
        ["organisation", "recipients", "group"]
    )
    page.select_option("#scope-value", "group")
    page.select_option("#group-value", "sg-my-bilateral")
    expect(page.locator("#scope-value")).to_have_value("group")
    page.click("text=Share indicator")
    page.wait_for_url(re.compile(r".*/objects/indicator--.*"))
    shared_id = page.url.rsplit("/", 1)[1]
    expect(page.locator(".heading .tlp")).to_have_text("TLP:AMBER")
    sg.check("object")

    # Each of the other two shares its own indicator for the same address with the community.
    my_id = "indicator--2f0c5a52-6a38-4c1b-9d8e-6d1b6a9f4c01"
    th_id = "indicator--7c1e0f7a-3d7b-4e0e-8f67-2a9f0b1c5d02"
    _share(
        region, "MyCERT", _indicator(my_id, "MY sighting of the C2", HASH_PATTERN), tlp="TLP:GREEN"
    )
    _share(
        region, "ThaiCERT", _indicator(th_id, "TH copy of the C2", HASH_PATTERN), tlp="TLP:GREEN"
    )

    my = visitor_for("my-liaison")
    page = my.visit(f"/objects?q={VALUE}", "objects-member")
    expect(page.locator(f"a[href='/objects/{shared_id}']")).to_have_text("Bilateral C2 server")
    page = my.visit(f"/objects/{my_id}", "object-correlations")
    expect(page.locator("#correlations + table")).to_contain_text(shared_id)

    th = visitor_for("th-analyst")
    page = th.visit(f"/objects?q={VALUE}", "objects-outsider")
    expect(page.locator("main")).not_to_contain_text("Bilateral C2 server")
    expect(page.locator(f"a[href='/objects/{my_id}']")).to_be_visible()
    page = th.visit(f"/objects/{th_id}", "object-outsider")
    expect(page.locator("#correlations + table")).to_contain_text(my_id)
    expect(page.locator("main")).not_to_contain_text(shared_id)
    response = th.page.goto(f"{th.base}/objects/{shared_id}")
    assert response is not None and response.status == 404
    expect(th.page.get_by_role("alert")).to_contain_text("no object")
    th.check("not-found")


def test_the_form_refuses_what_the_policy_forbids(visitor_for: Any) -> None:
    v = visitor_for("sg-analyst")
    page = v.visit("/objects/new", "share-red")
    choose_tlp(page, "TLP:RED")
    expect(page.locator("#scope-value option")).to_have_text(["organisation", "recipients"])
    form = {"csrf": v.csrf(), "value": "198.51.100.9", "tlp": "TLP:RED", "scope": "community"}
    refused = page.request.post(v.base + "/objects/new", form=form)
    assert refused.status == 422
    assert "TLP:RED does not allow scope &#39;community&#39;" in refused.text()
    forged = page.request.post(v.base + "/objects/new", form={**form, "csrf": "forged"})
    assert forged.status == 403
    page = v.visit("/objects?q=198.51.100.9", "objects-none")
    expect(page.locator("main")).to_contain_text("No objects you may read match")


def test_a_hostile_name_renders_as_text(visitor_for: Any, region: Region) -> None:
    hostile = '<script>alert("xss")</script><img src=x onerror=alert(1)>'
    stix_id = "indicator--0b8e7d7e-6a51-4c54-a5a8-4d7bfb2e8a03"
    _share(
        region,
        "SingCERT",
        _indicator(stix_id, hostile, "[ipv4-addr:value = '192.0.2.200']"),
        tlp="TLP:CLEAR",
    )
    v = visitor_for("sg-analyst")
    page = v.visit("/objects?q=onerror", "objects-xss")
    expect(page.locator(f"a[href='/objects/{stix_id}']")).to_have_text(hostile)
    assert page.locator("main img").count() == 0
    page = v.visit(f"/objects/{stix_id}", "object-xss")
    expect(page.locator("h1")).to_have_text(hostile)
    assert page.locator("main script, main img").count() == 0


def _mail_to(region: Region, address: str) -> str:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        mails = region.smtp.to(address)
        if mails:
            return str(mails[-1].get_content())
        time.sleep(0.1)
    raise AssertionError(f"no mail to {address}")


def test_communication_check_acknowledged_from_the_mailed_link(
    visitor_for: Any, region: Region
) -> None:
    sg = visitor_for("sg-liaison")
    page = sg.visit("/checks", "checks")
    page.fill("#title", "Quarterly ASEAN ping")
    page.fill("#hours", "2")
    page.click("text=Start the check")
    page.wait_for_url(re.compile(r".*/checks/\d+$"))
    expect(page.locator("#results")).to_contain_text("0 of 2")
    sg.check("check-open")

    link = ACK_LINK.search(_mail_to(region, "desk@mycert.example"))
    assert link is not None
    desk = visitor_for(phone=True)
    desk.page.goto(link.group(1))
    expect(desk.page.locator(".ack")).to_contain_text("Quarterly ASEAN ping")
    desk.check("ack-phone")
    desk.page.click("text=I acknowledge")
    expect(desk.page.get_by_role("status")).to_contain_text("Acknowledged")
    desk.check("ack-done")

    # The organiser's page fills in by itself (htmx polling), without a reload.
    expect(page.locator("#results")).to_contain_text("1 of 2", timeout=30_000)
    expect(page.locator("#results")).to_contain_text("SingCERT duty desk")  # still waiting
    sg.check("check-live")
    page = sg.visit("/checks", "checks-history")
    expect(page.locator("main table")).to_contain_text("50%")


def _buttons(page: Any) -> list[str]:
    return [b.strip() for b in page.locator("#act ~ .actions button").all_inner_texts()]


def test_assistance_request_acknowledged_responded_closed(visitor_for: Any, region: Region) -> None:
    sg = visitor_for("sg-liaison")
    page = sg.visit("/requests/new", "request-new")
    page.check("input[name=kind][value=assistance]")
    page.fill("#title", "Power grid SCADA under attack")
    page.select_option("#recipients", region.identities["MyCERT"])
    page.select_option("#urgency", "critical")
    page.select_option("#incident_category", "availability/ddos")
    page.select_option("#sector", "energy")
    page.check("input[name=asks][value=mitigation]")
    page.fill("#description", "Traffic from addresses in your territory.")
    page.click("text=Send the request")
    page.wait_for_url(re.compile(r".*/requests/\d+$"))
    request_path = page.url.removeprefix(sg.base)
    expect(page.locator(".heading .tlp")).to_have_text("TLP:AMBER")
    assert _buttons(page) == ["Withdraw"]
    sg.check("request-requester")

    my = visitor_for("my-liaison")
    page = my.visit("/requests", "requests-inbox")
    row = page.locator("tr", has_text="Power grid SCADA under attack")
    expect(row).to_contain_text("left")
    row.get_by_role("link").click()
    assert _buttons(page) == ["Acknowledge", "Decline"]
    page.click("button:text('Acknowledge')")
    expect(page.locator(".facts").first).to_contain_text("acknowledged")
    assert _buttons(page) == ["Start work", "Respond", "Decline"]
    page.fill("#body", "We are filtering the sources now.")
    page.click("text=Post")
    expect(page.locator(".message")).to_contain_text("We are filtering the sources now.")
    page.click("button:text('Respond')")
    expect(page.locator(".facts").first).to_contain_text("responded")
    assert _buttons(page) == []
    my.check("request-recipient")

    page = sg.visit(request_path, "request-responded")
    assert _buttons(page) == ["Close"]
    page.click("button:text('Close')")
    expect(page.locator(".facts").first).to_contain_text("closed")
    assert _buttons(page) == []
    page = sg.visit("/requests?box=outbox", "requests-outbox")
    expect(page.locator("tr", has_text="Power grid SCADA under attack")).to_contain_text("closed")

    th = visitor_for("th-analyst")
    response = th.page.goto(th.base + request_path)
    assert response is not None and response.status == 404


def test_directory_and_admin_pages(visitor_for: Any, region: Region) -> None:
    admin = visitor_for("sg-admin")
    page = admin.visit("/directory?state=MY", "directory")
    expect(page.locator("main table")).to_contain_text("MyCERT duty desk")
    expect(page.locator("main table")).not_to_contain_text("SingCERT duty desk")
    with page.expect_download() as download:
        page.click("text=vCard")
    assert "BEGIN:VCARD" in download.value.path().read_text()
    page.click("text=MyCERT duty desk")
    admin.check("contact")
    admin.visit("/organisations", "organisations")
    admin.visit("/groups", "groups")
    admin.visit("/peers", "peers")
    admin.visit("/audit", "audit")
    page = admin.visit("/tokens", "tokens")
    page.fill("#tname", "SIEM connector")
    page.select_option("#trole", "reader")
    page.click("text=Issue token")
    expect(page.get_by_role("status")).to_contain_text("accord_")
    admin.check("token-issued")
    admin.visit("/signins", "signins")

    reader = visitor_for("th-analyst")
    response = reader.page.goto(reader.base + "/tokens")
    assert response is not None and response.status == 403
    reader.check("forbidden")


def choose_tlp(page: Page, tlp: str) -> None:
    """Pick a TLP on the share form and wait until htmx has swapped in its scopes."""
    with page.expect_response(lambda r: "/objects/scopes" in r.url):
        page.select_option("#tlp-value", tlp)
    page.wait_for_function(
        "() => !document.querySelector('.htmx-request, .htmx-swapping, .htmx-settling')"
    )
