"""Server-side SVG charts for the console: no JavaScript, no CDN, readable on a phone."""

from __future__ import annotations

from html import escape

from appeals.metrics import WeekPoint


def trend_svg(weekly: tuple[WeekPoint, ...], *, filed_label: str, finished_label: str, title: str) -> str:
    """Bars of appeals filed per week and a line of appeals answered, on one scale."""
    width, height, left, bottom, top = 720, 240, 40, 36, 16
    n = max(len(weekly), 1)
    peak = max([1, *(p.filed for p in weekly), *(p.closed for p in weekly)])
    step = (width - left - 10) / n
    plot_h = height - bottom - top

    def y(value: int) -> float:
        return top + plot_h - value / peak * plot_h

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" role="img" '
             f'aria-label="{escape(title)}" class="chart">', f"<title>{escape(title)}</title>"]
    for frac in (0, 0.5, 1):
        gy = top + plot_h - frac * plot_h
        parts.append(f'<line x1="{left}" x2="{width - 10}" y1="{gy:.1f}" y2="{gy:.1f}" class="grid"/>')
        parts.append(f'<text x="{left - 6}" y="{gy + 4:.1f}" class="axis" text-anchor="end">'
                     f'{round(peak * frac)}</text>')
    label_every = max(1, n // 8)
    points = []
    for i, p in enumerate(weekly):
        x = left + i * step
        bar_w = max(step * 0.6, 1)
        parts.append(f'<rect x="{x + step * 0.2:.1f}" y="{y(p.filed):.1f}" width="{bar_w:.1f}" '
                     f'height="{top + plot_h - y(p.filed):.1f}" class="bar"><title>{p.week.isoformat()} '
                     f'{escape(filed_label)} {p.filed}</title></rect>')
        points.append(f"{x + step / 2:.1f},{y(p.closed):.1f}")
        if i % label_every == 0:
            parts.append(f'<text x="{x + step / 2:.1f}" y="{height - bottom + 16}" class="axis" '
                         f'text-anchor="middle">{p.week.strftime("%m-%d")}</text>')
    if points:
        parts.append(f'<polyline points="{" ".join(points)}" class="line"/>')
    parts.append(f'<rect x="{left}" y="{height - 14}" width="10" height="10" class="bar"/>'
                 f'<text x="{left + 14}" y="{height - 5}" class="axis">{escape(filed_label)}</text>'
                 f'<line x1="{left + 90}" x2="{left + 104}" y1="{height - 9}" y2="{height - 9}" class="line"/>'
                 f'<text x="{left + 108}" y="{height - 5}" class="axis">{escape(finished_label)}</text>')
    parts.append("</svg>")
    return "".join(parts)
