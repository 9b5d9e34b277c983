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

    def _in_networks(self, net: Network) -> set[str]:
        bits = net.max_prefixlen
        address = int(net.network_address)
        names: set[str] = set()
        for (version, prefixlen), table in self._networks.items():
            if version == net.version and prefixlen <= net.prefixlen:
                shift = bits - prefixlen
                names.update(table.get((address >> shift) << shift, ()))
        return names

    def check(self, value: str) -> tuple[str, ...]:
        """The names of the lists ``value`` (an address, CIDR, domain or URL) is on."""
        net: Network | None = None
        if _maybe_network(value):
            try:
                net = ipaddress.ip_network(value, strict=False)
            except ValueError:
                net = None
        if net is not None:
            return tuple(sorted(self._in_networks(net)))
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
