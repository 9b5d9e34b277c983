"""The framework as data: the norms, UNIDIR's survey, the CMM and the GCI (``data/``)."""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from accord.errors import InvalidInput, Problem

DATA = Path(__file__).parent / "data"


@dataclass(frozen=True, slots=True)
class Norm:
    code: str
    title: str
    text: str
    source: str


@dataclass(frozen=True, slots=True)
class Part:
    number: str
    code: str
    title: str
    items: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Named:
    code: str
    title: str


@dataclass(frozen=True, slots=True)
class ChecklistPoint:
    norm: str
    code: str
    text: str


@dataclass(frozen=True, slots=True)
class Checklist:
    code: str
    title: str
    source: str
    points: tuple[ChecklistPoint, ...]


@dataclass(frozen=True, slots=True)
class Framework:
    norms: tuple[Norm, ...]
    norms_note: str
    survey_name: str
    survey_source: str
    parts: tuple[Part, ...]
    dimensions: tuple[Named, ...]
    stages: tuple[str, ...]
    pillars: tuple[Named, ...]
    factors: tuple[tuple[str, Named], ...] = ()
    checklists: tuple[Checklist, ...] = ()

    @property
    def items(self) -> tuple[str, ...]:
        """Every item an answer may name, in the survey's order."""
        return tuple(i for p in self.parts for i in p.items)

    def norm(self, code: str) -> Norm:
        for n in self.norms:
            if n.code == code:
                return n
        raise _unknown("norm", code, [n.code for n in self.norms])

    def item_title(self, code: str) -> str:
        for n in self.norms:
            if n.code == code:
                return f"13 ({n.code}) {n.title}"
        for p in self.parts:
            if code in p.items:
                return f"Part {p.number}: {p.title}"
        raise _unknown("item", code, self.items)

    def part_of(self, item: str) -> Part:
        for p in self.parts:
            if item in p.items:
                return p
        raise _unknown("item", item, self.items)

    def check_item(self, code: str, field: str = "item") -> str:
        if code not in self.items:
            raise _unknown(field, code, self.items)
        return code

    def check_norm(self, code: str, field: str = "norm") -> str:
        if code not in {n.code for n in self.norms}:
            raise _unknown(field, code, [n.code for n in self.norms])
        return code

    def check_dimension(self, code: str, field: str = "dimension") -> str:
        known = [d.code for d in self.dimensions] + [p.code for p in self.pillars]
        if code not in known:
            raise _unknown(field, code, known)
        return code

    def check_stage(self, stage: int, field: str = "stage") -> int:
        if not 1 <= stage <= len(self.stages):
            why = f"a stage is 1 to {len(self.stages)} ({', '.join(self.stages)})"
            raise InvalidInput(why, [Problem(why, field=field)])
        return stage


def _unknown(field: str, code: object, known: Any) -> InvalidInput:
    shown = str(code)[:40]
    why = f"unknown {field} {shown!r}; known: {', '.join(known)}"
    return InvalidInput(why, [Problem(why, field=field)])


@functools.cache
def load(extra: Path | None = None) -> Framework:
    """The shipped framework, with the loadable structures of ``extra`` merged in."""
    norms_doc = json.loads((DATA / "norms.json").read_text())
    survey = json.loads((DATA / "survey.json").read_text())
    capacity = json.loads((DATA / "capacity.json").read_text())
    norms = tuple(Norm(n["code"], n["title"], n["text"], n["source"]) for n in norms_doc["norms"])
    parts = tuple(
        Part(p["number"], p["code"], p["title"], tuple(p["items"])) for p in survey["parts"]
    )
    framework = Framework(
        norms=norms,
        norms_note=norms_doc["note"],
        survey_name=survey["name"],
        survey_source=survey["source"],
        parts=parts,
        dimensions=tuple(Named(d["code"], d["title"]) for d in capacity["cmm"]["dimensions"]),
        stages=tuple(capacity["cmm"]["stages"]),
        pillars=tuple(Named(p["code"], p["title"]) for p in capacity["gci"]["pillars"]),
    )
    codes = [n.code for n in norms]
    items = framework.items
    if len(set(codes)) != len(codes) or len(set(items)) != len(items):
        raise ValueError("the norms framework repeats a code")
    if [i for i in items if len(i) == 1] != codes:
        raise ValueError("Part II's items must be the norms, in order")
    if extra is not None:
        framework = _merge(framework, json.loads(extra.read_text()))
    return framework


def _merge(framework: Framework, doc: dict[str, Any]) -> Framework:
    from dataclasses import replace

    factors = []
    for f in doc.get("cmm_factors", []):
        framework.check_dimension(f["dimension"])
        factors.append((f["dimension"], Named(f["code"], f["title"])))
    checklists = []
    for c in doc.get("checklists", []):
        points = []
        for p in c["points"]:
            framework.check_norm(p["norm"])
            points.append(ChecklistPoint(p["norm"], p["code"], p["text"]))
        checklists.append(Checklist(c["code"], c["title"], c.get("source", ""), tuple(points)))
    return replace(framework, factors=tuple(factors), checklists=tuple(checklists))
