"""The direct reader (``exchange.misp.reading``) reads attributes exactly as PyMISP does."""

from __future__ import annotations

import copy
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from accord.errors import InvalidInput
from accord.exchange.misp import reading
from accord.exchange.misp.convert import read_event

SG = {"uuid": "5d6e7f80-1111-4222-8333-444455556666", "name": "ASEAN CERTs"}
KINDS = ["ip-dst", "ip-src", "domain", "url", "md5", "sha256", "hostname", "email-src"]
KINDS += ["text", "filename", "datetime", "malware-sample", "no-such-type"]
CATEGORIES = ["Network activity", "Payload delivery", "External analysis", "Other", "Nope"]
TEXT = st.sampled_from(["10.0.0.1", "evil.test", "", "x\ny", "é"]) | st.text(max_size=8)
ODD_TEXT = st.sampled_from([" padded ", "\tx", None, 7])
NUMBER = st.one_of(
    st.sampled_from(["0", "7", "1700000000", "007", " 7", "-1", "99999999999", "x"]),
    st.integers(-1, 2**40),
    st.booleans(),
    st.none(),
)


ODDS = {
    "comment": ODD_TEXT,
    "object_id": st.sampled_from([" 0", 0]),
    "deleted": st.sampled_from([0, None]),
    "object_relation": st.just("ip"),
    "first_seen": st.just("2026-01-01T00:00:00+00:00"),
    "Galaxy": st.just([{"name": "g"}]),
}


def _mapping() -> dict[str, list[str]]:
    from pymisp import MISPAttribute

    mapping: dict[str, list[str]] = MISPAttribute().describe_types["category_type_mappings"]
    return mapping


def _odd(draw: st.DrawFn, usual: Any, odd: st.SearchStrategy[Any]) -> Any:
    """Usually ``usual``; one time in twelve something else."""
    return draw(odd) if draw(st.integers(0, 11)) == 11 else usual


@st.composite
def attributes(draw: st.DrawFn) -> dict[str, Any]:
    distribution = draw(st.integers(0, 5))
    attribute: dict[str, Any] = {
        "uuid": _odd(draw, "2a00e712-3927-4b2f-964b-f882f71e0909", TEXT),
        "type": _odd(draw, draw(st.sampled_from(KINDS[:8])), st.sampled_from(KINDS)),
        "category": "",
        "value": _odd(draw, draw(TEXT), ODD_TEXT),
        "to_ids": _odd(draw, draw(st.booleans()), st.sampled_from(["1", 0, None])),
        "distribution": _odd(draw, str(distribution), st.sampled_from([distribution, "9", None])),
        "timestamp": _odd(draw, "1700000000", NUMBER),
        "disable_correlation": _odd(draw, draw(st.booleans()), st.sampled_from([None, "0"])),
    }
    fits = sorted(c for c, kinds in _mapping().items() if attribute["type"] in kinds)
    usual = draw(st.sampled_from(fits)) if fits else "Other"
    attribute["category"] = _odd(draw, usual, st.sampled_from(CATEGORIES))
    if distribution == 4 or draw(st.integers(0, 5)) == 5:
        attribute["sharing_group_id"] = _odd(draw, "7", NUMBER)
        attribute["SharingGroup"] = _odd(draw, dict(SG), st.sampled_from([{}, {"id": 1}, None]))
    names = st.sampled_from(["tlp:clear", "tlp:green", "foo", 'a="b"'])
    tags = [{"name": n} for n in draw(st.lists(names, max_size=3, unique=True))]
    if draw(st.integers(0, 11)) == 11:
        tags += [{"name": draw(st.sampled_from(["foo", " foo"]))}]
    attribute["Tag"] = _odd(draw, tags, st.sampled_from([[{"name": "x", "local": 1}], [], "x"]))
    for key, strategy in {
        "comment": TEXT,
        "id": st.sampled_from(["12", "0", 12]),
        "event_id": st.sampled_from(["3", "1"]),
        "object_id": st.sampled_from(["0", "5"]),
        "deleted": st.booleans(),
        "object_relation": st.none(),
        "first_seen": st.none(),
        "last_seen": st.none(),
        "Galaxy": st.just([]),
        "ShadowAttribute": st.just([]),
        "Sighting": st.just([]),
        "Object": st.just([]),
    }.items():
        if draw(st.integers(0, 3)) == 3:
            attribute[key] = _odd(draw, draw(strategy), ODDS.get(key, NUMBER))
    keys = list(attribute)
    order = draw(st.permutations(keys)) if draw(st.booleans()) else keys
    return {k: attribute[k] for k in order}


def _by_pymisp(attribute: dict[str, Any]) -> bytes | None:
    from pymisp import MISPAttribute

    misp = MISPAttribute()
    try:
        misp.from_dict(**copy.deepcopy(attribute))
        return orjson.dumps(orjson.loads(misp.to_json()))
    except Exception:
        return None


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(attribute=attributes())
def test_the_direct_reader_writes_what_pymisp_writes(attribute: dict[str, Any]) -> None:
    before = copy.deepcopy(attribute)
    direct = reading.read_attribute(attribute)
    assert attribute == before  # nothing read is changed
    if direct is not None:
        assert orjson.dumps(direct) == _by_pymisp(attribute), attribute


def test_the_common_forms_are_read_directly() -> None:
    attribute = {
        "id": "12",
        "event_id": "3",
        "object_id": "0",
        "object_relation": None,
        "uuid": "2a00e712-3927-4b2f-964b-f882f71e0909",
        "type": "ip-dst",
        "category": "Network activity",
        "value": "10.0.0.1",
        "to_ids": True,
        "distribution": "4",
        "sharing_group_id": "7",
        "SharingGroup": SG,
        "timestamp": "1700000000",
        "comment": "",
        "deleted": False,
        "disable_correlation": False,
        "first_seen": None,
        "last_seen": None,
        "Galaxy": [],
        "ShadowAttribute": [],
        "Tag": [{"name": "tlp:green"}],
    }
    direct = reading.read_attribute(attribute)
    assert direct is not None and orjson.dumps(direct) == _by_pymisp(attribute)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(listed=st.lists(attributes(), max_size=5))
def test_events_read_as_pymisp_reads_them(listed: list[dict[str, Any]]) -> None:
    from pymisp import MISPEvent

    event = {"uuid": "776c92b4-4101-47c0-8843-f547942b1e98", "info": "x", "Attribute": listed}
    misp = MISPEvent()
    try:
        misp.from_dict(**copy.deepcopy(event))
        expected: dict[str, Any] | None = orjson.loads(misp.to_json())
    except Exception:
        expected = None
    try:
        got: dict[str, Any] | None = read_event(orjson.dumps({"Event": event}))
    except InvalidInput:
        got = None
    if expected is None or got is None:  # PyMISP refuses it, or the shape check does
        assert got is None
        return
    assert orjson.dumps(got.pop("Attribute", [])) == orjson.dumps(expected.pop("Attribute", []))
    assert orjson.dumps(got) == orjson.dumps(expected)


@pytest.mark.parametrize("value", [["10.0.0.1", "10.0.0.2"], None])
def test_what_pymisp_expands_or_refuses_is_left_to_it(value: Any) -> None:
    direct = {
        "uuid": "11111111-1111-4111-8111-111111111111",
        "type": "domain",
        "category": "Network activity",
    }
    direct |= {"value": "a.test", "to_ids": True, "timestamp": "1700000000"}
    odd = {**direct, "uuid": "22222222-2222-4222-8222-222222222222", "value": value}
    event = {"uuid": "776c92b4-4101-47c0-8843-f547942b1e98", "info": "x"}
    if value is None:
        with pytest.raises(InvalidInput):
            read_event({"Event": {**event, "Attribute": [direct, odd]}})
        return
    got = read_event({"Event": {**event, "Attribute": [odd, direct]}})
    assert [a["value"] for a in got["Attribute"]] == ["10.0.0.1", "10.0.0.2", "a.test"]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    settings_=st.lists(
        st.tuples(
            st.sampled_from(["0", "1", "3", "4", "5", None]),
            st.lists(st.sampled_from(["tlp:clear", "tlp:amber", "tlp:nope", "x"]), max_size=2),
        ),
        min_size=1,
        max_size=12,
    )
)
def test_remembered_stamps_equal_worked_out_ones(
    settings_: list[tuple[str | None, list[str]]],
) -> None:
    from datetime import UTC, datetime

    from accord.domain.tlp import TLP
    from accord.exchange.misp import convert
    from accord.exchange.misp.mapping import MispDistribution

    attributes = []
    for i, (distribution, tags) in enumerate(settings_):
        attribute: dict[str, Any] = {
            "uuid": f"00000000-0000-4000-8000-{i:012d}",
            "type": "domain",
            "category": "Network activity",
            "value": f"d{i}.test",
            "to_ids": True,
            "timestamp": "1700000000",
            "Tag": [{"name": t} for t in tags],
        }
        if distribution is not None:
            attribute["distribution"] = distribution
        if distribution == "4":
            attribute |= {"sharing_group_id": "7", "SharingGroup": dict(SG)}
        attributes.append(attribute)
    event = {"uuid": "776c92b4-4101-47c0-8843-f547942b1e98", "info": "x", "distribution": "2"}
    audience = convert.Audience(
        lambda u: 9, lambda r: None, TLP.AMBER, MispDistribution.ORGANISATION
    )
    now = datetime(2026, 1, 1, tzinfo=UTC)

    def run() -> tuple[list[Any], dict[str, Any]]:
        report = convert.ImportReport()
        read = read_event({"Event": {**event, "Attribute": copy.deepcopy(attributes)}})
        mapped = convert.event_to_stix(read, audience, report, now)
        return [(m.obj["id"], m.stamp) for m in mapped], report.as_dict()

    remembered = run()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(convert._Stamper, "unit", convert._Stamper._unit)
        worked_out = run()
    assert remembered == worked_out
