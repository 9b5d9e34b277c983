"""The webhook egress guard: which addresses are public, how IPv4 hidden in IPv6 is judged,
the operator's allow-list, and the pinned request (address in the URL, name in Host and
TLS). Names resolve through a stub only; the one connection made is to 127.0.0.1.
"""

from __future__ import annotations

import ipaddress
import ssl
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from hypothesis import given
from hypothesis import strategies as st

from accord.coordinate.egress import Egress, Refused, public
from tests.coordinate.conftest import FakeDNS

SPECIAL = [
    "0.0.0.0/8",
    "10.0.0.0/8",
    "100.64.0.0/10",
    "127.0.0.0/8",
    "169.254.0.0/16",
    "172.16.0.0/12",
    "192.0.0.0/24",
    "192.0.2.0/24",
    "192.168.0.0/16",
    "198.18.0.0/15",
    "198.51.100.0/24",
    "203.0.113.0/24",
    "224.0.0.0/4",
    "240.0.0.0/4",
    "::/8",
    "64:ff9b:1::/48",
    "100::/64",
    "2001::/23",
    "2001:db8::/32",
    "fc00::/7",
    "fe80::/10",
    "fec0::/10",
    "ff00::/8",
]


def _in(network: str) -> st.SearchStrategy[Any]:
    net = ipaddress.ip_network(network)
    return st.ip_addresses(network=net)


@given(st.sampled_from(SPECIAL).flatmap(_in))
def test_no_address_of_a_special_range_is_public(address: Any) -> None:
    assert not public(address)
    assert not Egress().permits(address)


@given(st.ip_addresses(v=4))
def test_ipv4_inside_ipv6_is_judged_as_ipv4(v4: ipaddress.IPv4Address) -> None:
    n = int(v4)
    mapped = ipaddress.IPv6Address((0xFFFF << 32) | n)
    nat64 = ipaddress.IPv6Address((0x64FF9B << 96) | n)
    sixtofour = ipaddress.IPv6Address((0x2002 << 112) | (n << 80) | 1)
    assert public(mapped) == public(nat64) == public(sixtofour) == public(v4)


@given(st.ip_addresses(v=4, network=ipaddress.ip_network("127.0.0.0/8")))
def test_the_allow_list_admits_its_network_in_any_spelling_and_nothing_else(
    address: ipaddress.IPv4Address,
) -> None:
    egress = Egress(allow=(ipaddress.ip_network("127.0.0.1/32"),))
    mapped = ipaddress.IPv6Address((0xFFFF << 32) | int(address))
    one = str(address) == "127.0.0.1"
    assert egress.permits(address) is one and egress.permits(mapped) is one
    assert not egress.permits(ipaddress.ip_address("::1"))
    assert not egress.permits(ipaddress.ip_address("169.254.169.254"))


@pytest.mark.parametrize(
    "address", ["93.184.216.34", "8.8.8.8", "2606:2800:220:1::1", "64:ff9b::5db8:d822"]
)
def test_public_addresses_are_public(address: str) -> None:
    assert public(ipaddress.ip_address(address))


def test_every_resolved_address_must_pass_and_the_first_is_used() -> None:
    dns = FakeDNS()
    dns.set("ok.example.com", ["93.184.216.34", "2606:2800:220:1::1"])
    dns.set("half.example.com", ["93.184.216.34", "10.0.0.1"])
    dns.set("mapped.example.com", ["::ffff:93.184.216.34"])
    egress = Egress(resolve=dns)
    assert str(egress.check("https://ok.example.com/").address) == "93.184.216.34"
    assert str(egress.check("https://mapped.example.com/").address) == "93.184.216.34"
    with pytest.raises(Refused, match="does not resolve to a public address"):
        egress.check("https://half.example.com/")
    with pytest.raises(Refused, match="does not resolve to a public address"):
        egress.check("https://localhost/")  # never even asked of the resolver
    assert "localhost" not in dns.asked


def test_the_request_goes_to_the_checked_address_with_the_name_kept() -> None:
    dns = FakeDNS()
    dns.set("hooks.example.com", ["2606:2800:220:1::1"])
    egress = Egress(resolve=dns)
    request, _ = egress.request(
        "https://Hooks.Example.com:8443/a/b?k=1", content=b"{}", headers={"X-A": "1"}
    )
    assert str(request.url) == "https://[2606:2800:220:1::1]:8443/a/b?k=1"
    assert request.headers["Host"] == "hooks.example.com:8443"
    assert request.extensions["sni_hostname"] == "hooks.example.com"
    assert request.headers["X-A"] == "1" and request.content == b"{}"
    request, _ = egress.request("http://[::ffff:93.184.216.34]/", content=b"", headers={})
    assert str(request.url) == "http://93.184.216.34/"
    assert request.headers["Host"] == "[::ffff:93.184.216.34]"
    assert "sni_hostname" not in request.extensions


def _certificate(tmp_path: Path, name: str) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(datetime(2020, 1, 1, tzinfo=UTC))
        .not_valid_after(datetime(2100, 1, 1, tzinfo=UTC))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = tmp_path / f"{name}.pem", tmp_path / f"{name}.key"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_file, key_file


class _Handler(BaseHTTPRequestHandler):
    def do_POST(self) -> None:  # noqa: N802
        self.rfile.read(int(self.headers["Content-Length"]))
        self.server.hosts.append(self.headers["Host"])  # type: ignore[attr-defined]
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def tls_receiver(tmp_path: Path) -> Iterator[tuple[ThreadingHTTPServer, Path]]:
    """An HTTPS receiver on 127.0.0.1 whose certificate names only hooks.example.com."""
    cert_file, key_file = _certificate(tmp_path, "hooks.example.com")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_file, key_file)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.hosts = []  # type: ignore[attr-defined]
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server, cert_file
    server.shutdown()
    server.server_close()


def test_tls_is_checked_against_the_name_while_connecting_to_the_address(
    tls_receiver: tuple[ThreadingHTTPServer, Path],
) -> None:
    server, cert_file = tls_receiver
    port = server.server_address[1]
    dns = FakeDNS()
    dns.set("hooks.example.com", ["127.0.0.1"])
    dns.set("other.example.com", ["127.0.0.1"])
    egress = Egress(allow=(ipaddress.ip_network("127.0.0.1/32"),), resolve=dns)
    trust = ssl.create_default_context(cafile=str(cert_file))
    with httpx.Client(verify=trust, trust_env=False) as client:
        request, _ = egress.request(
            f"https://hooks.example.com:{port}/hook", content=b"{}", headers={}
        )
        assert client.send(request).status_code == 204
        request, _ = egress.request(
            f"https://other.example.com:{port}/hook", content=b"{}", headers={}
        )
        with pytest.raises(httpx.ConnectError, match="certificate"):
            client.send(request)  # the certificate does not name other.example.com
    assert server.hosts == [f"hooks.example.com:{port}"]  # type: ignore[attr-defined]
