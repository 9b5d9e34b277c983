"""Exports: the regional view as SVG and CSV, a report as standalone HTML and PDF.

Every piece of text that came from a person (answers, documents) or a peer (states) is
escaped here, in SVG and HTML alike; the PDF is rendered from that same escaped HTML
by WeasyPrint, which fetches nothing (its URL fetcher refuses every URL).
"""

from __future__ import annotations

import csv
import io
from html import escape
from typing import Any

from accord.norms.capacity import Assessment
from accord.norms.framework import Framework
from accord.norms.service import Matrix, StateReport
from accord.store.norms import Evidence

STATUS_LABEL = {"reported": "Reported", "evidence": "Evidence only", "none": "No report"}
_FILL = {"reported": "#1b7f3b", "evidence": "#b36b00", "none": "#d9d9d9"}
_MARK = {"reported": "R", "evidence": "E", "none": "–"}
_INK = {"reported": "#ffffff", "evidence": "#ffffff", "none": "#222222"}


def matrix_svg(m: Matrix) -> str:
    """States (rows) by norms (columns); each cell says its status in words (title) and
    in a letter, not by colour alone."""
    cell, left, top = 34, 56, 40
    width = left + cell * len(m.norms) + 10
    height = top + cell * max(len(m.states), 1) + 40
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" aria-labelledby="matrix-title" '
        'font-family="sans-serif" font-size="12">',
        '<title id="matrix-title">Norms implementation: states by norms</title>',
    ]
    for j, norm in enumerate(m.norms):
        x = left + j * cell + cell / 2
        out.append(f'<text x="{x}" y="{top - 10}" text-anchor="middle">({escape(norm)})</text>')
    for i, state in enumerate(m.states):
        y = top + i * cell
        out.append(
            f'<text x="{left - 8}" y="{y + cell / 2 + 4}" text-anchor="end">{escape(state)}</text>'
        )
        for j, norm in enumerate(m.norms):
            status = m.cells[(state, norm)]
            x = left + j * cell
            label = f"{state}, norm ({norm}): {STATUS_LABEL[status]}"
            out.append(
                f"<g><title>{escape(label)}</title>"
                f'<rect x="{x + 1}" y="{y + 1}" width="{cell - 2}" height="{cell - 2}" '
                f'fill="{_FILL[status]}"/>'
                f'<text x="{x + cell / 2}" y="{y + cell / 2 + 4}" text-anchor="middle" '
                f'fill="{_INK[status]}">{_MARK[status]}</text></g>'
            )
    legend_y = top + cell * max(len(m.states), 1) + 24
    x = left
    for status, label in STATUS_LABEL.items():
        out.append(
            f'<rect x="{x}" y="{legend_y - 11}" width="12" height="12" fill="{_FILL[status]}"/>'
            f'<text x="{x + 16}" y="{legend_y}">{_MARK[status]} {label}</text>'
        )
        x += 120
    out.append("</svg>")
    return "".join(out)


def _safe_csv(value: str) -> str:
    """A cell a spreadsheet will not run as a formula."""
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


def matrix_csv(m: Matrix) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(["state", *m.norms])
    for s in m.states:
        writer.writerow([_safe_csv(s), *(m.cells[(s, n)] for n in m.norms)])
    return buf.getvalue()


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "–"
    if seconds < 3600:
        return f"{seconds / 60:.0f} min"
    if seconds < 86400 * 2:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} days"


def evidence_rows(framework: Framework, e: Evidence) -> dict[str, list[tuple[str, str]]]:
    """The live figures, by the item they support."""
    rate = f"{e.check_responses}/{e.check_targets}" if e.check_targets else "–"
    contacts = ", ".join(f"{k}: {n}" for k, n in sorted(e.contacts_by_kind.items())) or "none"
    shared = ", ".join(f"{k}: {n}" for k, n in sorted(e.objects_by_scope.items())) or "none"
    return {
        "h": [
            ("Assistance requests received", str(e.requests_received)),
            ("Acknowledged", str(e.requests_acknowledged)),
            ("Answered", str(e.requests_answered)),
            ("Median time to acknowledge", _duration(e.median_ack_seconds)),
            ("Median time to respond", _duration(e.median_response_seconds)),
        ],
        "cbm": [
            ("Points of contact by kind", contacts),
            ("Communication checks answered", rate),
            ("Median check response", _duration(e.median_check_seconds)),
        ],
        "d": [("Objects shared, by scope", shared), ("Sightings returned", str(e.sightings))],
        "j": [("Vulnerability objects shared", str(e.vulnerabilities))],
    }


_CSS = """
body{font-family:sans-serif;margin:2em;color:#111;max-width:60em}
h1{font-size:1.5em}h2{font-size:1.2em;border-bottom:1px solid #999;margin-top:1.5em}
h3{font-size:1em;margin-bottom:.2em}.norm{font-style:italic;color:#333}
.marking{font-weight:bold}dl{margin:.2em 0}dt{font-weight:bold}
dd{margin:0 0 .4em 1em;white-space:pre-wrap}
table{border-collapse:collapse}td,th{border:1px solid #999;padding:.2em .5em;text-align:left}
.evidence{background:#f4f4f4;padding:.4em .8em;margin:.4em 0}
"""


def report_body(
    framework: Framework, report: StateReport, version: int | None, evidence: Evidence
) -> str:
    """The report laid out like UNIDIR's survey: part by part, item by item, what the
    state wrote (measures, challenges, documents) and the node's live figures beside it."""
    answers = report.versions.get(version, {}) if version is not None else {}
    figures = evidence_rows(framework, evidence)
    out = [
        f"<h1>National implementation report: {escape(report.state)}</h1>",
        f"<p>{escape(framework.survey_name)}. "
        + (
            f"Version {version} of {', '.join(str(v) for v in sorted(report.versions))}."
            if version is not None
            else "No published version you may read."
        )
        + "</p>",
        f"<p>Live figures: {evidence.start:%Y-%m-%d} to {evidence.end:%Y-%m-%d}, "
        "from this node's records, counting only what you may see.</p>",
    ]
    for part in framework.parts:
        out.append(f"<h2>Part {escape(part.number)}: {escape(part.title)}</h2>")
        for item in part.items:
            title = framework.item_title(item)
            out.append(f"<section><h3>{escape(title)}</h3>")
            if len(item) == 1:
                out.append(f'<p class="norm">{escape(framework.norm(item).text)}</p>')
            a = answers.get(item)
            if a is None:
                out.append("<p>No answer you may read.</p>")
            else:
                docs = "".join(f"<li>{escape(d)}</li>" for d in a.documents) or "<li>none</li>"
                out.append(
                    f'<p class="marking">{escape(a.tlp)} · {escape(a.scope)}</p><dl>'
                    f"<dt>Measures taken</dt><dd>{escape(a.measures) or '–'}</dd>"
                    f"<dt>Challenges and capacity gaps</dt><dd>{escape(a.challenges) or '–'}</dd>"
                    f"<dt>Supporting documents</dt><dd><ul>{docs}</ul></dd></dl>"
                )
            if item in figures:
                rows = "".join(
                    f'<tr><th scope="row">{escape(k)}</th><td>{escape(v)}</td></tr>'
                    for k, v in figures[item]
                )
                out.append(
                    f'<div class="evidence"><p>Live evidence from this node</p>'
                    f"<table>{rows}</table></div>"
                )
            out.append("</section>")
    return "".join(out)


def report_html(
    framework: Framework, report: StateReport, version: int | None, evidence: Evidence
) -> str:
    body = report_body(framework, report, version, evidence)
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f"<title>National implementation report: {escape(report.state)}</title>"
        f"<style>{_CSS}</style></head><body>{body}</body></html>"
    )


def _no_fetch(url: str, *args: Any, **kwargs: Any) -> Any:
    raise ValueError("exports fetch nothing")


def report_pdf(
    framework: Framework, report: StateReport, version: int | None, evidence: Evidence
) -> bytes:
    """The same document as PDF."""
    return pdf_of(report_html(framework, report, version, evidence))


def pdf_of(html: str) -> bytes:
    """A standalone HTML document (already escaped) as PDF, by WeasyPrint (imported only
    when a PDF is asked for), fetching nothing."""
    import weasyprint  # type: ignore[import-untyped]

    pdf = weasyprint.HTML(string=html, url_fetcher=_no_fetch).write_pdf()
    assert pdf is not None
    return bytes(pdf)


def _document(title: str, body: str) -> str:
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f"<title>{escape(title)}</title><style>{_CSS}</style></head><body>{body}</body></html>"
    )


def matrix_html(m: Matrix) -> str:
    """The regional view as a standalone document: the SVG, then the same as a table."""
    head = "".join(f'<th scope="col">({escape(n)})</th>' for n in m.norms)
    rows = "".join(
        f'<tr><th scope="row">{escape(s)}</th>'
        + "".join(f"<td>{STATUS_LABEL[m.cells[(s, n)]]}</td>" for n in m.norms)
        + "</tr>"
        for s in m.states
    )
    body = (
        "<h1>Norms implementation: the regional view</h1>"
        f'{matrix_svg(m)}<table><thead><tr><th scope="col">State</th>{head}</tr></thead>'
        f"<tbody>{rows}</tbody></table>"
    )
    return _document("Norms implementation: the regional view", body)


def assessment_html(a: Assessment, titles: dict[str, str], stages: tuple[str, ...]) -> str:
    gaps = a.gaps()
    rows = "".join(
        f'<tr><th scope="row">{escape(titles.get(c, c))}</th><td>{v} ({escape(stages[v - 1])})'
        f"</td><td>{gaps[c]}</td></tr>"
        for c, v in sorted(a.scores.items())
    )
    title = f"{a.framework.upper()} self-assessment of {a.state}"
    body = (
        f"<h1>{escape(title)}</h1><p>{escape(a.assessed)} · {escape(a.tlp)} · "
        f"target stage {a.target} ({escape(stages[a.target - 1])})</p>"
        f'{assessment_svg(a, titles, stages)}<table><thead><tr><th scope="col">Dimension</th>'
        f'<th scope="col">Stage</th><th scope="col">Gap</th></tr></thead>'
        f"<tbody>{rows}</tbody></table>"
    )
    return _document(title, body)


def assessment_svg(a: Assessment, titles: dict[str, str], stages: tuple[str, ...]) -> str:
    """Bars: the stage reached per dimension, the target as a line, the gap in words."""
    row, left, width = 30, 260, 520
    unit = (width - left - 20) / len(stages)
    height = 40 + row * len(a.scores) + 30
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" aria-labelledby="assess-title" '
        'font-family="sans-serif" font-size="12">',
        f'<title id="assess-title">{escape(a.framework.upper())} self-assessment of '
        f"{escape(a.state)}, {escape(a.assessed[:10])}: target stage {a.target}</title>",
    ]
    for j, name in enumerate(stages):
        x = left + j * unit
        out.append(f'<text x="{x + unit / 2}" y="20" text-anchor="middle">{escape(name)}</text>')
    target_x = left + a.target * unit
    for i, (code, stage) in enumerate(sorted(a.scores.items())):
        y = 30 + i * row
        gap = max(a.target - stage, 0)
        label = f"{titles.get(code, code)}: stage {stage} ({stages[stage - 1]}), gap {gap}"
        out.append(
            f"<g><title>{escape(label)}</title>"
            f'<text x="{left - 6}" y="{y + row / 2 + 4}" text-anchor="end">'
            f"{escape(titles.get(code, code)[:38])}</text>"
            f'<rect x="{left}" y="{y + 4}" width="{stage * unit:.1f}" height="{row - 8}" '
            f'fill="#1f5fa8"/></g>'
        )
    out.append(
        f'<line x1="{target_x:.1f}" y1="26" x2="{target_x:.1f}" y2="{height - 24}" '
        'stroke="#b30000" stroke-width="2" stroke-dasharray="4 3"/>'
        f'<text x="{target_x:.1f}" y="{height - 8}" text-anchor="middle" fill="#b30000">'
        f"target: {escape(stages[a.target - 1])}</text></svg>"
    )
    return "".join(out)
