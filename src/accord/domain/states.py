"""States, by ISO 3166-1 alpha-2 code, from the full list shipped with Accord."""

from __future__ import annotations

import json
from functools import cache
from importlib import resources


@cache
def states() -> dict[str, str]:
    """Every ISO 3166-1 alpha-2 code and its short English name."""
    data = resources.files("accord.domain").joinpath("data/iso3166-1.json").read_text("utf-8")
    table: dict[str, str] = json.loads(data)["states"]
    return table


def parse_state(code: str) -> str:
    """The canonical (upper-case) code, or ValueError naming the bad input."""
    canonical = code.strip().upper()
    if canonical not in states():
        raise ValueError(f"unknown state {code!r}: use an ISO 3166-1 alpha-2 code such as 'SG'")
    return canonical
