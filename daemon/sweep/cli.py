"""CLI of ``alvh sweep GRID.toml --start --end``: check, run (or resume), write the results.

Exit status: 0 done; 1 a point's replay failed (the others are reported);
2 a mistake to fix (GRID.toml, a point's config, the range, the scheduler
address); 130 interrupted (every finished point is cached: rerun the same
command to resume).
"""

from __future__ import annotations

import argparse
import math
import sys
from datetime import date
from pathlib import Path
from typing import Any

from daemon.exits import ExitStatus
from daemon.sweep.metrics import LOWER_IS_BETTER, METRICS

__all__ = ["add_parser", "run"]


def _iso_date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date YYYY-MM-DD: {text!r}") from None


def _count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {value}")
    return value


def add_parser(subparsers: Any) -> None:
    """Add the ``sweep`` subcommand to an argparse ``subparsers`` object."""
    p = subparsers.add_parser(
        "sweep",
        help="replay a grid of configs (on Dask), cache the points, write results.csv/.html",
        description=(
            "Replay every point of GRID.toml's [grid] (dotted config keys to lists of values; "
            "the rest of the file is an ordinary config) over --start..--end with a "
            "results-only journal, as tasks on a Dask cluster: a local one sized to this "
            "machine by default, yours with --scheduler. Finished points are cached in "
            "OUT/cache, so an interrupted sweep resumes. Writes OUT/results.csv and "
            "OUT/results.html (docs/sweep.md)."
        ),
    )
    p.add_argument("grid", type=Path, metavar="GRID.toml", help="grid and base config")
    p.add_argument("--start", type=_iso_date, required=True, help="first session, YYYY-MM-DD")
    p.add_argument("--end", type=_iso_date, required=True, help="last session, YYYY-MM-DD")
    p.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        help="a running Dask scheduler, e.g. tcp://10.0.0.5:8786 (default: a local cluster)",
    )
    p.add_argument(
        "--workers",
        type=_count,
        metavar="N",
        help="local worker processes (default: the CPU cores); 0 runs in this process, no Dask",
    )
    p.add_argument(
        "--out", type=Path, metavar="DIR", help="output folder (default: sweep-<GRID name>)"
    )
    p.add_argument(
        "--sample", type=_count, metavar="K", help="sweep K random points of the grid instead"
    )
    p.add_argument("--seed", type=int, default=0, help="seed of --sample (default 0)")
    p.add_argument(
        "--metric",
        choices=METRICS,
        default="sharpe",
        help="metric for importance, heat maps and the walk-forward choice (default sharpe)",
    )
    p.add_argument(
        "--walk-forward",
        metavar="TRAIN:TEST",
        help="also pick the best point on TRAIN years and report it on the next TEST years, "
        "rolling (e.g. 3:1)",
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


class _Usage(Exception):
    """A mistake the user can fix (exit status 2)."""


def run(args: argparse.Namespace) -> int:
    """Run ``alvh sweep``; returns the exit status (one line on stderr for a mistake)."""
    try:
        return _run(args)
    except _Usage as exc:
        print(f"alvh sweep: {exc}", file=sys.stderr)
        return ExitStatus.USAGE


def _run(args: argparse.Namespace) -> int:
    from daemon.marketdata.loader import MarketDataError
    from daemon.sweep.cache import ResultCache
    from daemon.sweep.grid import GridError, load_grid
    from daemon.sweep.runner import SweepError, run_points
    from daemon.sweep.task import worker_history
    from daemon.sweep.walkforward import parse_spec, windows

    if args.end < args.start:
        raise _Usage(f"--end {args.end} is before --start {args.start}")
    if args.sample == 0:
        raise _Usage("--sample must be at least 1")
    spans = None
    if args.walk_forward:
        try:
            train, test = parse_spec(args.walk_forward)
        except ValueError as exc:
            raise _Usage(str(exc)) from None
        spans = windows(args.start, args.end, train, test)
        if not spans:
            raise _Usage(
                f"--walk-forward {args.walk_forward}: {args.start}..{args.end} spans no "
                f"{train} training year(s) followed by a test year"
            )
    try:
        grid = load_grid(args.grid)
        points = grid.points(args.sample, args.seed)
    except GridError as exc:
        raise _Usage(str(exc)) from None
    try:
        indices = worker_history().range_indices(args.start, args.end)
    except MarketDataError as exc:
        raise _Usage(str(exc)) from None
    if len(indices) == 0:
        raise _Usage(f"no exchange sessions between {args.start} and {args.end}")
    out: Path = args.out or Path(f"sweep-{args.grid.stem}")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise _Usage(f"--out {out}: cannot create ({exc.strerror or exc})") from None
    cache = ResultCache(out / "cache")
    sampled = f" (a sample of {len(points)} of {grid.size})" if args.sample is not None else ""
    print(
        f"sweep {args.grid}: {len(points)} point(s){sampled}, {args.start}..{args.end}, out {out}",
        file=sys.stderr,
    )
    try:
        outcome = run_points(
            points,
            args.start,
            args.end,
            cache,
            workers=args.workers,
            scheduler=args.scheduler,
            progress=not args.no_progress,
        )
    except SweepError as exc:
        raise _Usage(str(exc)) from None
    where = "in-process" if outcome.workers == 0 else f"on {outcome.workers} Dask worker(s)"
    print(
        f"{len(outcome.finished)} of {len(points)} point(s) finished: {outcome.ran} replayed "
        f"{where}, {outcome.cached} from the cache, {len(outcome.failed)} failed; "
        f"{outcome.wall_s:.1f} s",
        file=sys.stderr,
    )
    for point, error in outcome.failed:
        print(f"point {point.index} ({point.label()}) failed: {error}", file=sys.stderr)
    if outcome.interrupted:
        print(
            "interrupted: the finished points are cached; rerun the same command to resume",
            file=sys.stderr,
        )
        return ExitStatus.INTERRUPTED
    _write_results(args, grid, outcome, cache, out, spans)
    return ExitStatus.INTERNAL if outcome.failed else ExitStatus.OK


def _write_results(
    args: argparse.Namespace, grid: Any, outcome: Any, cache: Any, out: Path, spans: Any
) -> None:
    from daemon.sweep import report, walkforward

    rows = [o.result for o in outcome.finished]
    axes = list(grid.axes)
    report.write_csv(out / "results.csv", rows, axes)
    sections: list[str] = []
    if spans and rows:
        results = walkforward.walk_forward(rows, cache.journal_path, spans, args.metric)
        walkforward.write_csv(out / "walk_forward.csv", results, axes, args.metric)
        sections.append(walkforward.html_section(results, axes, args.metric, args.walk_forward))
        print(f"walk-forward: {out / 'walk_forward.csv'}")
    info = {
        "grid": str(args.grid),
        "range": f"{args.start} .. {args.end}",
        "points": f"{len(rows)} finished"
        + (f" (a sample of {len(rows)} of {grid.size}, seed {args.seed})" if args.sample else ""),
        "run": f"{outcome.ran} replayed, {outcome.cached} cached, {outcome.wall_s:.1f} s wall",
        "metric": args.metric,
        "journals": f"{out / 'cache'}/KEY.sqlite (results-only)",
    }
    report.write_html(out / "results.html", rows, grid.axes, args.metric, info, sections)
    print(f"results: {out / 'results.csv'}, {out / 'results.html'}")
    sign = -1.0 if args.metric in LOWER_IS_BETTER else 1.0

    def score(row: Any) -> float:
        value = float(row["metrics"].get(args.metric, math.nan))
        return -math.inf if math.isnan(value) else sign * value

    for row in sorted(rows, key=score, reverse=True)[:5]:
        label = ", ".join(f"{k}={v}" for k, v in row["params"].items())
        m = row["metrics"]
        shown = "  ".join(
            f"{name} {m.get(name, math.nan):.4g}"
            for name in dict.fromkeys((args.metric, "cagr", "max_drawdown"))
        )
        print(f"  point {row['index']:>4}  {shown}  ({label})")
