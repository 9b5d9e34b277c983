"""Warning lists: values that are almost never worth an alert (private ranges, examples…).

Small lists ship in ``accord/detect/data`` (one value a line, ``#`` comments):
address ranges as CIDR, domains as names that also cover their subdomains. An
indicator or a match on a listed value is flagged, never dropped: the analyst decides.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping
from functools import cache
from importlib import resources

from accord.detect.matcher import parent_domains

SHIPPED = ("private", "documentation", "resolvers", "top-domains")

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


_IPV4_CHARS = frozenset("0123456789./")


def _maybe_network(value: str) -> bool:
    """False only for what ``ip_network`` refuses: hashes and names without dots or
    colons, anything with "://" (URLs), and dotted values that are not all digits,
    dots and slashes (names). Ingest checks every value, and a refusal costs an
    exception."""
    if ":" in value:
        return "://" not in value
    return "." in value and _IPV4_CHARS.issuperset(value)


class Warninglists:
    """Named lists of networks and domains; ``check`` says which lists hold a value."""

    def __init__(self, lists: Mapping[str, Iterable[str]]) -> None:
        # Networks by (IP version, prefix length): a lookup is one shift and one dict hit
        # per prefix length listed, not a walk over every listed network. Ingest asks
        # this for every value of every indicator.
        self._networks: dict[tuple[int, int], dict[int, set[str]]] = {}
        self._domains: dict[str, list[str]] = {}
        for name, values in lists.items():
            for value in values:
                try:
                    net: Network = ipaddress.ip_network(value, strict=False)
                except ValueError:
                    self._domains.setdefault(value.lower().rstrip("."), []).append(name)
                    continue
                table = self._networks.setdefault((net.version, net.prefixlen), {})
                table.setdefault(int(net.network_address), set()).add(name)
        # Per IP version, its (prefix length, table) pairs, longest prefix last.
        self._by_version: dict[int, list[tuple[int, dict[int, set[str]]]]] = {}
        for (version, prefixlen), table in sorted(self._networks.items()):
            self._by_version.setdefault(version, []).append((prefixlen, table))

    def _in_networks(self, version: int, address: int, length: int) -> set[str]:
        bits = 32 if version == 4 else 128
        names: set[str] = set()
        for prefixlen, table in self._by_version.get(version, ()):
            if prefixlen > length:
                break
            shift = bits - prefixlen
            names.update(table.get((address >> shift) << shift, ()))
        return names

    def check(self, value: str) -> tuple[str, ...]:
        """The names of the lists ``value`` (an address, CIDR, domain or URL) is on."""
        address = _ipv4(value)  # the common case, without building ipaddress objects
        if address is not None:
            return tuple(sorted(self._in_networks(4, address, 32)))
        net: Network | None = None
        if _maybe_network(value):
            try:
                net = ipaddress.ip_network(value, strict=False)
            except ValueError:
                net = None
        if net is not None:
            listed = self._in_networks(net.version, int(net.network_address), net.prefixlen)
            return tuple(sorted(listed))
        host = value.split("://", 1)[1].split("/", 1)[0] if "://" in value else value
        host = host.rsplit("@", 1)[-1].split(":", 1)[0].lower().rstrip(".")
        if host and host[0].isdigit():
            found = self.check(host) if host != value else ()
            if found:
                return found
        names: set[str] = set()
        for candidate in (host, *parent_domains(host)):
            names.update(self._domains.get(candidate, ()))
        return tuple(sorted(names))


def _ipv4(value: str) -> int | None:
    """A plain dotted-quad IPv4 address as a number; None for anything else (including
    forms ``ipaddress`` would refuse, such as leading zeros, left to it to judge)."""
    parts = value.split(".")
    if len(parts) != 4:
        return None
    number = 0
    for part in parts:
        if (
            not part.isdigit()
            or not part.isascii()
            or len(part) > 3
            or (len(part) > 1 and part[0] == "0")
        ):
            return None
        octet = int(part)
        if octet > 255:
            return None
        number = number << 8 | octet
    return number


@cache
def shipped() -> Warninglists:
    """The lists shipped with Accord."""
    folder = resources.files("accord.detect") / "data"
    lists: dict[str, list[str]] = {}
    for name in SHIPPED:
        text = (folder / f"{name}.txt").read_text()
        lists[name] = [
            line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#")
        ]
    return Warninglists(lists)
