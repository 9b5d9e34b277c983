"""The warninglists' network lookup: it says what a walk over every listed network says."""

from __future__ import annotations

import ipaddress

from hypothesis import given
from hypothesis import strategies as st

from accord.detect.warninglists import Warninglists


@given(
    listed=st.lists(
        st.tuples(st.integers(0, 2**32 - 1), st.integers(8, 32)), min_size=1, max_size=12
    ),
    probes=st.lists(st.tuples(st.integers(0, 2**32 - 1), st.integers(16, 32)), max_size=12),
)
def test_network_lookup_equals_brute_force(
    listed: list[tuple[int, int]], probes: list[tuple[int, int]]
) -> None:
    nets = {
        f"l{i}": [str(ipaddress.ip_network((addr, plen), strict=False))]
        for i, (addr, plen) in enumerate(listed)
    }
    lists = Warninglists(nets)
    for addr, plen in probes:
        probe = ipaddress.ip_network((addr, plen), strict=False)
        expected = sorted(
            name
            for name, (value,) in nets.items()
            if probe.subnet_of(ipaddress.ip_network(value))  # type: ignore[arg-type]
        )
        assert list(lists.check(str(probe))) == expected
        if plen == 32:  # a bare address: the fast path, without ipaddress
            assert list(lists.check(str(probe.network_address))) == expected


@given(st.text(alphabet="0123456789.٣", max_size=16))
def test_the_fast_ipv4_reading_agrees_with_ipaddress(text: str) -> None:
    from accord.detect.warninglists import _ipv4

    try:
        expected: int | None = int(ipaddress.IPv4Address(text))
    except ValueError:
        expected = None
    if _ipv4(text) is not None:
        assert _ipv4(text) == expected


@given(
    value=st.one_of(
        st.text(st.sampled_from("0123456789abcdefx.:/% ")),
        st.ip_addresses().map(str),
        st.from_regex(r"[0-9]{1,3}(\.[0-9]{1,3}){3}/[0-9.]{1,15}", fullmatch=True),
        st.sampled_from(["http://10.0.0.1/", "[::1]", "::/0", "fe80::1%eth0", "1.2.3.4:80"]),
    )
)
def test_only_what_ip_network_refuses_skips_it(value: str) -> None:
    from accord.detect.warninglists import _maybe_network

    if not _maybe_network(value):
        try:
            ipaddress.ip_network(value, strict=False)
        except ValueError:
            return
        raise AssertionError(f"{value!r} is a network but was not tried as one")
