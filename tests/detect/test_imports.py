"""Start-up stays light: the costly libraries load when matching or validation first runs."""

from __future__ import annotations

import subprocess
import sys

import pytest

# Each costs from a tenth of a second (numpy, pyarrow, stix2-matcher's ANTLR grammar)
# to half a second (stix2-validator, through jsonschema's format checkers).
HEAVY = (
    "antlr4",
    "dask",
    "distributed",
    "fsspec",
    "fastjsonschema",
    "jsonschema",
    "numpy",
    "pyarrow",
    "stix2",
    "stix2matcher",
    "stix2patterns",
    "stix2validator",
)


@pytest.mark.parametrize(
    "module",
    [
        "accord.domain.stix",
        "accord.detect.service",
        "accord.detect.correlate",
        "accord.exchange.service",
        "accord.exchange.validation",
        "accord.node",
        "accord.cli",
    ],
)
def test_importing_loads_no_heavy_library(module: str) -> None:
    probe = (
        f"import sys, {module}\n"
        f"print(' '.join(sorted({{m.split('.')[0] for m in sys.modules}} & set({HEAVY!r}))))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    ).stdout.split()
    assert loaded == []


def test_the_heavy_libraries_load_when_first_needed() -> None:
    probe = """
import sys
from accord.detect.matcher import MatcherSet
from accord.exchange.validation import validate_objects

before = {m.split('.')[0] for m in sys.modules}
matchers = MatcherSet([("indicator--a", "[ipv4-addr:value = '10.0.0.1']")])
assert matchers.match([]) == [] and "stix2matcher" not in sys.modules
MatcherSet([("indicator--b", "[ipv4-addr:value = '10.0.0.1'] WITHIN 5 SECONDS")])
assert validate_objects([{"type": "indicator"}])
after = {m.split('.')[0] for m in sys.modules}
print(' '.join(sorted(after - before)))
"""
    loaded = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    ).stdout.split()
    assert {"stix2matcher", "stix2patterns", "stix2validator", "fastjsonschema"} <= set(loaded)


def test_the_iri_grammar_builds_only_when_an_iri_is_checked() -> None:
    """jsonschema's IRI format checks answer as rfc3987_syntax's own, which builds its
    grammars only then, not when validation first runs (see validation._deferred)."""
    probe = """
import sys
from accord.exchange.validation import validate_objects

assert validate_objects([{"type": "indicator"}])
assert "jsonschema" in sys.modules and "rfc3987_syntax.syntax_helpers" not in sys.modules
from jsonschema import Draft202012Validator

check = Draft202012Validator.FORMAT_CHECKER
values = ["http://example.org/\u00e4", "/relative?q#f", "not an iri", "a b", 7]
terms = {"iri": "iri", "iri-reference": "iri_reference"}
print([check.conforms(v, f) for v in values for f in terms])
from rfc3987_syntax.syntax_helpers import is_valid_syntax

print([not isinstance(v, str) or is_valid_syntax(t, v) for v in values for t in terms.values()])
"""
    deferred, real = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    ).stdout.splitlines()
    assert deferred == real
    assert "True" in real and "False" in real
