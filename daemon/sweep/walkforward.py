"""Walk-forward: pick the best point on training years, report it on the following test years.

``--walk-forward TRAIN:TEST`` (years, e.g. ``3:1``) cuts the sweep's range
into rolling windows of whole calendar years: training years ``Y .. Y+TRAIN-1``,
test years ``Y+TRAIN .. Y+TRAIN+TEST-1``, then ``Y`` moves on by ``TEST``
years, from the first year of the range until no test year is left. The first
and last windows are clipped to ``--start`` and ``--end``. In each window the
point with the best ``--metric`` over the training years is chosen (the
highest, or the lowest for :data:`~daemon.sweep.metrics.LOWER_IS_BETTER`
metrics; NaN never wins), and its metrics over the test years are reported,
next to the best any point achieved over those test years in hindsight.

Each point is replayed **once** over the whole range; a window's metrics are
:func:`~daemon.sweep.metrics.point_metrics` over the window's sessions of
that run (returns rebased to the net liquidation at the window's start). So
a test window is what the chosen parameters did in those years when run
continuously, positions opened before the window included; it is not a fresh
start with the chosen parameters at the window's first session. The choice
uses training data only: no test-year number enters it.
"""

from __future__ import annotations

import csv
import html
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from daemon.sweep.metrics import LOWER_IS_BETTER, point_metrics
from daemon.sweep.report import table_html

__all__ = ["Window", "WindowResult", "parse_spec", "walk_forward", "windows"]


@dataclass(frozen=True, slots=True)
class Window:
    """One walk-forward window: training and test session ranges (inclusive dates)."""

    train_start: date
    train_end: date
    test_start: date
    test_end: date

    def label(self) -> str:
        return (
            f"train {self.train_start}..{self.train_end}, test {self.test_start}..{self.test_end}"
        )


@dataclass(frozen=True, slots=True)
class WindowResult:
    """The point chosen in a window and how it did."""

    window: Window
    chosen: Mapping[str, Any]  # the stored point result
    train_value: float
    test: dict[str, float]
    hindsight_value: float  # the best test value of any point


def parse_spec(text: str) -> tuple[int, int]:
    """``"TRAIN:TEST"`` years as two positive integers.

    Raises:
        ValueError: not of that form (one line for the user).
    """
    match = re.fullmatch(r"\s*(\d+)\s*[:,]\s*(\d+)\s*", text)
    if not match or int(match[1]) < 1 or int(match[2]) < 1:
        raise ValueError(f"--walk-forward {text!r}: give TRAIN:TEST years, e.g. 3:1")
    return int(match[1]), int(match[2])


def windows(start: date, end: date, train_years: int, test_years: int) -> list[Window]:
    """The rolling windows of ``start..end`` (module docstring); may be empty."""
    out: list[Window] = []
    year = start.year
    while year + train_years <= end.year:
        test_first = year + train_years
        out.append(
            Window(
                max(start, date(year, 1, 1)),
                date(test_first - 1, 12, 31),
                date(test_first, 1, 1),
                min(end, date(test_first + test_years - 1, 12, 31)),
            )
        )
        year += test_years
    return out


def _better(metric: str) -> Any:
    sign = -1.0 if metric in LOWER_IS_BETTER else 1.0
    return lambda value: -math.inf if math.isnan(value) else sign * value


def walk_forward(
    rows: Sequence[Mapping[str, Any]],
    journal_of: Any,
    spans: Sequence[Window],
    metric: str,
) -> list[WindowResult]:
    """Choose and evaluate a point per window.

    Args:
        rows: stored point results (``key``, ``run_id``, ``params``, ...).
        journal_of: ``key -> Path`` of the point's cached journal.
        spans: the windows.
        metric: the metric to choose by (a name of ``METRICS``).
    """
    score = _better(metric)
    out: list[WindowResult] = []
    for window in spans:
        trained = [
            (
                point_metrics(
                    journal_of(r["key"]), int(r["run_id"]), window.train_start, window.train_end
                )[metric],
                r,
            )
            for r in rows
        ]
        value, chosen = max(trained, key=lambda item: score(item[0]))
        tests = {
            r["key"]: point_metrics(
                journal_of(r["key"]), int(r["run_id"]), window.test_start, window.test_end
            )
            for r in rows
        }
        hindsight = max((t[metric] for t in tests.values()), key=score)
        out.append(WindowResult(window, chosen, value, tests[chosen["key"]], hindsight))
    return out


_TEST_COLUMNS = ("cagr", "sharpe", "max_drawdown", "pnl")


def write_csv(
    path: Path, results: Sequence[WindowResult], axes: Sequence[str], metric: str
) -> None:
    """``walk_forward.csv``: one row per window."""
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(
            [
                "train_start",
                "train_end",
                "test_start",
                "test_end",
                "point",
                *axes,
                f"train_{metric}",
                f"test_{metric}",
                f"hindsight_best_test_{metric}",
                *(f"test_{m}" for m in _TEST_COLUMNS if m != metric),
            ]
        )
        for r in results:
            w = r.window
            writer.writerow(
                [
                    w.train_start,
                    w.train_end,
                    w.test_start,
                    w.test_end,
                    r.chosen["index"],
                    *(r.chosen["params"].get(a) for a in axes),
                    r.train_value,
                    r.test[metric],
                    r.hindsight_value,
                    *(r.test[m] for m in _TEST_COLUMNS if m != metric),
                ]
            )


def html_section(
    results: Sequence[WindowResult], axes: Sequence[str], metric: str, spec: str
) -> str:
    """The walk-forward part of ``results.html``."""
    header = [
        "test years",
        "point",
        *axes,
        f"train {metric}",
        f"test {metric}",
        f"hindsight best test {metric}",
        *(f"test {m}" for m in _TEST_COLUMNS if m != metric),
    ]
    rows = [
        [
            f"{r.window.test_start}..{r.window.test_end}",
            int(r.chosen["index"]),
            *(r.chosen["params"].get(a) for a in axes),
            r.train_value,
            r.test[metric],
            r.hindsight_value,
            *(r.test[m] for m in _TEST_COLUMNS if m != metric),
        ]
        for r in results
    ]
    tested = [r.test[metric] for r in results if not math.isnan(r.test[metric])]
    mean = sum(tested) / len(tested) if tested else math.nan
    return (
        f"<h2>Walk-forward {html.escape(spec)} by {html.escape(metric)}</h2>"
        "<p class='note'>Per window: the point with the best training-years "
        f"{html.escape(metric)} and its test-years metrics (from the same continuous "
        "replay of the whole range); the hindsight column is the best any point did in "
        f"those test years. Mean test {html.escape(metric)}: {mean:.4g}.</p>"
        + table_html(header, rows)
    )
