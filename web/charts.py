"""Server-side SVG charts for the console: no JavaScript, no CDN, readable on a phone.

The weekly trend: bars of appeals filed, a solid line (round marks) of 办结 and a dashed line (square marks) of
答复, so that no series is told apart by colour alone. Gridlines sit on round numbers; a week only partly in
the period is drawn hollow and left out of the lines (a half week would look like a collapse); the year is on
the axis where it starts and where it changes. At phone width the stylesheet enlarges the text and hides every
other week's label (class ``minor``).
"""

from __future__ import annotations

import math
from html import escape

from appeals.metrics import WeekPoint


def nice_ticks(peak: int, most: int = 4) -> list[int]:
    """Gridline values from 0 on round steps (1, 2, 5 × 10^k), at most ``most`` steps, the last ≥ ``peak``."""
    peak = max(peak, 1)
    step = 1
    for exp in range(0, 12):
        for base in (1, 2, 5):
            step = base * 10 ** exp
            if math.ceil(peak / step) <= most:
                return [i * step for i in range(math.ceil(peak / step) + 1)]
    return [0, step]


def trend_svg(weekly: tuple[WeekPoint, ...], *, labels: dict[str, str], title: str) -> str:
    """The chart; ``labels`` names the series: filed, answered, closed, partial (a part week), count (the unit)."""
    width, height, left, right, bottom, top = 720, 270, 48, 12, 48, 14
    n = max(len(weekly), 1)
    ticks = nice_ticks(max([0, *(p.filed for p in weekly), *(p.answered for p in weekly),
                            *(p.closed for p in weekly)]))
    ceiling = ticks[-1]
    step = (width - left - right) / n
    plot_h = height - bottom - top

    def y(value: int) -> float:
        return top + plot_h - value / ceiling * plot_h

    total = sum(p.filed for p in weekly)
    summary = f"{title}：{len(weekly)} 周，{labels['filed']} {total}"
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" role="img" '
             f'aria-label="{escape(summary)}" class="chart">', f"<title>{escape(summary)}</title>"]
    for value in ticks:
        gy = y(value)
        parts.append(f'<line x1="{left}" x2="{width - right}" y1="{gy:.1f}" y2="{gy:.1f}" class="grid"/>')
        parts.append(f'<text x="{left - 6}" y="{gy + 4:.1f}" class="axis" text-anchor="end">{value}</text>')
    label_every = max(1, math.ceil(n / 12))
    year = None
    lines: dict[str, list[list[str]]] = {"answered": [[]], "closed": [[]]}
    marks = []
    for i, p in enumerate(weekly):
        x = left + i * step
        partial = p.days < 7
        bar_w = max(step * 0.62, 1)
        note = f"（{labels['partial']}：{p.days}/7）" if partial else ""
        parts.append(f'<rect x="{x + step * 0.19:.1f}" y="{y(p.filed):.1f}" width="{bar_w:.1f}" '
                     f'height="{top + plot_h - y(p.filed):.1f}" class="bar{" partial" if partial else ""}">'
                     f'<title>{p.week.isoformat()} {escape(labels["filed"])} {p.filed}，{escape(labels["answered"])} '
                     f'{p.answered}，{escape(labels["closed"])} {p.closed}{escape(note)}</title></rect>')
        cx = x + step / 2
        for series in ("answered", "closed"):
            value = getattr(p, series)
            if partial:  # out of the line: a part week is not a fall
                lines[series].append([])
                marks.append((series, cx, y(value), True))
            else:
                lines[series][-1].append(f"{cx:.1f},{y(value):.1f}")
                marks.append((series, cx, y(value), False))
        if i % label_every == 0:
            minor = " minor" if (i // label_every) % 2 else ""
            parts.append(f'<text x="{cx:.1f}" y="{height - bottom + 17}" class="axis{minor}" '
                         f'text-anchor="middle">{p.week.month}/{p.week.day}</text>')
            if p.week.year != year:
                year = p.week.year
                parts.append(f'<text x="{cx:.1f}" y="{height - bottom + 36}" class="axis year" '
                             f'text-anchor="middle">{year}</text>')
    for series, runs in lines.items():
        for run in runs:
            if len(run) > 1:
                parts.append(f'<polyline points="{" ".join(run)}" class="line {series}"/>')
    for series, cx, cy, hollow in marks:
        shape = (f'<circle cx="{cx:.1f}" cy="{cy:.1f}" r="3.5"' if series == "closed"
                 else f'<rect x="{cx - 3.2:.1f}" y="{cy - 3.2:.1f}" width="6.4" height="6.4"')
        parts.append(f'{shape} class="mark {series}{" hollow" if hollow else ""}"/>')
    parts.append("</svg>")
    return "".join(parts)
