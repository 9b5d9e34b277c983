"""Notifications: signed webhooks to a real loopback HTTP server, retries with backoff,
the admin-only log, and SMTP failures retried rather than lost.
"""

from __future__ import annotations

import ipaddress
import logging
import socket
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
from tests.conftest import Clock, migrated_sqlite
from tests.coordinate.conftest import FakeDNS, Region, contact
from tests.server import free_port

SECRET = "s3cret-webhook-key-0123456789"


class Receiver(ThreadingHTTPServer):
    """A webhook receiver on 127.0.0.1: answers 204, or each of ``answers`` in turn first."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.calls: list[tuple[str, dict[str, str], bytes]] = []  # path, headers, body
        self.answers: list[int] = []

    @property
    def port(self) -> int:
        return int(self.server_address[1])


class _Handler(BaseHTTPRequestHandler):
    server: Receiver

    def do_POST(self) -> None:  # noqa: N802
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.server.calls.append((self.path, dict(self.headers), body))
        status = self.server.answers.pop(0) if self.server.answers else 204
        self.send_response(status)
        if 300 <= status < 400:
            self.send_header("Location", f"http://127.0.0.1:{self.server.port}/elsewhere")
        self.send_header("Content-Length", "0")
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


@pytest.fixture(autouse=True)
def no_real_dns(monkeypatch: pytest.MonkeyPatch) -> None:
    """A safety net, not the mechanism: webhook hosts are resolved by the node's injected
    resolver (``FakeDNS``), so a name reaching the system resolver here is a bug, and must
    fail rather than send a DNS query off this machine."""
    real = socket.getaddrinfo

    def literal_only(host: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            ipaddress.ip_address(host)
        except ValueError:
            raise AssertionError(f"the system resolver was asked for {host!r}") from None
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", literal_only)


def file_request(region: Region) -> None:
    filed = region.client.post(
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
    assert filed.status_code == 201, filed.text


def register(region: Region, url: str) -> Any:
    return region.client.post(
        "/api/v1/webhooks", json={"url": url, "secret": SECRET}, headers=region.auth["my"]
    )


def hook_log(region: Region) -> list[dict[str, Any]]:
    log = region.client.get("/api/v1/notifications", headers=region.auth["admin"])
    assert log.status_code == 200
    return [n for n in log.json() if n["channel"] == "webhook"]


LOOPBACK = pytest.mark.parametrize("webhook_allow", [["127.0.0.1/32"]])


@LOOPBACK
def test_signed_webhook_retried_with_backoff_then_logged(
    region: Region, clock: Clock, receiver: Receiver, dns: FakeDNS
) -> None:
    # The name resolves only in the node's resolver: reaching the receiver proves the node
    # connected to the address it checked, the name kept in the Host header.
    dns.set("hooks.mycert.example", ["127.0.0.1"])
    assert register(region, f"http://hooks.mycert.example:{receiver.port}/hook").status_code == 201
    receiver.answers = [503]
    file_request(region)
    first = region.node.coordination.tick().delivery
    assert (first.sent, first.retried) == (0, 1)
    assert region.node.coordination.tick().delivery.retried == 0  # not due before the backoff
    clock.advance(seconds=61)
    assert region.node.coordination.tick().delivery.sent == 1
    path, headers, body = receiver.calls[-1]
    assert path == "/hook" and headers["Host"] == f"hooks.mycert.example:{receiver.port}"
    stamp = headers["X-Accord-Signature"].split(",")[0].removeprefix("t=")
    assert headers["X-Accord-Signature"] == sign(SECRET, int(stamp), body)
    assert orjson.loads(body)["topic"] == "request.submit"
    assert orjson.loads(body)["state"] == "submitted"
    assert dns.asked == ["hooks.mycert.example"] * 3  # registration, then each delivery
    logged = hook_log(region)
    assert logged[0]["status"] == "sent" and logged[0]["attempts"] == 2
    assert region.client.get("/api/v1/notifications", headers=region.auth["my"]).status_code == 403


@LOOPBACK
def test_the_log_never_carries_a_webhook_key(region: Region, receiver: Receiver) -> None:
    url = f"http://127.0.0.1:{receiver.port}/hook"
    notifier = region.node.coordination.notifier
    notifier.register_webhook(Principal(org=region.my.id, role=Role.LIAISON), url, SECRET)
    file_request(region)
    queued = notifier.log(None, topic="request.submit")
    assert [n.channel for n in queued if n.channel == "webhook"] == ["webhook"]
    assert region.node.coordination.tick().delivery.sent >= 1 and len(receiver.calls) == 1
    logged = notifier.log(None)
    assert logged and all(not hasattr(n, "secret") and not hasattr(n, "body") for n in logged)
    assert SECRET not in repr(logged)


def test_a_name_rebound_to_loopback_after_registration_gets_nothing(
    region: Region, clock: Clock, receiver: Receiver, dns: FakeDNS, caplog: Any
) -> None:
    # Public when registered, loopback (where the receiver listens) at delivery.
    dns.set("rebind.example.com", ["93.184.216.34"], ["127.0.0.1"])
    assert register(region, f"http://rebind.example.com:{receiver.port}/hook").status_code == 201
    file_request(region)
    with caplog.at_level(logging.WARNING, logger="accord.coordinate.notify"):
        for _ in range(3):
            region.node.coordination.tick()
            clock.advance(hours=1)
    assert receiver.calls == []  # nothing was sent, on any attempt
    assert dns.asked == ["rebind.example.com"] * 4
    logged = hook_log(region)
    assert [(n["status"], n["attempts"], n["last_error"]) for n in logged] == [
        ("failed", 3, "delivery failed")
    ]
    assert "rebind.example.com' does not resolve to a public address" in caplog.text


@LOOPBACK
def test_a_redirect_is_a_failure_and_never_followed(
    region: Region, receiver: Receiver, caplog: Any
) -> None:
    assert register(region, f"http://127.0.0.1:{receiver.port}/hook").status_code == 201
    receiver.answers = [302]
    file_request(region)
    with caplog.at_level(logging.WARNING, logger="accord.coordinate.notify"):
        delivery = region.node.coordination.tick().delivery
    assert delivery.retried >= 1
    assert [path for path, _, _ in receiver.calls] == ["/hook"]  # not /elsewhere
    assert hook_log(region)[0]["last_error"] == "delivery failed"
    assert "HTTP 302 from 127.0.0.1 (not followed)" in caplog.text


@LOOPBACK
def test_every_failure_reads_the_same_and_the_reason_goes_to_the_node_log_only(
    region: Region, receiver: Receiver, dns: FakeDNS, caplog: Any
) -> None:
    closed = free_port()  # nothing listens: connection refused
    dns.set("rebind.example.com", ["93.184.216.34"], ["10.0.0.7"])
    for url in (
        f"http://127.0.0.1:{closed}/hook?token=tok-in-the-url",
        f"http://127.0.0.1:{receiver.port}/missing",
        "http://rebind.example.com/hook",
    ):
        assert register(region, url).status_code == 201, url
    receiver.answers = [404]
    file_request(region)
    with caplog.at_level(logging.WARNING, logger="accord.coordinate.notify"):
        assert region.node.coordination.tick().delivery.retried >= 3
    logged = hook_log(region)
    assert len(logged) == 3
    assert {n["last_error"] for n in logged} == {"delivery failed"}  # no port-scan oracle
    cli = region.node.coordination.notifier.log(None, status="pending")
    assert {n.last_error for n in cli if n.channel == "webhook"} == {"delivery failed"}
    reasons = [r.getMessage() for r in caplog.records if r.name == "accord.coordinate.notify"]
    assert any("ConnectError" in r for r in reasons)
    assert any("HTTP 404" in r for r in reasons)
    assert any("does not resolve to a public address" in r for r in reasons)
    assert all("\n" not in r and "tok-in-the-url" not in r and SECRET not in r for r in reasons)


def test_webhook_allow_reaches_the_notifier_and_is_checked(tmp_path: Any) -> None:
    from pydantic import ValidationError

    from accord.node import Node
    from accord.settings import Settings

    node = Node.open(
        Settings(  # type: ignore[call-arg]
            database_url=migrated_sqlite(tmp_path, "a.db"),
            _env_file=None,
            webhook_allow=["10.1.0.0/16", "fd00::/8"],
        )
    )
    try:
        egress = node.coordination.notifier.egress
        assert egress.permits(ipaddress.ip_address("10.1.2.3"))
        assert not egress.permits(ipaddress.ip_address("10.2.0.1"))
        assert egress.permits(ipaddress.ip_address("fd00::1"))
    finally:
        node.close()
    assert Settings(_env_file=None).webhook_allow == []  # type: ignore[call-arg]
    with pytest.raises(ValidationError, match="webhook_allow"):
        Settings(_env_file=None, webhook_allow=["10.1.2.3/8"])  # type: ignore[call-arg]


def test_unreachable_smtp_is_retried_then_marked_failed(
    region: Region, clock: Clock, caplog: Any
) -> None:
    caplog.set_level(logging.WARNING, logger="accord.coordinate.notify")
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
    assert failed[0].attempts == 3 and failed[0].last_error == "delivery failed"
    assert "cannot reach SMTP 127.0.0.1:1" in caplog.text  # the reason: in the node log


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
                    database_url=migrated_sqlite(tmp_path, f"{password}.db"),
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
                    database_url=migrated_sqlite(tmp_path, f"{trusted}.db"),
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


def test_admins_list_and_delete_webhooks(region: Region, dns: FakeDNS) -> None:
    c = region.client
    dns.set("soc.mycert.example.org", ["93.184.216.34"])
    hook = register(region, "https://soc.mycert.example.org/hook")
    assert hook.status_code == 201
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


REFUSED = [
    # not http(s), no host
    "ftp://soc.example.org/hook",
    "javascript:alert(1)",
    "https://",
    "http:///x",
    "",
    # loopback, every spelling
    "http://localhost/hook",
    "http://LOCALHOST:8470/hook",
    "http://api.localhost/hook",
    "http://127.0.0.1/hook",
    "http://127.0.0.1./hook",
    "http://127.1/hook",
    "http://127.0.1/hook",
    "http://0/hook",
    "http://0.0.0.0/hook",
    "http://2130706433/hook",
    "http://0x7f000001/hook",
    "http://0x7f.1/hook",
    "http://0x7f.0x0.0x0.0x1/hook",
    "http://017700000001/hook",
    "http://0177.0.0.1/hook",
    "http://127.000.000.001/hook",
    "http://[::1]/hook",
    "http://[0:0:0:0:0:0:0:1]/hook",
    "http://[::]/hook",
    "http://[::ffff:127.0.0.1]/hook",
    "http://[::ffff:7f00:1]/hook",
    "http://[::127.0.0.1]/hook",
    "http://[64:ff9b::127.0.0.1]/hook",
    "http://[2002:7f00:1::1]/hook",
    "http://[2001:0:4136:e378:8000:63bf:80ff:fffe]/hook",  # Teredo
    # link-local, cloud metadata
    "http://169.254.169.254/latest/meta-data/",
    "http://[fe80::1]/hook",
    "http://[fe80::1%25eth0]/hook",
    "http://[::ffff:169.254.169.254]/",
    "http://metadata.google.internal/computeMetadata/v1/",
    # private, shared, benchmarking, documentation, multicast, reserved
    "http://10.0.0.1/hook",
    "http://172.16.5.4/hook",
    "http://192.168.1.1/hook",
    "http://[fd12:3456::1]/hook",
    "http://[fc00::1]/hook",
    "http://100.64.0.1/hook",
    "http://198.18.0.1/hook",
    "http://192.0.2.1/hook",
    "http://203.0.113.9/hook",
    "http://[2001:db8::1]/hook",
    "http://224.0.0.1/hook",
    "http://[ff02::1]/hook",
    "http://240.0.0.1/hook",
    "http://255.255.255.255/hook",
    # internal names, names resolving to a private address (in part), or nowhere
    "http://intranet.mycert.example/hook",
    "http://mixed.mycert.example/hook",
    "http://v6.mycert.example/hook",
    "http://nowhere.example.org/hook",
    # user info and fragment tricks, odd characters, ports
    "http://example.com@127.0.0.1/",
    "http://soc.mycert.example.org@127.0.0.1/",
    "http://127.0.0.1#@soc.mycert.example.org/",
    "http://soc.mycert.example.org#@127.0.0.1/",
    "http://user:pw@soc.mycert.example.org/",
    "http://soc.mycert.example.org\\@127.0.0.1/",
    "http://soc.mycert.example.org /hook",
    "http://soc.mycert.example.org\t/hook",
    "http://%31%32%37.0.0.1/hook",
    "http://[127.0.0.1]/hook",
    "http://soc.mycert.example.org:0/hook",
    "http://soc.mycert.example.org:65536/hook",
    "http://soc.mycert.example.org:-1/hook",
    "http://soc.mycert.example.org:http/hook",
    "http://bücher.example/hook",
    "https://soc.mycert.example.org/" + "x" * 500,
]


def test_unsafe_webhook_urls_are_refused_at_registration(region: Region, dns: FakeDNS) -> None:
    dns.set("soc.mycert.example.org", ["93.184.216.34"])
    dns.set("intranet.mycert.example", ["10.20.30.40"])
    dns.set("mixed.mycert.example", ["93.184.216.34", "127.0.0.1"])
    dns.set("v6.mycert.example", ["2606:2800:220:1::1", "fd00::5"])
    for url in REFUSED:
        bad = register(region, url)
        assert bad.status_code == 400, url
        assert bad.headers["content-type"].startswith("application/problem+json"), url
        problem = bad.json()
        assert [p["field"] for p in problem["problems"]] == ["url"], url
        assert "Traceback" not in bad.text
    # A name that does not resolve reads like one resolving to a private address.
    unknown = register(region, "http://nowhere.example.org/hook").json()["problems"][0]
    private = register(region, "http://intranet.mycert.example/hook").json()["problems"][0]
    assert unknown["reason"].replace("nowhere.example.org", "X") == private["reason"].replace(
        "intranet.mycert.example", "X"
    )
    assert "10.20.30.40" not in private["reason"]
    assert region.client.get("/api/v1/webhooks", headers=region.auth["admin"]).json() == []
    for url in ("https://soc.mycert.example.org/hook?k=1", "http://93.184.216.34:8443/"):
        assert register(region, url).status_code == 201, url  # plain http is allowed
