"""Fixtures for coordination tests: a real SMTP sink on loopback, a node that mails to it,
and a small region of organisations with tokens for the in-process API.
"""

from __future__ import annotations

import email
import email.policy
import ipaddress
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from email.message import EmailMessage
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from accord.app import create_app
from accord.coordinate.egress import IPAddress
from accord.domain.model import Organisation
from accord.node import Node
from accord.settings import Settings
from tests.asgi import Client
from tests.builders import org
from tests.conftest import Clock
from tests.server import free_port


@dataclass
class Sink:
    """Messages an aiosmtpd server on 127.0.0.1 received, parsed as the standard library does."""

    port: int
    messages: list[EmailMessage] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        parsed = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        with self.lock:
            self.messages.append(parsed)
        return "250 OK"

    def to(self, address: str) -> list[EmailMessage]:
        with self.lock:
            return [m for m in self.messages if m["To"] == address]


@pytest.fixture
def smtp() -> Iterator[Sink]:
    sink = Sink(port=free_port())
    controller = Controller(sink, hostname="127.0.0.1", port=sink.port)
    controller.start()
    yield sink
    controller.stop()


@dataclass
class FakeDNS:
    """A resolver for webhook hosts that never asks the network: ``answers`` maps a name to
    the addresses it resolves to, one list per lookup in turn (the last one repeats)."""

    answers: dict[str, list[list[str]]] = field(default_factory=dict)
    asked: list[str] = field(default_factory=list)

    def set(self, name: str, *answers: list[str]) -> None:
        self.answers[name] = list(answers)

    def __call__(self, host: str) -> list[IPAddress]:
        self.asked.append(host)
        turns = self.answers.get(host)
        if not turns:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        answer = turns.pop(0) if len(turns) > 1 else turns[0]
        return [ipaddress.ip_address(a) for a in answer]


@pytest.fixture
def dns() -> FakeDNS:
    return FakeDNS()


@pytest.fixture
def webhook_allow() -> list[str]:
    """ACCORD_WEBHOOK_ALLOW for ``cnode``: none, as by default (parametrize to change it)."""
    return []


@pytest.fixture
def cnode(
    database_url: str,
    clock: Clock,
    smtp: Sink,
    dns: FakeDNS,
    webhook_allow: list[str],
    migrated: None,
) -> Iterator[Node]:
    """A node (SQLite, and PostgreSQL when configured) whose notifications go to the sink,
    resolving webhook hosts with ``dns`` only."""
    settings = Settings(  # type: ignore[call-arg]
        database_url=database_url,
        _env_file=None,
        smtp_host="127.0.0.1",
        smtp_port=smtp.port,
        notify_backoff=60,
        notify_attempts=3,
        webhook_allow=webhook_allow,
    )
    opened = Node.open(settings, clock=clock)
    notifier = opened.coordination.notifier
    notifier.egress = replace(notifier.egress, resolve=dns)
    yield opened
    opened.close()


@dataclass
class Region:
    node: Node
    client: Client
    smtp: Sink
    sg: Organisation
    my: Organisation
    th: Organisation
    auth: dict[str, dict[str, str]]


def auth(node: Node, who: Organisation, role: str) -> dict[str, str]:
    token = node.accounts.create_token(None, who.name, role, "test", None).plaintext
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def region(cnode: Node, smtp: Sink) -> Iterator[Region]:
    sg, my, th = (
        org(cnode, "SingCERT"),
        org(cnode, "MyCERT", state="MY"),
        org(cnode, "ThaiCERT", state="TH"),
    )
    cnode.accounts.add_group(None, "asean-certs", "ASEAN national CERTs")
    for member in (sg, my):
        cnode.accounts.set_member(None, "asean-certs", member.name, member=True)
    tokens = {
        "admin": auth(cnode, sg, "admin"),
        "sg": auth(cnode, sg, "analyst"),
        "sg-liaison": auth(cnode, sg, "liaison"),
        "my": auth(cnode, my, "liaison"),
        "my-reader": auth(cnode, my, "reader"),
        "th": auth(cnode, th, "liaison"),
        "my-analyst": auth(cnode, my, "analyst"),
        "th-analyst": auth(cnode, th, "analyst"),
    }
    with Client(create_app(node=cnode)) as client:
        yield Region(cnode, client, smtp, sg, my, th, tokens)


def contact(region: Region, who: str, **fields: Any) -> dict[str, Any]:
    body = {
        "kind": "technical",
        "name": "Duty officer",
        "email": f"duty-{who}@example.org",
        "phone": "+6561234567",
        "languages": ["en"],
        "timezone": "Asia/Singapore",
        **fields,
    }
    response = region.client.post("/api/v1/contacts", json=body, headers=region.auth[who])
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created
