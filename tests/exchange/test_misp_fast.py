"""The direct writer (``exchange.misp.fast``) writes exactly what misp-stix writes."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from accord.exchange.misp import fast
from accord.exchange.misp.convert import misp_stix, read_event
from accord.exchange.validation import validate_objects

VALUES = {
    "ip-src": st.tuples(*[st.integers(0, 255)] * 4).map(lambda t: ".".join(map(str, t))),
    "ip-dst": st.tuples(*[st.integers(0, 255)] * 4).map(lambda t: ".".join(map(str, t))),
    "domain": st.from_regex(
        r"[a-z0-9]{1,12}(\.[a-z0-9-]{1,8}[a-z0-9])?\.[a-z]{2,6}", fullmatch=True
    ),
    "url": st.from_regex(r"https?://[a-z0-9.]{1,20}/[A-Za-z0-9/?=&%._-]{0,30}", fullmatch=True),
    "md5": st.from_regex(r"[0-9a-f]{32}", fullmatch=True),
    "sha1": st.from_regex(r"[0-9a-f]{40}", fullmatch=True),
    "sha256": st.from_regex(r"[0-9a-f]{64}", fullmatch=True),
}
TAGS = st.lists(
    st.sampled_from(["tlp:green", "tlp:amber+strict", "foo", 'osint:source-type="blog"']),
    max_size=3,
    unique=True,
)


def _is_confidence(name: str) -> bool:
    return misp_stix().MISPtoSTIX21Mapping.confidence_tags(name) is not None


@settings(max_examples=40, deadline=None)
@given(
    kind=st.sampled_from(sorted(VALUES)),
    data=st.data(),
    to_ids=st.booleans(),
    comment=st.sampled_from(["", "seen in a phishing wave"]),
    tags=TAGS,
    stamp=st.integers(0, 4_000_000_000),
    category=st.sampled_from(["Network activity", "Payload delivery", "External analysis"]),
)
def test_fast_path_equals_misp_stix(
    kind: str, data: Any, to_ids: bool, comment: str, tags: list[str], stamp: int, category: str
) -> None:
    attribute = {
        "uuid": "22222222-2222-4222-8222-222222222222",
        "type": kind,
        "category": category,
        "value": data.draw(VALUES[kind]),
        "to_ids": to_ids,
        "timestamp": str(stamp),
        "comment": comment,
        "Tag": [{"name": t} for t in tags],
    }
    event = read_event(
        {
            "Event": {
                "uuid": "11111111-1111-4111-8111-111111111111",
                "info": "i",
                "timestamp": str(stamp),
                "date": "2026-11-30",
                "Attribute": [attribute],
            }
        }
    )  # as an import reads it: through PyMISP
    direct = fast.convert(event["Attribute"][0], _is_confidence)
    if direct is None:  # a value outside the strict forms goes through misp-stix
        return
    parser = misp_stix().MISPtoSTIX21Parser()
    parser.parse_misp_event({"Event": event})
    expected = [
        {k: v for k, v in o.items() if k not in ("object_marking_refs", "created_by_ref")}
        for o in orjson.loads(parser.bundle.serialize())["objects"]
        if o["id"].endswith("22222222-2222-4222-8222-222222222222") and o["type"] != "relationship"
    ]
    assert direct == expected
    assert validate_objects(direct) == []


@pytest.mark.parametrize("value", ["http://evil.example/a%", "http://evil.example/%zz"])
def test_a_stray_percent_is_no_url_written_directly(value: str) -> None:
    """The STIX uri format takes '%' only as an escape: such a URL is left to misp-stix
    and validation, not written 'valid by construction'."""
    attribute = {
        "uuid": "22222222-2222-4222-8222-222222222222",
        "type": "url",
        "category": "Network activity",
        "value": value,
        "to_ids": True,
        "timestamp": "1700000000",
    }
    assert fast.convert(attribute, _is_confidence) is None
    assert fast.convert({**attribute, "value": "http://evil.example/a%20b"}, _is_confidence)
