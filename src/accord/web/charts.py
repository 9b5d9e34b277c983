"""Charts drawn on the server as SVG: no script, no external chart service.

Colours come from the stylesheet (classes), so the markup passes a strict CSP.
"""

from __future__ import annotations

from collections.abc import Sequence

from markupsafe import Markup, escape

WIDTH = 640
HEIGHT = 180
_PAD_LEFT = 44
_PAD_BOTTOM = 36
_PAD_TOP = 12


def bars(
    points: Sequence[tuple[str, float]], *, title: str, unit: str = "", percent: bool = False
) -> Markup:
    """A bar chart of (label, value) with a title and a text equivalent for screen readers."""
    if not points:
        return Markup('<p class="muted">{}: nothing to show yet.</p>').format(title)
    top = 1.0 if percent else max(max(v for _, v in points), 1.0)
    plot_w = WIDTH - _PAD_LEFT - 8
    plot_h = HEIGHT - _PAD_BOTTOM - _PAD_TOP
    step = plot_w / len(points)
    bar_w = max(step * 0.7, 1.0)
    label_every = max(1, len(points) // 8)
    parts = [
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'aria-labelledby="{_id(title)}">',
        f'<title id="{_id(title)}">{escape(title)}</title>',
        f'<line class="axis" x1="{_PAD_LEFT}" y1="{_PAD_TOP + plot_h}" '
        f'x2="{WIDTH - 8}" y2="{_PAD_TOP + plot_h}"/>',
        f'<text class="tick" x="{_PAD_LEFT - 6}" y="{_PAD_TOP + 4}" text-anchor="end">'
        f"{escape(_fmt(top, percent))}</text>",
        f'<text class="tick" x="{_PAD_LEFT - 6}" y="{_PAD_TOP + plot_h}" '
        'text-anchor="end">0</text>',
    ]
    for i, (label, value) in enumerate(points):
        h = plot_h * (value / top if top else 0.0)
        x = _PAD_LEFT + i * step + (step - bar_w) / 2
        parts.append(
            f'<rect class="bar" x="{x:.1f}" y="{_PAD_TOP + plot_h - h:.1f}" '
            f'width="{bar_w:.1f}" height="{h:.1f}"><title>{escape(label)}: '
            f"{escape(_fmt(value, percent))}{escape(unit)}</title></rect>"
        )
        if i % label_every == 0:
            parts.append(
                f'<text class="tick" x="{x + bar_w / 2:.1f}" y="{HEIGHT - _PAD_BOTTOM + 16}" '
                f'text-anchor="middle">{escape(label)}</text>'
            )
    parts.append("</svg>")
    return Markup("".join(parts))


def _fmt(value: float, percent: bool) -> str:
    if percent:
        return f"{value:.0%}"
    return f"{value:,.0f}" if value >= 10 or value == int(value) else f"{value:.1f}"


def _id(title: str) -> str:
    return "chart-" + "".join(c if c.isalnum() else "-" for c in title.lower())
