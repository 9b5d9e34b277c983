"""Notifications: signed webhooks to a real loopback HTTP server, retries with backoff,
the admin-only log, and SMTP failures retried rather than lost.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import orjson
import pytest

from accord.coordinate.notify import sign
from accord.domain.model import Principal, Role
from tests.conftest import Clock
from tests.coordinate.conftest import Region, contact

SECRET = "s3cret-webhook-key-0123456789"


class Receiver(ThreadingHTTPServer):
    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.calls: list[tuple[dict[str, str], bytes]] = []
        self.fail_next = 0


class _Handler(BaseHTTPRequestHandler):
    server: Receiver

    def do_POST(self) -> None:  # noqa: N802
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.server.calls.append((dict(self.headers), body))
        status = 503 if self.server.fail_next > 0 else 204
        self.server.fail_next -= 1
        self.send_response(status)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def test_signed_webhook_retried_with_backoff_then_logged(
    region: Region, clock: Clock, receiver: Receiver
) -> None:
    url = f"http://127.0.0.1:{receiver.server_address[1]}/hook"
    c = region.client
    hook = c.post(
        "/api/v1/webhooks", json={"url": url, "secret": SECRET}, headers=region.auth["my"]
    )
    assert hook.status_code == 201
    receiver.fail_next = 1
    filed = c.post(
        "/api/v1/requests",
        json={
            "kind": "assistance",
            "title": "DDoS on the stock exchange",
            "recipients": ["MyCERT"],
            "urgency": "high",
            "incident_category": "availability/ddos",
            "sector": "financial-market-infrastructure",
            "asks": ["mitigation"],
        },
        headers=region.auth["sg"],
    )
    assert filed.status_code == 201
    first = region.node.coordination.tick().delivery
    assert (first.sent, first.retried) == (0, 1)
    assert region.node.coordination.tick().delivery.retried == 0  # not due before the backoff
    clock.advance(seconds=61)
    assert region.node.coordination.tick().delivery.sent == 1
    headers, body = receiver.calls[-1]
    stamp = headers["X-Accord-Signature"].split(",")[0].removeprefix("t=")
    assert headers["X-Accord-Signature"] == sign(SECRET, int(stamp), body)
    assert orjson.loads(body)["topic"] == "request.submit"
    assert orjson.loads(body)["state"] == "submitted"
    log = c.get("/api/v1/notifications?topic=request.submit", headers=region.auth["admin"]).json()
    hook_log = [n for n in log if n["channel"] == "webhook"]
    assert hook_log[0]["status"] == "sent" and hook_log[0]["attempts"] == 2
    assert c.get("/api/v1/notifications", headers=region.auth["my"]).status_code == 403


def test_the_log_never_carries_a_webhook_key(region: Region, receiver: Receiver) -> None:
    url = f"http://127.0.0.1:{receiver.server_address[1]}/hook"
    notifier = region.node.coordination.notifier
    notifier.register_webhook(Principal(org=region.my.id, role=Role.LIAISON), url, SECRET)
    c = region.client
    c.post(
        "/api/v1/requests",
        json={
            "kind": "assistance",
            "title": "DDoS on the stock exchange",
            "recipients": ["MyCERT"],
            "urgency": "high",
            "incident_category": "availability/ddos",
            "sector": "financial-market-infrastructure",
            "asks": ["mitigation"],
        },
        headers=region.auth["sg"],
    )
    queued = notifier.log(None, topic="request.submit")
    assert [n.channel for n in queued if n.channel == "webhook"] == ["webhook"]
    region.node.coordination.tick()
    logged = notifier.log(None)
    assert logged and all(not hasattr(n, "secret") and not hasattr(n, "body") for n in logged)
    assert SECRET not in repr(logged)


def test_unreachable_smtp_is_retried_then_marked_failed(region: Region, clock: Clock) -> None:
    contact(region, "my", email="desk@mycert.example.org")
    region.client.post(
        "/api/v1/checks",
        json={"title": "ping", "deadline": "2030-01-01T00:00:00Z"},
        headers=region.auth["sg-liaison"],
    )
    notifier = region.node.coordination.notifier
    notifier._smtp = replace(notifier._smtp, port=1)  # noqa: SLF001  (nothing listens on 1)
    results = []
    for _ in range(3):
        results.append(region.node.coordination.tick().delivery)
        clock.advance(hours=1)
    assert [(d.retried, d.failed) for d in results] == [(1, 0), (1, 0), (0, 1)]
    failed = region.node.coordination.notifier.log(None, status="failed", limit=5)
    assert failed[0].attempts == 3 and "cannot reach SMTP" in failed[0].last_error


def test_smtp_login_is_used_when_configured(tmp_path: Any, clock: Clock) -> None:
    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import AuthResult, LoginPassword

    from accord.node import Node
    from accord.settings import Settings
    from tests.coordinate.conftest import Sink
    from tests.server import free_port

    logins: list[tuple[bytes, bytes]] = []

    def authenticator(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> Any:
        assert isinstance(data, LoginPassword)
        logins.append((data.login, data.password))
        return AuthResult(success=data.password == b"right-password")

    sink = Sink(port=free_port())
    controller = Controller(
        sink,
        hostname="127.0.0.1",
        port=sink.port,
        authenticator=authenticator,
        auth_require_tls=False,
    )
    controller.start()
    try:
        for password, expect_sent in (("wrong-password", 0), ("right-password", 1)):
            node = Node.open(
                Settings(  # type: ignore[call-arg]
                    database_url=f"sqlite:///{tmp_path}/{password}.db",
                    _env_file=None,
                    smtp_port=sink.port,
                    smtp_username="accord",
                    smtp_password=password,
                    smtp_timeout=1,  # aiosmtpd hangs up on a bad login; smtplib waits
                ),
                clock=clock,
            )
            node.accounts.add_org(None, "MyCERT", "national-cert", "MY")
            from accord.coordinate.contacts import ContactInput

            node.coordination.directory.add(
                None,
                "MyCERT",
                ContactInput(
                    kind="technical", name="Desk", email="d@example.org", languages=("en",)
                ),
            )
            node.coordination.checks.start(
                None, "ping", clock.now + timedelta(hours=1), organiser=1
            )
            assert node.coordination.tick().delivery.sent == expect_sent
            node.close()
    finally:
        controller.stop()
    assert logins == [(b"accord", b"wrong-password"), (b"accord", b"right-password")]
    assert [m["To"] for m in sink.messages] == ["d@example.org"]


def test_starttls_verifies_the_server_certificate(
    tmp_path: Any, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    import ipaddress
    import ssl
    from datetime import UTC, datetime

    from aiosmtpd.controller import Controller
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    from accord.coordinate.contacts import ContactInput
    from accord.node import Node
    from accord.settings import Settings
    from tests.coordinate.conftest import Sink
    from tests.server import free_port

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(datetime(2020, 1, 1, tzinfo=UTC))
        .not_valid_after(datetime(2100, 1, 1, tzinfo=UTC))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    server_tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_tls.load_cert_chain(cert_file, key_file)
    sink = Sink(port=free_port())
    controller = Controller(
        sink, hostname="127.0.0.1", port=sink.port, tls_context=server_tls, require_starttls=True
    )
    controller.start()
    try:
        outcomes = []
        for trusted in (False, True):
            if trusted:
                monkeypatch.setenv("SSL_CERT_FILE", str(cert_file))
            node = Node.open(
                Settings(  # type: ignore[call-arg]
                    database_url=f"sqlite:///{tmp_path}/{trusted}.db",
                    _env_file=None,
                    smtp_port=sink.port,
                    smtp_starttls=True,
                    smtp_timeout=2,
                ),
                clock=clock,
            )
            node.accounts.add_org(None, "MyCERT", "national-cert", "MY")
            node.coordination.directory.add(
                None,
                "MyCERT",
                ContactInput(kind="technical", name="D", email="d@example.org", languages=("en",)),
            )
            node.coordination.checks.start(None, "p", clock.now + timedelta(hours=1), organiser=1)
            outcomes.append(node.coordination.tick().delivery.sent)
            node.close()
    finally:
        controller.stop()
    assert outcomes == [0, 1]  # an untrusted certificate is refused, a trusted one used
    assert [m["To"] for m in sink.messages] == ["d@example.org"]


def test_admins_list_and_delete_webhooks_and_only_http_urls_register(region: Region) -> None:
    c = region.client
    hook = c.post(
        "/api/v1/webhooks",
        json={"url": "https://soc.mycert.example.org/hook", "secret": SECRET},
        headers=region.auth["my"],
    )
    assert hook.status_code == 201
    for url in ("ftp://soc.example.org/hook", "javascript:alert(1)", "https://", "http:///x"):
        bad = c.post(
            "/api/v1/webhooks", json={"url": url, "secret": SECRET}, headers=region.auth["my"]
        )
        assert bad.status_code == 400, url
        assert bad.headers["content-type"].startswith("application/problem+json")
        assert bad.json()["problems"][0]["field"] == "url"
    listed = c.get("/api/v1/webhooks", headers=region.auth["admin"])
    assert listed.status_code == 200
    assert [(h["id"], h["organisation"], h["url"]) for h in listed.json()] == [
        (hook.json()["id"], region.my.identity_id, "https://soc.mycert.example.org/hook")
    ]
    assert SECRET not in listed.text
    assert c.get("/api/v1/webhooks", headers=region.auth["my"]).status_code == 403
    path = f"/api/v1/webhooks/{hook.json()['id']}"
    assert c.delete(path, headers=region.auth["my"]).status_code == 403
    assert c.delete(path, headers=region.auth["admin"]).status_code == 204
    assert c.delete(path, headers=region.auth["admin"]).status_code == 404
    assert c.get("/api/v1/webhooks", headers=region.auth["admin"]).json() == []
    assert (
        region.node.coordination.notifier.webhooks(region.my.id, "t", {}, region.node.clock()) == []
    )
