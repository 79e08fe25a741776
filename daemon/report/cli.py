"""CLI of ``alvh report JOURNAL [--run N] [--out DIR]`` (see :mod:`daemon.report`)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from daemon.exits import ExitStatus

__all__ = ["add_parser", "run"]


def add_parser(subparsers: Any) -> None:
    """Add the ``report`` subcommand to an argparse ``subparsers`` object."""
    p = subparsers.add_parser(
        "report",
        help="write an HTML page with PNG charts of one run of a journal",
        description=(
            "Write one run of a journal as a self-contained HTML page (report.html, opens "
            "offline) with PNG charts beside it: equity and drawdown, rolling volatility with "
            "VIX, hedge P&L by rung, net greeks; tables of the summary, fired rules and every "
            "structure with its IRR. The journal is opened read-only."
        ),
    )
    p.add_argument("journal", type=Path, metavar="JOURNAL", help="journal SQLite file")
    p.add_argument("--run", type=int, metavar="N", help="run id (default: the journal's last run)")
    p.add_argument(
        "--out",
        type=Path,
        metavar="DIR",
        help="output directory (default: JOURNAL's name with -report appended, beside the journal)",
    )
    p.add_argument(
        "--title", metavar="TEXT", help="the page's heading (default: alvh run N [mode])"
    )


def run(args: argparse.Namespace) -> int:
    """Write the report; print the page's path. Bad input: one line, exit status 2."""
    from daemon.report.render import ReportError, render_run_report

    journal: Path = args.journal
    out: Path = args.out or journal.with_name(journal.name + "-report")
    try:
        page = render_run_report(journal, args.run, out, args.title)
    except ReportError as exc:
        print(f"alvh report: {exc}", file=sys.stderr)
        return ExitStatus.USAGE
    print(f"report: {page}")
    return ExitStatus.OK
