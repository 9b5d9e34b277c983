"""The compiled matchers report exactly what the OASIS stix2-matcher reports."""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from stix2matcher.matcher import match as oasis_match

from accord.detect.matcher import MatcherSet
from accord.detect.observables import objects_of, observed_data
from accord.detect.patterns import PatternError, Unsupported, compile_pattern

IPV4 = ["10.0.0.1", "10.0.0.2", "10.1.2.3", "192.0.2.7", "198.51.100.9", "203.0.113.200"]
SUBNETS = ["10.0.0.0/8", "10.0.0.0/24", "192.0.2.0/25", "10.1.2.3/32", "0.0.0.0/1", "10.0.7.9/16"]
POOLS = {
    "ipv4-addr:value": IPV4,
    "ipv6-addr:value": ["2001:db8::1", "2001:db8::2"],
    "domain-name:value": ["example.org", "a.example.org", "evil.test"],
    "url:value": ["http://evil.test/a", "https://example.org/"],
    "email-addr:value": ["x@evil.test", "y@example.org"],
    "file:hashes.MD5": ["d41d8cd98f00b204e9800998ecf8427e", "0" * 32],
    "file:hashes.SHA-1": ["da39a3ee5e6b4b0d3255bfef95601890afd80709"],
    "file:hashes.SHA-256": ["e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"],
    "x509-certificate:hashes.SHA-1": ["1" * 40, "2" * 40],
    "network-traffic:dst_ref.value": IPV4,
}
FIELDS = {
    "src": "ipv4-addr:value",
    "peer": "ipv4-addr:value",
    "dst": "network-traffic:dst_ref.value",
    "ip6": "ipv6-addr:value",
    "domain": "domain-name:value",
    "url": "url:value",
    "mail": "email-addr:value",
    "md5": "file:hashes.MD5",
    "sha1": "file:hashes.SHA-1",
    "sha256": "file:hashes.SHA-256",
    "cert": "x509-certificate:hashes.SHA-1",
}
STAMP = "2026-01-01T00:00:00.000Z"


def _path(key: str) -> str:
    sco_type, path = key.split(":")
    head, _, tail = path.partition(".")
    return f"{sco_type}:{head}.'{tail}'" if tail and "-" in tail else key


@st.composite
def comparisons(draw: st.DrawFn) -> str:
    key = draw(st.sampled_from(sorted(POOLS)))
    kind = draw(st.sampled_from(["eq", "eq", "in", "subset", "unsupported"]))
    if kind == "subset" and key in ("ipv4-addr:value", "network-traffic:dst_ref.value"):
        return f"{key} ISSUBSET '{draw(st.sampled_from(SUBNETS))}'"
    if kind == "in":
        values = draw(st.lists(st.sampled_from(POOLS[key]), min_size=1, max_size=3))
        return f"{_path(key)} IN ({', '.join(repr(v) for v in values)})"
    value = draw(st.sampled_from(POOLS[key]))
    if kind == "unsupported":
        return f"{_path(key)} {draw(st.sampled_from(['!=', 'LIKE']))} '{value}'"
    return f"{_path(key)} = '{value}'"


@st.composite
def comparison_expressions(draw: st.DrawFn, depth: int = 0) -> str:
    if depth >= 2 or draw(st.booleans()):
        return draw(comparisons())
    left = draw(comparison_expressions(depth + 1))
    right = draw(comparison_expressions(depth + 1))
    op = draw(st.sampled_from(["AND", "OR", "AND"]))
    text = f"{left} {op} {right}"
    return f"({text})" if draw(st.booleans()) else text


@st.composite
def patterns(draw: st.DrawFn) -> str:
    observations = [f"[{draw(comparison_expressions())}]" for _ in range(draw(st.integers(1, 2)))]
    if len(observations) == 1:
        return observations[0]
    return f" {draw(st.sampled_from(['OR', 'OR', 'AND']))} ".join(observations)


records = st.dictionaries(
    st.sampled_from(sorted(FIELDS)), st.none()
).flatmap(  # which fields are present, then a value for each
    lambda present: st.fixed_dictionaries(
        {name: st.sampled_from(POOLS[FIELDS[name]]) for name in present}
    )
)


def _oasis(pattern: str, record: dict[str, str]) -> bool:
    objects = objects_of(record, FIELDS)
    return bool(objects) and bool(
        oasis_match(pattern, [observed_data(objects, STAMP)], stix_version="2.1")
    )


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    indicators=st.lists(patterns(), min_size=1, max_size=6),
    batch=st.lists(records, min_size=1, max_size=4),
)
def test_compiled_matches_equal_stix2_matcher(indicators: list[str], batch: list[dict[str, str]]):
    pairs = [(f"indicator--{i}", p) for i, p in enumerate(indicators)]
    matchers = MatcherSet(pairs)
    assert matchers.stats.compiled + matchers.stats.fallback == len(pairs)
    for record in batch:
        ours = {h.indicator_id for h in matchers.match(objects_of(record, FIELDS))}
        theirs = {stix_id for stix_id, p in pairs if _oasis(p, record)}
        assert ours == theirs, (record, pairs)


@pytest.mark.parametrize(
    "pattern",
    [
        "[ipv4-addr:value = '10.0.0.1']",
        "[ipv4-addr:value ISSUBSET '10.0.0.0/8' OR domain-name:value = 'example.org']",
        "[file:hashes.'SHA-256' = 'aa' AND file:hashes.MD5 = 'bb']",
        "[network-traffic:dst_ref.value ISSUBSET '192.0.2.0/24']",
        "[x509-certificate:hashes.'SHA-1' = 'ab'] OR ([url:value = 'http://x/'])",
        "[email-addr:value IN ('a@b.c', 'd@e.f')]",
        "[ipv6-addr:value ISSUBSET '2001:db8::/32']",
    ],
)
def test_common_forms_compile(pattern: str) -> None:
    assert compile_pattern(pattern)


@pytest.mark.parametrize(
    "pattern",
    [
        "[ipv4-addr:value = '10.0.0.1'] AND [domain-name:value = 'x']",
        "[ipv4-addr:value = '10.0.0.1'] FOLLOWEDBY [domain-name:value = 'x']",
        "[ipv4-addr:value = '10.0.0.1'] REPEATS 2 TIMES",
        "[ipv4-addr:value != '10.0.0.1']",
        "[file:name = 'x']",
        "[file:size = 10]",
        "[domain-name:value MATCHES '^x']",
        "[ipv4-addr:value ISSUBSET '10.0.0.0/0']",
    ],
)
def test_other_forms_fall_back_and_are_counted(pattern: str) -> None:
    with pytest.raises(Unsupported):
        compile_pattern(pattern)
    matchers = MatcherSet([("indicator--1", pattern)])
    assert matchers.stats.fallback == 1 and len(matchers) == 1


def test_unparseable_patterns_are_rejected_with_the_parser_message() -> None:
    with pytest.raises(PatternError):
        compile_pattern("[ipv4-addr:value = '10.0.0.1'")
    matchers = MatcherSet([("indicator--1", "[ipv4-addr:value = ")])
    assert len(matchers) == 0 and matchers.stats.rejected[0][0] == "indicator--1"


@settings(max_examples=300, deadline=None)
@given(
    network=st.one_of(st.ip_addresses(v=4), st.ip_addresses(v=6)),
    prefix=st.integers(1, 128),
    address=st.one_of(st.ip_addresses(v=4), st.ip_addresses(v=6)),
    near=st.booleans(),
)
def test_cidr_matches_exactly_the_addresses_in_the_range(network, prefix, address, near) -> None:
    prefix = min(prefix, network.max_prefixlen)
    net = ipaddress.ip_network(f"{network}/{prefix}", strict=False)
    if near and address.version == net.version:  # an address at the range's edge
        address = net.broadcast_address if prefix % 2 else net.network_address
    key = "ipv4-addr:value" if net.version == 4 else "ipv6-addr:value"
    matchers = MatcherSet([("indicator--1", f"[{key} ISSUBSET '{net}']")])
    field = "ipv4-addr:value" if address.version == 4 else "ipv6-addr:value"
    hits = matchers.match(objects_of({"a": str(address)}, {"a": field}))
    assert bool(hits) == (address in net)


labels = st.from_regex(r"[a-z0-9]([a-z0-9-]{0,6}[a-z0-9])?", fullmatch=True)


@settings(max_examples=300, deadline=None)
@given(
    indicator=st.lists(labels, min_size=1, max_size=3),
    seen=st.lists(labels, min_size=1, max_size=5),
    suffix=st.booleans(),
)
def test_subdomains_match_only_under_a_label_boundary(indicator, seen, suffix) -> None:
    domain = ".".join(indicator)
    value = ".".join(seen) + ("." + domain if suffix else "")
    record = {"d": value}
    exact = MatcherSet([("indicator--1", f"[domain-name:value = '{domain}']")])
    wide = MatcherSet([("indicator--1", f"[domain-name:value = '{domain}']")], subdomains=True)
    objects = objects_of(record, {"d": "domain-name:value"})
    assert bool(exact.match(objects)) == (value == domain)
    assert bool(wide.match(objects)) == (value == domain or value.endswith("." + domain))


@settings(max_examples=200, deadline=None)
@given(
    key=st.sampled_from(sorted(POOLS)),
    value=st.text(st.characters(codec="ascii", exclude_characters="'\\"), max_size=20),
    subset=st.booleans(),
)
def test_the_fast_reader_agrees_with_the_grammar(key: str, value: str, subset: bool) -> None:
    from stix2patterns.v21.pattern import Pattern

    from accord.detect import patterns

    literal = SUBNETS[len(value) % len(SUBNETS)] if subset else value
    op = "ISSUBSET" if subset else "="
    pattern = f"[{_path(key)} {op} '{literal}']"
    fast = patterns._simple(pattern)
    tree = Pattern(pattern)._Pattern__parse_tree
    try:
        slow = tuple(patterns._observations(tree.observationExpressions()))
    except Unsupported:
        slow = None
    assert fast is None or fast == slow, pattern
