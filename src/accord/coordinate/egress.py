"""Where the node may send a webhook: public addresses only, checked after resolution.

A webhook URL is any liaison's to choose, so without a guard the node would POST (and
retry) to its own loopback, to a cloud metadata service on a link-local address, or to
anything on the operator's private networks. ``Egress`` parses a URL strictly (http or
https, no user info, no fragment, a port in 1-65535, printable ASCII only, an IPv4
address only in its plain dotted form), resolves its host, and accepts it only when
every address is public (``ipaddress``'s ``is_global`` and none of the special ranges
below, IPv4 embedded in IPv6 unwrapped and judged as IPv4) or lies in a network the
operator allows (``ACCORD_WEBHOOK_ALLOW``). ``request`` does all of that again at
delivery and builds a request to the address it just checked, the URL's host kept in
the Host header and as TLS server name, so a name that re-resolves elsewhere
between the check and the connection (DNS rebinding) cannot steer the node.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
Resolver = Callable[[str], Sequence[IPAddress]]


class Refused(ValueError):
    """A destination the node will not send to; ``str()`` says why (safe to show its author)."""


# Not public although some Python versions call them global (or list them nowhere).
_NOT_PUBLIC = tuple(
    ipaddress.ip_network(n)
    for n in (
        "0.0.0.0/8",  # "this network"
        "10.0.0.0/8",
        "100.64.0.0/10",  # shared address space (carrier-grade NAT)
        "127.0.0.0/8",
        "169.254.0.0/16",  # link-local, cloud metadata services
        "172.16.0.0/12",
        "192.0.0.0/24",  # IETF protocol assignments
        "192.0.2.0/24",  # documentation
        "192.168.0.0/16",
        "198.18.0.0/15",  # benchmarking
        "198.51.100.0/24",  # documentation
        "203.0.113.0/24",  # documentation
        "224.0.0.0/4",  # multicast
        "240.0.0.0/4",  # reserved, broadcast
        "::/8",  # unspecified, loopback, IPv4-compatible (mapped is unwrapped first)
        "64:ff9b:1::/48",  # local-use NAT64
        "100::/64",  # discard
        "2001::/23",  # IETF protocol assignments, Teredo (2001::/32) included
        "2001:db8::/32",  # documentation
        "3fff::/20",  # documentation
        "5f00::/16",  # segment routing SIDs
        "fc00::/7",  # unique local
        "fe80::/10",  # link-local
        "fec0::/10",  # site-local (deprecated)
        "ff00::/8",  # multicast
    )
)
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")  # well-known prefix: the last 32 bits are IPv4
_NUMERIC_LABEL = re.compile(r"(0x[0-9a-f]*|[0-9]+)")
_NAME_LABEL = re.compile(r"[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?")
_OCTET = r"(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
_DOTTED = re.compile(rf"{_OCTET}(\.{_OCTET}){{3}}")  # the one IPv4 spelling accepted


def public(address: IPAddress) -> bool:
    """Whether ``address`` is on the public internet (IPv4 inside IPv6 judged as IPv4)."""
    if isinstance(address, ipaddress.IPv6Address):
        if address.scope_id:
            return False
        embedded = _embedded_ipv4(address)
        if embedded is not None:
            return public(embedded)
    if address.is_multicast or address.is_reserved or not address.is_global:
        return False
    return not any(address in network for network in _NOT_PUBLIC)


def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv4-mapped, NAT64 or 6to4 address carries, if it is one."""
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return address.sixtofour


def system_resolve(host: str) -> list[IPAddress]:
    """Every address the operating system's resolver gives ``host`` (OSError when none)."""
    infos = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    return [ipaddress.ip_address(info[4][0]) for info in infos]


@dataclass(frozen=True, slots=True)
class Destination:
    """A checked URL: its parts, and the one address the node will connect to."""

    scheme: str  # http | https
    host: str  # the host as written (lower case): a name or an address
    port: int | None  # as written; None: the scheme's default
    target: str  # path and query
    address: IPAddress  # checked: public, or in an allowed network

    @property
    def named(self) -> bool:
        """Whether the host is a name (not an address literal)."""
        return _literal(self.host) is None

    def pinned_url(self) -> httpx.URL:
        """The URL with the checked address for its host (Refused if httpx cannot build it)."""
        try:
            return httpx.URL(
                scheme=self.scheme,
                host=str(self.address),
                port=self.port,
                raw_path=self.target.encode(),
            )
        except httpx.InvalidURL as exc:
            raise Refused(f"not a URL ({exc})") from None

    @property
    def host_header(self) -> str:
        """The Host header: the host as written, and the port if one was."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if self.port is None else f"{host}:{self.port}"


@dataclass(frozen=True, slots=True)
class Egress:
    """Which destinations webhooks may reach: public addresses, plus ``allow``."""

    allow: tuple[IPNetwork, ...] = ()
    resolve: Resolver = system_resolve

    def permits(self, address: IPAddress) -> bool:
        """Whether the node may connect to ``address``: public, or in an allowed network."""
        if isinstance(address, ipaddress.IPv6Address) and address.scope_id:
            return False
        address = _unmapped(address)
        return public(address) or any(address in network for network in self.allow)

    def check(self, url: str) -> Destination:
        """Parse, resolve and check ``url``; Refused, saying why, when the node may not send."""
        scheme, host, port, target = _parse(url)
        address = _literal(host)
        if address is not None:
            if not self.permits(address):
                raise Refused(f"{host} is not a public address")
        else:
            addresses = self._addresses(host)
            if not addresses or not all(self.permits(a) for a in addresses):
                # One answer for "no such name" and "a private one": no oracle on internal DNS.
                raise Refused(f"the host {host!r} does not resolve to a public address")
            address = addresses[0]
        destination = Destination(scheme, host, port, target, _unmapped(address))
        destination.pinned_url()  # a URL httpx cannot build is Refused now, not at delivery
        return destination

    def request(
        self, url: str, *, content: bytes, headers: dict[str, str]
    ) -> tuple[httpx.Request, Destination]:
        """A POST of ``content`` to the address ``url`` resolves to now, checked (or Refused)."""
        d = self.check(url)
        extensions: dict[str, Any] = {}
        if d.scheme == "https" and d.named:
            extensions["sni_hostname"] = d.host  # the certificate is checked against the name
        request = httpx.Request(
            "POST",
            d.pinned_url(),
            content=content,
            headers={**headers, "Host": d.host_header},
            extensions=extensions,
        )
        return request, d

    def _addresses(self, host: str) -> list[IPAddress]:
        if host == "localhost" or host.endswith(".localhost"):  # RFC 6761: always loopback
            return [ipaddress.IPv4Address("127.0.0.1"), ipaddress.IPv6Address("::1")]
        try:
            return list(self.resolve(host))
        except (OSError, UnicodeError, ValueError):
            return []


def _unmapped(address: IPAddress) -> IPAddress:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _parse(url: str) -> tuple[str, str, int | None, str]:
    """Scheme, lower-case host, port and path+query of a webhook URL, or Refused."""
    if not url or any(not "!" <= c <= "~" or c == "\\" for c in url):
        raise Refused(
            "a webhook URL is printable ASCII without spaces or backslashes"
            " (write an internationalised name in its xn-- form)"
        )
    try:
        parts = urlsplit(url)
        host, port = parts.hostname, parts.port
    except ValueError as exc:
        raise Refused(f"not a URL ({exc})") from None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https") or not host:
        raise Refused("a webhook URL must be http:// or https:// with a host")
    if "@" in parts.netloc:
        raise Refused("a webhook URL may not carry a user name or password (user@host)")
    if "#" in url:
        raise Refused("a webhook URL may not carry a #fragment")
    if port is not None and not 1 <= port <= 65535:
        raise Refused(f"port {port} is not in 1-65535")
    name = host if ":" in host else host.removesuffix(".")
    if ":" in name:  # urlsplit lets colons in only within brackets: an IPv6 literal
        if _literal(name) is None:
            raise Refused(f"{name!r} is not an IPv6 address")
    elif _NUMERIC_LABEL.fullmatch(name.rsplit(".", 1)[-1]):  # 127.1, 0x7f.1, 2130706433, 0
        if not _DOTTED.fullmatch(name):
            raise Refused(f"write the IPv4 address {name!r} as four decimal numbers, a.b.c.d")
    elif len(name) > 253 or not all(_NAME_LABEL.fullmatch(x) for x in name.split(".")):
        raise Refused(f"{name!r} is not a host name")
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return scheme, name, port, target


def _literal(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None
