"""Inline SVG charts for the canteen pages: income against cost by month, ingredient share by month,
satisfaction scores. Plain SVG text (no scripts, no external files) so a report opens offline and prints.
Each chart carries `data-chart` and one element per value with `data-value`, so a test can read it back.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

WIDTH, HEIGHT, LEFT, BOTTOM, TOP = 640, 240, 64, 36, 24
INCOME, COST, SHARE, SCORE = "#2f6fb3", "#d9822b", "#3a9a5b", "#7b5ea7"


def _frame(kind: str, title: str, body: list[str], legend: list[tuple[str, str]]) -> str:
    keys = "".join(
        f'<rect x="{LEFT + 150 * i}" y="4" width="12" height="12" fill="{color}"/>'
        f'<text x="{LEFT + 150 * i + 18}" y="15" font-size="12">{escape(label)}</text>'
        for i, (label, color) in enumerate(legend)
    )
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" data-chart="{kind}" role="img" '
        f'aria-label="{escape(title)}" viewBox="0 0 {WIDTH} {HEIGHT}" width="100%">'
        f"<title>{escape(title)}</title>{keys}{''.join(body)}</svg>"
    )


def _axis(top: float, unit: str) -> list[str]:
    plot_h = HEIGHT - BOTTOM - TOP
    lines = []
    for i in range(5):
        y = TOP + plot_h * i / 4
        value = top * (4 - i) / 4
        lines.append(f'<line x1="{LEFT}" y1="{y:.1f}" x2="{WIDTH - 8}" y2="{y:.1f}" stroke="#ddd"/>')
        lines.append(f'<text x="{LEFT - 6}" y="{y + 4:.1f}" font-size="11" text-anchor="end">{value:,.0f}{unit}</text>')
    return lines


def _nice(top: float) -> float:
    if top <= 0:
        return 1.0
    step = 10 ** max(0, len(str(int(top))) - 1)
    return float(-(-top // step) * step)


def bars(kind: str, title: str, labels: Sequence[str], series: Sequence[tuple[str, str, Sequence[float]]],
         unit: str = "") -> str:  # fmt: skip
    """Grouped bars: `series` is (name, colour, values per label)."""
    top = _nice(max([v for _, _, values in series for v in values] + [0.0]))
    plot_w, plot_h = WIDTH - LEFT - 8, HEIGHT - BOTTOM - TOP
    group = plot_w / max(1, len(labels))
    width = group * 0.8 / max(1, len(series))
    body = _axis(top, unit)
    for i, label in enumerate(labels):
        x0 = LEFT + group * i + group * 0.1
        for j, (name, color, values) in enumerate(series):
            value = values[i]
            h = plot_h * value / top
            body.append(
                f'<rect class="bar" data-series="{escape(name)}" data-label="{escape(label)}" data-value="{value:.2f}" '
                f'x="{x0 + width * j:.1f}" y="{TOP + plot_h - h:.1f}" width="{width:.1f}" height="{h:.1f}" '
                f'fill="{color}">'
                f"<title>{escape(label)} {escape(name)} {value:,.2f}{unit}</title></rect>"
            )
        body.append(
            f'<text x="{x0 + group * 0.4:.1f}" y="{HEIGHT - BOTTOM + 16}" font-size="11" '
            f'text-anchor="middle">{escape(label)}</text>'
        )
    return _frame(kind, title, body, [(name, color) for name, color, _ in series])


def line(kind: str, title: str, labels: Sequence[str], name: str, values: Sequence[float | None],
         unit: str = "%") -> str:  # fmt: skip
    """One line with a dot per value (None leaves a gap); values in the unit shown (e.g. percent)."""
    known = [v for v in values if v is not None]
    top = _nice(max(known + [0.0]) * 1.1)
    plot_w, plot_h = WIDTH - LEFT - 8, HEIGHT - BOTTOM - TOP
    step = plot_w / max(1, len(labels))
    body = _axis(top, unit)
    points = []
    for i, (label, value) in enumerate(zip(labels, values, strict=True)):
        x = LEFT + step * (i + 0.5)
        body.append(
            f'<text x="{x:.1f}" y="{HEIGHT - BOTTOM + 16}" font-size="11" text-anchor="middle">{escape(label)}</text>'
        )
        if value is None:
            continue
        y = TOP + plot_h - plot_h * value / top
        points.append(f"{x:.1f},{y:.1f}")
        body.append(
            f'<circle class="point" data-label="{escape(label)}" data-value="{value:.2f}" cx="{x:.1f}" cy="{y:.1f}" '
            f'r="4" fill="{SHARE}"><title>{escape(label)} {value:.1f}{unit}</title></circle>'
        )
    if len(points) > 1:
        path = f'<polyline fill="none" stroke="{SHARE}" stroke-width="2" points="{" ".join(points)}"/>'
        body.insert(len(_axis(top, unit)), path)
    return _frame(kind, title, body, [(name, SHARE)])
