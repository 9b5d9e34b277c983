"""Communication checks: tokens by e-mail and API, idempotent acknowledgement, forged and
expired links, acknowledgements arriving together, reminders on the injected clock, results
and trend.
"""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from accord.store.checks import CheckRepository
from tests.conftest import Clock
from tests.coordinate.conftest import Region, contact

LINK = re.compile(r"http://\S+/api/v1/checks/ack/(ack_[A-Za-z0-9_-]+)")


def _start(region: Region, clock: Clock, **fields: object) -> dict[str, object]:
    body = {"title": "Q4 ping", "deadline": (clock.now + timedelta(hours=8)).isoformat(), **fields}
    response = region.client.post("/api/v1/checks", json=body, headers=region.auth["sg-liaison"])
    assert response.status_code == 201, response.text
    started: dict[str, object] = response.json()
    return started


def test_check_over_a_group_by_email_with_results(region: Region, clock: Clock) -> None:
    my1 = contact(region, "my", email="a@mycert.example.org")
    my2 = contact(region, "my", email="b@mycert.example.org", kind="diplomatic")
    contact(region, "th", email="c@thaicert.example.org")
    started = _start(region, clock, group="asean-certs")
    targets = started["targets"]
    assert isinstance(targets, list) and len(targets) == 2  # ThaiCERT is not in the group
    region.node.coordination.tick()
    mails = region.smtp.to("a@mycert.example.org")
    assert len(mails) == 1
    body = mails[0].get_content()
    token = LINK.search(body).group(1)  # type: ignore[union-attr]
    assert token == next(t["token"] for t in targets if t["contact"] == my1["id"])
    c = region.client
    shown = c.get(f"/api/v1/checks/ack/{token}").json()
    assert shown["acknowledged"] is None and shown["contact"] == "Duty officer"
    clock.advance(minutes=30)
    first = c.post(f"/api/v1/checks/ack/{token}").json()
    clock.advance(minutes=5)
    again = c.post(f"/api/v1/checks/ack/{token}").json()
    assert first["acknowledged"] == again["acknowledged"]  # idempotent
    got = c.get(f"/api/v1/contacts/{my1['id']}", headers=region.auth["my"]).json()
    assert got["last_confirmed"] == first["acknowledged"]
    results = c.get(f"/api/v1/checks/{started['id']}", headers=region.auth["sg"]).json()
    assert results["rate"] == 0.5 and results["median_seconds"] == 1800
    assert results["p90_seconds"] == 1800
    assert results["by_kind"]["technical"]["rate"] == 1.0
    assert results["by_kind"]["diplomatic"]["rate"] == 0.0
    assert results["by_state"]["MY"] == {"contacts": 2, "acknowledged": 1, "rate": 0.5}
    assert [n["contact"] for n in results["never_answered"]] == [my2["id"]]
    assert c.get(f"/api/v1/checks/{started['id']}", headers=region.auth["th"]).status_code == 404


def test_forged_and_expired_tokens(region: Region, clock: Clock) -> None:
    contact(region, "my")
    started = _start(region, clock)
    token = started["targets"][0]["token"]  # type: ignore[index]
    c = region.client
    forged = [
        c.post("/api/v1/checks/ack/ack_" + "A" * 43),
        c.post(f"/api/v1/checks/ack/{token[:-1]}x"),
        c.post("/api/v1/checks/ack/nonsense"),
        c.get("/api/v1/checks/ack/nonsense"),
    ]
    for response in forged:  # one answer for every bad link: nothing tells them apart
        assert response.status_code == 404
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["detail"] == forged[0].json()["detail"]
    clock.advance(hours=9)
    expired = c.post(f"/api/v1/checks/ack/{token}")
    assert expired.status_code == 409 and "expired" in expired.json()["detail"]
    assert expired.headers["content-type"] == "application/problem+json"
    assert c.get(f"/api/v1/checks/ack/{token}").json()["expired"] is True


def test_an_acknowledged_link_still_answers_after_the_deadline(
    region: Region, clock: Clock
) -> None:
    contact(region, "my")
    token = _start(region, clock)["targets"][0]["token"]  # type: ignore[index]
    c = region.client
    first = c.post(f"/api/v1/checks/ack/{token}").json()
    clock.advance(hours=9)
    again = c.post(f"/api/v1/checks/ack/{token}")
    assert again.status_code == 200
    assert again.json()["acknowledged"] == first["acknowledged"] and again.json()["expired"]


def test_acknowledgements_arriving_together_are_each_recorded_once(
    region: Region, clock: Clock
) -> None:
    made = [contact(region, "my", email=f"poc{i}@mycert.example.org") for i in range(12)]
    tokens = [t["token"] for t in _start(region, clock)["targets"]]  # type: ignore[attr-defined]
    clock.advance(minutes=3)
    checks = region.node.coordination.checks
    # Every token twice, from more threads than one commit takes: repeats answer the first.
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(checks.acknowledge, tokens + tokens))
    assert all(a.acknowledged == clock.now for a in answers)
    # However the race went, the store records only a first acknowledgement.
    check_id = _check_id(region)
    repo = CheckRepository(region.node.engine)
    for target in repo.targets(check_id):
        assert repo.acknowledge(target.id, target.contact_id, clock.now) is False
    c, h = region.client, region.auth["my"]
    for one in made:
        history = c.get(f"/api/v1/contacts/{one['id']}/history", headers=h).json()
        assert [x["action"] for x in history] == ["created", "confirmed"]
    results = c.get(f"/api/v1/checks/{check_id}", headers=region.auth["sg"]).json()
    assert results["acknowledged"] == 12 and results["never_answered"] == []


def test_a_contact_retired_after_the_check_started_can_still_answer(
    region: Region, clock: Clock
) -> None:
    made = contact(region, "my")
    started = _start(region, clock)
    token = started["targets"][0]["token"]  # type: ignore[index]
    c, h = region.client, region.auth["my"]
    assert c.delete(f"/api/v1/contacts/{made['id']}", headers=h).status_code == 204
    assert c.post(f"/api/v1/checks/ack/{token}").status_code == 200
    history = c.get(f"/api/v1/contacts/{made['id']}/history", headers=region.auth["admin"])
    assert [x["action"] for x in history.json()] == ["created", "deleted"]  # not revived
    results = c.get(f"/api/v1/checks/{started['id']}", headers=region.auth["sg"]).json()
    assert results["acknowledged"] == 1


def _check_id(region: Region) -> int:
    trend = region.client.get("/api/v1/checks/trend", headers=region.auth["sg"]).json()
    check_id: int = trend[-1]["check"]
    return check_id


def test_reminder_goes_once_to_those_who_have_not_answered(region: Region, clock: Clock) -> None:
    contact(region, "my", email="quick@mycert.example.org")
    contact(region, "my", email="slow@mycert.example.org")
    started = _start(region, clock)
    quick = next(t for t in started["targets"] if t["contact"] == 1)  # type: ignore[attr-defined]
    region.client.post(f"/api/v1/checks/ack/{quick['token']}")
    clock.advance(hours=5)
    assert region.node.coordination.tick().reminders == 0
    clock.advance(hours=1, minutes=1)  # 75 % of the 8 h window
    assert region.node.coordination.tick().reminders == 1
    assert region.node.coordination.tick().reminders == 0
    slow = [m["Subject"] for m in region.smtp.to("slow@mycert.example.org")]
    assert len(slow) == 2 and slow[1].startswith("[Accord] Reminder")
    assert len(region.smtp.to("quick@mycert.example.org")) == 1


def test_trend_across_checks_and_bad_input(region: Region, clock: Clock) -> None:
    contact(region, "my")
    first = _start(region, clock)
    region.client.post(f"/api/v1/checks/ack/{first['targets'][0]['token']}")  # type: ignore[index]
    _start(region, clock, title="Q1 ping")
    trend = region.client.get("/api/v1/checks/trend", headers=region.auth["sg"]).json()
    assert [t["rate"] for t in trend] == [1.0, 0.0]
    c, h = region.client, region.auth["sg-liaison"]
    past = {"title": "late", "deadline": (clock.now - timedelta(hours=1)).isoformat()}
    assert c.post("/api/v1/checks", json=past, headers=h).status_code == 400
    naive = {"title": "naive", "deadline": "2030-01-01T00:00:00"}
    assert c.post("/api/v1/checks", json=naive, headers=h).status_code == 400
    none = {"title": "x", "deadline": "2030-01-01T00:00:00Z", "states": ["TH"]}
    assert c.post("/api/v1/checks", json=none, headers=h).status_code == 400
    bad_state = {**none, "states": ["ZZ"]}
    assert c.post("/api/v1/checks", json=bad_state, headers=h).status_code == 400
    assert c.post("/api/v1/checks", json=none, headers=region.auth["sg"]).status_code == 403


def test_acknowledgement_writes_a_history_row_like_a_manual_confirm(
    region: Region, clock: Clock
) -> None:
    made = contact(region, "my")
    c = region.client
    confirmed = c.post(f"/api/v1/contacts/{made['id']}/confirm", headers=region.auth["my"])
    assert confirmed.status_code == 200
    token = _start(region, clock)["targets"][0]["token"]  # type: ignore[index]
    clock.advance(minutes=10)
    acked = c.post(f"/api/v1/checks/ack/{token}").json()
    assert c.post(f"/api/v1/checks/ack/{token}").status_code == 200  # a repeat adds nothing
    history = c.get(f"/api/v1/contacts/{made['id']}/history", headers=region.auth["my"]).json()
    assert [h["action"] for h in history] == ["created", "confirmed", "confirmed"]
    assert [h["version"] for h in history] == [1, 2, 3]
    got = c.get(f"/api/v1/contacts/{made['id']}", headers=region.auth["my"]).json()
    assert got["version"] == 3 and got["last_confirmed"] == acked["acknowledged"]
