"""Server-drawn inline SVG charts: the equity curve and the drawdown of a run's ``daily`` rows.

No JavaScript and no chart library: a chart is a ``<svg>`` string with a
polyline (equity) or a filled area (drawdown) over a value axis with its
min/max gridlines and a date axis with a few session labels. The browser
scales it (``viewBox``) to the page's width.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

__all__ = ["line_chart"]

_W, _H = 1000.0, 220.0
_LEFT, _RIGHT, _TOP, _BOTTOM = 78.0, 12.0, 14.0, 28.0
_TICKS = 6  # date labels on the x axis


def line_chart(
    chart_id: str,
    title: str,
    sessions: Sequence[str],
    values: Sequence[float],
    *,
    area: bool = False,
    color: str = "#1f6feb",
) -> str:
    """An inline ``<svg id=chart_id>`` of ``values`` (dollars) over ``sessions`` (ISO dates).

    Args:
        chart_id: the element id (tests and the page's links use it).
        title: the accessible title (``<title>``) and ``aria-label``.
        sessions: x labels, one per value, in order.
        values: y values, dollars; one value is drawn as a dot.
        area: fill between the line and zero (a drawdown, drawn as negative).
        color: stroke (and fill) colour.

    Raises:
        ValueError: ``sessions`` and ``values`` differ in length.
    """
    if len(sessions) != len(values):
        raise ValueError(f"{len(sessions)} sessions but {len(values)} values")
    head = (
        f'<svg id="{escape(chart_id)}" class="chart" viewBox="0 0 {_W:g} {_H:g}" role="img" '
        f'aria-label="{escape(title)}" xmlns="http://www.w3.org/2000/svg">'
        f"<title>{escape(title)}</title>"
    )
    if not values:
        return (
            f'{head}<text x="{_W / 2:g}" y="{_H / 2:g}" text-anchor="middle" class="empty">'
            "no daily rows yet</text></svg>"
        )
    lo, hi = min(values), max(values)
    if area:
        hi = max(hi, 0.0)
        lo = min(lo, 0.0)
    if hi - lo < 1e-9:  # a flat series: a band of 1 % (at least a dollar) around it
        pad = max(1.0, abs(hi) * 0.01)
        lo, hi = (lo - pad, hi) if area else (lo - pad, hi + pad)
    plot_w = _W - _LEFT - _RIGHT
    plot_h = _H - _TOP - _BOTTOM
    n = len(values)

    def x(i: int) -> float:
        return _LEFT + (plot_w * i / (n - 1) if n > 1 else plot_w / 2)

    def y(v: float) -> float:
        return _TOP + plot_h * (hi - v) / (hi - lo)

    parts = [head]
    for v in (hi, lo):  # gridlines and value labels at the extremes
        parts.append(
            f'<line x1="{_LEFT:g}" x2="{_W - _RIGHT:g}" y1="{y(v):.1f}" y2="{y(v):.1f}" '
            f'class="grid"/><text x="{_LEFT - 6:g}" y="{y(v) + 4:.1f}" text-anchor="end" '
            f'class="axis">{escape(_dollars(v))}</text>'
        )
    # evenly spaced labels, first and last included, never crowded together
    ticks = sorted({round(k * (n - 1) / (_TICKS - 1)) for k in range(_TICKS)}) if n > 1 else [0]
    for i in ticks:
        anchor = "end" if i == n - 1 and n > 1 else "middle"  # the last label stays inside
        parts.append(
            f'<text x="{x(i):.1f}" y="{_H - 8:g}" text-anchor="{anchor}" class="axis">'
            f"{escape(sessions[i])}</text>"
        )
    points = " ".join(f"{x(i):.1f},{y(v):.1f}" for i, v in enumerate(values))
    if n == 1:
        parts.append(f'<circle cx="{x(0):.1f}" cy="{y(values[0]):.1f}" r="4" fill="{color}"/>')
    else:
        if area:
            base = y(0.0)
            parts.append(
                f'<polygon points="{x(0):.1f},{base:.1f} {points} {x(n - 1):.1f},{base:.1f}" '
                f'fill="{color}" fill-opacity="0.25" stroke="none"/>'
            )
        parts.append(f'<polyline points="{points}" fill="none" stroke="{color}" stroke-width="2"/>')
    parts.append("</svg>")
    return "".join(parts)


def _dollars(value: float) -> str:
    whole = round(value)
    return f"{whole if whole else 0:,d}"  # never "-0"
