"""Sweep benchmark: the same grid with 1 and with 2 local Dask workers, wall time and speed-up.

Run with ``.venv/bin/python benchmarks/sweep_benchmark.py [--points 8] [--workers 1,2]``.
Each run starts a fresh ``LocalCluster`` and an empty cache (nothing is
reused between runs), sweeps ``--points`` points of a grid over
``condor.short_delta`` x ``condor.target_dte`` (8 x 8 = 64 at most) over
``--start .. --end`` (default 2007-01-03 .. 2024-12-31) with results-only
journals, and prints per run: the wall time (cluster start included), the
speed-up over the first run, the sum of the replay wall and CPU times on the
workers, and the cores the workers actually got (CPU over wall, times the
workers: equal to the workers on an idle machine).
The load average is printed too: on a shared machine other processes take
CPU and the ratio means little. It asserts nothing (targets in issue 11:
64 points in under 5 minutes on 2 cores, 2 workers >= 1.7 x faster than 1).

``--journal-cost`` instead times one replay with the full journal and JSON
event log (``alvh replay``'s default), with the full journal and no event log,
and with the results-only journal and no event log (a sweep point), CPU
seconds, best of ``--repeat``, plus each journal's size.

``--in-process N`` instead runs the first N points of the grid one after the
other in this process (:func:`daemon.sweep.task.run_point`, what one worker
does), printing each point's replay CPU seconds and the process's peak RSS:
the first point fills the worker's shared memo (:class:`daemon.replay.ReplayMemo`),
the later ones reuse it.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

SHORT_DELTAS = [0.10, 0.12, 0.14, 0.16, 0.18, 0.20, 0.22, 0.24]
TARGET_DTES = [14, 7, 9, 11, 13, 17, 19, 21]


def _grid_text(points: int) -> str:
    """A grid of at least ``points`` points (short deltas first, then target DTEs)."""
    n_delta = max(1, min(8, points))
    n_dte = max(1, min(8, math.ceil(points / n_delta)))
    return (
        "[grid]\n"
        f'"condor.short_delta" = {SHORT_DELTAS[:n_delta]}\n'
        f'"condor.target_dte" = {TARGET_DTES[:n_dte]}\n'
    )


def sweep(points: int, workers: list[int], start: date, end: date) -> None:
    from daemon.sweep.cache import ResultCache
    from daemon.sweep.grid import load_grid
    from daemon.sweep.runner import run_points

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "grid.toml"
        path.write_text(_grid_text(points), encoding="utf-8")
        grid = load_grid(path)
        chosen = grid.points()[:points]
        print(f"grid                  {len(chosen)} points, {start} .. {end}")
        print(f"cores                 {os.cpu_count()}")
        first = None
        for run, n in enumerate(workers):
            load = os.getloadavg()[0]
            outcome = run_points(
                chosen, start, end, ResultCache(Path(tmp) / f"c{run}"), workers=n, progress=False
            )
            assert not outcome.failed, outcome.failed
            first = first or outcome.wall_s
            # CPU share: the cores the workers actually got while replaying (n when idle)
            share = outcome.replay_cpu_seconds / outcome.replay_seconds * n
            print(
                f"workers {n:<2}  wall {outcome.wall_s:6.1f} s  speed-up "
                f"{first / outcome.wall_s:4.2f}  replay wall {outcome.replay_seconds:6.1f} s  "
                f"cpu {outcome.replay_cpu_seconds:6.1f} s  cores got {share:4.2f}  "
                f"load {load:.1f} -> {os.getloadavg()[0]:.1f}"
            )


def journal_cost(start: date, end: date, repeat: int) -> None:
    from daemon.config import load_config
    from daemon.logs import configure_logging, get_logger
    from daemon.marketdata.loader import load_history
    from daemon.replay import run_replay
    from daemon.sweep.task import _quiet_logger

    config = load_config(None)
    history = load_history()
    quiet = _quiet_logger()  # what a sweep task uses: no event log at all
    cases = [("full journal + event log", False, True), ("full journal", False, False)]
    cases.append(("results-only journal", True, False))
    for label, results_only, event_log in cases:
        best_cpu = best_wall = float("inf")
        size = 0.0
        for _ in range(repeat):
            with tempfile.TemporaryDirectory() as tmp:
                journal = Path(tmp) / "j.sqlite"
                stream = open(Path(tmp) / "events.log", "w", encoding="utf-8")  # noqa: SIM115
                configure_logging("info", "json", stream, flush_each_event=False)
                log = get_logger("bench") if event_log else quiet
                c0, w0 = time.process_time(), time.perf_counter()
                asyncio.run(
                    run_replay(
                        config, start, end, journal, log, history=history, results_only=results_only
                    )
                )
                best_cpu = min(best_cpu, time.process_time() - c0)
                best_wall = min(best_wall, time.perf_counter() - w0)
                size = journal.stat().st_size / 1e6
                stream.close()
        print(
            f"{label:26s} cpu {best_cpu:6.2f} s   wall {best_wall:6.2f} s   journal {size:6.2f} MB"
        )


def in_process(points: int, start: date, end: date) -> None:
    import resource

    from daemon.sweep.grid import load_grid
    from daemon.sweep.task import run_point, worker_memo

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "grid.toml"
        path.write_text(_grid_text(points), encoding="utf-8")
        chosen = load_grid(path).points()[:points]
    print(f"load                  {os.getloadavg()[0]:.1f}")
    for point in chosen:
        result = run_point(point.config, start, end)
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
        memo = worker_memo()
        print(
            f"point {point.index:<3} cpu {result['cpu_s']:6.2f} s"
            f"  wall {result['elapsed_s']:6.2f} s"
            f"  peak RSS {rss:5.0f} MB  memo: {len(memo.signals)} signals,"
            f" {len(memo.surfaces)} surfaces"
        )
    print(f"load                  {os.getloadavg()[0]:.1f}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--points", type=int, default=8)
    parser.add_argument("--workers", default="1,2")
    parser.add_argument("--start", default="2007-01-03")
    parser.add_argument("--end", default="2024-12-31")
    parser.add_argument("--journal-cost", action="store_true")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--in-process", type=int, default=0, metavar="N")
    args = parser.parse_args()
    start, end = date.fromisoformat(args.start), date.fromisoformat(args.end)
    if args.journal_cost:
        journal_cost(start, end, args.repeat)
    elif args.in_process:
        in_process(args.in_process, start, end)
    else:
        sweep(args.points, [int(w) for w in args.workers.split(",")], start, end)
    return 0


if __name__ == "__main__":
    sys.exit(main())
