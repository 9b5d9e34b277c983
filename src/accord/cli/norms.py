"""Norms implementation reports from the console: draft, answer, publish, read, export."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import orjson
import typer

from accord.cli.common import act_as, open_node, out, write_file
from accord.domain.model import Role
from accord.errors import InvalidInput

if TYPE_CHECKING:
    from accord.node import Node
    from accord.norms.capacity import Capacity, Training
    from accord.norms.service import NormsService

commands = typer.Typer()
norms_app = typer.Typer(help="Norms implementation reports.", no_args_is_help=True)
commands.add_typer(norms_app, name="norms")

Org = Annotated[str, typer.Option("--org", help="Act for this organisation (name or identity id).")]
Reader = Annotated[
    str | None, typer.Option("--org", help="Read as this organisation; omit: the public.")
]
Format = Annotated[
    str, typer.Option("--format", help="json, html or pdf (reports); json, csv or svg (matrix).")
]
Out = Annotated[Path | None, typer.Option("--out", help="Write here instead of standard output.")]


def _service() -> tuple[Node, NormsService]:
    from accord.norms.capability import NORMS

    node = open_node()
    return node, NORMS.service(node)


def _emit(data: bytes, path: Path | None) -> None:
    if path is None:
        out.print(data.decode(), markup=False, highlight=False, soft_wrap=True)
    else:
        write_file(path, [data])


def _json(value: object) -> bytes:
    return orjson.dumps(value, option=orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS)


@norms_app.command("framework")
def norms_framework() -> None:
    """The eleven norms, their sources, and the survey's parts, as JSON."""
    from accord.norms.framework import load

    f = load()
    _emit(_json({"norms": f.norms, "parts": f.parts, "note": f.norms_note}), None)


@norms_app.command("draft")
def norms_draft(org: Org) -> None:
    """Start a draft of the report (the next version carries the last one's answers)."""
    node, service = _service()
    version = service.start_draft(act_as(node, org, Role.ANALYST), org)
    out.print(f"draft version {version.number} of {version.state}'s report: id {version.id}")


@norms_app.command("answer")
def norms_answer(
    org: Org,
    version: Annotated[int, typer.Argument(help="The draft's id.")],
    item: Annotated[str, typer.Argument(help="A norm (a-k), or law, cbm, capacity.")],
    measures: Annotated[str, typer.Option(help="Measures taken.")] = "",
    challenges: Annotated[str, typer.Option(help="Challenges and capacity gaps.")] = "",
    document: Annotated[
        list[str] | None, typer.Option(help="A supporting document; repeat.")
    ] = None,
    tlp: Annotated[str, typer.Option(help="The answer's TLP.")] = "TLP:GREEN",
    scope: Annotated[
        str, typer.Option(help="organisation, group, community, federation, public.")
    ] = "community",
) -> None:
    """Write one answer of a draft."""
    from accord.norms.service import AnswerInput

    node, service = _service()
    given = AnswerInput(item, measures, challenges, tuple(document or ()), tlp, scope)
    answer = service.answer(act_as(node, org, Role.ANALYST), version, given)
    out.print(f"answer {answer.item} saved ({answer.tlp}, {answer.scope})")


@norms_app.command("publish")
def norms_publish(
    org: Org,
    version: Annotated[int, typer.Argument(help="The draft's id.")],
    target: Annotated[str, typer.Option(help="group, community, federation or public.")],
    group: Annotated[str | None, typer.Option(help="A sharing group's slug.")] = None,
) -> None:
    """Publish a draft: every answer under its own marking, never further than the target."""
    node, service = _service()
    published = service.publish(act_as(node, org, Role.ANALYST), version, target, group)
    out.print(f"version {published.number} published ({published.scope}): {published.stix_id}")


@norms_app.command("show")
def norms_show(
    state: Annotated[str, typer.Argument(help="A state's ISO code.")],
    org: Reader = None,
    version: Annotated[int | None, typer.Option(help="A version; omit: the latest.")] = None,
    fmt: Format = "json",
    path: Out = None,
) -> None:
    """A state's published report as the organisation may read it, with the live evidence."""
    from accord.norms.export import report_html, report_pdf

    node, service = _service()
    reader = act_as(node, org, Role.READER)
    report, number = service.state_report(reader, state, version)
    evidence = service.evidence(reader, report.state)
    if fmt == "json":
        answers = report.versions.get(number, {}) if number is not None else {}
        data = _json(
            {"state": report.state, "version": number, "answers": answers, "evidence": evidence}
        )
    elif fmt == "html":
        data = report_html(service.framework, report, number, evidence).encode()
    elif fmt == "pdf":
        if path is None:
            raise InvalidInput("a PDF goes to a file: give --out")
        data = report_pdf(service.framework, report, number, evidence)
    else:
        raise InvalidInput("--format is json, html or pdf")
    _emit(data, path)


@norms_app.command("matrix")
def norms_matrix(
    org: Reader = None,
    group: Annotated[str | None, typer.Option(help="Only a sharing group's states.")] = None,
    fmt: Format = "json",
    path: Out = None,
) -> None:
    """The regional view: states by norms (reported, evidence, none)."""
    from accord.norms.export import matrix_csv, matrix_html, matrix_svg, pdf_of

    node, service = _service()
    reader = act_as(node, org, Role.READER)
    states = service.group_states(reader, group) if group else None
    m = service.matrix(reader, states)
    if fmt == "html":
        data = matrix_html(m).encode()
    elif fmt == "pdf":
        if path is None:
            raise InvalidInput("a PDF goes to a file: give --out")
        data = pdf_of(matrix_html(m))
    elif fmt == "json":
        data = _json({s: {n: m.cells[(s, n)] for n in m.norms} for s in m.states})
    elif fmt == "csv":
        data = matrix_csv(m).encode()
    elif fmt == "svg":
        data = matrix_svg(m).encode()
    else:
        raise InvalidInput("--format is json, csv, svg, html or pdf")
    _emit(data, path)


@norms_app.command("compare")
def norms_compare(
    states: Annotated[list[str], typer.Argument(help="One to three ISO codes.")],
    org: Reader = None,
) -> None:
    """Up to three states' latest reports side by side, as JSON (items answered)."""
    node, service = _service()
    reader = act_as(node, org, Role.READER)
    found = service.compare(reader, states)
    _emit(_json({s: sorted(r.answered()) for s, r in found.items()}), None)


@norms_app.command("evidence")
def norms_evidence(
    state: Annotated[str, typer.Argument(help="A state's ISO code.")],
    org: Reader = None,
    start: Annotated[datetime | None, typer.Option(help="Period start (UTC).")] = None,
    end: Annotated[datetime | None, typer.Option(help="Period end (UTC).")] = None,
) -> None:
    """Figures from this node's records for a state, over what the organisation may see."""
    from datetime import UTC

    node, service = _service()
    reader = act_as(node, org, Role.READER)
    e = service.evidence(
        reader,
        state,
        start.replace(tzinfo=UTC) if start else None,
        end.replace(tzinfo=UTC) if end else None,
    )
    _emit(_json(e), None)


def _capacity() -> tuple[Node, Capacity]:
    node, service = _service()
    assert service.capacity is not None
    return node, service.capacity


@norms_app.command("assess")
def norms_assess(
    org: Org,
    framework: Annotated[str, typer.Argument(help="cmm or gci.")],
    score: Annotated[list[str], typer.Option(help="CODE=STAGE (1-5); repeat.")],
    target: Annotated[int, typer.Option(help="The stage aimed at, 1-5.")],
    tlp: Annotated[str, typer.Option(help="The assessment's TLP.")] = "TLP:AMBER",
    scope: Annotated[str, typer.Option(help="Who may read it.")] = "organisation",
    group: Annotated[str | None, typer.Option(help="A sharing group's slug.")] = None,
) -> None:
    """Record a capacity self-assessment (a new version of the organisation's)."""
    scores: dict[str, int] = {}
    for pair in score:
        code, sep, stage = pair.partition("=")
        if not sep or not stage.strip().lstrip("-").isdigit():
            raise InvalidInput(f"--score {pair[:40]!r}: write CODE=STAGE, e.g. D1=3")
        scores[code.strip()] = int(stage)
    node, capacity = _capacity()
    a = capacity.assess(
        act_as(node, org, Role.ANALYST), framework, scores, target, tlp, scope, group
    )
    gaps = ", ".join(f"{k}: {v}" for k, v in a.gaps().items())
    out.print(f"{a.framework} assessment of {a.state} recorded; gaps to target: {gaps}")


@norms_app.command("assessments")
def norms_assessments(
    state: Annotated[str, typer.Argument(help="A state's ISO code.")],
    org: Reader = None,
    fmt: Annotated[
        str, typer.Option("--format", help="json; svg, html or pdf (the latest).")
    ] = "json",
    path: Out = None,
) -> None:
    """A state's self-assessments the organisation may read, oldest first."""
    from accord.norms.export import assessment_html, assessment_svg, pdf_of

    node, capacity = _capacity()
    found = capacity.assessments(act_as(node, org, Role.READER), state)
    f = capacity.framework
    titles = {d.code: d.title for d in (*f.dimensions, *f.pillars)}
    if fmt == "json":
        data = _json([{**vars_of(a), "gaps": a.gaps()} for a in found])
    elif fmt not in ("svg", "html", "pdf"):
        raise InvalidInput("--format is json, svg, html or pdf")
    elif not found:
        raise InvalidInput(f"no assessment of {state[:2]!r} that you may read")
    elif fmt == "svg":
        data = assessment_svg(found[-1], titles, f.stages).encode()
    elif fmt == "html":
        data = assessment_html(found[-1], titles, f.stages).encode()
    else:
        if path is None:
            raise InvalidInput("a PDF goes to a file: give --out")
        data = pdf_of(assessment_html(found[-1], titles, f.stages))
    _emit(data, path)


def vars_of(value: object) -> dict[str, object]:
    from dataclasses import asdict, is_dataclass

    assert is_dataclass(value) and not isinstance(value, type)
    return asdict(value)


@norms_app.command("post")
def norms_post(
    org: Org,
    what: Annotated[str, typer.Argument(help="need or offer.")],
    kind: Annotated[str, typer.Option(help="training, expert-mission, tools, funding.")],
    title: Annotated[str, typer.Option(help="What is needed or offered.")],
    tag: Annotated[list[str], typer.Option(help="A dimension, pillar or norm code; repeat.")],
    tlp: Annotated[str, typer.Option(help="Its TLP.")] = "TLP:GREEN",
    scope: Annotated[str, typer.Option(help="Who may read it.")] = "federation",
    group: Annotated[str | None, typer.Option(help="A sharing group's slug.")] = None,
) -> None:
    """Post a need or an offer."""
    node, capacity = _capacity()
    p = capacity.post(act_as(node, org, Role.ANALYST), what, kind, title, tag, tlp, scope, group)
    out.print(f"{what} posted: {p.stix_id}")


@norms_app.command("matches")
def norms_matches(org: Reader = None) -> None:
    """Proposed matches of open needs with offers, as JSON."""
    node, capacity = _capacity()
    found = capacity.matches(act_as(node, org, Role.READER))
    _emit(
        _json(
            [{"need": m.need.stix_id, "offer": m.offer.stix_id, "shared": m.shared} for m in found]
        ),
        None,
    )


@norms_app.command("step")
def norms_step(
    org: Org,
    need: Annotated[str, typer.Argument(help="The need's STIX id.")],
    step: Annotated[str, typer.Argument(help="matched, agreed, delivered, evaluated.")],
    offer: Annotated[str | None, typer.Option(help="The offer (for 'matched').")] = None,
) -> None:
    """Move a need of the organisation's one step on."""
    node, capacity = _capacity()
    p = capacity.advance(act_as(node, org, Role.ANALYST), need, step, offer)
    out.print(f"{p.stix_id} is now {p.step}")


def _training() -> tuple[Node, Training]:
    node, service = _service()
    assert service.training is not None
    return node, service.training


@norms_app.command("course")
def norms_course(
    org: Org,
    title: Annotated[str, typer.Option(help="The course's title.")],
    fmt: Annotated[str, typer.Option("--format", help="course or e-learning.")] = "course",
    tag: Annotated[
        list[str] | None, typer.Option(help="A dimension, pillar or norm; repeat.")
    ] = None,
    tlp: Annotated[str, typer.Option(help="Its TLP.")] = "TLP:CLEAR",
    scope: Annotated[str, typer.Option(help="Who may read it.")] = "public",
) -> None:
    """Add a course or e-learning module to the catalogue."""
    node, training = _training()
    c = training.add_course(act_as(node, org, Role.ANALYST), title, fmt, tag or [], tlp, scope)
    out.print(f"course added: {c.stix_id}")


@norms_app.command("enrol")
def norms_enrol(
    org: Org,
    course: Annotated[str, typer.Argument(help="The course's STIX id.")],
    participants: Annotated[int, typer.Option(help="How many take it.")],
) -> None:
    """Enrol the organisation's participants in a course."""
    node, training = _training()
    out.print(f"enrolled: {training.enrol(act_as(node, org, Role.ANALYST), course, participants)}")


@norms_app.command("complete")
def norms_complete(
    org: Org,
    record: Annotated[str, typer.Argument(help="The enrolment's STIX id.")],
    completed: Annotated[int, typer.Option(help="How many completed it.")],
) -> None:
    """Record an enrolment's completions."""
    node, training = _training()
    training.complete(act_as(node, org, Role.ANALYST), record, completed)
    out.print("completion recorded")


@norms_app.command("training")
def norms_training(org: Reader = None) -> None:
    """Enrolments and completions per state, as JSON."""
    node, training = _training()
    _emit(_json(training.figures(act_as(node, org, Role.READER))), None)


@norms_app.command("trend")
def norms_trend(
    state: Annotated[str, typer.Argument(help="A state's ISO code.")], org: Reader = None
) -> None:
    """Answers the organisation may read in each published version, as JSON."""
    node, service = _service()
    points = service.trend(act_as(node, org, Role.READER), state)
    _emit(_json([{"version": v, "answers": n} for v, n in points]), None)
