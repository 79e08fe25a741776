"""Replay benchmark: the whole bundled history with the full journal and event log.

Run with ``make benchmark`` (or ``.venv/bin/python benchmarks/replay_benchmark.py``).
Prints sessions per second and peak resident memory; it asserts nothing about
speed (targets: >= 1,000 sessions/s on 2 cores, < 150 MB peak RSS).
Pass ``--profile`` to print the 25 most expensive functions (cProfile).
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import pstats
import resource
import sys
import tempfile
import time
from datetime import date
from pathlib import Path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--start", default="2007-01-03")
    parser.add_argument("--end", default="2024-12-31")
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()

    t0 = time.perf_counter()
    from daemon.config import load_config
    from daemon.logs import configure_logging, get_logger
    from daemon.marketdata.loader import load_history
    from daemon.replay import run_replay

    config = load_config(None)
    t_import = time.perf_counter() - t0
    t1 = time.perf_counter()
    history = load_history()
    t_load = time.perf_counter() - t1

    with tempfile.TemporaryDirectory() as tmp:
        journal = Path(tmp) / "bench.sqlite"
        with open(Path(tmp) / "bench.log", "w", encoding="utf-8") as log_stream:
            configure_logging("info", "json", log_stream)
            log = get_logger("alvh.benchmark")
            coro = run_replay(
                config,
                date.fromisoformat(args.start),
                date.fromisoformat(args.end),
                journal,
                log,
                history=history,
            )
            profiler = cProfile.Profile() if args.profile else None
            t2 = time.perf_counter()
            if profiler:
                profiler.enable()
            result = asyncio.run(coro)
            if profiler:
                profiler.disable()
            elapsed = time.perf_counter() - t2
        journal_mb = journal.stat().st_size / 1e6

    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"range              {args.start} .. {args.end}")
    print(f"sessions           {result.sessions}")
    print(f"imports            {t_import:.2f} s")
    print(f"load market data   {t_load:.2f} s")
    print(f"replay             {elapsed:.2f} s")
    print(f"sessions/second    {result.sessions / elapsed:,.0f}")
    print(f"peak RSS           {peak_mb:.0f} MB")
    print(f"journal size       {journal_mb:.1f} MB")
    print(result.summary.render())
    if profiler:
        pstats.Stats(profiler, stream=sys.stdout).sort_stats("cumulative").print_stats(25)
    return 0


if __name__ == "__main__":
    sys.exit(main())
