"""Requests and consultations between organisations homed on different nodes, in one
process: three peered nodes (the first on PostgreSQL when configured), each message
carried by the courier over the same HTTP exchange as between servers.

SingCERT is homed on node a, MyCERT on node b, ThaiCERT on node c.
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Iterator
from contextlib import nullcontext
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
import rfc8785
from sqlalchemy import select

from accord.coordinate.federation import PATH, Courier
from accord.domain.stix import format_timestamp
from accord.federation.sync import SIGNATURE
from accord.store.checks import coord_checks
from accord.store.coordfed import OutboxRepository
from accord.store.notifications import coord_notifications
from accord.store.requests import coord_requests
from tests.federation.cluster import Member, analyst, local_cluster

ORGS = {"a": ("SingCERT", "SG"), "b": ("MyCERT", "MY"), "c": ("ThaiCERT", "TH")}


class Region:
    def __init__(self, members: dict[str, Member]) -> None:
        self.m = members
        self.auth: dict[str, dict[str, str]] = {}
        self.ident: dict[str, str] = {}
        for name, (org, state) in ORGS.items():
            node = members[name].node
            created = node.accounts.add_org(None, org, "national-cert", state)
            self.ident[name] = created.identity_id
            token = node.accounts.create_token(None, org, "liaison", "t", None).plaintext
            self.auth[name] = {"Authorization": f"Bearer {token}"}
        for a in members:  # introduce every node's organisations to every peer
            for b in members[a].node.federation.peer_names():
                members[a].sync(b)
        self.couriers = {
            name: Courier(
                member.node.coordination.link,  # type: ignore[arg-type]
                poll=60,
                timeout=5,
                backoff=1,
                backoff_max=2,
                http=lambda member=member: nullcontext(member.http),  # type: ignore[misc]
            )
            for name, member in members.items()
        }

    def api(self, node: str, method: str, path: str, as_: str | None = None, **kw: Any) -> Any:
        member = self.m[node]
        headers = self.auth[as_ or node]
        return member.http.request(method, f"{member.url}/api/v1{path}", headers=headers, **kw)

    def deliver(self, *nodes: str) -> int:
        """Run each node's courier once (in the order given); how many messages left."""
        return sum(self.couriers[n].run_once() for n in nodes)

    def mails(self, node: str, topic: str | None = None) -> list[str]:
        log = self.m[node].node.coordination.notifier.log(None, topic=topic, limit=1000)
        return sorted(n.target for n in log if n.channel == "email")

    def find(self, node: str, case: str) -> dict[str, Any]:
        box = self.api(node, "GET", "/requests?box=inbox").json()["items"]
        box += self.api(node, "GET", "/requests?box=outbox").json()["items"]
        (found,) = [r for r in box if r["case"] == case]
        return dict(found)


@pytest.fixture
def region(tmp_path: Path) -> Iterator[Region]:
    names = ["a", "b", "c"]
    with local_cluster(tmp_path, names, [("a", "b"), ("b", "c"), ("a", "c")]) as members:
        yield Region(members)


def _contact(region: Region, node: str, kind: str = "24-7-desk", **fields: Any) -> None:
    body = {
        "kind": kind,
        "name": "Duty desk",
        "email": f"{kind}-{node}@{ORGS[node][0].lower()}.example.org",
        "phone": "+6561234567",
        "languages": ["en"],
        "timezone": "Asia/Singapore",
        **fields,
    }
    response = region.api(node, "POST", "/contacts", json=body)
    assert response.status_code == 201, response.text


def _file(region: Region, node: str = "a", to: str = "b", **fields: Any) -> dict[str, Any]:
    body = {
        "kind": "assistance",
        "title": "Hospital network encrypted",
        "recipients": [region.ident[to]],
        "urgency": "critical",
        "incident_category": "malicious-code",
        "sector": "health",
        "asks": ["technical-assistance"],
        **fields,
    }
    response = region.api(node, "POST", "/requests", json=body)
    assert response.status_code == 201, response.text
    item: dict[str, Any] = response.json()["items"][0]
    return item


def _act(region: Region, node: str, rid: int, action: str, reason: str = "") -> Any:
    return region.api(
        node, "POST", f"/requests/{rid}/actions", json={"action": action, "reason": reason}
    )


def test_a_request_travels_to_the_recipients_home_node_and_back(region: Region) -> None:
    _contact(region, "a")
    _contact(region, "b")
    filed = _file(region)
    assert filed["delivery"] == "undelivered"
    assert filed["recipient_node"] == region.m["b"].node.key.node_id
    assert filed["requester_node"] is None
    assert region.mails("a") == [] and region.mails("b") == []

    assert region.deliver("a") == 1
    at_b = region.find("b", filed["case"])
    assert at_b["state"] == "submitted" and at_b["allowed_actions"] == ["acknowledge", "decline"]
    assert at_b["requester"] == region.ident["a"] and at_b["recipient"] == region.ident["b"]
    assert at_b["title"] == filed["title"] and at_b["details"] == filed["details"]
    assert at_b["requester_node"] == region.m["a"].node.key.node_id
    # Each side counts it among its open cases with other nodes; nobody else does.
    for node, org in (("a", "SingCERT"), ("b", "MyCERT")):
        open_cases = region.m[node].node.coordination.requests.across_nodes(
            analyst(region.m[node].node, org), 50
        )
        assert [r.case for r in open_cases] == [filed["case"]]
    thai = analyst(region.m["c"].node, "ThaiCERT")
    assert region.m["c"].node.coordination.requests.across_nodes(thai, 50) == []
    # B's own contact is told, by B; A mails nobody at B.
    assert region.mails("b", "request.submit") == ["24-7-desk-b@mycert.example.org"]
    assert region.mails("a") == []
    assert region.find("a", filed["case"])["delivery"] == "delivered"

    assert region.deliver("b") == 1  # the receipt: B's deadlines, counted from filing
    at_a = region.find("a", filed["case"])
    assert at_a["acknowledge_due"] == at_b["acknowledge_due"]
    assert at_a["respond_due"] == at_b["respond_due"]

    # A's requester cannot act for the recipient; B's recipient acts on B only.
    assert _act(region, "a", filed["id"], "acknowledge").status_code == 409
    for action, state in [("acknowledge", "acknowledged"), ("start", "in_progress")]:
        moved = _act(region, "b", at_b["id"], action)
        assert moved.status_code == 200, moved.text
        assert moved.json()["state"] == state
    posted = region.api(
        "b", "POST", f"/requests/{at_b['id']}/messages", json={"body": "Send the logs"}
    )
    assert posted.status_code == 201, posted.text
    assert region.deliver("b") == 3
    at_a = region.find("a", filed["case"])
    assert at_a["state"] == "in_progress"
    assert at_a["acknowledged"] == region.find("b", filed["case"])["acknowledged"]
    assert region.mails("a", "request.acknowledge") == ["24-7-desk-a@singcert.example.org"]

    reply = region.api(
        "a", "POST", f"/requests/{filed['id']}/messages", json={"body": "Logs attached"}
    )
    assert reply.status_code == 201
    assert _act(region, "b", at_b["id"], "respond").status_code == 200
    assert region.deliver("a", "b") == 2
    assert _act(region, "a", filed["id"], "close").json()["state"] == "closed"
    assert region.deliver("a") == 1

    # Both sides hold the same thread and the same audit trail.
    threads = {
        n: [
            (m["author"], m["body"])
            for m in region.api(n, "GET", f"/requests/{rid}/messages").json()
        ]
        for n, rid in (("a", filed["id"]), ("b", at_b["id"]))
    }
    assert (
        threads["a"]
        == threads["b"]
        == [
            (region.ident["b"], "Send the logs"),
            (region.ident["a"], "Logs attached"),
        ]
    )
    audits = {
        n: [
            (e["action"], e["actor"], e["to"])
            for e in region.api(n, "GET", f"/requests/{rid}/audit").json()
        ]
        for n, rid in (("a", filed["id"]), ("b", at_b["id"]))
    }
    assert audits["a"] == audits["b"]
    assert [a for a, _, _ in audits["a"]] == [
        "create",
        "submit",
        "acknowledge",
        "start",
        "respond",
        "close",
    ]
    assert region.find("b", filed["case"])["state"] == "closed"
    assert region.deliver("a", "b", "c") == 0  # nothing left, nothing sent twice
    sing = analyst(region.m["a"].node, "SingCERT")
    assert region.m["a"].node.coordination.requests.across_nodes(sing, 50) == []  # closed


def test_a_node_down_delays_requests_and_loses_none(region: Region) -> None:
    _contact(region, "b")
    filed = _file(region, urgency="high")
    down = Courier(
        region.m["a"].node.coordination.link,  # type: ignore[arg-type]
        poll=60,
        timeout=5,
        backoff=0.01,
        backoff_max=0.01,
        http=lambda: httpx.Client(transport=httpx.MockTransport(_refuse)),
    )
    assert down.run_once() == 0
    assert down.run_once() == 0
    assert region.find("a", filed["case"])["delivery"] == "undelivered"
    outbox = region.m["a"].node.coordination.link.outbox  # type: ignore[union-attr]
    assert outbox.count("pending") == 1
    # Withdrawn while B is down: both travel, in order, once it is back.
    assert _act(region, "a", filed["id"], "withdraw").json()["state"] == "withdrawn"
    time.sleep(0.05)  # past the retry wait
    assert region.deliver("a") == 2
    at_b = region.find("b", filed["case"])
    assert at_b["state"] == "withdrawn"
    # B's deadline is counted from filing, not from arrival.
    submitted = at_b["submitted"]
    assert submitted == filed["submitted"]
    assert at_b["acknowledge_due"] == filed["acknowledge_due"]
    assert outbox.count("pending") == 0


def _refuse(request: httpx.Request) -> httpx.Response:
    raise httpx.ConnectError("connection refused", request=request)


def _forge(
    region: Region, sender: str, to: str, message: dict[str, Any], *, replay: bytes | None = None
) -> tuple[httpx.Response, bytes]:
    """Sign ``message`` with ``sender``'s own key and deliver it, as a rogue peer would."""
    s, r = region.m[sender], region.m[to]
    peer = s.node.federation.peer(to)
    body = replay or rfc8785.dumps(
        {
            "type": "accord-coordination",
            "from": s.node.key.node_id,
            "to": r.node.key.node_id,
            "issued": format_timestamp(s.node.clock()),
            "nonce": uuid.uuid4().hex,
            "rotations": [],
            "message": message,
        }
    )
    response = s.http.post(
        f"{r.url}{PATH}",
        content=body,
        headers={
            "Authorization": f"Bearer {peer.token}",
            "Content-Type": "application/json",
            SIGNATURE: s.node.federation.key.sign(body),
        },
    )
    return response, body


def _transition(region: Region, actor: str, uid: str, action: str, source: str, target: str) -> Any:
    return {
        "id": f"coordmsg--{uuid.uuid4()}",
        "kind": "transition",
        "request": uid,
        "action": action,
        "source": source,
        "target": target,
        "actor": {"id": region.ident[actor], "name": ORGS[actor][0], "kind": "national-cert"},
        "role": "liaison",
        "at": format_timestamp(region.m["a"].node.clock()),
        "detail": "",
    }


def _uid(region: Region, node: str, case: str) -> str:
    outbox = region.m["a"].node.coordination.link.outbox  # type: ignore[union-attr]
    with outbox.engine.connect() as conn:
        uid = conn.execute(
            select(coord_requests.c.uid).where(coord_requests.c.case_id == case)
        ).scalar_one()
    assert isinstance(uid, str)
    return uid


def _rejected(region: Region, node: str, peer: str) -> int:
    fed = region.m[node].node.federation
    return fed.status(fed.peer(peer)).rejected


def test_forged_replayed_and_misaddressed_messages_are_refused(region: Region) -> None:
    filed = _file(region)
    region.deliver("a")
    uid = _uid(region, "a", filed["case"])
    before = region.find("b", filed["case"])

    # Node c acknowledges for MyCERT (homed on b), and for SingCERT (homed on a).
    for actor in ("b", "a"):
        forged, _ = _forge(
            region, "c", "b", _transition(region, actor, uid, "acknowledge", "submitted", "x")
        )
        assert forged.status_code == 403, forged.text
        assert "home node" in forged.json()["detail"] or "homed on" in forged.json()["detail"]
    assert _rejected(region, "b", "c") == 2
    # Node a (the requester's home) may not acknowledge for the recipient either.
    wrong, _ = _forge(
        region, "a", "b", _transition(region, "b", uid, "acknowledge", "submitted", "acknowledged")
    )
    assert wrong.status_code == 403 and "homed on this node" in wrong.json()["detail"]
    # ... nor take a step the workflow gives the recipient, for its own organisation.
    out_of_turn, _ = _forge(
        region, "a", "b", _transition(region, "a", uid, "respond", "submitted", "responded")
    )
    assert out_of_turn.status_code == 409, out_of_turn.text
    assert region.find("b", filed["case"]) == before

    # A request to an organisation b does not know, or does not home.
    for recipient in (f"identity--{uuid.uuid4()}", region.ident["c"]):
        message = _transition(
            region, "a", f"request--{uuid.uuid4()}", "submit", "draft", "submitted"
        )
        message["filed"] = {
            "case": f"case--{uuid.uuid4()}",
            "kind": "assistance",
            "title": "x",
            "urgency": "low",
            "tlp": "TLP:AMBER",
            "details": {},
            "evidence": [],
            "created": message["at"],
            "deadline": None,
            "submitted": message["at"],
            "requester": region.ident["a"],
            "recipient": recipient,
        }
        refused, _ = _forge(region, "a", "b", message)
        assert refused.status_code == 400, refused.text
        assert "nothing stored" in refused.json()["detail"]

    # A message applied once, sent again: 409 replayed, applied once.
    posted = _transition(region, "a", uid, "withdraw", "submitted", "withdrawn")
    first, body = _forge(region, "a", "b", posted)
    assert first.status_code == 202, first.text
    again, _ = _forge(region, "a", "b", posted, replay=body)
    assert again.status_code == 409 and again.json()["type"].endswith("/replayed")
    audit = region.api("b", "GET", f"/requests/{before['id']}/audit").json()
    assert [e["action"] for e in audit].count("withdraw") == 1

    # Unsigned, altered, or addressed to another node.
    bad = region.m["a"].http.post(
        f"{region.m['b'].url}{PATH}",
        content=body.replace(b"withdraw", b"acknowledge"),
        headers={
            "Authorization": f"Bearer {region.m['a'].node.federation.peer('b').token}",
            "Content-Type": "application/json",
            SIGNATURE: region.m["a"].node.federation.key.sign(body),
        },
    )
    assert bad.status_code == 403
    elsewhere, _ = _forge(region, "a", "c", posted)
    assert elsewhere.status_code == 400  # c holds no such request
    # An organisation's token is not a node's.
    as_org = region.m["b"].http.post(
        f"{region.m['b'].url}{PATH}",
        content=body,
        headers={**region.auth["b"], "Content-Type": "application/json"},
    )
    assert as_org.status_code == 401, as_org.text


def test_deadlines_and_escalation_run_at_the_recipients_home_node(region: Region) -> None:
    _contact(region, "a", "diplomatic")
    _contact(region, "b", "diplomatic")
    filed = _file(region)
    region.deliver("a", "b")
    requests_b = region.m["b"].node.coordination.requests
    requests_a = region.m["a"].node.coordination.requests
    late = region.m["b"].node.clock() + timedelta(hours=3)
    requests_a._clock = lambda: late  # noqa: SLF001  (only the deadline check moves on)
    assert requests_a.escalate_overdue() == 0  # A does not run B's deadlines
    requests_b._clock = lambda: late  # noqa: SLF001
    assert requests_b.escalate_overdue() == 1
    assert region.mails("b", "request.escalated") == ["diplomatic-b@mycert.example.org"]
    assert region.deliver("b") == 1
    at_a = region.find("a", filed["case"])
    assert at_a["escalated"] == "acknowledge"
    assert region.mails("a", "request.escalated") == []
    audit = region.api("a", "GET", f"/requests/{filed['id']}/audit").json()
    assert audit[-1]["action"] == "escalate" and audit[-1]["actor"] is None


def test_messages_queued_in_one_transaction_with_the_action(region: Region) -> None:
    """Filing queues exactly one message, with the request, in the filing's transaction."""
    outbox: OutboxRepository = region.m["a"].node.coordination.link.outbox  # type: ignore[union-attr]
    region.api("a", "POST", "/contacts", json={})  # a refused contact queues nothing
    assert outbox.count("pending") == 0
    _file(region)
    assert outbox.count("pending") == 1
    body = orjson.loads(outbox.head(region.m["b"].node.key.node_id, 10)[0].body)
    assert body["kind"] == "transition" and body["action"] == "submit"
    assert body["filed"]["recipient"] == region.ident["b"]


# The regional directory ------------------------------------------------------------------
def _names(region: Region, node: str, query: str = "") -> dict[str, dict[str, Any]]:
    found = region.api(node, "GET", f"/contacts{query}")
    assert found.status_code == 200, found.text
    return {c["name"]: c for c in found.json()}


def test_contacts_travel_to_entitled_nodes_read_only(region: Region) -> None:
    owner = region.m["a"].node.accounts
    owner.add_group(None, "asean", "ASEAN CERTs")
    for member in ("SingCERT", "MyCERT"):
        owner.set_member(None, "asean", member, member=True)
    for a in region.m:  # the membership reaches the members' nodes
        for b in region.m[a].node.federation.peer_names():
            region.m[a].sync(b)
    for name, extra in (
        ("Group desk", {"groups": ["asean"]}),
        ("Regional desk", {"federation": True}),
        ("Home desk", {}),
    ):
        _contact(region, "a", name=name, email=f"{name.split()[0].lower()}@sg.example.org", **extra)
    assert region.deliver("a") == 3  # b: two contacts; c: one; nothing of the home desk
    a_id = region.m["a"].node.key.node_id

    at_b = _names(region, "b")
    assert set(at_b) == {"Group desk", "Regional desk"}
    for copy in at_b.values():
        assert copy["home_node"] == a_id and copy["organisation"] == region.ident["a"]
        assert copy["state"] == "SG" and copy["version"] == 1
    assert at_b["Group desk"]["groups"] == ["asean"]
    # c homes no member of the group: only the federation's contact, and no trace of the rest.
    assert set(_names(region, "c")) == {"Regional desk"}
    held = region.m["c"].node.coordination.directory.search(None)
    assert {c.name for c in held} == {"Regional desk"}
    # Who do I call in Singapore for a 24/7 desk, asked at c: the region it may see.
    assert set(_names(region, "c", "?state=SG&kind=24-7-desk")) == {"Regional desk"}

    # Read-only where it is a copy: changed only at its home node, which it follows.
    copy_id = at_b["Regional desk"]["id"]
    refused = region.api("b", "POST", f"/contacts/{copy_id}/confirm")
    assert refused.status_code == 403 and "read-only copy" in refused.json()["detail"]
    home = _names(region, "a")
    assert (
        region.api("a", "POST", f"/contacts/{home['Regional desk']['id']}/confirm").status_code
        == 200
    )
    narrowed = {
        k: home["Group desk"][k]
        for k in ("kind", "name", "email", "phone", "languages", "timezone")
    }
    assert (
        region.api("a", "PUT", f"/contacts/{home['Group desk']['id']}", json=narrowed).status_code
        == 200
    )
    region.deliver("a")
    at_b = _names(region, "b")
    assert set(at_b) == {"Regional desk"}  # the group's contact is now a's alone: retired
    assert at_b["Regional desk"]["version"] == 2
    confirmed = _names(region, "a")["Regional desk"]["last_confirmed"]
    assert confirmed is not None and at_b["Regional desk"]["last_confirmed"] == confirmed
    # Copies are never mailed from here: their home node checks them.
    _contact(region, "b", name="MyCERT desk")
    node_b = region.m["b"].node
    started = node_b.coordination.checks.start(
        None,
        "Ping",
        node_b.clock() + timedelta(days=1),
        organiser=node_b.accounts.orgs.find("MyCERT").id,
    )
    assert [t.name for t in started.targets] == ["MyCERT desk"]


def test_a_node_newly_entitled_receives_the_contacts_it_may_now_see(region: Region) -> None:
    """Backfill: an organisation joining a group gets the group's existing contacts at its
    home node, without waiting for them to change; and nothing is sent twice."""
    owner = region.m["a"].node.accounts
    owner.add_group(None, "asean", "ASEAN CERTs")
    owner.set_member(None, "asean", "SingCERT", member=True)
    _contact(region, "a", name="Group desk", email="group@sg.example.org", groups=["asean"])
    region.deliver("a")
    assert "Group desk" not in _names(region, "b")  # MyCERT is not a member yet

    owner.set_member(None, "asean", "MyCERT", member=True)
    region.m["a"].sync("b")  # the membership reaches b, which now homes a member
    assert region.deliver("a") == 1
    at_b = _names(region, "b")
    assert at_b["Group desk"]["home_node"] == region.m["a"].node.key.node_id
    assert at_b["Group desk"]["groups"] == ["asean"] and at_b["Group desk"]["version"] == 1
    assert "Group desk" not in _names(region, "c")  # c still homes no member
    link = region.m["a"].node.coordination.link
    assert link is not None and link.backfill() == 0  # already sent at this version


def test_a_node_cannot_send_contacts_of_organisations_it_does_not_home(region: Region) -> None:
    message = {
        "id": f"coordmsg--{uuid.uuid4()}",
        "kind": "contact",
        "actor": {"id": region.ident["a"], "name": "SingCERT", "kind": "national-cert"},
        "contact": {
            "id": 1,
            "version": 9,
            "kind": "24-7-desk",
            "name": "Forged desk",
            "email": "forged@example.org",
            "languages": ["en"],
            "timezone": "UTC",
            "groups": [],
            "federation": True,
            "updated": format_timestamp(region.m["c"].node.clock()),
        },
    }
    forged, _ = _forge(region, "c", "b", message)
    assert forged.status_code == 403, forged.text
    assert "Forged desk" not in _names(region, "b")


# Communication checks across nodes ---------------------------------------------------------
LINK = re.compile(r"(http://\S+/api/v1/checks/ack/(ack_[A-Za-z0-9_-]+))")


def _token(region: Region, node: str, address: str) -> str:
    n = coord_notifications.c
    with region.m[node].node.engine.connect() as conn:
        (body,) = conn.execute(
            select(n.body).where(n.target == address, n.topic == "check.start")
        ).scalars()
    found = LINK.search(body)
    assert found is not None
    return found.group(2)


def test_a_check_reaches_contacts_homed_on_other_nodes_and_their_answers_come_back(
    region: Region,
) -> None:
    _contact(region, "a", name="Sing desk", email="desk@sg.example.org")
    for node, address in (("b", "desk@my.example.org"), ("c", "desk@th.example.org")):
        _contact(region, node, name=f"{node} desk", email=address, federation=True)
    assert region.deliver("b", "c") == 4  # each contact to both other nodes
    node_a = region.m["a"].node
    started = node_a.coordination.checks.start(
        None,
        "Regional ping",
        node_a.clock() + timedelta(days=1),
        organiser=node_a.accounts.orgs.find("SingCERT").id,
    )
    assert [t.name for t in started.targets] == ["Sing desk"]  # only a's own get a's links
    sing = analyst(node_a, "SingCERT")
    assert node_a.coordination.checks.awaiting_other_nodes(sing) == 2  # b's desk and c's
    assert region.mails("a", "check.start") == ["desk@sg.example.org"]
    assert region.deliver("a") == 2  # the check, to b and to c
    # Each home node mails its own contact, with a link to itself.
    for node, address in (("b", "desk@my.example.org"), ("c", "desk@th.example.org")):
        assert region.mails(node, "check.start") == [address]
    token = _token(region, "b", "desk@my.example.org")
    acked = region.m["b"].http.post(f"{region.m['b'].url}/api/v1/checks/ack/{token}")
    assert acked.status_code == 200 and acked.json()["acknowledged"]
    assert region.deliver("b") == 1
    results = node_a.coordination.checks.results(None, started.id)
    assert results.contacts == 3 and results.acknowledged == 1
    assert results.by_state["MY"].rate == 1.0 and results.by_state["TH"].rate == 0.0
    assert {u.name for u in results.never_answered} == {"Sing desk", "c desk"}
    b_id, c_id = (region.m[n].node.key.node_id for n in ("b", "c"))
    assert {k: (v.contacts, v.acknowledged) for k, v in results.by_node.items()} == {
        "this node": (1, 0),
        b_id: (1, 1),
        c_id: (1, 0),
    }
    assert {u.name: u.home_node for u in results.never_answered} == {
        "Sing desk": None,
        "c desk": c_id,
    }
    assert node_a.coordination.checks.awaiting_other_nodes(sing) == 1  # c's only
    assert node_a.coordination.checks.awaiting_other_nodes(analyst(node_a, "MyCERT")) == 0

    # Node c acknowledges for a contact it does not hold.
    check = node_a.coordination.link.check_repo.by_uid(  # type: ignore[union-attr]
        _check_uid(region)
    )
    assert check is not None
    held_by_c = {c.id for c in region.m["c"].node.coordination.directory.search(None)}
    not_cs = max(held_by_c) + 1000  # no contact of c's: it cannot answer for it
    forged, _ = _forge(
        region,
        "c",
        "a",
        {
            "id": f"coordmsg--{uuid.uuid4()}",
            "kind": "check-ack",
            "check": check.uid,
            "contact": not_cs,
            "at": format_timestamp(node_a.clock()),
        },
    )
    assert forged.status_code == 403, forged.text
    assert node_a.coordination.checks.results(None, started.id).acknowledged == 1
    # Reminders: a reminds its own contact; c's is c's to remind.
    checks_a = node_a.coordination.checks
    late = node_a.clock() + timedelta(hours=20)
    checks_a._clock = lambda: late  # noqa: SLF001  (only the reminder time moves on)
    assert checks_a.send_reminders() == 1
    assert region.mails("a", "check.reminder") == ["desk@sg.example.org"]


def test_an_acknowledgement_lost_before_it_was_queued_is_sent_after_a_restart(
    region: Region, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The trip back is queued just after the acknowledgement commits: a crash in
    between loses nothing, since the courier's first pass queues what is missing."""
    _contact(region, "b", name="b desk", email="desk@my.example.org", federation=True)
    region.deliver("b")
    node_a = region.m["a"].node
    started = node_a.coordination.checks.start(
        None,
        "Regional ping",
        node_a.clock() + timedelta(days=1),
        organiser=node_a.accounts.orgs.find("SingCERT").id,
    )
    region.deliver("a")
    link_b = region.m["b"].node.coordination.link
    assert link_b is not None
    with monkeypatch.context() as crash:  # the process dies between commit and queue
        crash.setattr(link_b, "check_acknowledged", lambda *args: None)
        token = _token(region, "b", "desk@my.example.org")
        acked = region.m["b"].http.post(f"{region.m['b'].url}/api/v1/checks/ack/{token}")
        assert acked.status_code == 200
    assert region.deliver("b") == 0  # nothing queued: the acknowledgement is stranded
    assert node_a.coordination.checks.results(None, started.id).acknowledged == 0
    restarted = Courier(
        link_b, poll=60, timeout=5, backoff=1, backoff_max=2,
        http=lambda: nullcontext(region.m["b"].http),
    )  # fmt: skip
    # The acknowledgement, and the contact's version its confirmation made, to a and c.
    assert restarted.run_once() == 3
    assert node_a.coordination.checks.results(None, started.id).acknowledged == 1
    at_c = _names(region, "c")["b desk"]
    assert at_c["last_confirmed"] is not None and at_c["version"] == 2
    assert link_b.backfill() == 0  # and it is never queued twice


def _check_uid(region: Region) -> str:
    outbox = region.m["a"].node.coordination.link.outbox  # type: ignore[union-attr]
    with outbox.engine.connect() as conn:
        uid = conn.execute(
            select(coord_checks.c.uid).where(coord_checks.c.uid.is_not(None))
        ).scalar_one()
    assert isinstance(uid, str)
    return uid


def test_a_refused_submission_is_shown_to_the_requester_and_not_retried(region: Region) -> None:
    filed = _file(region)

    def refuse(request: httpx.Request) -> httpx.Response:
        problem = {"type": "/api/v1/problems/invalid-input", "detail": "no such recipient"}
        return httpx.Response(422, json=problem)

    courier = Courier(
        region.m["a"].node.coordination.link,  # type: ignore[arg-type]
        poll=60,
        timeout=5,
        backoff=1,
        backoff_max=2,
        http=lambda: httpx.Client(transport=httpx.MockTransport(refuse)),
    )
    assert courier.run_once() == 0
    shown = region.find("a", filed["case"])
    assert shown["delivery"] == "refused: b refused it: no such recipient"
    outbox = region.m["a"].node.coordination.link.outbox  # type: ignore[union-attr]
    assert outbox.count("pending") == 0 and outbox.count("refused") == 1
    assert region.deliver("a") == 0  # not sent again
