"""End to end against a real node process: the scheduler inside ``accord serve`` mails the
aiosmtpd sink, and the acknowledgement link in the message is followed over HTTP.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import httpx
import pytest

from accord.node import Node
from accord.settings import Settings
from tests.conftest import migrated_sqlite
from tests.coordinate.conftest import Sink
from tests.server import running_node

LINK = re.compile(r"(http://\S+/api/v1/checks/ack/ack_[A-Za-z0-9_-]+)")


def _wait_for(sink: Sink, address: str, count: int = 1) -> list[str]:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        mails = sink.to(address)
        if len(mails) >= count:
            return [str(m.get_content()) for m in mails]
        time.sleep(0.05)
    raise AssertionError(f"no mail to {address}")


@pytest.mark.server
def test_check_and_request_end_to_end(tmp_path: Path, smtp: Sink) -> None:
    url = migrated_sqlite(tmp_path, "node.db")
    setup = Node.open(Settings(database_url=url, _env_file=None))  # type: ignore[call-arg]
    setup.accounts.add_org(None, "SingCERT", "national-cert", "SG")
    setup.accounts.add_org(None, "MyCERT", "national-cert", "MY")
    sg = {
        "Authorization": "Bearer "
        + setup.accounts.create_token(None, "SingCERT", "liaison", "e2e", None).plaintext
    }
    my = {
        "Authorization": "Bearer "
        + setup.accounts.create_token(None, "MyCERT", "liaison", "e2e", None).plaintext
    }
    setup.close()
    with running_node(
        tmp_path,
        database_url=url,
        smtp_port=str(smtp.port),
        coordination_interval="0.2",
    ) as (base, _env):
        with httpx.Client(base_url=base, timeout=10) as client:
            for who, address in (
                (sg, "desk@singcert.example.org"),
                (my, "desk@mycert.example.org"),
            ):
                created = client.post(
                    "/api/v1/contacts",
                    json={
                        "kind": "24-7-desk",
                        "name": "Duty desk",
                        "email": address,
                        "phone": "+6567654321",
                        "languages": ["en"],
                        "timezone": "Asia/Kuala_Lumpur",
                    },
                    headers=who,
                )
                assert created.status_code == 201, created.text
            started = client.post(
                "/api/v1/checks",
                json={"title": "Monthly ping", "deadline": "2099-01-01T00:00:00+08:00"},
                headers=sg,
            )
            assert started.status_code == 201
            body = _wait_for(smtp, "desk@mycert.example.org")[0]
            link = LINK.search(body).group(1)  # type: ignore[union-attr]
            assert link.startswith(base)
            assert httpx.get(link).json()["acknowledged"] is None
            acked = httpx.post(link)
            assert acked.status_code == 200 and acked.json()["acknowledged"]
            assert httpx.post(link).json() == acked.json()
            assert httpx.post(link[:-2] + "xx").status_code == 404
            results = client.get(f"/api/v1/checks/{started.json()['id']}", headers=sg).json()
            assert results["by_state"]["MY"]["rate"] == 1.0
            assert results["by_state"]["SG"]["rate"] == 0.0

            filed = client.post(
                "/api/v1/requests",
                json={
                    "kind": "assistance",
                    "title": "Hospital network encrypted",
                    "recipients": ["MyCERT"],
                    "urgency": "critical",
                    "incident_category": "malicious-code",
                    "sector": "health",
                    "asks": ["technical-assistance"],
                },
                headers=sg,
            )
            assert filed.status_code == 201
            rid = filed.json()["items"][0]["id"]
            mail = _wait_for(smtp, "desk@mycert.example.org", 2)[1]
            assert f"{base}/api/v1/requests/{rid}" in mail
            acked_request = client.post(
                f"/api/v1/requests/{rid}/actions", json={"action": "acknowledge"}, headers=my
            )
            assert acked_request.json()["state"] == "acknowledged"
            back = _wait_for(smtp, "desk@singcert.example.org", 2)[1]
            assert "is now acknowledged" in back
