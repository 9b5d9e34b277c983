"""Reference vocabularies shipped as data: incident categories (RSIT), critical-infrastructure
sectors, ISO 639-1 languages. Pure lookups; the JSON files are the single source.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any


def _load(name: str) -> Any:
    text = resources.files("accord.coordinate").joinpath(f"data/{name}").read_text("utf-8")
    return json.loads(text)


@cache
def languages() -> dict[str, str]:
    """ISO 639-1 code -> English name."""
    table: dict[str, str] = _load("iso639-1.json")["languages"]
    return table


@cache
def incident_categories() -> dict[str, list[str]]:
    """RSIT classification -> its incident types."""
    table: dict[str, list[str]] = _load("incident-categories.json")["categories"]
    return table


@cache
def sectors() -> dict[str, str]:
    """Critical-infrastructure sector slug -> description."""
    table: dict[str, str] = _load("sectors.json")["sectors"]
    return table


def parse_language(code: str) -> str:
    """The canonical lower-case code, or ValueError naming the bad input."""
    canonical = code.strip().lower()
    if canonical not in languages():
        raise ValueError(f"unknown language {code!r}: use an ISO 639-1 code such as 'en'")
    return canonical


def parse_category(category: str) -> str:
    """``classification`` or ``classification/type`` from RSIT, or ValueError."""
    cls, _, kind = category.strip().lower().partition("/")
    types = incident_categories().get(cls)
    if types is None or (kind and kind not in types):
        raise ValueError(
            f"unknown incident category {category!r}: use an RSIT classification or "
            "classification/type such as 'availability/ddos' (GET /api/v1/taxonomies)"
        )
    return f"{cls}/{kind}" if kind else cls


def parse_sector(sector: str) -> str:
    canonical = sector.strip().lower()
    if canonical not in sectors():
        raise ValueError(
            f"unknown sector {sector!r}: use one such as 'energy' (GET /api/v1/taxonomies)"
        )
    return canonical
