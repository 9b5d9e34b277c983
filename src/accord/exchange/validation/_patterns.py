"""``musts.patterns``: STIX patterns checked as stix2-validator checks them, mostly faster.

Patterns in the common simple forms are accepted by a strict tokeniser that only admits
patterns the ANTLR grammar and the validator's own checks certainly accept; everything
else takes the exact ``stix2-validator`` code path, memoised per pattern.
"""

from __future__ import annotations

import functools
import re
from typing import Any, Final

from stix2patterns.v21.object_validator import HASHES_REGEX
from stix2validator.v21 import enums, musts

from accord.exchange.validation._common import OBSERVABLE_TYPES, PROPERTY_RE, Found
from accord.exchange.validation._reference import reference_options


def check_pattern(obj: dict[str, Any], found: Found) -> None:
    """``musts.patterns``: syntax, object types and property names of a STIX pattern."""
    if obj.get("pattern_type", "") != "stix":
        return
    pattern = obj.get("pattern")
    if not isinstance(pattern, str):
        return
    if "pattern_version" in obj:
        version = obj["pattern_version"]
    elif "spec_version" in obj:
        version = obj["spec_version"]
    else:
        version = "2.1"
    if version == "2.1" and _simple_pattern_ok(pattern):
        return
    found.extend(("pattern", message) for message in _slow_pattern_errors(pattern, version))


@functools.lru_cache(maxsize=4096)
def _slow_pattern_errors(pattern: str, version: str) -> tuple[str, ...]:
    """Exactly what ``stix2validator.v21.musts.patterns`` reports for this pattern."""
    probe = {
        "type": "indicator",
        "id": "indicator--00000000-0000-4000-8000-000000000000",
        "pattern_type": "stix",
        "pattern": pattern,
        "pattern_version": version,
    }
    try:
        return tuple(str(e.message) for e in musts.patterns(probe, reference_options()))
    except Exception as exc:  # stix2-validator would crash: a rejection
        return (f"Pattern could not be parsed: {type(exc).__name__}: {exc}",)


# The fast path recognises this subset of the STIX 2.1 pattern grammar:
#   pattern     := ws* observation (ws+ (AND|OR|FOLLOWEDBY) ws+ observation)* ws*
#   observation := "[" ws* comparison (ws+ (AND|OR) ws+ comparison)* ws* "]"
#   comparison  := type ":" property ("." step)* ws* ("=" | "!=") ws* literal
#                | type ":" property ("." step)* ws+ (LIKE | MATCHES) ws+ string
# Every token is delimited so that ANTLR's longest-match lexer produces the same token (an
# identifier never runs into "-", a quote or another identifier character, a literal is
# followed by whitespace or "]"), keywords are never used as names, and whitespace is
# limited to characters that both ANTLR's WS rule and str.isspace() (used by
# stix2patterns' bracket check) accept.  Anything else goes to stix2-validator.
_WS: Final = r"[ \t\r\n]"
_STRING: Final = r"'[^'\\\x00-\x1f]*(?:\\['\\][^'\\\x00-\x1f]*)*'"
_COMPARISON: Final = rf"""
    (?P<type>[a-z][a-z0-9]*(?:-[a-z0-9]+)*)
    :
    (?P<prop>[a-z_][a-z0-9_]*)
    (?P<steps>(?:\.(?:[a-zA-Z_][a-zA-Z0-9_]*|'[A-Za-z0-9_-]+'))*)
    (?:
        {_WS}*!?={_WS}*
        (?P<literal>{_STRING}|-?(?:0|[1-9][0-9]*)|true|false)
      | {_WS}+(?:LIKE|MATCHES){_WS}+
        (?P<string>{_STRING})
    )
    """
_COMPARISON_RE: Final = re.compile(rf"{_COMPARISON}(?=[ \t\r\n\]])", re.VERBOSE)
# The usual indicator: one observation holding one comparison.
_SINGLE_RE: Final = re.compile(rf"{_WS}*\[{_WS}*{_COMPARISON}{_WS}*\]{_WS}*", re.VERBOSE)
_STEP_RE: Final = re.compile(r"\.(?:([a-zA-Z_][a-zA-Z0-9_]*)|'([A-Za-z0-9_-]+)')")
_OPEN_RE: Final = re.compile(rf"{_WS}*\[{_WS}*")
_CLOSE_RE: Final = re.compile(rf"{_WS}*\]")
_COMPARISON_JOIN_RE: Final = re.compile(rf"{_WS}+(?:AND|OR){_WS}+")
_OBSERVATION_JOIN_RE: Final = re.compile(rf"{_WS}+(?:AND|OR|FOLLOWEDBY){_WS}+(?=\[)")
_TRAILING_WS_RE: Final = re.compile(rf"{_WS}*\Z")
_KEYWORDS: Final = frozenset(
    "AND OR NOT FOLLOWEDBY LIKE MATCHES ISSUPERSET ISSUBSET EXISTS LAST IN START STOP "
    "SECONDS true false WITHIN REPEATS TIMES".split()
)
_OBSERVABLE_PROPERTIES: Final[dict[str, frozenset[str]]] = {
    t: frozenset(props) for t, props in enums.OBSERVABLE_PROPERTIES.items()
}


def _simple_pattern_ok(pattern: str) -> bool:
    """True only for patterns that stix2-validator certainly accepts; False means "ask it"."""
    single = _SINGLE_RE.fullmatch(pattern)
    if single is not None:
        return _comparison_ok(single)
    pos = 0
    while True:
        opened = _OPEN_RE.match(pattern, pos)
        if opened is None:
            return False
        pos = opened.end()
        while True:
            comparison = _COMPARISON_RE.match(pattern, pos)
            if comparison is None or not _comparison_ok(comparison):
                return False
            pos = comparison.end()
            join = _COMPARISON_JOIN_RE.match(pattern, pos)
            if join is None:
                break
            pos = join.end()
        closed = _CLOSE_RE.match(pattern, pos)
        if closed is None:
            return False
        pos = closed.end()
        join = _OBSERVATION_JOIN_RE.match(pattern, pos)
        if join is None:
            return _TRAILING_WS_RE.match(pattern, pos) is not None
        pos = join.end()


def _comparison_ok(comparison: re.Match[str]) -> bool:
    otype = comparison["type"]
    prop = comparison["prop"]
    if prop in _KEYWORDS:
        return False
    # musts.patterns, default options: the object type, then the first property name.
    if otype not in OBSERVABLE_TYPES and not (
        otype.startswith("x-") and len(otype) <= 250 and musts.TYPE_FORMAT_RE.match(otype)
    ):
        return False
    if prop not in _OBSERVABLE_PROPERTIES.get(otype, ()) and not PROPERTY_RE.match(prop):
        return False
    steps = comparison["steps"]
    if not steps:
        return True
    path = [prop]
    for step in _STEP_RE.finditer(steps):
        name = step[1]
        if name is not None and name in _KEYWORDS:
            return False
        path.append(name if name is not None else step[2])
    if "hashes" in path:
        # stix2patterns.v21.object_validator.verify_object
        expected = _HASH_VALUE_RES.get(path[-1].upper().replace("-", "").replace("'", ""))
        if expected is not None:
            literal = comparison["literal"] or comparison["string"]
            if not expected.match(literal.replace("'", "")):
                return False
    return True


# stix2patterns.v21.object_validator: the form of a hash value, per algorithm.
_HASH_VALUE_RES: Final = {name: re.compile(spec[0]) for name, spec in HASHES_REGEX.items()}
