"""Replay benchmark: the whole bundled history with the full journal and event log.

Run with ``make benchmark`` (or ``.venv/bin/python benchmarks/replay_benchmark.py``).
Prints sessions per second and peak resident memory; it asserts nothing about
speed (targets: >= 1,000 sessions/s on 2 cores, < 150 MB peak RSS).

Because sessions per second depend on the machine, it also prints figures that
do not: ``option prices`` is how many option prices the replay computed (the
tally of :func:`strategies.pricing.black.options_priced`), ``pricing time`` the
seconds a plain vectorised NumPy Black-Scholes takes to price that many options
in the same process (chunks of :data:`CHUNK`, best of three passes), and
``replay/pricing ratio`` the replay time over the pricing time: how many times
slower the replay is than the bare pricing it needs (target: within 10).
``replay CPU time`` is the process's CPU seconds over the replay: on a shared
machine it moves less than the wall time when another process takes a core.
``private memory`` is the anonymous resident memory at the end (Linux only):
peak RSS also counts shared-library pages, whose number depends on the file
cache (see :func:`private_memory_mb`). Pass ``--profile`` to print the 25 most
expensive functions (cProfile).
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

import numpy as np
from scipy.special import ndtr

#: Options priced per vectorised call in the pricing-time reference.
CHUNK = 100_000


def black_scholes_seconds(n: int, passes: int = 3) -> float:
    """Seconds (best of ``passes``) to price ``n`` European options with vectorised Black-Scholes.

    Inputs are drawn once (seeded) in chunks of :data:`CHUNK`: spot 4,000, strikes
    60-140 % of spot, 1-120 calendar days, vol 10-60 %, rate 2 %, calls and puts.
    Only the pricing is timed: ``d1``, ``d2``, two normal CDFs, discounting.
    """
    rng = np.random.default_rng(11)
    m = min(n, CHUNK)
    s = np.full(m, 4_000.0)
    k = s * rng.uniform(0.6, 1.4, m)
    t = rng.uniform(1, 120, m) / 365.0
    sig = rng.uniform(0.1, 0.6, m)
    w = np.where(rng.random(m) < 0.5, 1.0, -1.0)
    r = 0.02
    best = float("inf")
    for _ in range(passes):
        left = n
        t0 = time.perf_counter()
        while left > 0:
            j = min(left, m)
            std = sig[:j] * np.sqrt(t[:j])
            d1 = (np.log(s[:j] / k[:j]) + (r + 0.5 * sig[:j] ** 2) * t[:j]) / std
            d2 = d1 - std
            wj = w[:j]
            price = wj * (s[:j] * ndtr(wj * d1) - k[:j] * np.exp(-r * t[:j]) * ndtr(wj * d2))
            left -= j
        best = min(best, time.perf_counter() - t0)
        del price
    return best


def private_memory_mb() -> float | None:
    """The process's anonymous resident memory now (``RssAnon``, MB), or ``None`` off Linux.

    Peak RSS also counts the pages of shared libraries (NumPy, SciPy, pandas)
    mapped into the process, and how many of those are mapped depends on the
    state of the operating system's file cache: the same replay measured
    142-153 MB peak RSS in three virtualenvs of one machine, with the same
    anonymous memory to within 0.1 MB. This figure is the program's own.
    """
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("RssAnon:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


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
    from strategies.pricing.black import options_priced

    config = load_config(None)
    t_import = time.perf_counter() - t0
    t1 = time.perf_counter()
    history = load_history()
    t_load = time.perf_counter() - t1

    with tempfile.TemporaryDirectory() as tmp:
        journal = Path(tmp) / "bench.sqlite"
        with open(Path(tmp) / "bench.log", "w", encoding="utf-8") as log_stream:
            # as `alvh replay` logs to its file (daemon.cli)
            configure_logging("info", "json", log_stream, flush_each_event=False)
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
            priced_before = options_priced()
            t2 = time.perf_counter()
            c2 = time.process_time()
            if profiler:
                profiler.enable()
            result = asyncio.run(coro)
            if profiler:
                profiler.disable()
            elapsed = time.perf_counter() - t2
            cpu = time.process_time() - c2
            priced = options_priced() - priced_before
        journal_mb = journal.stat().st_size / 1e6

    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # before the reference
    private_mb = private_memory_mb()
    pricing = black_scholes_seconds(priced)
    print(f"range                 {args.start} .. {args.end}")
    print(f"sessions              {result.sessions}")
    print(f"imports               {t_import:.2f} s")
    print(f"load market data      {t_load:.2f} s")
    print(f"replay                {elapsed:.2f} s")
    print(f"replay CPU time       {cpu:.2f} s")
    print(f"sessions/second       {result.sessions / elapsed:,.0f}")
    print(f"peak RSS              {peak_mb:.0f} MB")
    if private_mb is not None:
        print(f"private memory        {private_mb:.0f} MB")
    print(f"journal size          {journal_mb:.1f} MB")
    print(f"option prices         {priced:,}")
    print(f"pricing time          {pricing:.3f} s")
    print(f"replay/pricing ratio  {elapsed / pricing:,.0f}")
    print(result.summary.render())
    if profiler:
        pstats.Stats(profiler, stream=sys.stdout).sort_stats("cumulative").print_stats(25)
    return 0


if __name__ == "__main__":
    sys.exit(main())
