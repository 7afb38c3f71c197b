"""Line charts drawn as SVG on the server: no chart library, no script, nothing inline to allow.

Colours and fonts come from the dashboard's stylesheet (classes, not ``style=``), so the
pages keep ``default-src 'self'``. Each point is a link to its run, titled with its value.
"""

from __future__ import annotations

import math
import time
from typing import Any

from markupsafe import Markup, escape

__all__ = ["line_chart", "nice_ticks"]

WIDTH, HEIGHT = 640, 220
LEFT, RIGHT, TOP, BOTTOM = 56, 16, 14, 34
PAD = 22  # room between the axis and the first and last points (and their labels)


def nice_ticks(low: float, high: float, count: int = 5) -> list[float]:
    """Round values spanning ``low..high`` for the axis (1, 2 or 5 times a power of ten apart)."""
    if not math.isfinite(low) or not math.isfinite(high):
        return [0.0]
    if high == low:
        pad = abs(high) * 0.1 or 1.0
        low, high = low - pad, high + pad
    raw = (high - low) / max(count - 1, 1)
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
    first = math.floor(low / step) * step
    ticks = [round(first, 12)]
    while ticks[-1] < high - step * 1e-9 and len(ticks) < 14:  # the last tick is at or above high
        ticks.append(round(first + len(ticks) * step, 12))
    return ticks


def _label(value: float) -> str:
    return f"{value:.4g}"


def line_chart(name: str, points: list[dict[str, Any]], href: Any) -> Markup:
    """An SVG chart of ``points`` (each ``{id, value, build?, created}``), oldest left.

    ``href(point)`` gives each point's link (its run's page).
    """
    values = [float(p["value"]) for p in points]
    spread = (max(values) - min(values)) * 0.08 if values else 0.0  # headroom: no point on the frame
    bottom = min(values) - spread if values else 0.0
    if values and min(values) >= 0 > bottom:
        bottom = 0.0  # values that cannot be negative get no negative axis
    ticks = nice_ticks(bottom, max(values) + spread) if values else [0.0, 1.0]
    low, high = ticks[0], ticks[-1] if ticks[-1] != ticks[0] else ticks[0] + 1
    inner_w, inner_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def x(i: int) -> float:
        span = inner_w - 2 * PAD
        return LEFT + PAD + (span / 2 if len(points) == 1 else span * i / (len(points) - 1))

    def y(v: float) -> float:
        return TOP + inner_h - (v - low) / (high - low) * inner_h

    parts = [
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{escape(name)} across runs"'
        ' xmlns="http://www.w3.org/2000/svg">',
        f"<title>{escape(name)}</title>",
    ]
    for tick in ticks:
        ty = y(tick)
        parts.append(f'<line class="grid" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{ty:.1f}" y2="{ty:.1f}"/>')
        parts.append(f'<text class="tick" x="{LEFT - 6}" y="{ty + 4:.1f}" text-anchor="end">{_label(tick)}</text>')
    if len(points) > 1:
        path = " ".join(f"{'M' if i == 0 else 'L'}{x(i):.1f},{y(v):.1f}" for i, v in enumerate(values))
        parts.append(f'<path class="line" d="{path}"/>')
    step = max(1, math.ceil(len(points) / 10))
    radius = 5 if len(points) <= 30 else 3.5 if len(points) <= 60 else 2.5
    for i, (point, value) in enumerate(zip(points, values)):
        label = f"#{point['build']}" if point.get("build") else time.strftime("%H:%M:%S", time.gmtime(point["created"]))
        title = f"{name} = {_label(value)} (run {point['id'][:8]}{', build ' + label if point.get('build') else ''})"
        parts.append(
            f'<a href="{escape(href(point))}" class="point-link"><circle class="point" cx="{x(i):.1f}" '
            f'cy="{y(value):.1f}" r="{radius}"><title>{escape(title)}</title></circle></a>'
        )
        if i % step == 0 or i == len(points) - 1:
            below = HEIGHT - BOTTOM + 18
            parts.append(f'<text class="tick" x="{x(i):.1f}" y="{below}" text-anchor="middle">{escape(label)}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))
