"""A sweep's results: ``results.csv`` and a self-contained ``results.html``.

``results.csv`` has one row per point: ``point`` (its index in the grid's
product), ``key`` (the first 12 hex digits of its cache key; the journal is
``cache/KEY.sqlite``), one column per grid key, every metric of
:data:`~daemon.sweep.metrics.METRICS`, and ``replay_s`` (the replay's wall
seconds when it ran).

``results.html`` works offline (no external file, script or font): the
table sortable by any column (a few lines of inline JavaScript; click a
header), the parameters ranked by importance, and heat maps (matplotlib PNGs
embedded as data URIs) of the chosen metric and of the maximum drawdown over
the two most important parameters.

**Importance** of a parameter for a metric: group the points by the
parameter's value, average the metric in each group (NaN ignored), and take
the spread (largest minus smallest group mean). The two parameters with the
largest spreads are the heat map's axes; each cell is the mean over the
points with those two values (the other parameters averaged out).
"""

from __future__ import annotations

import base64
import csv
import html
import io
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from daemon.sweep.metrics import LOWER_IS_BETTER, METRICS

__all__ = ["importance", "write_csv", "write_html"]


def _value_label(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _metric(row: Mapping[str, Any], metric: str) -> float:
    value = row["metrics"].get(metric)
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def write_csv(path: Path, rows: Sequence[Mapping[str, Any]], axes: Sequence[str]) -> None:
    """Write ``results.csv``: one line per point (rows are stored point results)."""
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["point", "key", *axes, *METRICS, "replay_s"])
        for row in sorted(rows, key=lambda r: int(r["index"])):
            writer.writerow(
                [
                    row["index"],
                    str(row["key"])[:12],
                    *(_value_label(row["params"].get(a)) for a in axes),
                    *(_csv_number(_metric(row, m)) for m in METRICS),
                    _csv_number(float(row.get("elapsed_s", math.nan))),
                ]
            )


def _csv_number(value: float) -> str:
    return "" if math.isnan(value) else repr(value)


def importance(
    rows: Sequence[Mapping[str, Any]], axes: Sequence[str], metric: str
) -> list[tuple[str, float]]:
    """``(parameter, spread)`` of every parameter with two or more values, largest spread first.

    Spread: max minus min over the parameter's values of the mean of ``metric``
    (module docstring). A parameter whose groups are all NaN has spread NaN and
    sorts last.
    """
    out: list[tuple[str, float]] = []
    for axis in axes:
        groups: dict[str, list[float]] = {}
        for row in rows:
            groups.setdefault(_value_label(row["params"].get(axis)), []).append(
                _metric(row, metric)
            )
        if len(groups) < 2:
            continue
        means = [m for m in (_mean(v) for v in groups.values()) if not math.isnan(m)]
        out.append((axis, max(means) - min(means) if len(means) >= 2 else math.nan))
    return sorted(out, key=lambda item: (math.isnan(item[1]), -(item[1] or 0.0)))


def _mean(values: Sequence[float]) -> float:
    finite = [v for v in values if not math.isnan(v)]
    return sum(finite) / len(finite) if finite else math.nan


def heatmap_png(
    rows: Sequence[Mapping[str, Any]], x_axis: str, y_axis: str, metric: str, values: Any
) -> bytes:
    """A PNG heat map of the mean of ``metric`` over ``x_axis`` x ``y_axis``.

    ``values`` maps each axis to its grid values (for the cell order).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    xs = [_value_label(v) for v in values[x_axis]]
    ys = [_value_label(v) for v in values[y_axis]]
    cells: dict[tuple[str, str], list[float]] = {}
    for row in rows:
        key = (_value_label(row["params"].get(x_axis)), _value_label(row["params"].get(y_axis)))
        cells.setdefault(key, []).append(_metric(row, metric))
    grid = np.full((len(ys), len(xs)), np.nan)
    for (x, y), vals in cells.items():
        if x in xs and y in ys:
            grid[ys.index(y), xs.index(x)] = _mean(vals)
    fig, ax = plt.subplots(figsize=(1.2 + 0.9 * len(xs), 1.0 + 0.6 * len(ys)), dpi=100)
    cmap = "viridis_r" if metric in LOWER_IS_BETTER else "viridis"
    image = ax.imshow(grid, cmap=cmap, aspect="auto", origin="lower")
    ax.set_xticks(range(len(xs)), xs, rotation=45 if len(xs) > 6 else 0)
    ax.set_yticks(range(len(ys)), ys)
    ax.set_xlabel(x_axis)
    ax.set_ylabel(y_axis)
    ax.set_title(f"mean {metric}")
    finite = grid[np.isfinite(grid)]
    middle = float(np.mean([finite.min(), finite.max()])) if finite.size else 0.0
    for i in range(len(ys)):
        for j in range(len(xs)):
            if np.isfinite(grid[i, j]):
                dark = (grid[i, j] < middle) != (metric in LOWER_IS_BETTER)
                ax.text(
                    j,
                    i,
                    _short_number(float(grid[i, j])),
                    ha="center",
                    va="center",
                    fontsize=8,
                    color="white" if dark else "black",
                )
    fig.colorbar(image, ax=ax)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    plt.close(fig)
    return buffer.getvalue()


def _short_number(value: float) -> str:
    if math.isnan(value):
        return ""
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    return f"{value:.3g}"


_SCRIPT = """
document.querySelectorAll("table.sortable th").forEach(function (th, col) {
  th.addEventListener("click", function () {
    var table = th.closest("table"), body = table.tBodies[0];
    var up = th.dataset.dir !== "asc"; th.dataset.dir = up ? "asc" : "desc";
    var rows = Array.prototype.slice.call(body.rows);
    rows.sort(function (a, b) {
      var x = a.cells[col].dataset.v, y = b.cells[col].dataset.v;
      var nx = parseFloat(x), ny = parseFloat(y);
      var c = (isNaN(nx) || isNaN(ny)) ? String(x).localeCompare(String(y)) : nx - ny;
      return up ? c : -c;
    });
    rows.forEach(function (r) { body.appendChild(r); });
  });
});
"""

_STYLE = """
body { font-family: sans-serif; margin: 1.5em; color: #222; }
table { border-collapse: collapse; font-size: 13px; margin: 0.5em 0 1.5em; }
th, td { border: 1px solid #ccc; padding: 3px 7px; text-align: right; }
th { background: #eee; cursor: pointer; position: sticky; top: 0; }
td.p { background: #f6f9ff; }
img { margin: 0 1em 1em 0; border: 1px solid #ddd; }
.note { color: #555; font-size: 13px; max-width: 60em; }
"""


def _cell(value: Any, css: str = "") -> str:
    if isinstance(value, float):
        text = _short_number(value) if abs(value) >= 1000 or math.isnan(value) else f"{value:.4g}"
        sort = "" if math.isnan(value) else repr(value)
    else:
        text = _value_label(value)
        sort = text
    cls = f' class="{css}"' if css else ""
    return f'<td{cls} data-v="{html.escape(sort)}">{html.escape(text)}</td>'


def table_html(header: Sequence[str], rows: Sequence[Sequence[Any]], param_columns: int = 0) -> str:
    """A sortable HTML table (the first ``param_columns`` columns shaded as parameters)."""
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "\n".join(
        "<tr>"
        + "".join(_cell(v, "p" if 0 < i <= param_columns else "") for i, v in enumerate(r))
        + "</tr>"
        for r in rows
    )
    return (
        f'<table class="sortable"><thead><tr>{head}</tr></thead>\n<tbody>\n{body}\n</tbody></table>'
    )


def write_html(
    path: Path,
    rows: Sequence[Mapping[str, Any]],
    axes: Mapping[str, Sequence[Any]],
    metric: str,
    info: Mapping[str, str],
    extra_sections: Sequence[str] = (),
) -> None:
    """Write the self-contained results page (module docstring).

    ``info`` lines (label -> text) head the page; ``extra_sections`` are HTML
    fragments appended (the walk-forward table).
    """
    names = list(axes)
    ranked = importance(rows, names, metric)
    parts = [
        "<!DOCTYPE html><html><head><meta charset='utf-8'>",
        f"<title>alvh sweep: {html.escape(info.get('grid', ''))}</title>",
        f"<style>{_STYLE}</style></head><body>",
        f"<h1>alvh sweep {html.escape(info.get('grid', ''))}</h1>",
        "<ul>"
        + "".join(
            f"<li>{html.escape(k)}: {html.escape(v)}</li>" for k, v in info.items() if k != "grid"
        )
        + "</ul>",
    ]
    if ranked:
        parts.append(f"<h2>Parameter importance for {html.escape(metric)}</h2>")
        parts.append(
            "<p class='note'>Spread of the mean "
            f"{html.escape(metric)} across each parameter's values (largest minus "
            "smallest group mean); the two largest are the heat maps' axes.</p>"
        )
        parts.append(table_html(["parameter", "spread"], [[k, v] for k, v in ranked]))
    heat_axes = [k for k, _ in ranked[:2]]
    if len(heat_axes) == 2:
        parts.append("<h2>Heat maps</h2><div>")
        shown = [metric] + (["max_drawdown"] if metric != "max_drawdown" else ["sharpe"])
        for m in shown:
            png = heatmap_png(rows, heat_axes[0], heat_axes[1], m, axes)
            data = base64.b64encode(png).decode("ascii")
            parts.append(f"<img alt='{html.escape(m)}' src='data:image/png;base64,{data}'>")
        parts.append("</div>")
    elif names:
        parts.append(
            "<p class='note'>No heat map: fewer than two parameters have two or more values.</p>"
        )
    parts.append(f"<h2>Points ({len(rows)})</h2>")
    parts.append(
        "<p class='note'>Click a column header to sort. Money in dollars; "
        "returns, volatility and drawdown as decimals.</p>"
    )
    header = ["point", *names, *METRICS, "replay_s"]
    table_rows = [
        [
            int(r["index"]),
            *(r["params"].get(a) for a in names),
            *(_metric(r, m) for m in METRICS),
            float(r.get("elapsed_s", math.nan)),
        ]
        for r in sorted(rows, key=lambda r: int(r["index"]))
    ]
    parts.append(table_html(header, table_rows, param_columns=len(names)))
    parts.extend(extra_sections)
    parts.append(f"<script>{_SCRIPT}</script></body></html>")
    path.write_text("\n".join(parts), encoding="utf-8")
