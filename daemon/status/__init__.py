"""``alvh status``: what the daemon holds, how it is marked, what it decided and what comes next.

Reads a journal **read-only** (safe while the daemon writes to it) and reports
one run (the latest, or ``--run N``):

* open positions by structure: each iron condor with its four strikes, expiry
  and DTE, each VIX hedge layer with its leg(s), with the position's latest
  mark (price, unrealized P&L, dollar greeks);
* net dollar greeks and unrealized P&L of the latest marks, summed by
  structure and in total;
* realized P&L by structure, and the last ``daily`` row (net liquidation,
  drawdown);
* the last N decisions (default 10) with their reasons, newest first;
* the next fire time of each scheduled job, computed from now (for a replay
  journal: from the night after the replay's last session) with the job
  definitions of :mod:`daemon.scheduling.jobs` on XNYS sessions (non-sessions
  skipped), plus the one-off jobs around macro events;
* the next macro events and whether a condor entry would be blocked now.

Command line::

    alvh status [--journal FILE] [--config FILE] [--run N] [--decisions N] [--json]

``--journal`` defaults to the config's ``journal.path`` (``ALVH_JOURNAL__PATH``
overrides it). The job times come from ``--config`` when given, else from the
run's own configuration stored in the journal, else the built-in defaults.
A missing file, a file that is not an alvh journal or a journal without runs
prints one line to stderr and exits with status 2.

``--json`` prints one JSON object with these keys (money in dollars, prices
in index points per combo unit, + debit / - credit; times ISO 8601 with
offset; dates ISO)::

    journal         path of the journal file
    generated_at    when the report was made (UTC, wall clock)
    context         {time, source}: the moment next jobs, macro events and the
                    entry block are computed from; source "wall clock", "replay
                    end" (a replay run: 00:00 ET after its last marked session)
                    or "given" (a caller's ``now``)
    run             {id, mode, started_at, finished_at, replay_start, replay_end}
    replay          replay runs: {start, end, sessions, first_session,
                    last_session, finished}: the replay's range and how far it
                    got; null for paper/live/dry-run runs
    last_watchdog_beat  ISO time of the last systemd watchdog beat a daemon
                    journaled (any run of the file), or null (not under the
                    unit's watchdog, or a replay journal)
    as_of           reference date for DTE: today (ET) for paper/live runs,
                    the last marked session for replay runs
    last_mark_session   latest session with marks, or null
    positions       open positions, opening order: {id, structure, opened_session,
                    quantity, open_price, expiry, dte, strikes, legs, mark}
                    strikes (condor): {long_put, short_put, short_call, long_call}
                    strikes (hedge_layer): null; legs: [{local_symbol, symbol,
                    expiry, strike, right, ratio}]; mark: {session, mark_price,
                    unrealized_pnl, delta, gamma, vega, theta} or null
    greeks          {condor, hedge_layer, total}: each {positions, marked, delta,
                    gamma, vega, theta, unrealized_pnl} summed over the latest
                    marks (total mixes SPX and VIX units except theta and P&L)
    pnl             {realized, realized_by_structure, unrealized, total,
                    net_liquidation, drawdown, daily_session}; dollars rounded
                    to cents
    decisions       newest first: {id, session, time, rule, action, structure,
                    quantity, limit_price, position_id, reason}
    schedule_source "config file" | "run config" | "defaults"
    next_jobs       in time order: {job, kind, fire_time, session, early_close,
                    event}; kind "daily" or an event job kind
    macro_events    next events: {kind, date, time_et, at, scheduled, grade, label},
                    or null when the macro calendar is unavailable
    entry_block     why a condor entry would be refused now, or null
    notes           list of strings: anything that could not be computed

Modules: this package holds the command line (:func:`add_parser`,
:func:`run`); :mod:`~daemon.status.collect` gathers the report from the
journal, :mod:`~daemon.status.upcoming` computes the next jobs and macro
events from the calendars, and :mod:`~daemon.status.render` turns the report
into text. Every public name is importable from :mod:`daemon.status`.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from pathlib import Path
from typing import Any

from daemon.config import ConfigError, ScheduleConfig, load_config
from daemon.exits import ExitStatus
from daemon.journal import Journal, JournalError
from daemon.journal.errors import DAMAGED_JOURNAL_ERRORS, damaged
from daemon.status.collect import DEFAULT_DECISIONS, collect_status
from daemon.status.render import render_status, status_line
from daemon.status.upcoming import HORIZON_DAYS as HORIZON_DAYS
from daemon.status.upcoming import MACRO_EVENTS as MACRO_EVENTS
from daemon.status.upcoming import next_job_fires

__all__ = [
    "DEFAULT_DECISIONS",
    "EXIT_USAGE",
    "StatusError",
    "add_parser",
    "collect_status",
    "load_status",
    "next_job_fires",
    "render_status",
    "report_json",
    "run",
    "status_line",
]

#: Exit status for a problem the user can fix (missing/foreign journal, bad config).
EXIT_USAGE = ExitStatus.USAGE


class StatusError(Exception):
    """A user-fixable problem; printed as one line, exit status 2."""


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add ``status`` to the ``alvh`` sub-command parsers; returns the new parser.

    The parser's default ``func`` is :func:`run`, so a caller may dispatch with
    ``args.func(args)``.
    """
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "status",
        help="open positions, greeks, P&L, recent decisions and next jobs of a journal",
        description="Report a journal's open positions, latest greeks and P&L, recent "
        "decisions, the next scheduled jobs and macro events (read-only).",
    )
    parser.add_argument(
        "--journal", type=Path, help="journal SQLite file (default: config journal.path)"
    )
    parser.add_argument(
        "--config", type=Path, help="TOML config for journal path and job times (default: built-in)"
    )
    parser.add_argument("--run", type=int, help="run id (default: the latest run)")
    parser.add_argument(
        "--decisions",
        type=_non_negative,
        default=DEFAULT_DECISIONS,
        metavar="N",
        help=f"how many recent decisions to show (default {DEFAULT_DECISIONS})",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.set_defaults(func=run)
    return parser


def _non_negative(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {value}")
    return value


def run(args: argparse.Namespace) -> int:
    """Run ``alvh status``; returns the exit status (0, or 2 with one line on stderr)."""
    try:
        report = _status_from_args(args)
    except StatusError as exc:
        print(f"alvh status: {exc}", file=sys.stderr)
        return EXIT_USAGE
    try:
        text = report_json(report) if args.json else render_status(report)
    except DAMAGED_JOURNAL_ERRORS as exc:  # a value of an unexpected shape in the journal
        print(f"alvh status: {damaged(args.journal or 'journal', exc)}", file=sys.stderr)
        return EXIT_USAGE
    print(text)
    return 0


def report_json(report: dict[str, Any]) -> str:
    """The report as ``alvh status --json`` prints it, one line (also ``alvh web /api/status``)."""
    return json.dumps(report, sort_keys=True, default=str)


def _status_from_args(args: argparse.Namespace) -> dict[str, Any]:
    schedule: ScheduleConfig | None = None
    journal_path: Path | None = args.journal
    if args.config is not None or journal_path is None:
        try:
            config = load_config(args.config)
        except ConfigError as exc:
            raise StatusError(f"bad config: {exc}") from None
        journal_path = journal_path or config.journal.path
        if args.config is not None:
            schedule = config.schedule
    assert journal_path is not None
    return load_status(
        journal_path,
        args.run,
        decisions=getattr(args, "decisions", DEFAULT_DECISIONS),
        schedule=schedule,
    )


def load_status(
    journal_path: Path,
    run_id: int | None = None,
    *,
    decisions: int = DEFAULT_DECISIONS,
    schedule: ScheduleConfig | None = None,
    busy_timeout_ms: int = 5000,
) -> dict[str, Any]:
    """Open ``journal_path`` read-only, build the report of ``run_id`` (``None`` = latest), close.

    Args:
        journal_path: the journal file.
        run_id: the run; ``None`` = the latest.
        decisions: how many recent decisions to include.
        schedule: job times (``None`` = the run's stored ones, else defaults).
        busy_timeout_ms: how long a read waits on a writer's lock, milliseconds.

    Raises:
        StatusError: missing file, not an alvh journal, no runs / no such run
            (one-line message).
    """
    if not journal_path.exists():
        raise StatusError(f"{journal_path}: no such journal file")
    try:
        journal = Journal.open(journal_path, read_only=True, busy_timeout_ms=busy_timeout_ms)
    except JournalError as exc:
        raise StatusError(str(exc)) from None
    try:
        return collect_status(journal, run_id, decisions=decisions, schedule=schedule)
    except JournalError as exc:
        raise StatusError(str(exc)) from None
    except DAMAGED_JOURNAL_ERRORS as exc:  # a damaged page or a bad value met while reading
        raise StatusError(str(damaged(journal_path, exc))) from None
    finally:
        with contextlib.suppress(Exception):  # read-only: nothing to lose
            journal.close()
