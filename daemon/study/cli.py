"""``alvh study [--start --end] [--out DIR]``: replay the variants and write the study.

Benchmark files come from the command line or the config's ``[study]``
section (the command line wins); without them the study still runs and
lists what is missing. Bad input (dates, config, an unreadable benchmark
file) prints one line and exits with status 2.
"""

from __future__ import annotations

import argparse
import sys
from datetime import date
from pathlib import Path
from typing import Any

from daemon.exits import ExitStatus

#: Default range: the bundle's VIX-futures years (issue 10's 2007-2024 study).
DEFAULT_START = date(2007, 1, 3)
DEFAULT_END = date(2024, 12, 31)


def _iso_date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date YYYY-MM-DD: {text!r}") from None


def add_parser(subparsers: Any) -> None:
    """Add the ``study`` subcommand to an argparse ``subparsers`` object."""
    p = subparsers.add_parser(
        "study",
        help="replay ALVH, the unhedged condor, ablations and a CNDR replica; write a report",
        description=(
            "Replay ALVH at defaults, the unhedged condor, ALVH with each feature off, "
            "fills at mid and natural, and a CNDR replica over one range with the same "
            "engine; write summary.csv, by_year.csv, study.json, PNGs and study.html."
        ),
    )
    p.add_argument("--start", type=_iso_date, default=DEFAULT_START, help="first session")
    p.add_argument("--end", type=_iso_date, default=DEFAULT_END, help="last session")
    p.add_argument("--out", type=Path, help="output folder (default: [study] out, 'study')")
    p.add_argument("--config", type=Path, help="TOML config (default: built-in defaults)")
    p.add_argument("--cndr", type=Path, help="Cboe CNDR daily levels CSV (date,CNDR)")
    p.add_argument("--sp500tr", type=Path, help="S&P 500 total return daily CSV (date,close)")
    p.add_argument("--tbill", type=Path, help="3-month T-bill rate CSV (FRED DTB3, percent)")
    p.add_argument("--jobs", type=int, help="replays at once (default: [study] jobs)")
    p.add_argument("--no-ablations", action="store_true", help="skip the one-feature-off variants")
    p.add_argument(
        "--keep-journals", action="store_true", help="keep each variant's journal in OUT/journals"
    )
    p.add_argument(
        "--variant-pages",
        action="store_true",
        help="also write each variant's `alvh report` page in OUT/variants/NAME/ (linked)",
    )


def run(args: argparse.Namespace) -> int:
    """Run the study; returns the exit status (2 with one line for bad input)."""
    from daemon.config import ConfigError, load_config
    from daemon.journal import JournalError
    from daemon.marketdata.loader import MarketDataError
    from daemon.replay import ReplayError
    from daemon.report.render import ReportError
    from daemon.study.benchmarks import BenchmarkError
    from daemon.study.run import StudyOptions, run_study, study_json

    def fail(message: str) -> int:
        print(f"alvh study: {message}", file=sys.stderr)
        return ExitStatus.USAGE

    if args.end < args.start:
        return fail(f"--end {args.end} is before --start {args.start}")
    if args.jobs is not None and not 1 <= args.jobs <= 64:
        return fail(f"--jobs must be 1-64, got {args.jobs}")
    try:
        config = load_config(args.config)
    except ConfigError as exc:
        return fail(f"bad config: {exc}")
    s = config.study
    options = StudyOptions(
        start=args.start,
        end=args.end,
        out=args.out or s.out,
        cndr_path=args.cndr or s.cndr_path,
        sp500tr_path=args.sp500tr or s.sp500tr_path,
        tbill_path=args.tbill or s.tbill_path,
        jobs=args.jobs or s.jobs,
        samples=s.bootstrap_samples,
        block_length=s.block_length,
        seed=s.seed,
        keep_journals=args.keep_journals,
        ablations=not args.no_ablations,
        variant_pages=args.variant_pages,
    )
    if options.out.exists() and not options.out.is_dir():
        return fail(f"--out {options.out} is not a directory")

    def say(text: str) -> None:
        print(f"study: {text}", file=sys.stderr, flush=True)

    try:
        result = run_study(config, options, progress=say)
    except (ReplayError, MarketDataError, JournalError, BenchmarkError, ReportError) as exc:
        return fail(str(exc))
    except OSError as exc:
        return fail(f"{options.out}: {exc.strerror or exc}")
    summary = study_json(result)
    print(f"study {options.start}..{options.end}: {len(result.runs)} replays in "
          f"{result.wall_seconds:.0f} s; outputs in {options.out}")  # fmt: skip
    for line in result.missing:
        print(f"missing: {line}")
    if summary["cndr_monthly_correlation"] is not None:
        print(
            "CNDR replica vs index: monthly correlation "
            f"{summary['cndr_monthly_correlation']:.3f}, "
            f"tracking error {summary['cndr_tracking_error']:.2%}"
        )
    if result.claim is not None:
        print(result.claim.sentence())
    return 0
