"""A request between two real node processes, each mailing through its own SMTP sink, with
default timings: filed on a, mailed by b to b's own desk; acknowledged on b, mailed by a
to a's own desk; each step within seconds (push, not the scheduler's tick)."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiosmtpd.controller import Controller

from accord.node import Node
from accord.settings import Settings
from tests.coordinate.conftest import Sink
from tests.server import free_port, running_node

LINK = re.compile(r"(http://\S+/api/v1/checks/ack/ack_[A-Za-z0-9_-]+)")


@contextmanager
def _sink() -> Iterator[Sink]:
    sink = Sink(port=free_port())
    controller = Controller(sink, hostname="127.0.0.1", port=sink.port)
    controller.start()
    try:
        yield sink
    finally:
        controller.stop()


def _until(what: str, check: Callable[[], Any], within: float = 30) -> Any:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.05)
    raise AssertionError(f"not within {within} s: {what}")


@pytest.mark.server
def test_request_between_two_node_processes(tmp_path: Path) -> None:
    with ExitStack() as stack:
        nodes: dict[str, tuple[str, Node, Sink, dict[str, str]]] = {}
        for name, org, state in (("a", "SingCERT", "SG"), ("b", "MyCERT", "MY")):
            work = tmp_path / name
            work.mkdir()
            url = f"sqlite:///{work}/node.db"
            setup = Node.open(Settings(database_url=url, node_name=name, _env_file=None))  # type: ignore[call-arg]
            stack.callback(setup.close)
            setup.accounts.add_org(None, org, "national-cert", state)
            token = setup.accounts.create_token(None, org, "liaison", "e2e", None).plaintext
            sink = stack.enter_context(_sink())
            base, _env = stack.enter_context(
                running_node(work, database_url=url, node_name=name, smtp_port=str(sink.port))
            )
            nodes[name] = (base, setup, sink, {"Authorization": f"Bearer {token}"})
        (a_url, a, a_smtp, a_auth), (b_url, b, b_smtp, b_auth) = nodes["a"], nodes["b"]
        _, for_b = a.federation.add_peer("b", b_url, b.key.public_b64, None)
        _, for_a = b.federation.add_peer("a", a_url, a.key.public_b64, for_b)
        a.federation.set_peer_token("b", for_a)
        # Push on publish introduces each node's organisations to the other.
        my = _until("a learns MyCERT", lambda: a.accounts.orgs.by_identity(_ids(b)))
        http = stack.enter_context(httpx.Client(timeout=10))
        for base, auth, address in (
            (a_url, a_auth, "desk@singcert.example.org"),
            (b_url, b_auth, "desk@mycert.example.org"),
        ):
            created = http.post(
                f"{base}/api/v1/contacts",
                json={
                    "kind": "24-7-desk",
                    "name": "Duty desk",
                    "email": address,
                    "phone": "+6567654321",
                    "languages": ["en"],
                    "timezone": "Asia/Kuala_Lumpur",
                },
                headers=auth,
            )
            assert created.status_code == 201, created.text
        _until("b learns SingCERT", lambda: b.accounts.orgs.by_identity(_ids(a)))

        filed = http.post(
            f"{a_url}/api/v1/requests",
            json={
                "kind": "assistance",
                "title": "Hospital network encrypted",
                "recipients": list(my),
                "urgency": "critical",
                "incident_category": "malicious-code",
                "sector": "health",
                "asks": ["technical-assistance"],
            },
            headers=a_auth,
        )
        assert filed.status_code == 201, filed.text
        case = filed.json()["items"][0]["case"]
        mail = _until("b mails its desk", lambda: b_smtp.to("desk@mycert.example.org"))
        assert "is now submitted" in str(mail[0].get_content())
        assert f"{b_url}/api/v1/requests/" in str(mail[0].get_content())  # a link to b itself
        assert a_smtp.messages == []  # a mails nobody at b
        inbox = http.get(f"{b_url}/api/v1/requests?box=inbox", headers=b_auth).json()["items"]
        (at_b,) = [r for r in inbox if r["case"] == case]
        mine = f"{a_url}/api/v1/requests/{filed.json()['items'][0]['id']}"
        _until(
            "a sees it delivered",
            lambda: http.get(mine, headers=a_auth).json()["delivery"] == "delivered",
        )

        acked = http.post(
            f"{b_url}/api/v1/requests/{at_b['id']}/actions",
            json={"action": "acknowledge"},
            headers=b_auth,
        )
        assert acked.status_code == 200, acked.text
        _until(
            "a shows it acknowledged",
            lambda: http.get(mine, headers=a_auth).json()["state"] == "acknowledged",
        )
        back = _until("a mails its desk", lambda: a_smtp.to("desk@singcert.example.org"))
        assert "is now acknowledged" in str(back[0].get_content())
        # SingCERT cannot act for MyCERT on its own node.
        wrong = http.post(f"{mine}/actions", json={"action": "start"}, headers=a_auth)
        assert wrong.status_code == 409

        # MyCERT's desk, marked for the federation on b, appears read-only on a.
        desks = http.get(f"{b_url}/api/v1/contacts", headers=b_auth).json()
        (desk,) = [c for c in desks if c["email"] == "desk@mycert.example.org"]
        fields = {k: desk[k] for k in ("kind", "name", "email", "phone", "languages", "timezone")}
        marked = http.put(
            f"{b_url}/api/v1/contacts/{desk['id']}",
            json={**fields, "federation": True},
            headers=b_auth,
        )
        assert marked.status_code == 200, marked.text

        def copy() -> dict[str, Any] | None:
            found = http.get(f"{a_url}/api/v1/contacts?state=MY", headers=a_auth).json()
            return found[0] if found else None

        remote = _until("a lists MyCERT's desk", copy)
        assert remote["home_node"] == b.key.node_id and remote["version"] == 2
        # A check from a reaches it through b, which mails it with a link to b.
        started = http.post(
            f"{a_url}/api/v1/checks",
            json={"title": "Regional ping", "deadline": "2099-01-01T00:00:00Z"},
            headers=a_auth,
        )
        assert started.status_code == 201, started.text

        def check_mail() -> str | None:
            for m in b_smtp.to("desk@mycert.example.org"):
                found = LINK.search(str(m.get_content()))
                if found:
                    return found.group(1)
            return None

        link = _until("b mails the check", check_mail)
        assert link.startswith(b_url)
        assert httpx.post(link).status_code == 200
        results = f"{a_url}/api/v1/checks/{started.json()['id']}"
        _until(
            "the acknowledgement counts at a",
            lambda: (
                http.get(results, headers=a_auth).json()["by_state"].get("MY", {}).get("rate")
                == 1.0
            ),
        )


def _ids(node: Node) -> list[str]:
    return [o.identity_id for o in node.accounts.orgs.all() if o.local]
