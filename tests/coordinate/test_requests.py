"""Assistance requests and consultations through the API: template, evidence through the
policy gate, permissions, 409 with allowed actions, deadlines and escalation on the clock,
threads, audit log and metrics.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from accord.domain.tlp import TLP
from tests.builders import bundle, indicator
from tests.conftest import Clock
from tests.coordinate.conftest import Region, contact


def _assistance(region: Region, **fields: Any) -> dict[str, Any]:
    return {
        "kind": "assistance",
        "title": "Ransomware on the national grid operator",
        "recipients": [region.my.identity_id],
        "urgency": "critical",
        "incident_category": "malicious-code/c2-server",
        "sector": "energy",
        "asks": ["mitigation", "information"],
        "tlp": "amber",
        **fields,
    }


def _file(region: Region, **fields: Any) -> dict[str, Any]:
    response = region.client.post(
        "/api/v1/requests", json=_assistance(region, **fields), headers=region.auth["sg"]
    )
    assert response.status_code == 201, response.text
    item: dict[str, Any] = response.json()["items"][0]
    return item


def _act(region: Region, who: str, request_id: int, action: str, reason: str = "") -> Any:
    return region.client.post(
        f"/api/v1/requests/{request_id}/actions",
        json={"action": action, "reason": reason},
        headers=region.auth[who],
    )


def test_full_workflow_with_deadlines_from_urgency(region: Region, clock: Clock) -> None:
    filed = _file(region)
    assert filed["state"] == "submitted" and filed["tlp"] == "TLP:AMBER"
    assert datetime.fromisoformat(filed["acknowledge_due"]) == clock.now + timedelta(hours=2)
    assert datetime.fromisoformat(filed["respond_due"]) == clock.now + timedelta(hours=24)
    assert filed["allowed_actions"] == ["withdraw"]
    rid = filed["id"]
    inbox = region.client.get("/api/v1/requests?box=inbox", headers=region.auth["my"]).json()
    assert [i["id"] for i in inbox["items"]] == [rid]
    assert inbox["items"][0]["allowed_actions"] == ["acknowledge", "decline"]
    clock.advance(minutes=30)
    for who, action, state in [
        ("my", "acknowledge", "acknowledged"),
        ("my", "start", "in_progress"),
        ("my", "respond", "responded"),
        ("sg", "close", "closed"),
    ]:
        response = _act(region, who, rid, action)
        assert response.status_code == 200, response.text
        assert response.json()["state"] == state
    audit = region.client.get(f"/api/v1/requests/{rid}/audit", headers=region.auth["sg"]).json()
    assert [(a["action"], a["from"], a["to"]) for a in audit] == [
        ("create", None, "draft"),
        ("submit", "draft", "submitted"),
        ("acknowledge", "submitted", "acknowledged"),
        ("start", "acknowledged", "in_progress"),
        ("respond", "in_progress", "responded"),
        ("close", "responded", "closed"),
    ]
    assert audit[2]["actor"] == region.my.identity_id and audit[2]["role"] == "liaison"
    metrics = region.client.get("/api/v1/requests/metrics", headers=region.auth["sg"]).json()
    assert metrics["MY"]["median_hours_to_acknowledge"] == 0.5
    assert metrics["MY"]["share_overdue"] == 0


def test_illegal_transitions_are_409_listing_the_allowed_ones(region: Region) -> None:
    rid = _file(region)["id"]
    wrong = _act(region, "sg", rid, "acknowledge")  # only the recipient acknowledges
    assert wrong.status_code == 409
    assert "allowed now: withdraw" in wrong.json()["detail"]
    early = _act(region, "my", rid, "close")
    assert early.status_code == 409 and "acknowledge, decline" in early.json()["detail"]
    assert _act(region, "my-reader", rid, "acknowledge").status_code == 409
    assert _act(region, "my", rid, "decline").status_code == 409  # no reason
    declined = _act(region, "my", rid, "decline", "out of our jurisdiction")
    assert declined.json()["state"] == "declined"
    assert declined.json()["decline_reason"] == "out of our jurisdiction"
    assert _act(region, "sg", rid, "withdraw").status_code == 409
    assert _act(region, "my", rid, "fly").status_code == 400


def test_outsiders_and_drafts_are_404_to_others(region: Region) -> None:
    rid = _file(region)["id"]
    assert (
        region.client.get(f"/api/v1/requests/{rid}", headers=region.auth["th"]).status_code == 404
    )
    assert _act(region, "th", rid, "acknowledge").status_code == 404
    draft = _file(region, submit=False)
    assert draft["state"] == "draft"
    got = region.client.get(f"/api/v1/requests/{draft['id']}", headers=region.auth["my"])
    assert got.status_code == 404
    inbox = region.client.get("/api/v1/requests", headers=region.auth["my"]).json()["items"]
    assert draft["id"] not in [i["id"] for i in inbox]
    assert _act(region, "sg", draft["id"], "submit").json()["state"] == "submitted"


def test_bad_template_fields_are_listed(region: Region) -> None:
    response = region.client.post(
        "/api/v1/requests",
        json=_assistance(
            region,
            urgency="whenever",
            sector="moon-base",
            incident_category="availability/meteor",
            asks=["money"],
            recipients=["Nobody"],
            tlp="beige",
        ),
        headers=region.auth["sg"],
    )
    assert response.status_code == 400
    fields = {p["field"] for p in response.json()["problems"]}
    assert fields == {"urgency", "sector", "incident_category", "asks", "recipients", "tlp"}


def test_evidence_must_be_readable_and_absent_looks_like_invisible(region: Region) -> None:
    mine = indicator("192.0.2.1", tlp=TLP.AMBER)
    theirs = indicator("192.0.2.2", tlp=TLP.RED)
    c = region.client
    assert (
        c.post(
            "/api/v1/objects?scope=group&group=asean-certs",
            json=bundle(mine),
            headers=region.auth["sg"],
        ).status_code
        == 201
    )
    assert (
        c.post(
            "/api/v1/objects?scope=organisation",
            json=bundle(theirs),
            headers=region.auth["th-analyst"],
        ).status_code
        == 201
    )
    absent = "indicator--00000000-0000-4000-8000-000000000000"
    answers = []
    for stix_id in (theirs["id"], absent):
        response = c.post(
            "/api/v1/requests",
            json=_assistance(region, evidence=[stix_id]),
            headers=region.auth["sg"],
        )
        assert response.status_code == 400
        answers.append(response.json()["problems"][0]["reason"])
    assert answers[0] == answers[1]
    assert _file(region, evidence=[mine["id"]])["evidence"] == [mine["id"]]


def test_overdue_request_escalates_once_per_step_to_backups_and_desks(
    region: Region, clock: Clock
) -> None:
    primary = contact(region, "my", email="primary@mycert.example.org")
    backup = contact(region, "my", email="backup@mycert.example.org", name="Backup")
    contact(region, "my", email="primary2@mycert.example.org", backups=[backup["id"]])
    contact(region, "my", kind="diplomatic", email="mfa@mofa.example.org")
    rid = _file(region)["id"]
    node = region.node
    clock.advance(hours=1)
    assert node.coordination.tick().escalations == 0
    clock.advance(hours=1, minutes=1)
    done = node.coordination.tick()
    assert done.escalations == 1 and done.delivery.failed == 0
    view = region.client.get(f"/api/v1/requests/{rid}", headers=region.auth["my"]).json()
    assert view["escalated"] == "acknowledge" and view["overdue"] == "acknowledge"
    subjects = [
        m.subject
        for m in region.node.coordination.notifier.log(None, topic="request.escalated", limit=10)
    ]
    assert len(subjects) == 2  # the backup and the diplomatic desk, not the primary
    smtp = region.smtp
    assert smtp.to("backup@mycert.example.org") and smtp.to("mfa@mofa.example.org")
    assert not [m for m in smtp.to(primary["email"]) if "ESCALATION" in m["Subject"]]
    assert node.coordination.tick().escalations == 0  # once per step
    assert _act(region, "my", rid, "acknowledge").status_code == 200
    clock.advance(hours=23)
    assert node.coordination.tick().escalations == 1
    view = region.client.get(f"/api/v1/requests/{rid}", headers=region.auth["my"]).json()
    assert view["escalated"] == "respond"
    metrics = region.client.get("/api/v1/requests/metrics", headers=region.auth["sg"]).json()
    assert metrics["MY"]["share_overdue"] == 1
    audit = region.client.get(f"/api/v1/requests/{rid}/audit", headers=region.auth["sg"]).json()
    assert [a["action"] for a in audit].count("escalate") == 2


def test_threads_carry_readable_stix_attachments(region: Region) -> None:
    rid = _file(region)["id"]
    shared = indicator("192.0.2.9", tlp=TLP.GREEN)
    region.client.post(
        "/api/v1/objects?scope=community", json=bundle(shared), headers=region.auth["my-analyst"]
    )
    c = region.client
    url = f"/api/v1/requests/{rid}/messages"
    posted = c.post(
        url,
        json={"body": "We see it too", "attachments": [shared["id"]]},
        headers=region.auth["my"],
    )
    assert posted.status_code == 201 and posted.json()["author"] == region.my.identity_id
    forged = c.post(
        url,
        json={"body": "x", "attachments": ["indicator--00000000-0000-4000-8000-000000000001"]},
        headers=region.auth["sg"],
    )
    assert forged.status_code == 400
    assert c.post(url, json={"body": "hi"}, headers=region.auth["th"]).status_code == 404
    assert c.post(url, json={"body": "hi"}, headers=region.auth["my-reader"]).status_code == 403
    thread = c.get(url, headers=region.auth["sg"]).json()
    assert [m["attachments"] for m in thread] == [[shared["id"]]]


def test_consultation_uses_the_same_engine_and_its_own_template(region: Region) -> None:
    c = region.client
    bad = c.post(
        "/api/v1/requests",
        json={
            "kind": "consultation",
            "title": "Scanning",
            "recipients": ["ThaiCERT"],
            "urgency": "medium",
        },
        headers=region.auth["sg"],
    )
    assert bad.status_code == 400
    assert {p["field"] for p in bad.json()["problems"]} == {"description", "questions"}
    good = c.post(
        "/api/v1/requests",
        json={
            "kind": "consultation",
            "title": "Scanning from AS64500",
            "recipients": ["ThaiCERT", "MyCERT"],
            "urgency": "medium",
            "description": "Mass scanning of our ministries from your space",
            "questions": ["Is this a research scanner?"],
            "next_steps": "Call on Thursday",
        },
        headers=region.auth["sg"],
    )
    assert good.status_code == 201
    items = good.json()["items"]
    assert len(items) == 2 and items[0]["case"] == items[1]["case"]
    assert items[0]["details"]["questions"] == ["Is this a research scanner?"]
    assert _act(region, "th", items[0]["id"], "acknowledge").json()["state"] == "acknowledged"
    assert _act(region, "my", items[1]["id"], "decline", "not ours").json()["state"] == "declined"


def test_requester_deadline_shortens_the_respond_deadline_and_drives_escalation(
    region: Region, clock: Clock
) -> None:
    wanted_by = clock.now + timedelta(hours=6)
    filed = _file(region, urgency="high", deadline=wanted_by.isoformat())
    assert datetime.fromisoformat(filed["respond_due"]) == wanted_by  # not the high urgency's
    assert datetime.fromisoformat(filed["deadline"]) == wanted_by
    # A deadline earlier than even the time to acknowledge makes both due then.
    soon = clock.now + timedelta(minutes=30)
    tight = _file(region, deadline=soon.isoformat())
    assert datetime.fromisoformat(tight["acknowledge_due"]) == soon
    assert datetime.fromisoformat(tight["respond_due"]) == soon
    # A later deadline leaves the urgency's in place.
    loose = _file(region, deadline=(clock.now + timedelta(days=30)).isoformat())
    assert datetime.fromisoformat(loose["respond_due"]) == clock.now + timedelta(hours=24)
    for rid in (filed["id"], tight["id"], loose["id"]):
        assert _act(region, "my", rid, "acknowledge").status_code == 200
    clock.advance(hours=5, minutes=59)
    assert region.node.coordination.tick().escalations == 1  # only the tight one
    clock.advance(minutes=2)
    assert region.node.coordination.tick().escalations == 1  # now the requester's deadline
    view = region.client.get(f"/api/v1/requests/{filed['id']}", headers=region.auth["my"]).json()
    assert view["escalated"] == "respond" and view["overdue"] == "respond"
    loose_view = region.client.get(
        f"/api/v1/requests/{loose['id']}", headers=region.auth["my"]
    ).json()
    assert loose_view["escalated"] is None


def test_openapi_describes_every_request_body(region: Region) -> None:
    spec = region.client.get("/api/v1/openapi.json").json()
    schemas = spec["components"]["schemas"]
    items = schemas["RequestsPublic"]["properties"]["items"]["items"]
    assert items == {"$ref": "#/components/schemas/RequestPublic"}
    request = schemas["RequestPublic"]["properties"]
    assert {"case", "state", "allowed_actions", "acknowledge_due", "details"} <= set(request)
    assert {"from", "to"} <= set(schemas["RequestEventPublic"]["properties"])
    assert "never_answered" in schemas["CheckResultsPublic"]["properties"]
    audit = spec["paths"]["/api/v1/requests/{request_id}/audit"]["get"]["responses"]["200"]
    assert audit["content"]["application/json"]["schema"]["items"] == {
        "$ref": "#/components/schemas/RequestEventPublic"
    }
